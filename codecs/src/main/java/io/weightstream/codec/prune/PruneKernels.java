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
     * The survivors, ascending: the {@code pruned} elements of smallest magnitude are dropped, ties at the
     * threshold broken by index (earlier elements go first), so exactly {@code v.length - pruned} survive. O(N):
     * the threshold is selected with two 16-bit radix histograms, no sort; the loops are branch-free except
     * around the (rare) elements equal to the threshold.
     */
    static int[] survivors(float[] v, int pruned) {
        int n = v.length;
        int[] idx = new int[n - pruned + 1]; // one spare slot: the compaction writes before it counts
        if (pruned <= 0) {
            for (int i = 0; i < n; i++) {
                idx[i] = i;
            }
            return java.util.Arrays.copyOf(idx, n);
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
        int k = 0;
        for (int i = 0; i < n; i++) {
            int m = magnitude(v[i]);
            if (m == threshold && ties > 0) {
                ties--;
                continue;
            }
            idx[k] = i;
            k += m >= threshold ? 1 : 0;
        }
        return java.util.Arrays.copyOf(idx, k);
    }

    /** The survivors as a bitmap of ceil(n/8) bytes, bit i (LSB first) set for a survivor. */
    static byte[] bitmap(int[] idx, int n) {
        byte[] out = new byte[(n + 7) >>> 3];
        for (int i : idx) {
            out[i >>> 3] |= (byte) (1 << (i & 7));
        }
        return out;
    }

    /** Bytes of the delta coding: per survivor, the pruned elements since the previous one, in base-255 runs. */
    static int deltaBytes(int[] idx) {
        int bytes = 0;
        int prev = -1;
        for (int i : idx) {
            bytes += (i - prev - 1) / 255 + 1;
            prev = i;
        }
        return bytes;
    }

    static byte[] deltas(int[] idx, int length) {
        byte[] out = new byte[length];
        int p = 0;
        int prev = -1;
        for (int i : idx) {
            int gap = i - prev - 1;
            for (; gap >= 255; gap -= 255) {
                out[p++] = (byte) 255;
            }
            out[p++] = (byte) gap;
            prev = i;
        }
        return out;
    }

    /** The channel of each survivor: its column ({@code lastAxis}) or its row in a view of {@code cols} columns. */
    static int[] channels(int[] idx, int cols, boolean lastAxis) {
        int[] ch = new int[idx.length];
        int row = 0;
        int rowStart = 0;
        for (int j = 0; j < idx.length; j++) {
            int i = idx[j];
            // indices increase: advance the row instead of dividing
            while (i - rowStart >= cols) {
                rowStart += cols;
                row++;
            }
            ch[j] = lastAxis ? i - rowStart : row;
        }
        return ch;
    }

    /**
     * Survivor indices from a bitmap.
     *
     * @throws CorruptPayloadException at {@code at} unless exactly {@code k} bits are set within the first n
     */
    static int[] fromBitmap(byte[] bitmap, int n, int k, long at) {
        int[] idx = new int[k + 1]; // the spare slot takes the write of a surplus survivor before it is counted
        int c = 0;
        for (int i = 0; i < n; i++) {
            idx[c] = i;
            c += (bitmap[i >>> 3] >>> (i & 7)) & 1;
            if (c > k) {
                throw new CorruptPayloadException(at, "bitmap marks more than the " + k + " survivors declared");
            }
        }
        int tail = n & 7;
        if (c != k || (tail != 0 && (bitmap[n >>> 3] & 0xff) >>> tail != 0)) {
            throw new CorruptPayloadException(at, "bitmap marks " + c + " survivors, " + k + " declared");
        }
        return java.util.Arrays.copyOf(idx, k);
    }

    /**
     * Survivor indices from delta bytes.
     *
     * @throws CorruptPayloadException at {@code at} unless they describe exactly {@code k} indices below n
     */
    static int[] fromDeltas(byte[] gaps, int n, int k, long at) {
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
