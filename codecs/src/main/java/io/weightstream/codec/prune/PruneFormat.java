package io.weightstream.codec.prune;

/**
 * Constants of the {@code prune} payload body (after the common {@link io.weightstream.codec.PayloadHeader}):
 *
 * <pre>
 *   varint  K, the number of survivors (non-pruned elements)
 *   u8      positions form: 0 bitmap | 1 delta
 *   u8      survivor bits b: 0 = exact values, 1..8 = sign + (b-1)-bit magnitude
 *   u8      flags: bit 0 channels along the last axis (quantized survivors only)
 *   positions:
 *     bitmap: one {@link io.weightstream.codec.entropy.ByteRans} stream of ceil(N/8) bytes, bit i (LSB first)
 *             set for a survivor
 *     delta:  varint m, one ByteRans stream of m bytes: per survivor the number of pruned elements before it
 *             (since the previous survivor) as bytes 255, 255, ..., r with r < 255 adding up to it
 *   survivors, in index order:
 *     b = 0:  varint L, then an L-byte {@code lossless} payload of a 1-D tensor of the K values in the
 *             original dtype
 *     b > 0:  i16 offset exponent bias, i16 step exponent bias ({@link io.weightstream.codec.rtn.BiasedHalf}),
 *             C float16 offsets, C float16 steps (one per channel, as rtn's channels without groups),
 *             then K codes of b bits ({@link io.weightstream.codec.rtn.PackedCodes}): bit b-1 the sign,
 *             the rest q, decoding to {@code +-((float) q * step + offset)}
 * </pre>
 */
final class PruneFormat {
    static final int FORMAT_VERSION = 1;

    static final int POSITIONS_BITMAP = 0;
    static final int POSITIONS_DELTA = 1;

    static final int FLAG_LAST_AXIS = 1;

    static final int MAX_BITS = 8;

    private PruneFormat() {
    }
}
