package io.weightstream.codec.hyper;

import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.OnnxWeights;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Prints the figures of the hyper README: covering radii of the chosen directions against a random direction
 * and the best lattice, and, on all-MiniLM-L6-v2, the weight-space rate-distortion of a few settings beside
 * rtn, with single-thread encode and decode throughput.
 *
 * <pre>
 *   java -cp codecs/target/classes:codecs/target/test-classes:... \
 *       -Dweightstream.stack.home=deploy/target/stack io.weightstream.codec.hyper.HyperReport [radii] [rd] [settings...]
 * </pre>
 * A setting is {@code method:key=value,key=value}, e.g. {@code hyper:nodes=4096,box=6} or {@code rtn:bits=6}.
 */
public final class HyperReport {
    private HyperReport() {
    }

    public static void main(String[] args) throws Exception {
        List<String> settings = new ArrayList<>();
        boolean radii = false;
        boolean rd = false;
        for (String a : args) {
            if (a.equals("radii")) {
                radii = true;
            } else if (a.equals("rd")) {
                rd = true;
            } else {
                settings.add(a);
            }
        }
        if (radii) {
            radii();
        }
        if (rd || !settings.isEmpty()) {
            if (settings.isEmpty()) {
                settings = List.of("rtn:bits=8", "rtn:bits=6", "rtn:bits=5,group.size=64", "rtn:bits=4,group.size=64",
                        "hyper:", "hyper:nodes=1024", "hyper:nodes=16384,box=8", "hyper:n=3,nodes=65536,box=8");
            }
            rateDistortion(settings);
        }
    }

    /** CPU time of this thread: throughput per core, whatever else the machine runs. */
    static long cpuTime() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    /** Covering radius (unit cube) of the chosen Korobov direction, the ideal lattice and random directions. */
    static void radii() {
        System.out.println("| n | U | g | lattice r (torus) | r in the cube (bound) | best lattice r | random direction r"
                + " (median of 5) | r * sqrt[n](U) |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (int n = 2; n <= 3; n++) {
            for (int u : new int[] {64, 256, 1024, 4096, 16384, 65536}) {
                long t0 = cpuTime();
                int g = DirectionSearch.best(n, u);
                double searchMs = (cpuTime() - t0) / 1e6;
                WindingLattice lat = WindingLattice.of(n, u, g);
                double torus = DirectionSearch.latticeCoveringRadius(n, u, g);
                double cube = lat.grid().coverBound() / u;
                double ideal = DirectionSearch.idealCoveringRadius(n, u);
                String random = u <= 4096 ? String.format(Locale.ROOT, "%.5f", randomDirectionRadius(n, u)) : "-";
                System.out.printf(Locale.ROOT, "| %d | %d | %d | %.5f | %.5f | %.5f | %s | %.3f |   (search %.0f ms, %.1f candidates/bucket)%n",
                        n, u, g, torus, cube, ideal, random, cube * Math.pow(u, 1.0 / n), searchMs,
                        lat.grid().meanCandidates());
            }
        }
    }

    /**
     * Median over 5 seeds of the covering radius of {@code frac(theta * a)}, theta = 0..U-1, for a uniformly random
     * real direction a, estimated on a fine sample grid of the cube (an underestimate by at most the sample spacing).
     */
    static double randomDirectionRadius(int n, int u) {
        double[] r = new double[5];
        for (int seed = 0; seed < 5; seed++) {
            SplittableRandom rnd = new SplittableRandom(1000 + seed);
            double[] a = new double[n];
            for (int d = 0; d < n; d++) {
                a[d] = rnd.nextDouble();
            }
            double[][] nodes = new double[u][n];
            for (int t = 0; t < u; t++) {
                for (int d = 0; d < n; d++) {
                    double x = t * a[d];
                    nodes[t][d] = x - Math.floor(x);
                }
            }
            r[seed] = sampledRadius(nodes, n);
        }
        java.util.Arrays.sort(r);
        return r[2];
    }

    private static double sampledRadius(double[][] nodes, int n) {
        int u = nodes.length;
        int side = n == 2 ? (int) Math.ceil(Math.sqrt(u)) : (int) Math.ceil(Math.cbrt(u));
        List<List<Integer>> buckets = new ArrayList<>();
        int cells = (int) Math.pow(side, n);
        for (int i = 0; i < cells; i++) {
            buckets.add(new ArrayList<>());
        }
        for (int t = 0; t < u; t++) {
            buckets.get(cellOf(nodes[t], side, n)).add(t);
        }
        int samples = n == 2 ? 600 : 90;
        double worst = 0;
        double[] p = new double[n];
        int total = (int) Math.pow(samples + 1, n);
        for (int k = 0; k < total; k++) {
            int rest = k;
            for (int d = 0; d < n; d++) {
                p[d] = (rest % (samples + 1)) / (double) samples;
                rest /= samples + 1;
            }
            worst = Math.max(worst, nearest(p, nodes, buckets, side, n));
        }
        return worst;
    }

