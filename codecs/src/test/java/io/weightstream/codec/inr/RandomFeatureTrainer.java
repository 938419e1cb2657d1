package io.weightstream.codec.inr;

import java.util.List;
import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.linsol.LinearSolverDense;

/**
 * A pure-Java stand-in for the DJL trainer, so the codecs module tests the whole {@code inr} codec without a
 * neural-network engine: the sine layers keep their SIREN initialisation (random sine features) and only the output
 * layer is fitted, by ridge least squares on the normal equations. Deterministic; good on smooth layers, hopeless on
 * noise (like any network of fewer parameters than values).
 */
public final class RandomFeatureTrainer implements InrTrainer {
    private static final double RIDGE = 1e-6;

    @Override
    public String name() {
        return "random-features (test)";
    }

    /** The sine layers as this trainer draws them for {@code seed}; the output layer and modulator output zero. */
    static float[][] initialWeights(InrArchitecture arch, long seed) {
        List<InrArchitecture.Parameter> shapes = arch.parameters();
        SplittableRandom rnd = new SplittableRandom(seed);
        float[][] w = new float[shapes.size()][];
        for (int i = 0; i < w.length; i++) {
            InrArchitecture.Parameter p = shapes.get(i);
            w[i] = new float[(int) p.size() * arch.blocks()];
            double bound;
            if (p.name().startsWith("mod.2") || p.name().startsWith("out.")) {
                continue;
            } else if (p.name().equals("syn.0.weight")) {
                bound = 1.0 / p.rows();
            } else if (p.name().endsWith(".bias") || p.name().equals("mod.1.weight")) {
                bound = 1.0;
            } else {
                bound = Math.sqrt(6.0 / p.rows()) / arch.omega0();
            }
            for (int j = 0; j < w[i].length; j++) {
                w[i][j] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
            }
        }
        return w;
    }

    @Override
    public InrFit train(InrProblem problem, InrProgress progress) {
        long t0 = System.nanoTime();
        InrArchitecture arch = problem.architecture();
        float[][] w = initialWeights(arch, problem.settings().seed());
        int points = (int) arch.points();
        int width = arch.width();
        int tile = arch.tile();
        float[] target = problem.target();
        InrNetwork net = new InrNetwork(arch, w);
        float[] outW = w[w.length - 2];
        float[] outB = w[w.length - 1];
        for (int block = 0; block < arch.blocks(); block++) {
            float[] h = net.hidden(block, 0, points);
            int base = block * points * tile;
            // normal equations of [H 1] x = y for every output of the tile
            int d = width + 1;
            DMatrixRMaj gram = new DMatrixRMaj(d, d);
            DMatrixRMaj rhs = new DMatrixRMaj(d, tile);
            double[] row = new double[d];
            for (int p = 0; p < points; p++) {
                for (int j = 0; j < width; j++) {
                    row[j] = h[p * width + j];
                }
                row[width] = 1;
                for (int a = 0; a < d; a++) {
                    double ra = row[a];
                    for (int b = 0; b < d; b++) {
                        gram.data[a * d + b] += ra * row[b];
                    }
                    for (int t = 0; t < tile; t++) {
                        rhs.data[a * tile + t] += ra * target[base + p * tile + t];
                    }
                }
            }
            for (int a = 0; a < d; a++) {
                gram.data[a * d + a] += RIDGE * points;
            }
            DMatrixRMaj x = new DMatrixRMaj(d, tile);
            LinearSolverDense<DMatrixRMaj> solver = LinearSolverFactory_DDRM.symmPosDef(d);
            if (!solver.setA(gram)) {
                throw new IllegalStateException("singular features");
            }
            solver.solve(rhs, x);
            for (int j = 0; j < width; j++) {
                for (int t = 0; t < tile; t++) {
                    outW[block * width * tile + j * tile + t] = (float) x.get(j, t);
                }
            }
            for (int t = 0; t < tile; t++) {
                outB[block * tile + t] = (float) x.get(width, t);
            }
        }
        progress.step(problem.tensorName(), 1, 1, Double.NaN, (System.nanoTime() - t0) / 1_000_000);
        return new InrFit(w, 1, (System.nanoTime() - t0) / 1_000_000, Double.NaN, "java", "steps");
    }
}
