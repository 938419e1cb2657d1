package io.weightstream.codec.inr;

/**
 * Constants of the {@code inr} payload body (after the common {@link io.weightstream.codec.PayloadHeader}):
 *
 * <pre>
 *   u8      mode: 0 stored, 1 flat, 2 network
 *   stored:  the tensor's bytes as they are (little-endian, numel x dtype size): out of scope or fallen back
 *   flat, network:
 *     varint  K outliers; K varints: the first index, then each gap minus one (indices strictly increasing)
 *     K x dtype size bytes: the outliers' exact values, little-endian
 *   flat:
 *     f32     the value of every other element
 *   network:
 *     f32 lo, f32 hi   the body's range: element = lo + (f(x) + 1) * ((hi - lo) * 0.5f), in float32
 *     varint  tile (divides the last dimension), varint rows per block (divides the first; B = blocks),
 *     u8 depth, varint width, varint modulator width, f32 omega0
 *     u8 x rank  positional-encoding bands per grid axis of one block (at most the Nyquist cap)
 *     u8      bits per code b (2..16)
 *     per network tensor, in {@link InrArchitecture#parameters()} order, per block: f32 step, f32 offset
 *     codes: ceil(b * P / 8) bytes, P = parameters of all blocks, in the same tensor-then-block order, b bits per
 *             code, LSB first, zero padding
 * </pre>
 *
 * Outlier values overwrite the decoded elements at their indices (in the tensor's dtype, so they are exact).
 */
final class InrFormat {
    static final int FORMAT_VERSION = 1;

    static final int MODE_STORED = 0;
    static final int MODE_FLAT = 1;
    static final int MODE_NETWORK = 2;

    static final int MIN_BITS = 2;
    static final int MAX_BITS = 16;

    private InrFormat() {
    }
}
