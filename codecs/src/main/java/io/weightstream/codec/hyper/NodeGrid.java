package io.weightstream.codec.hyper;

import java.util.Arrays;

/**
 * Exact nearest-node search over the U nodes of a {@link WindingLattice}: a uniform grid of buckets over the
 * cube {@code [-1/2, U - 1/2]^n} (lattice units; the unit cube scaled by U and shifted by the node offset),
 * each bucket holding the complete list of nodes that can be nearest to some point of the bucket. A node v can
 * be nearest to a point of bucket C only if its distance to C is at most {@code R_C = min_w maxdist(w, C)} (the
 * nearest node of any point in C is at most that far), so the list is {@code {v : dist(v, C) <= R_C}}: a query
 * computes its bucket and scans a handful of candidates, and the answer is the exact nearest node (ties: the
 * first candidate in the list, a fixed order). Candidates' coordinates are stored inline for a sequential scan.
 *
 * <p>{@link #coverBound()} is a proven upper bound of the covering radius of the node set <em>inside the cube</em>
 * (faces included, where the lattice is cut): each bucket is split into {@value #SUB}^n sub-cells and
 * {@code max_S min_v maxdist(v, S)} is taken over all of them; it exceeds the true radius by at most the
 * sub-cell diagonal.
 *
 * <pre>{@code
 * NodeGrid grid = lattice.grid();
 * int theta = grid.nearest2(x, y);        // x, y in lattice units
 * double r = grid.coverBound() / U;      // unit-cube covering radius bound
 * }</pre>
 */
final class NodeGrid {
    /** Sub-cells per bucket and dimension for {@link #coverBound()}. */
    static final int SUB = 8;

    final int n;
    final int nodes;
    /** Buckets per dimension. */
    final int side;
    final double cell;
    final double inverseCell;
    /** Candidates of bucket b: entries start[b] .. start[b+1]-1. */
    final int[] start;
    final int[] theta;
    /** Coordinates of candidate i at [i * n + d] (integers below 2^16, exact in float). */
    final float[] coords;
    private volatile double coverBound = -1;
    /** n = 2: an obtuse-superbase pair (b, c) of the lattice, <b, c> >= 0, and the inverse of [b; c]. */
    private final double bx;
    private final double by;
    private final double cx;
    private final double cy;
    private final double ixx;
    private final double ixy;
    private final double iyx;
    private final double iyy;
    private final long ibx;
    private final long iby;
    private final long icx;
    private final long icy;
    /** n = 3: reduced basis rows (double and exact), the inverse of the basis matrix, the 8 corner offsets. */
    private final double[] basis3;
    private final long[] basis3Exact;
    private final double[] inverse3;
    private final double[] corners3;
    /** n = 3: (lambda_1 / 2)^2, just under: a point this close to a lattice point has it as its nearest. */
    private final double certain3;

