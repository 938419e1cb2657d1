package io.weightstream.codec.hyper;

import java.util.Arrays;

/**
 * The inner loops of {@code hyper}: centroid and spread, outlier categories, the nearest-node assignment, bit
 * packing of thetas and reconstruction (magnitude pruning is prune's, {@code PruneCodec.survivors}). They trust their arguments (checked by
 * {@link HyperCodec}). Groups are {@code n} consecutive values of {@code v[0, m)}; the last group is padded
 * with the centroid, so padding lies at distance 0 and decodes to values nobody reads.
 */
final class HyperKernels {
    private HyperKernels() {
    }

    // ---------------------------------------------------------------- statistics

    /** Per-coordinate mean of the groups (float32; 0 for a coordinate no value reaches). */
    static float[] centroid(float[] v, int m, int n) {
        double[] sum = new double[n];
        int full = m / n;
        if (n == 2) {
            double s0 = 0;
            double s1 = 0;
            for (int j = 0; j < full; j++) {
                s0 += v[2 * j];
                s1 += v[2 * j + 1];
            }
            sum[0] = s0;
            sum[1] = s1;
        } else {
            double s0 = 0;
            double s1 = 0;
            double s2 = 0;
            for (int j = 0; j < full; j++) {
                s0 += v[3 * j];
                s1 += v[3 * j + 1];
                s2 += v[3 * j + 2];
            }
            sum[0] = s0;
            sum[1] = s1;
            sum[2] = s2;
        }
        float[] c = new float[n];
        for (int d = 0; d < n; d++) {
            int count = full;
            if (full * n + d < m) {
                sum[d] += v[full * n + d];
                count++;
            }
            c[d] = count == 0 ? 0f : (float) (sum[d] / count);
        }
        return c;
    }

    /** Root mean square of {@code v[i] - c[i mod n]}. */
    static double spread(float[] v, int m, int n, float[] c) {
        double ss = 0;
        int full = m / n;
        if (n == 2) {
            double c0 = c[0];
            double c1 = c[1];
            for (int j = 0; j < full; j++) {
                double e0 = v[2 * j] - c0;
                double e1 = v[2 * j + 1] - c1;
                ss += e0 * e0 + e1 * e1;
            }
        } else {
            double c0 = c[0];
            double c1 = c[1];
            double c2 = c[2];
            for (int j = 0; j < full; j++) {
                double e0 = v[3 * j] - c0;
                double e1 = v[3 * j + 1] - c1;
                double e2 = v[3 * j + 2] - c2;
                ss += e0 * e0 + e1 * e1 + e2 * e2;
            }
        }
        for (int i = full * n; i < m; i++) {
            double e = (double) v[i] - c[i - full * n];
            ss += e * e;
        }
        return m == 0 ? 0 : Math.sqrt(ss / m);
    }

    /** Chebyshev distance of group j from c; padding counts as c. */
    static double distance(float[] v, int m, int n, float[] c, int j) {
        double dist = 0;
        int base = j * n;
        for (int d = 0; d < n && base + d < m; d++) {
            dist = Math.max(dist, Math.abs((double) v[base + d] - c[d]));
        }
        return dist;
    }

    /** The distances above {@code half} (points outside the box), in group order, and the largest distance. */
    static double[] outside(float[] v, int m, int n, float[] c, double half, double[] max) {
        int groups = (m + n - 1) / n;
        int full = m / n;
        double[] out = new double[16];
        int k = 0;
        double largest = 0;
        double c0 = c[0];
        double c1 = c[1];
        double c2 = n == 3 ? c[2] : 0;
        for (int j = 0; j < full; j++) {
            double dist;
            if (n == 2) {
                dist = Math.max(Math.abs(v[2 * j] - c0), Math.abs(v[2 * j + 1] - c1));
            } else {
                dist = Math.max(Math.max(Math.abs(v[3 * j] - c0), Math.abs(v[3 * j + 1] - c1)),
                        Math.abs(v[3 * j + 2] - c2));
            }
            if (dist > half) {
                if (k == out.length) {
                    out = Arrays.copyOf(out, 2 * k);
                }
                out[k++] = dist;
                largest = Math.max(largest, dist);
            }
        }
        if (full < groups) {
            double dist = distance(v, m, n, c, full);
            if (dist > half) {
                if (k == out.length) {
                    out = Arrays.copyOf(out, 2 * k);
                }
                out[k++] = dist;
                largest = Math.max(largest, dist);
            }
        }
        max[0] = largest;
        return Arrays.copyOf(out, k);
    }

