package io.weightstream.codec.prune;

import io.weightstream.codec.CorruptPayloadException;

/**
 * The inner loops of {@code prune}: exact magnitude selection by radix histograms, the survivor mask and
 * the two position codings. Arguments are trusted (checked by {@link PruneCodec}).
 */
final class PruneKernels {
    private PruneKernels() {
    }

    /** The magnitude of a float as its ordered bit pattern: non-negative ints sort like the magnitudes. */
    static int magnitude(float x) {
        return Float.floatToRawIntBits(x) & 0x7fffffff;
    }

    /**
     * Marks the survivors: the {@code pruned} elements of smallest magnitude are dropped, ties at the threshold
     * broken by index (earlier elements go first), so exactly {@code v.length - pruned} survive. O(N): the
     * threshold is selected with two 16-bit radix histograms, no sort.
     *
     * @return the survivor mask
     */
    static boolean[] survivors(float[] v, int pruned) {
        int n = v.length;
        boolean[] keep = new boolean[n];
        if (pruned <= 0) {
            java.util.Arrays.fill(keep, true);
            return keep;
        }
        // pass 1: high 16 bits of the magnitude
        int[] hist = new int[1 << 16];
        for (float x : v) {
            hist[magnitude(x) >>> 16]++;
        }
        int high = 0;
        int below = 0;
        while (below + hist[high] < pruned) {
            below += hist[high];
            high++;
        }
        // pass 2: low 16 bits among the elements in that bucket
        java.util.Arrays.fill(hist, 0);
        for (float x : v) {
            int m = magnitude(x);
            if (m >>> 16 == high) {
                hist[m & 0xffff]++;
            }
        }
        int low = 0;
        while (below + hist[low] < pruned) {
            below += hist[low];
            low++;
        }
        int threshold = high << 16 | low;
        int ties = pruned - below; // elements equal to the threshold that are pruned, first ones first
        for (int i = 0; i < n; i++) {
            int m = magnitude(v[i]);
            if (m > threshold) {
                keep[i] = true;
            } else if (m == threshold) {
                if (ties > 0) {
                    ties--;
                } else {
                    keep[i] = true;
                }
            }
        }
        return keep;
    }

    /** The mask as ceil(n/8) bytes, bit i (LSB first) set for a survivor. */
    static byte[] bitmap(boolean[] keep) {
        byte[] out = new byte[(keep.length + 7) >>> 3];
        for (int i = 0; i < keep.length; i++) {
            if (keep[i]) {
                out[i >>> 3] |= (byte) (1 << (i & 7));
            }
        }
        return out;
    }

    /** Bytes of the gap coding: per survivor, its distance to the previous one minus 1, in base-255 runs. */
    static int gapBytes(boolean[] keep) {
        int bytes = 0;
        int gap = 0;
        for (boolean k : keep) {
            if (k) {
                bytes += gap / 255 + 1;
                gap = 0;
            } else {
                gap++;
            }
        }
        return bytes;
    }

    static byte[] gaps(boolean[] keep, int length) {
        byte[] out = new byte[length];
        int p = 0;
        int gap = 0;
        for (boolean k : keep) {
            if (k) {
                for (; gap >= 255; gap -= 255) {
                    out[p++] = (byte) 255;
                }
                out[p++] = (byte) gap;
                gap = 0;
            } else {
                gap++;
            }
        }
        return out;
    }

    /**
     * Survivor indices from a bitmap.
     *
     * @throws CorruptPayloadException at {@code at} unless exactly {@code k} bits are set within the first n
     */
    static int[] fromBitmap(byte[] bitmap, int n, int k, long at) {
        int[] idx = new int[k];
        int c = 0;
        for (int i = 0; i < n; i++) {
            if ((bitmap[i >>> 3] & (1 << (i & 7))) != 0) {
                if (c == k) {
                    throw new CorruptPayloadException(at, "bitmap marks more than the " + k + " survivors declared");
                }
                idx[c++] = i;
            }
        }
        int tail = n & 7;
        if (c != k || (tail != 0 && (bitmap[n >>> 3] & 0xff) >>> tail != 0)) {
            throw new CorruptPayloadException(at, "bitmap marks " + c + " survivors, " + k + " declared");
        }
        return idx;
    }

    /**
     * Survivor indices from gap bytes.
     *
     * @throws CorruptPayloadException at {@code at} unless they describe exactly {@code k} indices below n
     */
    static int[] fromGaps(byte[] gaps, int n, int k, long at) {
        int[] idx = new int[k];
        int c = 0;
        long next = 0;
        long pending = 0;
        for (byte b : gaps) {
            int g = b & 0xff;
            pending += g;
            if (g != 255) {
                long i = next + pending;
                if (c == k || i >= n) {
                    throw new CorruptPayloadException(at, "gaps describe survivors beyond the tensor or the count");
                }
                idx[c++] = (int) i;
                next = i + 1;
                pending = 0;
            }
        }
        if (c != k || pending != 0) {
            throw new CorruptPayloadException(at, "gaps describe " + c + " survivors, " + k + " declared");
        }
        return idx;
    }
}
