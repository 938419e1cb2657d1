package io.weightstream.codec.hyper;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The node set, its direction, its symbols and the exact nearest-node search. */
class WindingLatticeTest {

    @ParameterizedTest(name = "n={0} U={1}")
    @CsvSource({"2,2", "2,64", "2,1000", "2,4096", "3,27", "3,729", "3,4096"})
    void nodesAreDistinctLatticePointsOfTheCubeWithABijectiveSymbolMap(int n, int nodes) {
        WindingLattice lat = WindingLattice.of(n, nodes, DirectionSearch.best(n, nodes));
        assertThat(Math.abs(WindingLattice.determinant(lat.basis))).isEqualTo((long) Math.pow(nodes, n - 1));
        Set<String> points = new HashSet<>();
        Set<String> symbols = new HashSet<>();
        int[] sym = lat.nodeSymbols();
        long[] s = new long[n];
        long[] k = new long[n];
        for (int t = 0; t < nodes; t++) {
            StringBuilder p = new StringBuilder();
            for (int d = 0; d < n; d++) {
                long z = lat.coordinate(t, d);
                assertThat(z).isBetween(0L, nodes - 1L);
                p.append(z).append(',');
            }
            assertThat(lat.coordinate(t, 0)).as("theta is the first coordinate").isEqualTo(t);
            points.add(p.toString());
            StringBuilder q = new StringBuilder();
            for (int i = 0; i < n; i++) {
                s[i] = sym[t * n + i];
                q.append(s[i]).append(',');
            }
            symbols.add(q.toString());
            // symbols -> lattice coordinates -> the node again
            lat.toCoordinates(s, k);
            for (int d = 0; d < n; d++) {
                long z = 0;
                for (int i = 0; i < n; i++) {
                    z += k[i] * lat.basis[i][d];
                }
                assertThat(z).isEqualTo(lat.coordinate(t, d));
            }
        }
        assertThat(points).hasSize(nodes);
        assertThat(symbols).hasSize(nodes);
    }

    /**
     * The chosen direction covers the cube nearly as well as the best lattice can (hexagonal for n = 2,
     * body-centred cubic for n = 3), and far better than a random direction.
     */
    @ParameterizedTest(name = "n={0} U={1}")
    @CsvSource({"2,256,1.004", "2,4096,1.004", "2,65536,1.004", "3,512,1.05", "3,4096,1.05"})
    void chosenDirectionCoversNearlyAsWellAsTheBestLattice(int n, int nodes, double slack) {
        int g = DirectionSearch.best(n, nodes);
        double r = DirectionSearch.latticeCoveringRadius(n, nodes, g);
        assertThat(r).isLessThanOrEqualTo(DirectionSearch.idealCoveringRadius(n, nodes) * slack);
        if (nodes <= 4096) {
            double random = HyperReport.randomDirectionRadius(n, nodes);
            double cube = WindingLattice.of(n, nodes, g).grid().coverBound() / nodes;
            assertThat(random).as("random direction vs the chosen one, cube bound").isGreaterThan(cube);
        }
    }

    /**
     * Where U is a Fibonacci number the Fibonacci lattice (1, F(m-1)) / F(m) is the classic choice; it packs best
     * but covers about 14 % worse than the hexagonal lattice. The search finds a direction that covers better.
     */
    @ParameterizedTest(name = "U={0}")
    @CsvSource({"233,144", "1597,987", "4181,2584"})
    void chosenDirectionCoversBetterThanTheFibonacciLattice(int nodes, int fibonacci) {
        double chosen = DirectionSearch.latticeCoveringRadius(2, nodes, DirectionSearch.best(2, nodes));
        double fib = DirectionSearch.latticeCoveringRadius(2, nodes, fibonacci);
        assertThat(fib / DirectionSearch.idealCoveringRadius(2, nodes)).isBetween(1.12, 1.16);
        assertThat(chosen).isLessThan(fib / 1.1);
    }

    /**
     * The search against brute force on random points, on the cube's faces and corners, and at the nodes; for the
     * chosen directions and for poor ones ({@code direction} = g, e.g. 1: all nodes on a line).
     */
    @ParameterizedTest(name = "n={0} U={1}")
    @CsvSource({"2,64,0", "2,256,0", "2,1000,0", "2,4096,0", "3,64,0", "3,512,0", "3,1000,0", "2,256,1",
            "3,512,3", "3,729,9"})
    void nearestNodeIsExact(int n, int nodes, int direction) {
        int g = direction == 0 ? DirectionSearch.best(n, nodes) : direction;
        WindingLattice lat = WindingLattice.of(n, nodes, g);
        NodeGrid grid = lat.grid();
        SplittableRandom rnd = new SplittableRandom(n * 31L + nodes);
        double lo = -0.5;
        double hi = nodes - 0.5;
        double[] x = new double[n];
        for (int q = 0; q < 4000; q++) {
            for (int d = 0; d < n; d++) {
                x[d] = lo + rnd.nextDouble() * (hi - lo);
                int kind = rnd.nextInt(8);
                if (kind == 0) {
                    x[d] = lo;
                } else if (kind == 1) {
                    x[d] = hi;
                }
            }
            if (q % 10 == 0) {
                // a node itself
                int t = rnd.nextInt(nodes);
                for (int d = 0; d < n; d++) {
                    x[d] = lat.coordinate(t, d);
                }
            }
            int found = n == 2 ? grid.nearest2(x[0], x[1]) : grid.nearest3(x[0], x[1], x[2]);
            double best = Double.POSITIVE_INFINITY;
            for (int t = 0; t < nodes; t++) {
                best = Math.min(best, dist2(lat, t, x));
            }
            assertThat(dist2(lat, found, x)).as("query %d", q).isLessThanOrEqualTo(best * (1 + 1e-12));
            if (n == 2) {
                assertThat(grid.nearestByBuckets2(x[0], x[1])).isEqualTo(found);
            }
        }
    }

