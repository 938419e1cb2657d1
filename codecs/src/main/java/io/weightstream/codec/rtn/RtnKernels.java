package io.weightstream.codec.rtn;

/**
 * The inner loops of {@code rtn}: group ranges, quantization and dequantization over a {@link ChannelLayout}.
 * They trust their arguments (checked by {@link RtnCodec}) and keep to simple counted loops over float and
 * int arrays that the JIT can vectorize. Rounding is {@code (int) (x + 0.5f)} on non-negative values and
 * dequantization a multiply then an add in float32 (never fused), so results are identical everywhere.
 */
final class RtnKernels {
    private RtnKernels() {
    }

    // ---------------------------------------------------------------- ranges

    /** Per-group minimum and maximum; NaN propagates (Math.min/max), so a non-finite group is easy to spot. */
    static void ranges(float[] v, ChannelLayout l, float[] lo, float[] hi) {
        if (l.lastAxis()) {
            rangesByColumn(v, l, lo, hi);
        } else {
            rangesByRow(v, l, lo, hi);
        }
    }

    private static void rangesByRow(float[] v, ChannelLayout l, float[] lo, float[] hi) {
        int cols = l.cols();
        int g = l.groupLength();
        int per = l.groupsPerChannel();
        for (int r = 0; r < l.rows(); r++) {
            int base = r * cols;
            for (int k = 0; k < per; k++) {
                int start = base + k * g;
                int end = Math.min(start + g, base + cols);
                float mn = Float.POSITIVE_INFINITY;
                float mx = Float.NEGATIVE_INFINITY;
                for (int i = start; i < end; i++) {
                    float x = v[i];
                    mn = Math.min(mn, x);
                    mx = Math.max(mx, x);
                }
                lo[r * per + k] = mn;
                hi[r * per + k] = mx;
            }
        }
    }

    private static void rangesByColumn(float[] v, ChannelLayout l, float[] lo, float[] hi) {
        int rows = l.rows();
        int cols = l.cols();
        int g = l.groupLength();
        for (int b = 0; b < l.groupsPerChannel(); b++) {
            int gi = b * cols;
            java.util.Arrays.fill(lo, gi, gi + cols, Float.POSITIVE_INFINITY);
            java.util.Arrays.fill(hi, gi, gi + cols, Float.NEGATIVE_INFINITY);
            int end = Math.min(rows, (b + 1) * g);
            for (int r = b * g; r < end; r++) {
                int base = r * cols;
                for (int c = 0; c < cols; c++) {
                    float x = v[base + c];
                    lo[gi + c] = Math.min(lo[gi + c], x);
                    hi[gi + c] = Math.max(hi[gi + c], x);
                }
            }
        }
    }

    // ---------------------------------------------------------------- quantization

    /**
     * Codes {@code q = clamp((int) ((x - off) * inv + 0.5f), 0, maxCode)} into {@code codes[at..]}. Groups whose
     * reciprocal scale overflowed (subnormal scales) divide instead.
     */
    static void quantize(float[] v, ChannelLayout l, float[] off, float[] inv, float[] scale, int maxCode,
                         byte[] codes, int at) {
        boolean exact = true;
        for (float x : inv) {
            exact &= Float.isFinite(x);
        }
        if (!exact) {
            quantizeDividing(v, l, off, scale, maxCode, codes, at);
        } else if (l.lastAxis()) {
            quantizeByColumn(v, l, off, inv, maxCode, codes, at);
        } else {
            quantizeByRow(v, l, off, inv, maxCode, codes, at);
        }
    }

    private static void quantizeByRow(float[] v, ChannelLayout l, float[] off, float[] inv, int maxCode,
                                      byte[] codes, int at) {
        int cols = l.cols();
        int g = l.groupLength();
        int per = l.groupsPerChannel();
        for (int r = 0; r < l.rows(); r++) {
            int base = r * cols;
            for (int k = 0; k < per; k++) {
                int start = base + k * g;
                int end = Math.min(start + g, base + cols);
                float o = off[r * per + k];
                float s = inv[r * per + k];
                for (int i = start; i < end; i++) {
                    int q = (int) ((v[i] - o) * s + 0.5f);
                    codes[at + i] = (byte) Math.min(Math.max(q, 0), maxCode);
                }
            }
        }
    }

    private static void quantizeByColumn(float[] v, ChannelLayout l, float[] off, float[] inv, int maxCode,
                                         byte[] codes, int at) {
        int rows = l.rows();
        int cols = l.cols();
        int g = l.groupLength();
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            int gi = (r / g) * cols;
            for (int c = 0; c < cols; c++) {
                int q = (int) ((v[base + c] - off[gi + c]) * inv[gi + c] + 0.5f);
                codes[at + base + c] = (byte) Math.min(Math.max(q, 0), maxCode);
            }
        }
    }

    private static void quantizeDividing(float[] v, ChannelLayout l, float[] off, float[] scale, int maxCode,
                                         byte[] codes, int at) {
        int cols = l.cols();
        for (int i = 0; i < v.length; i++) {
            int gi = group(l, i / cols, i % cols);
            float s = scale[gi];
            int q = s == 0 ? 0 : (int) ((v[i] - off[gi]) / s + 0.5f);
            codes[at + i] = (byte) Math.min(Math.max(q, 0), maxCode);
        }
    }

    /** Group index of the element at (row, col) of the 2-D view. */
    static int group(ChannelLayout l, int row, int col) {
        return l.lastAxis()
                ? (row / l.groupLength()) * l.cols() + col
                : row * l.groupsPerChannel() + col / l.groupLength();
    }

    // ---------------------------------------------------------------- dequantization

    /** {@code out[i] = (float) code * scale + off} per group; codes are read from {@code codes[at..]}. */
    static void dequantize(byte[] codes, int at, ChannelLayout l, float[] scale, float[] off, float[] out) {
        if (l.lastAxis()) {
            dequantizeByColumn(codes, at, l, scale, off, out);
        } else {
            dequantizeByRow(codes, at, l, scale, off, out);
        }
    }

    private static void dequantizeByRow(byte[] codes, int at, ChannelLayout l, float[] scale, float[] off, float[] out) {
        int cols = l.cols();
        int g = l.groupLength();
        int per = l.groupsPerChannel();
        for (int r = 0; r < l.rows(); r++) {
            int base = r * cols;
            for (int k = 0; k < per; k++) {
                int start = base + k * g;
                int end = Math.min(start + g, base + cols);
                float s = scale[r * per + k];
                float o = off[r * per + k];
                for (int i = start; i < end; i++) {
                    out[i] = (codes[at + i] & 0xff) * s + o;
                }
            }
        }
    }

    private static void dequantizeByColumn(byte[] codes, int at, ChannelLayout l, float[] scale, float[] off,
                                           float[] out) {
        int rows = l.rows();
        int cols = l.cols();
        int g = l.groupLength();
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            int gi = (r / g) * cols;
            for (int c = 0; c < cols; c++) {
                out[base + c] = (codes[at + base + c] & 0xff) * scale[gi + c] + off[gi + c];
            }
        }
    }

    /** Largest code in {@code codes[at, at + n)}. */
    static int maxCode(byte[] codes, int at, int n) {
        int m = 0;
        for (int i = at; i < at + n; i++) {
            m = Math.max(m, codes[i] & 0xff);
        }
        return m;
    }
}
