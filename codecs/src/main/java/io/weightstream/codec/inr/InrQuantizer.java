package io.weightstream.codec.inr;

import io.weightstream.tensor.FloatConversions;

/**
 * Post-training quantization of the network (paper eq. 31), tensor by tensor and block by block, as
 * {@link InrQuantization} plans it. A slice on one grid gets a uniform grid of {@code 2^b} levels over its
 * [min, max], stored as a float32 step and offset; a slice on per-column grids (one per output unit of an
 * {@code [in, out]} weight) stores a float32 scale {@code s = max |w|} (1 if all are zero) and per column two float16
 * numbers, {@code a = lo/s} and {@code r = (hi - lo)/s}, from which {@code offset = a * s} and
 * {@code step = r * s / (2^b - 1)} in float32 (a float16 step alone would underflow at 16 bits). Each value is the
 * nearest level's code, clamped to [0, 2^b - 1] (float16 rounding may cut a column's extreme by a fraction of a
 * step): {@code w' = (float) q * step + offset}. Codes of all slices form one bit stream, each at its tensor's bits,
 * least significant bit first. The trainer's fake quantization computes the same floats in the same order.
 */
final class InrQuantizer {
    private InrQuantizer() {
    }

    /** The grid of one slice: one step and offset, or one per column (value {@code i} is in column {@code i % cols}). */
    record Grid(float[] steps, float[] offsets) {
        float value(int code, int index) {
            int c = steps.length == 1 ? 0 : index % steps.length;
            return (float) code * steps[c] + offsets[c];
        }
    }

    /** The stored fields of a per-column grid. */
    record Columns(float scale, short[] lo, short[] range) {
        Grid grid(int bits) {
            return columnGrid(scale, lo, range, bits);
        }
    }

    /** One grid over the whole slice. */
    static Grid tensorGrid(float[] w, int bits) {
        if (w.length == 0) {
            return new Grid(new float[] {0f}, new float[] {0f});
        }
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float v : w) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        int levels = (1 << bits) - 1;
        return new Grid(new float[] {(hi - lo) / levels}, new float[] {lo});
    }

    /** The per-column fields of a row-major {@code [w.length / cols, cols]} slice. */
    static Columns columns(float[] w, int cols) {
        float scale = 0f;
        float[] lo = new float[cols];
        float[] hi = new float[cols];
        java.util.Arrays.fill(lo, Float.POSITIVE_INFINITY);
        java.util.Arrays.fill(hi, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < w.length; i++) {
            int c = i % cols;
            lo[c] = Math.min(lo[c], w[i]);
            hi[c] = Math.max(hi[c], w[i]);
            scale = Math.max(scale, Math.abs(w[i]));
        }
        if (scale == 0f) {
            scale = 1f;
        }
        short[] a = new short[cols];
        short[] r = new short[cols];
        for (int c = 0; c < cols; c++) {
            a[c] = FloatConversions.floatToF16(lo[c] / scale);
            r[c] = FloatConversions.floatToF16((hi[c] - lo[c]) / scale);
        }
        return new Columns(scale, a, r);
    }

    /** A per-column grid from its stored fields. */
    static Grid columnGrid(float scale, short[] lo, short[] range, int bits) {
        float levels = (1 << bits) - 1;
        float[] steps = new float[lo.length];
        float[] offsets = new float[lo.length];
        for (int c = 0; c < lo.length; c++) {
            offsets[c] = FloatConversions.f16ToFloat(lo[c]) * scale;
            steps[c] = FloatConversions.f16ToFloat(range[c]) * scale / levels;
        }
        return new Grid(steps, offsets);
    }

    /** The nearest code of every value, clamped to the grid. */
    static int[] codes(float[] w, Grid g, int bits) {
        int levels = (1 << bits) - 1;
        int[] q = new int[w.length];
        for (int i = 0; i < w.length; i++) {
            int c = g.steps().length == 1 ? 0 : i % g.steps().length;
            float step = g.steps()[c];
            if (step == 0f) {
                continue;
            }
            long k = Math.round(((double) w[i] - g.offsets()[c]) / step);
            int best = (int) Math.max(0, Math.min(levels, k));
            // the float decode may round differently from the double estimate: keep the closer neighbour
            float err = Math.abs(g.value(best, i) - w[i]);
            for (int d = -1; d <= 1; d += 2) {
                int alt = best + d;
                if (alt >= 0 && alt <= levels && Math.abs(g.value(alt, i) - w[i]) < err) {
                    best = alt;
                    err = Math.abs(g.value(alt, i) - w[i]);
                }
            }
            q[i] = best;
        }
        return q;
    }

    /** The values a slice decodes to. */
    static float[] values(int[] codes, Grid g) {
        float[] v = new float[codes.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = g.value(codes[i], i);
        }
        return v;
    }

    /** Bytes of {@code count} codes of {@code bits} bits. */
    static long packedLength(long count, int bits) {
        return (count * bits + 7) / 8;
    }

    /** Packs each slice's codes at its bits, LSB first, into {@code out} from {@code offset}; returns the end. */
    static int pack(int[][] codes, int[] bits, byte[] out, int offset) {
        long acc = 0;
        int filled = 0;
        int at = offset;
        for (int s = 0; s < codes.length; s++) {
            int b = bits[s];
            for (int c : codes[s]) {
                acc |= (long) c << filled;
                filled += b;
                while (filled >= 8) {
                    out[at++] = (byte) acc;
                    acc >>>= 8;
                    filled -= 8;
                }
            }
        }
        if (filled > 0) {
            out[at++] = (byte) acc;
        }
        return at;
    }

    /**
     * Unpacks each slice's codes at its bits into {@code out} (preallocated to the slices' sizes).
     *
     * @return false if the padding bits after the last code are not zero
     */
    static boolean unpack(byte[] in, int offset, int[] bits, int[][] out) {
        long acc = 0;
        int filled = 0;
        int at = offset;
        for (int s = 0; s < out.length; s++) {
            int b = bits[s];
            int mask = (1 << b) - 1;
            int[] dst = out[s];
            for (int i = 0; i < dst.length; i++) {
                while (filled < b) {
                    acc |= (long) (in[at++] & 0xff) << filled;
                    filled += 8;
                }
                dst[i] = (int) (acc & mask);
                acc >>>= b;
                filled -= b;
            }
        }
        return acc == 0;
    }
}
