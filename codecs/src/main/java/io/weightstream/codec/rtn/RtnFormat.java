package io.weightstream.codec.rtn;

/**
 * Constants of the {@code rtn} payload body (after the common {@link io.weightstream.codec.PayloadHeader}):
 *
 * <pre>
 *   u8      bits per code b (2..8)
 *   u8      flags: bit 0 asymmetric (offsets stored), bit 1 channels along the last axis,
 *                  bit 2 codes entropy-coded
 *   varint  group size g (0 = a whole channel per group)
 *   i16     scale exponent bias (see {@link BiasedHalf})
 *   [i16    offset exponent bias]                      asymmetric only
 *   u16 x G float16 scales                             in group order
 *   [u16 x G float16 offsets]                          asymmetric only
 *   codes:  ceil(b*N/8) bytes, b bits per code, LSB first ({@link PackedCodes})
 *           | one {@link io.weightstream.codec.entropy.ByteRans} stream of N one-byte codes
 * </pre>
 *
 * The 2-D view: channels are the rows of {@code [d0, N/d0]} (flag bit 1 clear) or the columns of
 * {@code [N/dlast, dlast]} (bit 1 set); a tensor of rank 0 or 1 is one row. A channel of length {@code len} is
 * cut into {@code ceil(len/g)} groups of g consecutive elements (the last one shorter). Group order: row-major
 * over (row, group in row) for rows; over (block of g rows, column) for columns. Every group has a scale S
 * and an offset O (asymmetric: stored; symmetric: {@code O = -(qmax * S)} with {@code qmax = 2^(b-1) - 1}),
 * and element {@code w} with code {@code q} decodes to {@code (float) q * S + O} in float32 arithmetic.
 */
final class RtnFormat {
    static final int FORMAT_VERSION = 1;

    static final int FLAG_ASYMMETRIC = 1;
    static final int FLAG_LAST_AXIS = 2;
    static final int FLAG_ENTROPY = 4;
    static final int KNOWN_FLAGS = FLAG_ASYMMETRIC | FLAG_LAST_AXIS | FLAG_ENTROPY;

    static final int MIN_BITS = 2;
    static final int MAX_BITS = 8;

    private RtnFormat() {
    }

    /** Largest code of a scheme: 2^b - 1 asymmetric, 2 * qmax symmetric. */
    static int maxCode(int bits, boolean asymmetric) {
        return asymmetric ? (1 << bits) - 1 : 2 * qmax(bits);
    }

    static int qmax(int bits) {
        return (1 << (bits - 1)) - 1;
    }
}
