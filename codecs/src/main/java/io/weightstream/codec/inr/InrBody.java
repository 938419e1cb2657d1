package io.weightstream.codec.inr;

import java.util.Arrays;

/**
 * Outlier-aware preprocessing (paper IV-A1): the {@code k} smallest and {@code k} largest values of a layer go to
 * an outlier dictionary (stored exactly, patched back after decoding); the rest, the body, is normalised to
 * [-1, 1] with its own minimum and maximum. Ties are broken by index, so the split is deterministic.
 *
 * @param outliers indices of the outliers, ascending
 * @param lo       the body's minimum
 * @param hi       the body's maximum
 */
record InrBody(int[] outliers, float lo, float hi) {
    /** The split of {@code values} with {@code fraction} of them (half at each end) as outliers. */
    static InrBody split(float[] values, double fraction) {
        int n = values.length;
        int k = (int) Math.min(n / 2, Math.round(n * fraction / 2));
        if (k == 0) {
            return new InrBody(new int[0], min(values, null), max(values, null));
        }
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = ((long) sortable(values[i]) << 32) | i;
        }
        Arrays.sort(keys);
        int[] out = new int[2 * k];
        boolean[] isOutlier = new boolean[n];
        for (int i = 0; i < k; i++) {
            out[i] = (int) keys[i];
            out[k + i] = (int) keys[n - 1 - i];
        }
        Arrays.sort(out);
        for (int i : out) {
            isOutlier[i] = true;
        }
        if (2 * k == n) {
            return new InrBody(out, 0f, 0f);
        }
        return new InrBody(out, min(values, isOutlier), max(values, isOutlier));
    }

    /** No outliers and no normalisation ({@code lo = -1, hi = 1}): the ablation "without preprocessing". */
    static InrBody identity() {
        return new InrBody(new int[0], -1f, 1f);
    }

    /** Half the body's range, the scale of the normalised domain, in the float32 arithmetic the decoder uses. */
    float halfRange() {
        return (hi - lo) * 0.5f;
    }

    /** A float's bits as an int that orders like the float (negative values below positive ones). */
    private static int sortable(float v) {
        int bits = Float.floatToIntBits(v);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    private static float min(float[] v, boolean[] skip) {
        float m = Float.POSITIVE_INFINITY;
        for (int i = 0; i < v.length; i++) {
            if (skip == null || !skip[i]) {
                m = Math.min(m, v[i]);
            }
        }
        return m;
    }

    private static float max(float[] v, boolean[] skip) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < v.length; i++) {
            if (skip == null || !skip[i]) {
                m = Math.max(m, v[i]);
            }
        }
        return m;
    }
}