    /** Candidate category bounds the search considers: quantiles of the outside distances. */
    static final int BOUND_CANDIDATES = 64;

    /**
     * Upper distance bounds {@code d_1 < ... < d_K'} (K' at most {@code categories}, the last the largest
     * distance) for the points outside the box, minimizing {@code sum_k n_k d_k^2}: the squared error bound
     * {@code (r d_k)^2} summed over the points, since a point of category k is off by at most {@code 2 r d_k}.
     * Exact dynamic programming over {@value #BOUND_CANDIDATES} quantiles of the sorted distances.
     */
    static double[] categoryBounds(double[] outside, int categories) {
        int m = outside.length;
        if (m == 0 || categories == 0) {
            return new double[0];
        }
        double[] sorted = outside.clone();
        Arrays.sort(sorted);
        // candidate j: bound cand[j] covering the first cnt[j] distances
        double[] cand = new double[BOUND_CANDIDATES];
        long[] cnt = new long[BOUND_CANDIDATES];
        int q = 0;
        for (int i = 1; i <= BOUND_CANDIDATES; i++) {
            int idx = (int) (((long) i * m + BOUND_CANDIDATES - 1) / BOUND_CANDIDATES) - 1;
            double b = sorted[Math.max(0, idx)];
            if (q > 0 && cand[q - 1] == b) {
                continue;
            }
            cand[q] = b;
            q++;
        }
        for (int j = 0; j < q; j++) {
            cnt[j] = upperCount(sorted, cand[j]);
        }
        int levels = Math.min(categories, q);
        double[][] best = new double[levels + 1][q];
        int[][] from = new int[levels + 1][q];
        for (int j = 0; j < q; j++) {
            best[1][j] = cnt[j] * cand[j] * cand[j];
        }
        for (int k = 2; k <= levels; k++) {
            for (int j = 0; j < q; j++) {
                best[k][j] = Double.POSITIVE_INFINITY;
                for (int i = 0; i < j; i++) {
                    double cost = best[k - 1][i] + (cnt[j] - cnt[i]) * cand[j] * cand[j];
                    if (cost < best[k][j]) {
                        best[k][j] = cost;
                        from[k][j] = i;
                    }
                }
            }
        }
        int k = levels;
        while (k > 1 && !(best[k][q - 1] < best[k - 1][q - 1])) {
            k--;
        }
        double[] bounds = new double[k];
        int j = q - 1;
        for (int level = k; level >= 1; level--) {
            bounds[level - 1] = cand[j];
            j = from[level][j];
        }
        return bounds;
    }