    private NodeGrid(WindingLattice lattice) {
        this.n = lattice.n;
        this.nodes = lattice.nodes;
        int u = lattice.nodes;
        // about one node per bucket in 2-D, two in 3-D: short lists without too many buckets
        int s = n == 2 ? (int) Math.ceil(Math.sqrt(u)) : (int) Math.ceil(Math.cbrt(u / 2.0));
        this.side = Math.max(1, s);
        this.cell = (double) u / side;
        this.inverseCell = side / (double) u;
        int buckets = pow(side, n);
        if (n == 2) {
            long[] b = lattice.basis[0];
            long[] c = lattice.basis[1];
            boolean flip = WindingLattice.dot(b, c) < 0;
            bx = b[0];
            by = b[1];
            cx = flip ? -c[0] : c[0];
            cy = flip ? -c[1] : c[1];
            double det = bx * cy - by * cx;
            // [alpha beta] = [x y] * inverse([b; c])
            ixx = cy / det;
            ixy = -by / det;
            iyx = -cx / det;
            iyy = bx / det;
            ibx = b[0];
            iby = b[1];
            icx = flip ? -c[0] : c[0];
            icy = flip ? -c[1] : c[1];
        } else {
            bx = by = cx = cy = ixx = ixy = iyx = iyy = 0;
            ibx = iby = icx = icy = 0;
        }
        if (n == 3) {
            long[][] b = lattice.basis;
            basis3 = new double[9];
            basis3Exact = new long[9];
            for (int i = 0; i < 3; i++) {
                for (int d = 0; d < 3; d++) {
                    basis3[3 * i + d] = b[i][d];
                    basis3Exact[3 * i + d] = b[i][d];
                }
            }
            // x = alpha B (rows b_i) => alpha = x B^-1 = x adj(B) / det(B)
            long[][] adj = WindingLattice.adjugate(b);
            double det = WindingLattice.determinant(b);
            inverse3 = new double[9];
            for (int d = 0; d < 3; d++) {
                for (int i = 0; i < 3; i++) {
                    inverse3[3 * d + i] = adj[d][i] / det;
                }
            }
            corners3 = new double[24];
            for (int e = 0; e < 8; e++) {
                for (int d = 0; d < 3; d++) {
                    corners3[3 * e + d] = (e & 1) * basis3[d] + (e >> 1 & 1) * basis3[3 + d] + (e >> 2 & 1) * basis3[6 + d];
                }
            }
            certain3 = shortest2(b) / 4.0 * (1 - 1e-9);
        } else {
            basis3 = null;
            basis3Exact = null;
            inverse3 = null;
            corners3 = null;
            certain3 = 0;
        }

        // the nodes of each bucket
        int[] count = new int[buckets + 1];
        int[] bucketOf = new int[u];
        long[] z = new long[n];
        for (int t = 0; t < u; t++) {
            int b = 0;
            for (int d = n - 1; d >= 0; d--) {
                z[d] = lattice.coordinate(t, d);
                b = b * side + index(z[d]);
            }
            bucketOf[t] = b;
            count[b + 1]++;
        }
        for (int b = 0; b < buckets; b++) {
            count[b + 1] += count[b];
        }
        int[] members = new int[u];
        int[] fill = Arrays.copyOf(count, buckets);
        for (int t = 0; t < u; t++) {
            members[fill[bucketOf[t]]++] = t;
        }
        int[] nodeCoords = new int[u * n];
        for (int t = 0; t < u; t++) {
            for (int d = 0; d < n; d++) {
                nodeCoords[t * n + d] = (int) lattice.coordinate(t, d);
            }
        }

        int[] starts = new int[buckets + 1];
        IntList cand = new IntList(buckets * 8);
        double[] lo = new double[n];
        double[] hi = new double[n];
        int[] cellIdx = new int[n];
        for (int b = 0; b < buckets; b++) {
            int rest = b;
            for (int d = 0; d < n; d++) {
                cellIdx[d] = rest % side;
                rest /= side;
                lo[d] = -0.5 + cellIdx[d] * cell;
                hi[d] = -0.5 + (cellIdx[d] + 1) * cell;
            }
            // R_C: rings of buckets outward until no unseen node can have a smaller maxdist
            double bestMax = Double.POSITIVE_INFINITY;
            for (int ring = 0; ring <= side; ring++) {
                if (ring > 0 && (ring - 1) * cell >= bestMax) {
                    break;
                }
                bestMax = Math.min(bestMax, scanRing(cellIdx, ring, count, members, nodeCoords, lo, hi, true,
                        Double.NaN, null));
            }
            double limit = bestMax * (1 + 1e-12) + 1e-9;
            starts[b] = cand.size;
            for (int ring = 0; ring <= side; ring++) {
                if (ring > 0 && (ring - 1) * cell > limit) {
                    break;
                }
                scanRing(cellIdx, ring, count, members, nodeCoords, lo, hi, false, limit, cand);
            }
        }
        starts[buckets] = cand.size;
        this.start = starts;
        this.theta = Arrays.copyOf(cand.data, cand.size);
        this.coords = new float[cand.size * n];
        for (int i = 0; i < cand.size; i++) {
            for (int d = 0; d < n; d++) {
                coords[i * n + d] = nodeCoords[theta[i] * n + d];
            }
        }
    }

    static NodeGrid build(WindingLattice lattice) {
        return new NodeGrid(lattice);
    }

    private static int pow(int b, int e) {
        int r = 1;
        for (int i = 0; i < e; i++) {
            r = Math.multiplyExact(r, b);
        }
        return r;
    }

    /** Bucket index along one dimension of a coordinate in lattice units, clamped to the grid. */
    int index(double x) {
        int i = (int) ((x + 0.5) * inverseCell);
        return i < 0 ? 0 : Math.min(i, side - 1);
    }

