package io.weightstream.codec.inr;

/**
 * Post-training quantization of the network (paper eq. 31): each weight and bias tensor gets its own uniform grid
 * of {@code 2^b} levels over its [min, max], stored as a float32 step and a float32 offset, and each value the
 * nearest level's code: {@code w' = (float) q * step + offset}. Codes of all tensors form one bit stream,
 * b bits per code, least significant bit first.
 */
final class InrQuantizer {
    private InrQuantizer() {
    }

    /** The grid of one tensor. */
    record Grid(float step, float offset) {
        float value(int code) {
            return (float) code * step + offset;
        }
    }

    static Grid grid(float[] w, int bits) {
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float v : w) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (w.length == 0) {
            return new Grid(0f, 0f);
        }
        int levels = (1 << bits) - 1;
        float step = (hi - lo) / levels;
        return new Grid(step, lo);
    }

    /** The nearest code of every value. */
    static int[] codes(float[] w, Grid g, int bits) {
        int levels = (1 << bits) - 1;
        int[] q = new int[w.length];
        if (g.step() == 0f) {
            return q;
        }
        for (int i = 0; i < w.length; i++) {
            long c = Math.round(((double) w[i] - g.offset()) / g.step());
            int best = (int) Math.max(0, Math.min(levels, c));
            // the float decode may round differently from the double estimate: keep the closer neighbour
            float err = Math.abs(g.value(best) - w[i]);
            for (int d = -1; d <= 1; d += 2) {
                int alt = best + d;
                if (alt >= 0 && alt <= levels && Math.abs(g.value(alt) - w[i]) < err) {
                    best = alt;
                    err = Math.abs(g.value(alt) - w[i]);
                }
            }
            q[i] = best;
        }
        return q;
    }

    /** Bytes of {@code count} codes of {@code bits} bits. */
    static long packedLength(long count, int bits) {
        return (count * bits + 7) / 8;
    }

    /** Packs codes LSB first into {@code out} from {@code offset}; returns the offset after the last byte. */
    static int pack(int[][] codes, int bits, byte[] out, int offset) {
        long acc = 0;
        int filled = 0;
        int at = offset;
        for (int[] tensor : codes) {
            for (int c : tensor) {
                acc |= (long) c << filled;
                filled += bits;
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
     * Unpacks codes and maps them through each tensor's grid.
     *
     * @return false if the padding bits after the last code are not zero
     */
    static boolean unpack(byte[] in, int offset, int bits, Grid[] grids, float[][] out) {
        long acc = 0;
        int filled = 0;
        int at = offset;
        int mask = (1 << bits) - 1;
        for (int t = 0; t < out.length; t++) {
            float[] dst = out[t];
            Grid g = grids[t];
            for (int i = 0; i < dst.length; i++) {
                while (filled < bits) {
                    acc |= (long) (in[at++] & 0xff) << filled;
                    filled += 8;
                }
                dst[i] = g.value((int) (acc & mask));
                acc >>>= bits;
                filled -= bits;
            }
        }
        return acc == 0;
    }
}
