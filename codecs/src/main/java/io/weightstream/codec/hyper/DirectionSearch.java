package io.weightstream.codec.hyper;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Chooses the direction {@code a = (1, g, g^2 mod U) / U} of the winding for U nodes: the Korobov generator g
 * whose node lattice has the smallest covering radius (the largest distance from any point to its nearest node),
 * so that the U nodes cover the cube as evenly as they can. Deterministic (ties go to the smallest g) and
 * computed once per (n, U) per JVM; the encoder stores g in the payload, so the decoder never searches.
 *
 * <ul>
 *   <li>n = 2: every g in [1, U) is tried; the covering radius of a Gauss-reduced 2-D lattice is the
 *       circumradius of its Delaunay triangle, exact. The winner is within 0.3 % of the hexagonal lattice's
 *       {@code sqrt(2 / (3 sqrt(3) U))} (the best any lattice of U points per unit area can do) for U from 64
 *       to 65536. (The Fibonacci lattice, the classic choice where U is a Fibonacci number, packs best but
 *       covers 14 % worse than that: covering, not packing, bounds the error.)</li>
 *   <li>n = 3: every g is reduced and ranked by its shortest vector (packing); the {@value #SHORTLIST} best are
 *       ranked by their exact covering radius (the farthest vertex of the Voronoi cell, from the 26 vectors
 *       {@code e . B}, e in {-1,0,1}^3).</li>
 * </ul>
 *
 * <pre>{@code
 * int g = DirectionSearch.best(2, 4096);                               // 70
 * double r = DirectionSearch.latticeCoveringRadius(2, 4096, g);         // 0.00970 (unit cube)
 * }</pre>
 */
final class DirectionSearch {
    /** Candidates of n = 3 whose covering radius is computed exactly. */
    static final int SHORTLIST = 64;

    private static final ConcurrentHashMap<Long, Integer> BEST = new ConcurrentHashMap<>();

    private DirectionSearch() {
    }

    /** The best generator g for n in {2, 3} and U = {@code nodes} in [2, 65536]. */
    static int best(int n, int nodes) {
        return BEST.computeIfAbsent(((long) n << 32) | nodes, k -> n == 2 ? search2(nodes) : search3(nodes));
    }

    private static int search2(int nodes) {
        int best = 1;
        double bestR = Double.POSITIVE_INFINITY;
        for (int g = 1; g < nodes; g++) {
            long[][] b = WindingLattice.reduce(new long[][] {{1, g}, {0, nodes}});
            double r = coveringRadius2(b);
            if (r < bestR) {
                bestR = r;
                best = g;
            }
        }
        return best;
    }

    private static int search3(int nodes) {
        if (nodes < 3) {
            return 1;
        }
        // shortlist: the largest shortest vectors (ties: smaller g first, kept by strict comparison)
        int m = Math.min(SHORTLIST, nodes - 1);
        long[] keys = new long[m];
        int[] gs = new int[m];
        int filled = 0;
        for (int g = 1; g < nodes; g++) {
            long g2 = (long) g * g % nodes;
            long[][] b = WindingLattice.reduce(new long[][] {{1, g, g2}, {0, nodes, 0}, {0, 0, nodes}});
            long lambda = WindingLattice.dot(b[0], b[0]);
            if (filled < m) {
                int i = filled++;
                while (i > 0 && keys[i - 1] < lambda) {
                    keys[i] = keys[i - 1];
                    gs[i] = gs[i - 1];
                    i--;
                }
                keys[i] = lambda;
                gs[i] = g;
            } else if (lambda > keys[m - 1]) {
                int i = m - 1;
                while (i > 0 && keys[i - 1] < lambda) {
                    keys[i] = keys[i - 1];
                    gs[i] = gs[i - 1];
                    i--;
                }
                keys[i] = lambda;
                gs[i] = g;
            }
        }
        int best = gs[0];
        double bestR = Double.POSITIVE_INFINITY;
        int[] order = gs.clone();
        java.util.Arrays.sort(order, 0, filled);
        for (int i = 0; i < filled; i++) {
            int g = order[i];
            long g2 = (long) g * g % nodes;
            double r = coveringRadius3(WindingLattice.reduce(new long[][] {{1, g, g2}, {0, nodes, 0}, {0, 0, nodes}}));
            if (r < bestR) {
                bestR = r;
                best = g;
            }
        }
        return best;
    }

    /**
     * Covering radius of the full node lattice (periodic, no cube faces) of generator g, in unit-cube units.
     */
    static double latticeCoveringRadius(int n, int nodes, int g) {
        return coveringRadius(WindingLattice.of(n, nodes, g).basis) / nodes;
    }

    /** Covering radius of the lattice with reduced basis rows {@code b}, in lattice units. */
    static double coveringRadius(long[][] b) {
        return b.length == 2 ? coveringRadius2(b) : coveringRadius3(b);
    }

    /** Circumradius of the acute Delaunay triangle {0, b1, +-b2} of a Gauss-reduced basis. */
    static double coveringRadius2(long[][] b) {
        long[] u = b[0];
        long[] v = b[1];
        if (WindingLattice.dot(u, v) < 0) {
            v = new long[] {-v[0], -v[1]};
        }
        double a = Math.sqrt(WindingLattice.dot(u, u));
        double c = Math.sqrt(WindingLattice.dot(v, v));
        long[] w = {u[0] - v[0], u[1] - v[1]};
        double e = Math.sqrt(WindingLattice.dot(w, w));
        double area2 = Math.abs(WindingLattice.determinant(new long[][] {u, v}));
        return a * c * e / (2 * area2);
    }

    /**
     * The farthest vertex of the Voronoi cell of 0: vertices are points equidistant from 0 and three relevant
     * vectors v (on the planes {@code x.v = |v|^2/2}) that violate no other plane.
     */
    static double coveringRadius3(long[][] b) {
        double[][] v = new double[26][3];
        double[] h = new double[26];
        int m = 0;
        for (int e0 = -1; e0 <= 1; e0++) {
            for (int e1 = -1; e1 <= 1; e1++) {
                for (int e2 = -1; e2 <= 1; e2++) {
                    if (e0 == 0 && e1 == 0 && e2 == 0) {
                        continue;
                    }
                    for (int d = 0; d < 3; d++) {
                        v[m][d] = e0 * b[0][d] + e1 * b[1][d] + e2 * b[2][d];
                    }
                    h[m] = (v[m][0] * v[m][0] + v[m][1] * v[m][1] + v[m][2] * v[m][2]) / 2;
                    m++;
                }
            }
        }
        double scale = h[0] + h[25];
        double best = 0;
        double[] x = new double[3];
        for (int i = 0; i < m; i++) {
            for (int j = i + 1; j < m; j++) {
                for (int k = j + 1; k < m; k++) {
                    if (!solve(v[i], v[j], v[k], h[i], h[j], h[k], x)) {
                        continue;
                    }
                    boolean inside = true;
                    for (int q = 0; q < m && inside; q++) {
                        inside = v[q][0] * x[0] + v[q][1] * x[1] + v[q][2] * x[2] <= h[q] + 1e-9 * scale;
                    }
                    if (inside) {
                        best = Math.max(best, Math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]));
                    }
                }
            }
        }
        return best;
    }

    /** Solves {@code [r0; r1; r2] x = (a, b, c)} by Cramer's rule; false if (nearly) singular. */
    private static boolean solve(double[] r0, double[] r1, double[] r2, double a, double b, double c, double[] x) {
        double det = r0[0] * (r1[1] * r2[2] - r1[2] * r2[1]) - r0[1] * (r1[0] * r2[2] - r1[2] * r2[0])
                + r0[2] * (r1[0] * r2[1] - r1[1] * r2[0]);
        double norm = Math.abs(r0[0]) + Math.abs(r0[1]) + Math.abs(r0[2]);
        double n1 = Math.abs(r1[0]) + Math.abs(r1[1]) + Math.abs(r1[2]);
        double n2 = Math.abs(r2[0]) + Math.abs(r2[1]) + Math.abs(r2[2]);
        if (Math.abs(det) <= 1e-9 * norm * n1 * n2) {
            return false;
        }
        x[0] = (a * (r1[1] * r2[2] - r1[2] * r2[1]) - r0[1] * (b * r2[2] - r1[2] * c) + r0[2] * (b * r2[1] - r1[1] * c)) / det;
        x[1] = (r0[0] * (b * r2[2] - r1[2] * c) - a * (r1[0] * r2[2] - r1[2] * r2[0]) + r0[2] * (r1[0] * c - b * r2[0])) / det;
        x[2] = (r0[0] * (r1[1] * c - b * r2[1]) - r0[1] * (r1[0] * c - b * r2[0]) + a * (r1[0] * r2[1] - r1[1] * r2[0])) / det;
        return true;
    }

    /** Covering radius of the best lattice of U points per unit volume: hexagonal (n = 2) or body-centred cubic (n = 3). */
    static double idealCoveringRadius(int n, int nodes) {
        if (n == 2) {
            return Math.sqrt(2 / (3 * Math.sqrt(3) * nodes));
        }
        // BCC with cell volume 1/U: cube side s, 2 points per cube (s^3 = 2/U), radius s * sqrt(5) / 4
        double s = Math.cbrt(2.0 / nodes);
        return s * Math.sqrt(5) / 4;
    }
}