    /** Number of sorted values at most x. */
    private static long upperCount(double[] sorted, double x) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= x) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    // ---------------------------------------------------------------- assignment

    /**
     * Category and nearest node of every group. Category k is the first whose half side {@code D_k / 2} holds
     * the group's distance (all of them do by construction); the group maps into lattice units by
     * {@code X = (p - c) * U / D_k + (U - 1) / 2}.
     */
    static void assign(float[] v, int m, int n, float[] c, float[] sides, WindingLattice lattice, byte[] cats,
                       int[] thetas) {
        int groups = (m + n - 1) / n;
        int u = lattice.nodes;
        NodeGrid grid = lattice.grid();
        int k = sides.length;
        double[] half = new double[k];
        double[] scale = new double[k];
        for (int i = 0; i < k; i++) {
            half[i] = (double) sides[i] * 0.5;
            scale[i] = u / (double) sides[i];
        }
        double mid = (u - 1) * 0.5;
        int full = m / n;
        if (n == 2) {
            double c0 = c[0];
            double c1 = c[1];
            double h0 = half[0];
            double s0 = scale[0];
            for (int j = 0; j < full; j++) {
                double e0 = v[2 * j] - c0;
                double e1 = v[2 * j + 1] - c1;
                double dist = Math.max(Math.abs(e0), Math.abs(e1));
                int cat = 0;
                double s = s0;
                if (dist > h0) {
                    cat = 1;
                    while (dist > half[cat]) {
                        cat++;
                    }
                    s = scale[cat];
                }
                cats[j] = (byte) cat;
                thetas[j] = grid.nearest2(e0 * s + mid, e1 * s + mid);
            }
        } else {
            double c0 = c[0];
            double c1 = c[1];
            double c2 = c[2];
            double h0 = half[0];
            double s0 = scale[0];
            for (int j = 0; j < full; j++) {
                double e0 = v[3 * j] - c0;
                double e1 = v[3 * j + 1] - c1;
                double e2 = v[3 * j + 2] - c2;
                double dist = Math.max(Math.max(Math.abs(e0), Math.abs(e1)), Math.abs(e2));
                int cat = 0;
                double s = s0;
                if (dist > h0) {
                    cat = 1;
                    while (dist > half[cat]) {
                        cat++;
                    }
                    s = scale[cat];
                }
                cats[j] = (byte) cat;
                thetas[j] = grid.nearest3(e0 * s + mid, e1 * s + mid, e2 * s + mid);
            }
        }
        if (full < groups) {
            // the padded tail group
            double[] e = new double[n];
            double dist = 0;
            for (int d = 0; d < n; d++) {
                int i = full * n + d;
                e[d] = i < m ? (double) v[i] - c[d] : 0;
                dist = Math.max(dist, Math.abs(e[d]));
            }
            int cat = 0;
            while (dist > half[cat]) {
                cat++;
            }
            double s = scale[cat];
            cats[full] = (byte) cat;
            thetas[full] = n == 2 ? grid.nearest2(e[0] * s + mid, e[1] * s + mid)
                    : grid.nearest3(e[0] * s + mid, e[1] * s + mid, e[2] * s + mid);
        }
    }

    // ---------------------------------------------------------------- reconstruction

    /**
     * The decoding expression of every box: coordinate d of a group of category k at node z is
     * {@code (float) (o[k][d] + z_d * w[k])} with {@code w_k = D_k / U} and {@code o_kd = c_d - D_k * 0.5 + w_k * 0.5}
     * in double.
     */
    static final class Boxes {
        final int n;
        final int nodes;
        final int[] z;
        final double[] w;
        final double[][] o;

        Boxes(WindingLattice lattice, float[] c, float[] sides) {
            this.n = lattice.n;
            this.nodes = lattice.nodes;
            this.z = lattice.nodeCoordinates();
            int k = sides.length;
            w = new double[k];
            o = new double[k][n];
            for (int i = 0; i < k; i++) {
                w[i] = (double) sides[i] / nodes;
                for (int d = 0; d < n; d++) {
                    o[i][d] = (double) c[d] - (double) sides[i] * 0.5 + w[i] * 0.5;
                }
            }
        }

        float value(int theta, int category, int d) {
            return (float) (o[category][d] + z[theta * n + d] * w[category]);
        }

        /** Category-0 values by node, {@code [theta * n + d]}, plus one entry of zeros for the sentinel theta U. */
        float[] table() {
            float[] t = new float[(nodes + 1) * n];
            double w0 = w[0];
            for (int d = 0; d < n; d++) {
                double od = o[0][d];
                for (int x = 0; x < nodes; x++) {
                    t[x * n + d] = (float) (od + z[x * n + d] * w0);
                }
            }
            return t;
        }
    }

    /** Groups a table costs more than it saves below (it has U entries per coordinate). */
    static boolean tablePays(int groups, int nodes) {
        return groups >= nodes / 4;
    }

    /**
     * Writes the values of the groups at nodes {@code thetas} into {@code out[0, m)} as category 0; the outlier
     * groups are {@link #patch patched} afterwards.
     */
    static void reconstruct(int[] thetas, int m, Boxes boxes, float[] out) {
        int n = boxes.n;
        int groups = (m + n - 1) / n;
        int full = m / n;
        if (tablePays(groups, boxes.nodes)) {
            float[] t = boxes.table();
            if (n == 2) {
                for (int j = 0; j < full; j++) {
                    int th = thetas[j];
                    out[2 * j] = t[2 * th];
                    out[2 * j + 1] = t[2 * th + 1];
                }
            } else {
                for (int j = 0; j < full; j++) {
                    int th = thetas[j];
                    out[3 * j] = t[3 * th];
                    out[3 * j + 1] = t[3 * th + 1];
                    out[3 * j + 2] = t[3 * th + 2];
                }
            }
        } else {
            for (int j = 0; j < full; j++) {
                for (int d = 0; d < n; d++) {
                    out[j * n + d] = boxes.value(thetas[j], 0, d);
                }
            }
        }
        for (int i = full * n; i < m; i++) {
            out[i] = boxes.value(thetas[full], 0, i - full * n);
        }
    }

    /**
     * {@link #reconstruct} fused with the symbol lookup for n = 2 and two byte-coded symbol streams: group j sits
     * at node {@code table[s0[j] * a1 + s1[j]]}. Returns false if a symbol pair belongs to no node (table entry U).
     */
    static boolean reconstructCoded2(byte[] s0, byte[] s1, int a1, int[] table, int m, Boxes boxes, float[] out) {
        int nodes = boxes.nodes;
        int groups = (m + 1) / 2;
        if (!tablePays(groups, nodes)) {
            int[] thetas = thetasCoded2(s0, s1, a1, table, groups, nodes);
            if (thetas == null) {
                return false;
            }
            reconstruct(thetas, m, boxes, out);
            return true;
        }
        float[] t = boxes.table();
        int full = m / 2;
        int bad = 0;
        for (int j = 0; j < full; j++) {
            int th = table[(s0[j] & 0xff) * a1 + (s1[j] & 0xff)];
            bad |= nodes - 1 - th;
            out[2 * j] = t[2 * th];
            out[2 * j + 1] = t[2 * th + 1];
        }
        if (full < groups) {
            int th = table[(s0[full] & 0xff) * a1 + (s1[full] & 0xff)];
            bad |= nodes - 1 - th;
            out[2 * full] = t[2 * th];
        }
        return bad >= 0;
    }

    /** The nodes of the groups from two byte symbol streams, or null if a pair belongs to no node. */
    static int[] thetasCoded2(byte[] s0, byte[] s1, int a1, int[] table, int groups, int nodes) {
        int[] thetas = new int[groups];
        int bad = 0;
        for (int j = 0; j < groups; j++) {
            int th = table[(s0[j] & 0xff) * a1 + (s1[j] & 0xff)];
            thetas[j] = th;
            bad |= nodes - 1 - th;
        }
        return bad < 0 ? null : thetas;
    }

    /**
     * Rewrites the values of the outlier groups {@code groups[i]} (category {@code categories[i]}, at node
     * {@code theta.applyAsInt(group)}).
     */
    static void patch(int[] groups, byte[] categories, int count, java.util.function.IntUnaryOperator theta, int m,
                      Boxes boxes, float[] out) {
        int n = boxes.n;
        for (int i = 0; i < count; i++) {
            int j = groups[i];
            int th = theta.applyAsInt(j);
            int cat = categories[i];
            for (int d = 0; d < n && j * n + d < m; d++) {
                out[j * n + d] = boxes.value(th, cat, d);
            }
        }
    }

    // ---------------------------------------------------------------- bit packing

    /** Bytes of {@code count} values of {@code bits} bits. */
    static long packedLength(long count, int bits) {
        return (count * bits + 7) >>> 3;
    }

    /** Packs {@code v[0, count)} (each below 2^bits, bits at most 24) LSB first into {@code dst} at {@code at}. */
    static void pack(int[] v, int count, int bits, byte[] dst, int at) {
        long acc = 0;
        int filled = 0;
        int p = at;
        for (int i = 0; i < count; i++) {
            acc |= (long) v[i] << filled;
            filled += bits;
            while (filled >= 8) {
                dst[p++] = (byte) acc;
                acc >>>= 8;
                filled -= 8;
            }
        }
        if (filled > 0) {
            dst[p] = (byte) acc;
        }
    }

    /**
     * Unpacks {@code count} values of {@code bits} bits from {@code src} at {@code at} (which holds
     * {@link #packedLength} bytes) into {@code v}; returns false if the padding bits after the last value are not 0.
     */
    static boolean unpack(byte[] src, int at, int count, int bits, int[] v) {
        long acc = 0;
        int have = 0;
        int p = at;
        int mask = (1 << bits) - 1;
        for (int i = 0; i < count; i++) {
            while (have < bits) {
                acc |= (src[p++] & 0xffL) << have;
                have += 8;
            }
            v[i] = (int) (acc & mask);
            acc >>>= bits;
            have -= bits;
        }
        return acc == 0;
    }
}