    private static int cellOf(double[] p, int side, int n) {
        int b = 0;
        for (int d = n - 1; d >= 0; d--) {
            b = b * side + Math.min(side - 1, (int) (p[d] * side));
        }
        return b;
    }

    /** Nearest node distance by expanding rings of buckets (exact). */
    private static double nearest(double[] p, double[][] nodes, List<List<Integer>> buckets, int side, int n) {
        int[] c = new int[n];
        for (int d = 0; d < n; d++) {
            c[d] = Math.min(side - 1, (int) (p[d] * side));
        }
        double best = Double.POSITIVE_INFINITY;
        for (int ring = 0; ring <= side; ring++) {
            if (ring > 0 && (ring - 1) / (double) side >= best) {
                break;
            }
            int span = 2 * ring + 1;
            int total = (int) Math.pow(span, n);
            for (int k = 0; k < total; k++) {
                int rest = k;
                boolean onRing = false;
                int b = 0;
                boolean inside = true;
                int[] o = new int[n];
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
                for (int t : buckets.get(b)) {
                    double s = 0;
                    for (int d = 0; d < n; d++) {
                        double e = p[d] - nodes[t][d];
                        s += e * e;
                    }
                    best = Math.min(best, Math.sqrt(s));
                }
            }
        }
        return best;
    }

    /**
     * Whole-model ratio (1-D and non-float tensors lossless, as the default policy does), mean and largest
     * relative L2 error of the matrices, and single-thread encode/decode throughput of the matrices.
     */
    static void rateDistortion(List<String> settings) throws Exception {
        Path onnx = OnnxWeights.miniLm().orElseThrow(() -> new IllegalStateException("set -Dweightstream.stack.home"));
        List<Tensor> tensors = OnnxWeights.read(onnx);
        Codec lossless = Codecs.get("lossless");
        System.out.println("| setting | whole-model ratio | mean relL2 | max relL2 | encode MB/s | decode MB/s |");
        System.out.println("|---|---|---|---|---|---|");
        for (String s : settings) {
            int colon = s.indexOf(':');
            String method = s.substring(0, colon);
            Map<String, String> kv = new LinkedHashMap<>();
            for (String p : s.substring(colon + 1).split(",")) {
                if (!p.isBlank()) {
                    kv.put(p.substring(0, p.indexOf('=')), p.substring(p.indexOf('=') + 1));
                }
            }
            Codec codec = Codecs.get(method);
            CodecParams params = codec.params(kv);
            long original = 0;
            long encoded = 0;
            long matrixBytes = 0;
            double sumRel = 0;
            double maxRel = 0;
            int matrices = 0;
            long encodeNs = 0;
            long decodeNs = 0;
            List<byte[]> payloads = new ArrayList<>();
            List<Tensor> matrixTensors = new ArrayList<>();
            for (Tensor t : tensors) {
                original += t.spec().byteSize();
                boolean keep = t.spec().rank() <= 1 || !t.dtype().isFloatingPoint();
                if (keep) {
                    encoded += lossless.encode(t, lossless.defaultParams()).length;
                    continue;
                }
                byte[] p = codec.encode(t, params);
                encoded += p.length;
                Tensor back = codec.decode(p);
                TensorMetrics m = TensorMetrics.compare(t, back);
                sumRel += m.relL2();
                maxRel = Math.max(maxRel, m.relL2());
                matrices++;
                matrixBytes += t.spec().byteSize();
                payloads.add(p);
                matrixTensors.add(t);
            }
            // timing: best of 5 passes over all matrices (after the warm-up pass above)
            encodeNs = Long.MAX_VALUE;
            decodeNs = Long.MAX_VALUE;
            for (int rep = 0; rep < 5; rep++) {
                long t0 = cpuTime();
                for (Tensor t : matrixTensors) {
                    codec.encode(t, params);
                }
                long t1 = cpuTime();
                for (byte[] p : payloads) {
                    codec.decode(ByteBuffer.wrap(p));
                }
                long t2 = cpuTime();
                encodeNs = Math.min(encodeNs, t1 - t0);
                decodeNs = Math.min(decodeNs, t2 - t1);
            }
            System.out.printf(Locale.ROOT, "| %s | %.3f | %.4f | %.4f | %.0f | %.0f |%n", s, (double) original / encoded,
                    sumRel / matrices, maxRel, matrixBytes / (encodeNs / 1e3), matrixBytes / (decodeNs / 1e3));
        }
    }
}