    /**
     * Visits the buckets at Chebyshev distance {@code ring} from {@code c}. With {@code minMax} it returns the
     * smallest maxdist of their nodes to the box [lo, hi]; otherwise it appends the nodes whose distance to the
     * box is at most {@code limit} to {@code out}.
     */
    private double scanRing(int[] c, int ring, int[] count, int[] members, int[] nodeCoords, double[] lo,
                            double[] hi, boolean minMax, double limit, IntList out) {
        double best = Double.POSITIVE_INFINITY;
        int[] o = new int[n];
        int span = 2 * ring + 1;
        int total = pow(span, n);
        double limit2 = limit * limit;
        for (int k = 0; k < total; k++) {
            int rest = k;
            boolean onRing = false;
            boolean inside = true;
            int b = 0;
            for (int d = 0; d < n; d++) {
                o[d] = rest % span - ring;
                rest /= span;
                onRing |= Math.abs(o[d]) == ring;
            }
            if (!onRing) {
                continue;
            }
            for (int d = n - 1; d >= 0; d--) {
                int x = c[d] + o[d];
                if (x < 0 || x >= side) {
                    inside = false;
                    break;
                }
                b = b * side + x;
            }
            if (!inside) {
                continue;
            }
            for (int m = count[b]; m < count[b + 1]; m++) {
                int t = members[m];
                double near = 0;
                double far = 0;
                for (int d = 0; d < n; d++) {
                    double v = nodeCoords[t * n + d];
                    double dn = v < lo[d] ? lo[d] - v : v > hi[d] ? v - hi[d] : 0;
                    double df = Math.max(Math.abs(v - lo[d]), Math.abs(v - hi[d]));
                    near += dn * dn;
                    far += df * df;
                }
                if (minMax) {
                    best = Math.min(best, Math.sqrt(far));
                } else if (near <= limit2) {
                    out.add(t);
                }
            }
        }
        return best;
    }

    /**
     * The nearest node to (x, y), lattice units, n = 2. First the lattice way, without memory traffic: with the
     * obtuse superbase (b, c), the plane is tiled by the acute Delaunay triangles {P, P+b, P+c} and
     * {P+b, P+c, P+b+c}, and the nearest lattice point is a vertex of the triangle holding (x, y). If that point
     * lies outside the cube (a node is missing there), the buckets decide. Branch-free: the winner is
     * unpredictable, so a comparison branch would mispredict half the time; distances carry the vertex number in
     * their two lowest bits (an error of 2^-50 relative, only ever deciding exact ties) and the smallest wins.
     */
    int nearest2(double x, double y) {
        double alpha = x * ixx + y * iyx;
        double beta = x * ixy + y * iyy;
        double fi = Math.floor(alpha);
        double fj = Math.floor(beta);
        int upper = Math.min(1, (int) ((alpha - fi) + (beta - fj)));
        double ex = x - (fi * bx + fj * cx);
        double ey = y - (fi * by + fj * cy);
        // vertices relative to P: 0 = b, 1 = c, 2 = 0 (lower triangle) or b + c (upper)
        double ox = upper * (bx + cx);
        double oy = upper * (by + cy);
        double d0 = (ex - bx) * (ex - bx) + (ey - by) * (ey - by);
        double d1 = (ex - cx) * (ex - cx) + (ey - cy) * (ey - cy);
        double d2 = (ex - ox) * (ex - ox) + (ey - oy) * (ey - oy);
        long k0 = Double.doubleToRawLongBits(d0) & ~3L;
        long k1 = Double.doubleToRawLongBits(d1) & ~3L | 1;
        long k2 = Double.doubleToRawLongBits(d2) & ~3L | 2;
        int id = (int) (min(min(k0, k1), k2) & 3);
        long ea = ((1 >> id) & 1) | ((id >> 1) & upper);
        long ec = (id & 1) | ((id >> 1) & upper);
        long zx = ((long) fi + ea) * ibx + ((long) fj + ec) * icx;
        long zy = ((long) fi + ea) * iby + ((long) fj + ec) * icy;
        if ((zx | zy) >= 0 && zx < nodes && zy < nodes) {
            return (int) zx;
        }
        return nearestByBuckets2(x, y);
    }

    /** The nearest node to (x, y) by the buckets alone (exact everywhere). */
    int nearestByBuckets2(double x, double y) {
        int b = index(y) * side + index(x);
        int from = start[b];
        int end = start[b + 1];
        if (end - from > KEYED) {
            return slowNearest(b, new double[] {x, y});
        }
        long best = Long.MAX_VALUE;
        float[] c = coords;
        for (int i = from; i < end; i++) {
            double dx = x - c[2 * i];
            double dy = y - c[2 * i + 1];
            best = min(best, Double.doubleToRawLongBits(dx * dx + dy * dy) & ~(long) KEYED | (i - from));
        }
        return theta[from + (int) (best & KEYED)];
    }

