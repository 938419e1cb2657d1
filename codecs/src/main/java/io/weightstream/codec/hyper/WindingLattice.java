package io.weightstream.codec.hyper;

import java.util.Arrays;

/**
 * The U trajectory nodes of the irrational winding {@code h(theta) = frac(theta * a + delta)}, theta = 0..U-1,
 * with the Korobov direction {@code a = (1, g, g^2 mod U) / U} (the first n components) and the offset
 * {@code delta = 1 / (2U)} in every component. In integer "lattice units" node theta sits at
 * {@code z_d = (theta * a_d) mod U} and in the unit cube at {@code (z_d + 1/2) / U}: everything is integer
 * arithmetic, so the decoder reproduces the nodes exactly.
 *
 * <p>The nodes are exactly the points in {@code [0, U)^n} of the integer lattice spanned by
 * {@code (1, g, g^2)}, {@code U e_2} [, {@code U e_3}] (determinant {@code U^(n-1)}). Its reduced basis
 * {@code b_1..b_n} gives every node integer coordinates {@code k} ({@code z = sum k_i b_i}); the entropy coder
 * codes the decorrelated symbols {@code s_i = k_i + R(sum_{j>i} k_j mu_ji)} (the Gram-Schmidt coordinates,
 * rounded; {@code R(x) = floor(x + 1/2)}), which are nearly independent for isotropic weight clouds, instead of
 * theta itself. The map is injective whatever the precision of {@code mu} ({@link #toCoordinates} undoes it
 * with the same expressions in the same order; Java 17 double arithmetic is strict), and encoder and decoder both
 * take the symbols of a node from {@link #nodeSymbols()}, so they agree on every machine.
 *
 * <pre>{@code
 * WindingLattice lat = WindingLattice.of(2, 4096, DirectionSearch.best(2, 4096));
 * long x = lat.coordinate(theta, 0);            // == theta
 * int[] s = lat.nodeSymbols();                  // theta * n + i -> symbol s_i (encoder)
 * }</pre>
 */
final class WindingLattice {
    private static final int CACHE = 16;
    private static final WindingLattice[] RECENT = new WindingLattice[CACHE];
    private static int next;

    final int n;
    final int nodes;
    final int g;
    /** a_d * U: 1, g, g^2 mod U. */
    final long[] generator;
    /** Reduced basis, rows b_1..b_n, in lattice units. */
    final long[][] basis;
    /** Gram-Schmidt coefficients mu[j][i] = <b_j, b*_i> / <b*_i, b*_i> for j > i. */
    final double[][] mu;
    private volatile int[] nodeSymbols;
    private volatile int[] symbolRange;
    private volatile int[] nodeCoordinates;
    private volatile NodeGrid grid;

    private WindingLattice(int n, int nodes, int g) {
        this.n = n;
        this.nodes = nodes;
        this.g = g;
        this.generator = new long[n];
        long a = 1;
        for (int d = 0; d < n; d++) {
            generator[d] = a;
            a = a * g % nodes;
        }
        long[][] b = new long[n][n];
        b[0] = generator.clone();
        for (int d = 1; d < n; d++) {
            b[d][d] = nodes;
        }
        this.basis = reduce(b);
        this.mu = gramSchmidt(basis);
    }

    /**
     * The node set for {@code n} in {2, 3}, {@code nodes} in [2, 65536] and {@code g} in [0, nodes); a few
     * recently used ones are kept (the decoder sees the same few directions again and again).
     */
    static WindingLattice of(int n, int nodes, int g) {
        synchronized (RECENT) {
            for (WindingLattice l : RECENT) {
                if (l != null && l.n == n && l.nodes == nodes && l.g == g) {
                    return l;
                }
            }
        }
        WindingLattice l = new WindingLattice(n, nodes, g);
        synchronized (RECENT) {
            RECENT[next] = l;
            next = (next + 1) % CACHE;
        }
        return l;
    }

    /** Coordinate d of node theta in lattice units, in [0, U). */
    long coordinate(int theta, int d) {
        return theta * generator[d] % nodes;
    }

