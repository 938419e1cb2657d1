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
 *     per network tensor t, in {@link InrArchitecture#parameters()} order: u8 bits per code b_t (2..16),
 *             u8 grid kind (0 one grid per block slice, 1 one grid per output unit)
 *     per network tensor, per block (B slices each), its grid:
 *             kind 0: f32 step, f32 offset
 *             kind 1: f32 scale s (> 0), then per column c of the [in, out] slice: f16 a_c, f16 r_c (>= 0);
 *                     offset_c = a_c * s, step_c = r_c * s / (2^b_t - 1), in float32
 *     codes: ceil(sum_t B * size_t * b_t / 8) bytes in the same tensor-then-block order, b_t bits per code,
 *             LSB first, zero padding; value = (float) code * step + offset (the step and offset of its column)
 * </pre>
 *
 * Version 1 (still decoded, no longer written) had a single {@code u8 b} for all tensors in place of the per-tensor
 * bytes and kind 0 everywhere. Outlier values overwrite the decoded elements at their indices (in the tensor's dtype,
 * so they are exact).
 */
final class InrFormat {
    static final int FORMAT_VERSION = 2;
    /** One bit width, one grid per tensor and block. */
    static final int FORMAT_VERSION_1 = 1;

    static final int GRID_TENSOR = 0;
    static final int GRID_COLUMNS = 1;

    static final int MODE_STORED = 0;
    static final int MODE_FLAT = 1;
    static final int MODE_NETWORK = 2;

    static final int MIN_BITS = 2;
    static final int MAX_BITS = 16;

    private InrFormat() {
    }
}
