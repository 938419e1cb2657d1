package io.weightstream.codec.rtn;

/**
 * Optional range search ({@code clip.steps > 0}): for every group, tries the ranges {@code alpha * [lo, hi]}
 * for {@code alpha} from 1 down to 1/2 in {@code steps} steps and keeps the one with the least squared
 * rounding error. Clipping a few outliers buys a finer step for all other weights, which matters at 2-4 bits.
 * Pure function of the values, so encoding stays deterministic.
 */
final class RtnClipping {
    private RtnClipping() {
    }

    static void narrowRanges(float[] v, ChannelLayout l, float[] lo, float[] hi, int bits, boolean asymmetric, int steps) {
        float[] buf = new float[l.groupLength()];
        int levels = RtnFormat.maxCode(bits, asymmetric);
        int qmax = RtnFormat.qmax(bits);
        int groups = (int) l.groups();
        for (int gi = 0; gi < groups; gi++) {
            int len = gather(v, l, gi, buf);
            float bestAlpha = 1;
            double bestErr = Double.POSITIVE_INFINITY;
            for (int k = 0; k <= steps; k++) {
                float alpha = 1f - 0.5f * k / steps;
                double err = asymmetric
                        ? errorAsymmetric(buf, len, alpha * lo[gi], alpha * hi[gi], levels)
                        : errorSymmetric(buf, len, alpha * Math.max(Math.abs(lo[gi]), Math.abs(hi[gi])), qmax);
                if (err < bestErr) {
                    bestErr = err;
                    bestAlpha = alpha;
                }
            }
            lo[gi] *= bestAlpha;
            hi[gi] *= bestAlpha;
        }
    }

    /** Copies the elements of group {@code gi} into {@code buf}; returns how many. */
    private static int gather(float[] v, ChannelLayout l, int gi, float[] buf) {
        int cols = l.cols();
        int g = l.groupLength();
        if (l.lastAxis()) {
            int block = gi / cols;
            int c = gi % cols;
            int end = Math.min(l.rows(), (block + 1) * g);
            int n = 0;
            for (int r = block * g; r < end; r++) {
                buf[n++] = v[r * cols + c];
            }
            return n;
        }
        int per = l.groupsPerChannel();
        int r = gi / per;
        int k = gi % per;
        int start = r * cols + k * g;
        int end = Math.min(start + g, r * cols + cols);
        System.arraycopy(v, start, buf, 0, end - start);
        return end - start;
    }

    private static double errorAsymmetric(float[] x, int n, float lo, float hi, int levels) {
        float step = (hi - lo) / levels;
        if (!(step > 0)) {
            return Double.POSITIVE_INFINITY;
        }
        float inv = 1 / step;
        double err = 0;
        for (int i = 0; i < n; i++) {
            int q = Math.min(Math.max((int) ((x[i] - lo) * inv + 0.5f), 0), levels);
            double d = x[i] - (q * step + lo);
            err += d * d;
        }
        return err;
    }

    private static double errorSymmetric(float[] x, int n, float max, int qmax) {
        float step = max / qmax;
        if (!(step > 0)) {
            return Double.POSITIVE_INFINITY;
        }
        float inv = 1 / step;
        double err = 0;
        for (int i = 0; i < n; i++) {
            int q = Math.min(Math.max((int) (x[i] * inv + qmax + 0.5f), 0), 2 * qmax) - qmax;
            double d = x[i] - q * step;
            err += d * d;
        }
        return err;
    }
}