    /**
     * Minimum of two non-negative longs without a branch (C2 compiles {@code Math.min(long, long)} to a branch,
     * which mispredicts on these unpredictable comparisons).
     */
    private static long min(long a, long b) {
        long d = a - b;
        return b + (d & (d >> 63));
    }

    /** Candidates a bucket may hold for the branch-free scan (their number goes into the low bits of distances). */
    private static final int KEYED = 255;

    /**
     * lambda_1^2, the squared length of the shortest non-zero vector of the lattice with basis rows {@code b} (n = 3),
     * by Fincke-Pohst enumeration of the vectors no longer than b_1: {@code |v|^2 = sum_i y_i^2 |b*_i|^2} with
     * {@code y_i = k_i + sum_{j>i} k_j mu_ji} bounds each k_i given the ones above it. Norms of the enumerated
     * vectors are exact integers; the bounds are widened slightly against rounding.
     */
    static long shortest2(long[][] b) {
        double[][] star = new double[3][3];
        double[] norm = new double[3];
        double[][] mu = new double[3][3];
        for (int j = 0; j < 3; j++) {
            for (int d = 0; d < 3; d++) {
                star[j][d] = b[j][d];
            }
            for (int i = 0; i < j; i++) {
                double dot = 0;
                for (int d = 0; d < 3; d++) {
                    dot += b[j][d] * star[i][d];
                }
                mu[j][i] = dot / norm[i];
                for (int d = 0; d < 3; d++) {
                    star[j][d] -= mu[j][i] * star[i][d];
                }
            }
            norm[j] = star[j][0] * star[j][0] + star[j][1] * star[j][1] + star[j][2] * star[j][2];
        }
        long best = Long.MAX_VALUE;
        for (long[] row : b) {
            best = Math.min(best, WindingLattice.dot(row, row));
        }
        double r2 = best * (1 + 1e-9) + 1;
        long k2max = (long) Math.floor(Math.sqrt(r2 / norm[2]));
        for (long k2 = -k2max; k2 <= k2max; k2++) {
            double rest2 = r2 - k2 * k2 * norm[2];
            if (rest2 < 0) {
                continue;
            }
            double c1 = k2 * mu[2][1];
            double w1 = Math.sqrt(rest2 / norm[1]);
            for (long k1 = (long) Math.ceil(-c1 - w1); k1 <= (long) Math.floor(-c1 + w1); k1++) {
                double y1 = k1 + c1;
                double rest1 = rest2 - y1 * y1 * norm[1];
                if (rest1 < 0) {
                    continue;
                }
                double c0 = k1 * mu[1][0] + k2 * mu[2][0];
                double w0 = Math.sqrt(rest1 / norm[0]);
                for (long k0 = (long) Math.ceil(-c0 - w0); k0 <= (long) Math.floor(-c0 + w0); k0++) {
                    if (k0 == 0 && k1 == 0 && k2 == 0) {
                        continue;
                    }
                    long n2 = 0;
                    for (int d = 0; d < 3; d++) {
                        long v = k0 * b[0][d] + k1 * b[1][d] + k2 * b[2][d];
                        n2 += v * v;
                    }
                    best = Math.min(best, n2);
                }
            }
        }
        return best;
    }

