package io.weightstream.codec.inr;

import java.util.List;
import java.util.stream.IntStream;

/**
 * The rounding-aware last step of encoding: with every tensor but the output layer at its quantized values (what the
 * decoder will compute), the output layer is linear in them, so the best one is a least-squares solution: per block
 * and output k, minimise the masked squared error {@code sum_p (h_p . w_k + b_k - target_{p,k})^2} over the last
 * hidden layer's activations h_p. Solved from the normal equations in double (Cholesky, a tiny ridge), once per
 * block for the Gram matrix, minus the outliers' rows per output. The solution, quantized as the plan says, replaces
 * the trained output layer of a block only where its error is lower, so the stored network is never worse for it.
 */
final class InrRefit {
    /** Ridge, relative to the mean diagonal of the Gram matrix: keeps the solve stable without biasing it. */
    private static final double RIDGE = 1e-7;

    private InrRefit() {
    }

    /**
     * Replaces {@code fitted[n - 2]} and {@code fitted[n - 1]} (the output weight and bias, all blocks) by their
     * refitted values where that lowers a block's error.
     *
     * @param stored every tensor at its quantized values (all blocks)
     * @param fitted the trained tensors; the last two arrays are replaced, not written to
     */
    static void outputLayer(InrProblem problem, float[][] stored, InrQuantization q, float[][] fitted) {
        InrArchitecture arch = problem.architecture();
        List<InrArchitecture.Parameter> shapes = arch.parameters();
        int n = shapes.size();
        int width = arch.width();
        int tile = arch.tile();
        int points = (int) arch.points();
        float[] target = problem.target();
        float[] mask = problem.mask();
        InrNetwork net = new InrNetwork(arch, stored);
        float[] weight = fitted[n - 2].clone();
        float[] bias = fitted[n - 1].clone();
        int wSize = width * tile;
        IntStream.range(0, arch.blocks()).parallel().forEach(b -> {
            float[] h = net.hidden(b, 0, points);
            int d = width + 1;
            double[] gram = new double[d * d];
            double[] x = new double[d];
            for (int p = 0; p < points; p++) {
                row(h, p, width, x);
                accumulate(gram, x, d, 1);
            }
            double[] w = new double[d * tile];
            boolean solved = true;
            for (int k = 0; k < tile && solved; k++) {
                double[] g = gram.clone();
                double[] rhs = new double[d];
                for (int p = 0; p < points; p++) {
                    int e = (b * points + p) * tile + k;
                    row(h, p, width, x);
                    if (mask != null && mask[e] == 0f) {
                        accumulate(g, x, d, -1);
                    } else {
                        for (int i = 0; i < d; i++) {
                            rhs[i] += x[i] * target[e];
                        }
                    }
                }
                double[] sol = solve(g, rhs, d);
                if (sol == null) {
                    solved = false;
                } else {
                    for (int i = 0; i < d; i++) {
                        w[i * tile + k] = sol[i];
                    }
                }
            }
            if (!solved) {
                return;
            }
            float[] candidateW = new float[wSize];
            float[] candidateB = new float[tile];
            for (int i = 0; i < wSize; i++) {
                candidateW[i] = (float) w[i];
            }
            for (int k = 0; k < tile; k++) {
                candidateB[k] = (float) w[width * tile + k];
            }
            float[] qw = InrCodec.quantize(candidateW, shapes.get(n - 2), q.bits(n - 2), q.perColumn(n - 2)).values();
            float[] qb = InrCodec.quantize(candidateB, shapes.get(n - 1), q.bits(n - 1), q.perColumn(n - 1)).values();
            double before = sse(h, b, points, width, tile, stored[n - 2], b * wSize, stored[n - 1], b * tile, target, mask);
            double after = sse(h, b, points, width, tile, qw, 0, qb, 0, target, mask);
            if (after < before) {
                System.arraycopy(candidateW, 0, weight, b * wSize, wSize);
                System.arraycopy(candidateB, 0, bias, b * tile, tile);
            }
        });
        fitted[n - 2] = weight;
        fitted[n - 1] = bias;
    }

    private static void row(float[] h, int p, int width, double[] x) {
        for (int i = 0; i < width; i++) {
            x[i] = h[p * width + i];
        }
        x[width] = 1;
    }

    private static void accumulate(double[] g, double[] x, int d, int sign) {
        for (int i = 0; i < d; i++) {
            double xi = sign * x[i];
            for (int j = 0; j <= i; j++) {
                g[i * d + j] += xi * x[j];
            }
        }
    }

    /** Solves {@code (G + ridge) s = r} for a symmetric G given by its lower triangle; null if not positive definite. */
    private static double[] solve(double[] g, double[] r, int d) {
        double trace = 0;
        for (int i = 0; i < d; i++) {
            trace += g[i * d + i];
        }
        double ridge = RIDGE * Math.max(trace / d, 1e-30);
        double[] l = new double[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = g[i * d + j] + (i == j ? ridge : 0);
                for (int k = 0; k < j; k++) {
                    sum -= l[i * d + k] * l[j * d + k];
                }
                if (i == j) {
                    if (!(sum > 0)) {
                        return null;
                    }
                    l[i * d + i] = Math.sqrt(sum);
                } else {
                    l[i * d + j] = sum / l[j * d + j];
                }
            }
        }
        double[] y = new double[d];
        for (int i = 0; i < d; i++) {
            double sum = r[i];
            for (int k = 0; k < i; k++) {
                sum -= l[i * d + k] * y[k];
            }
            y[i] = sum / l[i * d + i];
        }
        for (int i = d - 1; i >= 0; i--) {
            double sum = y[i];
            for (int k = i + 1; k < d; k++) {
                sum -= l[k * d + i] * y[k];
            }
            y[i] = sum / l[i * d + i];
        }
        for (double v : y) {
            if (!Double.isFinite(v)) {
                return null;
            }
        }
        return y;
    }

    /** Masked squared error of a block's output layer {@code (w, b)} on its hidden activations. */
    private static double sse(float[] h, int block, int points, int width, int tile, float[] w, int wo, float[] bias,
                              int bo, float[] target, float[] mask) {
        double sum = 0;
        for (int p = 0; p < points; p++) {
            for (int k = 0; k < tile; k++) {
                int e = (block * points + p) * tile + k;
                if (mask != null && mask[e] == 0f) {
                    continue;
                }
                double y = bias[bo + k];
                for (int i = 0; i < width; i++) {
                    y += (double) h[p * width + i] * w[wo + i * tile + k];
                }
                double err = y - target[e];
                sum += err * err;
            }
        }
        return sum;
    }
}