    private static double dist2(WindingLattice lat, int t, double[] x) {
        double s = 0;
        for (int d = 0; d < x.length; d++) {
            double e = x[d] - lat.coordinate(t, d);
            s += e * e;
        }
        return s;
    }

    /** The proven cube bound is an upper bound of the covering radius measured on a fine grid, and not a loose one. */
    @ParameterizedTest(name = "n={0} U={1}")
    @CsvSource({"2,256", "2,4096", "3,512"})
    void coverBoundHoldsAndIsTight(int n, int nodes) {
        WindingLattice lat = WindingLattice.of(n, nodes, DirectionSearch.best(n, nodes));
        NodeGrid grid = lat.grid();
        double bound = grid.coverBound();
        int samples = n == 2 ? 700 : 60;
        double worst = 0;
        double[] x = new double[n];
        int total = (int) Math.pow(samples + 1, n);
        for (int k = 0; k < total; k++) {
            int rest = k;
            for (int d = 0; d < n; d++) {
                x[d] = -0.5 + (rest % (samples + 1)) * (double) nodes / samples;
                rest /= samples + 1;
            }
            int t = n == 2 ? grid.nearest2(x[0], x[1]) : grid.nearest3(x[0], x[1], x[2]);
            worst = Math.max(worst, Math.sqrt(dist2(lat, t, x)));
        }
        assertThat(worst).isLessThanOrEqualTo(bound);
        assertThat(bound).isLessThan(worst * 1.15);
    }

    /** The Fincke-Pohst shortest vector against brute force over small coefficients of the reduced basis. */
    @ParameterizedTest(name = "U={0} g={1}")
    @CsvSource({"512,1", "512,100", "4096,18", "4096,1000", "65536,31776", "1000,7"})
    void shortestVectorIsExact(int nodes, int g) {
        long[][] b = WindingLattice.of(3, nodes, g).basis;
        long best = Long.MAX_VALUE;
        for (int k0 = -6; k0 <= 6; k0++) {
            for (int k1 = -6; k1 <= 6; k1++) {
                for (int k2 = -6; k2 <= 6; k2++) {
                    if (k0 == 0 && k1 == 0 && k2 == 0) {
                        continue;
                    }
                    long s = 0;
                    for (int d = 0; d < 3; d++) {
                        long v = k0 * b[0][d] + k1 * b[1][d] + k2 * b[2][d];
                        s += v * v;
                    }
                    best = Math.min(best, s);
                }
            }
        }
        assertThat(NodeGrid.shortest2(b)).isEqualTo(best);
    }

    @Test
    void categoryBoundsMinimiseTheSquaredErrorBound() {
        double[] d = new double[1000];
        SplittableRandom rnd = new SplittableRandom(8);
        for (int i = 0; i < d.length; i++) {
            d[i] = 1 + Math.abs(rnd.nextGaussian()) * (rnd.nextInt(50) == 0 ? 40 : 1);
        }
        double[] b = HyperKernels.categoryBounds(d, 3);
        assertThat(b).hasSize(3);
        assertThat(b[0]).isLessThan(b[1]);
        assertThat(b[1]).isLessThan(b[2]);
        double max = java.util.Arrays.stream(d).max().orElseThrow();
        assertThat(b[2]).isEqualTo(max);
        // no better choice among the same candidate quantiles: compare with every pair of lower bounds
        double cost = cost(d, b);
        double[] sorted = d.clone();
        java.util.Arrays.sort(sorted);
        for (int i = 1; i <= 64; i++) {
            for (int j = i; j <= 64; j++) {
                double b0 = sorted[(int) (((long) i * d.length + 63) / 64) - 1];
                double b1 = sorted[(int) (((long) j * d.length + 63) / 64) - 1];
                assertThat(cost).isLessThanOrEqualTo(cost(d, new double[] {b0, b1, max}) * (1 + 1e-12));
            }
        }
        assertThat(HyperKernels.categoryBounds(d, 1)).containsExactly(max);
    }

    private static double cost(double[] d, double[] bounds) {
        double s = 0;
        for (double x : d) {
            for (double b : bounds) {
                if (x <= b) {
                    s += b * b;
                    break;
                }
            }
        }
        return s;
    }

    @Test
    void bitPackingRoundTripsAndFlagsDirtyPadding() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int bits = 1; bits <= 16; bits++) {
            int count = 37;
            int[] v = new int[count];
            for (int i = 0; i < count; i++) {
                v[i] = rnd.nextInt(1 << bits);
            }
            byte[] packed = new byte[(int) HyperKernels.packedLength(count, bits)];
            HyperKernels.pack(v, count, bits, packed, 0);
            int[] back = new int[count];
            assertThat(HyperKernels.unpack(packed, 0, count, bits, back)).isTrue();
            assertThat(back).containsExactly(v);
            if ((count * bits) % 8 != 0) {
                packed[packed.length - 1] |= (byte) 0x80;
                assertThat(HyperKernels.unpack(packed, 0, count, bits, back)).isFalse();
            }
        }
    }
}