    /**
     * The nearest node to (x, y, z), lattice units, n = 3. First the nearest of the 8 corners of the basis cell
     * holding the point: if it is within half the shortest lattice vector (bounded below by the Gram-Schmidt
     * lengths) it is the nearest lattice point for certain, and a node if it lies in the cube. Otherwise (about a
     * third of the points) the buckets decide.
     */
    int nearest3(double x, double y, double z) {
        double[] inv = inverse3;
        double f0 = Math.floor(x * inv[0] + y * inv[3] + z * inv[6]);
        double f1 = Math.floor(x * inv[1] + y * inv[4] + z * inv[7]);
        double f2 = Math.floor(x * inv[2] + y * inv[5] + z * inv[8]);
        double[] b = basis3;
        double ex = x - (f0 * b[0] + f1 * b[3] + f2 * b[6]);
        double ey = y - (f0 * b[1] + f1 * b[4] + f2 * b[7]);
        double ez = z - (f0 * b[2] + f1 * b[5] + f2 * b[8]);
        double[] c = corners3;
        long best = Long.MAX_VALUE;
        for (int e = 0; e < 8; e++) {
            double dx = ex - c[3 * e];
            double dy = ey - c[3 * e + 1];
            double dz = ez - c[3 * e + 2];
            best = min(best, Double.doubleToRawLongBits(dx * dx + dy * dy + dz * dz) & ~7L | e);
        }
        int e = (int) (best & 7);
        if (Double.longBitsToDouble(best & ~7L) <= certain3) {
            long k0 = (long) f0 + (e & 1);
            long k1 = (long) f1 + (e >> 1 & 1);
            long k2 = (long) f2 + (e >> 2 & 1);
            long[] bb = basis3Exact;
            long z0 = k0 * bb[0] + k1 * bb[3] + k2 * bb[6];
            long z1 = k0 * bb[1] + k1 * bb[4] + k2 * bb[7];
            long z2 = k0 * bb[2] + k1 * bb[5] + k2 * bb[8];
            if ((z0 | z1 | z2) >= 0 && z0 < nodes && z1 < nodes && z2 < nodes) {
                return (int) z0;
            }
        }
        return nearestByBuckets3(x, y, z);
    }

    /** The nearest node to (x, y, z) by the buckets alone (exact everywhere). */
    int nearestByBuckets3(double x, double y, double z) {
        int b = (index(z) * side + index(y)) * side + index(x);
        int from = start[b];
        int end = start[b + 1];
        if (end - from > KEYED) {
            return slowNearest(b, new double[] {x, y, z});
        }
        long best = Long.MAX_VALUE;
        float[] c = coords;
        for (int i = from; i < end; i++) {
            double dx = x - c[3 * i];
            double dy = y - c[3 * i + 1];
            double dz = z - c[3 * i + 2];
            best = min(best, Double.doubleToRawLongBits(dx * dx + dy * dy + dz * dz) & ~(long) KEYED | (i - from));
        }
        return theta[from + (int) (best & KEYED)];
    }

    /** Plain scan of a long candidate list (only lattices far from the chosen directions have them). */
    private int slowNearest(int b, double[] p) {
        int best = start[b];
        double bestD = Double.POSITIVE_INFINITY;
        for (int i = start[b]; i < start[b + 1]; i++) {
            double dist = 0;
            for (int d = 0; d < n; d++) {
                double e = p[d] - coords[i * n + d];
                dist += e * e;
            }
            if (dist < bestD) {
                bestD = dist;
                best = i;
            }
        }
        return theta[best];
    }

    /** Mean candidates per bucket (the cost of a query). */
    double meanCandidates() {
        return (double) theta.length / (start.length - 1);
    }

    /**
     * A proven upper bound of {@code max over x in [-1/2, U-1/2]^n of min over nodes |x - node|}, lattice units.
     */
    double coverBound() {
        double r = coverBound;
        if (r < 0) {
            r = computeCoverBound();
            coverBound = r;
        }
        return r;
    }

    private double computeCoverBound() {
        int buckets = start.length - 1;
        double sub = cell / SUB;
        int subs = pow(SUB, n);
        double worst = 0;
        double[] lo = new double[n];
        double[] hi = new double[n];
        for (int b = 0; b < buckets; b++) {
            int rest = b;
            double[] base = new double[n];
            for (int d = 0; d < n; d++) {
                base[d] = -0.5 + (rest % side) * cell;
                rest /= side;
            }
            for (int s = 0; s < subs; s++) {
                int r = s;
                for (int d = 0; d < n; d++) {
                    lo[d] = base[d] + (r % SUB) * sub;
                    hi[d] = lo[d] + sub;
                    r /= SUB;
                }
                double best = Double.POSITIVE_INFINITY;
                for (int i = start[b]; i < start[b + 1]; i++) {
                    double far = 0;
                    for (int d = 0; d < n; d++) {
                        double v = coords[i * n + d];
                        double df = Math.max(Math.abs(v - lo[d]), Math.abs(v - hi[d]));
                        far += df * df;
                    }
                    best = Math.min(best, far);
                }
                worst = Math.max(worst, best);
            }
        }
        return Math.sqrt(worst);
    }

    /** A growable int array. */
    private static final class IntList {
        int[] data;
        int size;

        IntList(int capacity) {
            data = new int[Math.max(16, capacity)];
        }

        void add(int v) {
            if (size == data.length) {
                data = Arrays.copyOf(data, data.length * 2);
            }
            data[size++] = v;
        }
    }
}
