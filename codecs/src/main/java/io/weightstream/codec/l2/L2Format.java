package io.weightstream.codec.l2;

/**
 * Constants of the {@code l2} payload body (after the common {@link io.weightstream.codec.PayloadHeader}):
 *
 * <pre>
 *   u8      transform: 0 joint, 1 uniform, 2 log, 3 exp ({@link L2Transform})
 *   f64     step s (absolute, > 0)
 *   f64     second parameter p (absolute): joint: prune threshold e >= 0; log, exp: knee c > 0; uniform: 0
 *   varint  kmax, the largest magnitude level (0..32767); symbols are q + kmax for q in [-kmax, kmax]
 *   varint  G, the number of symbol groups (1..min(N, 65536); 1 for an empty tensor)
 *   G streams, group g holding the symbols of elements [g N / G, (g + 1) N / G) (row-major order):
 *           a {@link io.weightstream.codec.entropy.ByteCoder} stream when 2 kmax + 1 <= 256,
 *           else a {@link io.weightstream.codec.entropy.WideRans} stream over 2 kmax + 1 symbols
 * </pre>
 *
 * Element i with symbol {@code q} decodes to {@code sign(q) r_|q|} ({@link L2Transform#reconstruction}, computed
 * in double precision, then rounded once to the tensor's dtype), so the decoder is a table lookup per element.
 */
final class L2Format {
    static final int FORMAT_VERSION = 1;
    /** Most symbol groups (each has its own frequency table). */
    static final int MAX_GROUPS = 1 << 16;

    private L2Format() {
    }

    /** First element of group g of G over n elements. */
    static int groupStart(int n, int groups, int g) {
        return (int) ((long) g * n / groups);
    }
}