    /**
     * Size-reduces the rows pairwise ({@code b_i -= q b_j} with q the integer nearest {@code <b_i,b_j>/<b_j,b_j>},
     * only when that is not 0, so every step shortens b_i and the loop ends), then sorts them by length.
     * Exact integer arithmetic; the result is a basis of the same lattice.
     */
    static long[][] reduce(long[][] rows) {
        int n = rows.length;
        long[][] b = new long[n][];
        for (int i = 0; i < n; i++) {
            b[i] = rows[i].clone();
        }
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    if (i == j) {
                        continue;
                    }
                    long dot = dot(b[i], b[j]);
                    long nn = dot(b[j], b[j]);
                    if (2 * Math.abs(dot) > nn) {
                        long q = Math.floorDiv(2 * dot + nn, 2 * nn);
                        for (int d = 0; d < n; d++) {
                            b[i][d] -= q * b[j][d];
                        }
                        changed = true;
                    }
                }
            }
        }
        Arrays.sort(b, (x, y) -> {
            int c = Long.compare(dot(x, x), dot(y, y));
            return c != 0 ? c : Arrays.compare(x, y);
        });
        return b;
    }

    static long dot(long[] x, long[] y) {
        long s = 0;
        for (int d = 0; d < x.length; d++) {
            s += x[d] * y[d];
        }
        return s;
    }

    /** mu[j][i] for j > i, in double, in a fixed order of operations. */
    private static double[][] gramSchmidt(long[][] b) {
        int n = b.length;
        double[][] star = new double[n][n];
        double[] norm = new double[n];
        double[][] mu = new double[n][n];
        for (int j = 0; j < n; j++) {
            for (int d = 0; d < n; d++) {
                star[j][d] = b[j][d];
            }
            for (int i = 0; i < j; i++) {
                double dot = 0;
                for (int d = 0; d < n; d++) {
                    dot += b[j][d] * star[i][d];
                }
                mu[j][i] = dot / norm[i];
                for (int d = 0; d < n; d++) {
                    star[j][d] -= mu[j][i] * star[i][d];
                }
            }
            double s = 0;
            for (int d = 0; d < n; d++) {
                s += star[j][d] * star[j][d];
            }
            norm[j] = s;
        }
        return mu;
    }

    /** {@code floor(x + 1/2)}: the rounding the symbol map uses on both sides. */
    static long round(double x) {
        return (long) Math.floor(x + 0.5);
    }

    /**
     * Symbols of every node: {@code [theta * n + i]} = s_i. Computed once per lattice (exact integer solve of
     * {@code z = k B} with the adjugate of B).
     */
    int[] nodeSymbols() {
        int[] s = nodeSymbols;
        if (s == null) {
            s = computeSymbols();
            nodeSymbols = s;
        }
        return s;
    }

    /**
     * {@code [2i]} and {@code [2i+1]}: the smallest and largest symbol s_i of any node (a valid payload's symbols
     * lie in between).
     */
    int[] symbolRange() {
        int[] r = symbolRange;
        if (r == null) {
            int[] s = nodeSymbols();
            r = new int[2 * n];
            for (int i = 0; i < n; i++) {
                r[2 * i] = Integer.MAX_VALUE;
                r[2 * i + 1] = Integer.MIN_VALUE;
            }
            for (int t = 0; t < nodes; t++) {
                for (int i = 0; i < n; i++) {
                    r[2 * i] = Math.min(r[2 * i], s[t * n + i]);
                    r[2 * i + 1] = Math.max(r[2 * i + 1], s[t * n + i]);
                }
            }
            symbolRange = r;
        }
        return r;
    }

    /** Coordinates of every node in lattice units: {@code [theta * n + d]} = {@code theta * a_d mod U}. */
    int[] nodeCoordinates() {
        int[] z = nodeCoordinates;
        if (z == null) {
            z = new int[nodes * n];
            for (int t = 0; t < nodes; t++) {
                for (int d = 0; d < n; d++) {
                    z[t * n + d] = (int) coordinate(t, d);
                }
            }
            nodeCoordinates = z;
        }
        return z;
    }

    private int[] computeSymbols() {
        long[][] adj = adjugate(basis);
        long det = determinant(basis);
        int[] out = new int[nodes * n];
        long[] z = new long[n];
        long[] k = new long[n];
        for (int theta = 0; theta < nodes; theta++) {
            for (int d = 0; d < n; d++) {
                z[d] = coordinate(theta, d);
            }
            // k = z * B^-1 = z * adj(B) / det(B), exact
            for (int i = 0; i < n; i++) {
                long num = 0;
                for (int d = 0; d < n; d++) {
                    num += z[d] * adj[d][i];
                }
                if (num % det != 0) {
                    throw new IllegalStateException("node " + theta + " is not on the lattice (bug)");
                }
                k[i] = num / det;
            }
            toSymbols(k, out, theta * n);
        }
        return out;
    }

    /** Lattice coordinates k to symbols s, written at {@code out[at..at+n)}. */
    void toSymbols(long[] k, int[] out, int at) {
        for (int i = 0; i < n; i++) {
            double shift = 0;
            for (int j = i + 1; j < n; j++) {
                shift += k[j] * mu[j][i];
            }
            out[at + i] = Math.toIntExact(k[i] + round(shift));
        }
    }

    /** The nearest-node search structure (encoder side), built on first use. */
    NodeGrid grid() {
        NodeGrid gr = grid;
        if (gr == null) {
            gr = NodeGrid.build(this);
            grid = gr;
        }
        return gr;
    }

    /** Symbols s to lattice coordinates k (the inverse of {@link #toSymbols}). */
    void toCoordinates(long[] s, long[] k) {
        for (int i = n - 1; i >= 0; i--) {
            double shift = 0;
            for (int j = i + 1; j < n; j++) {
                shift += k[j] * mu[j][i];
            }
            k[i] = s[i] - round(shift);
        }
    }

    static long determinant(long[][] m) {
        if (m.length == 2) {
            return m[0][0] * m[1][1] - m[0][1] * m[1][0];
        }
        return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    }

    /** adj(M) with M * adj(M) = det(M) I. */
    static long[][] adjugate(long[][] m) {
        if (m.length == 2) {
            return new long[][] {{m[1][1], -m[0][1]}, {-m[1][0], m[0][0]}};
        }
        long[][] a = new long[3][3];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                // cofactor of m[j][i]
                int r0 = j == 0 ? 1 : 0;
                int r1 = j == 2 ? 1 : 2;
                int c0 = i == 0 ? 1 : 0;
                int c1 = i == 2 ? 1 : 2;
                long minor = m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
                a[i][j] = ((i + j) & 1) == 0 ? minor : -minor;
            }
        }
        return a;
    }

    @Override
    public String toString() {
        return "WindingLattice(n=" + n + ", U=" + nodes + ", g=" + g + ", basis=" + Arrays.deepToString(basis) + ")";
    }
}
