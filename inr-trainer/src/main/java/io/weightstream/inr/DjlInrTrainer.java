package io.weightstream.inr;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.weightstream.codec.inr.InrArchitecture;
import io.weightstream.codec.inr.InrFit;
import io.weightstream.codec.inr.InrProblem;
import io.weightstream.codec.inr.InrProgress;
import io.weightstream.codec.inr.InrQuantization;
import io.weightstream.codec.inr.InrSettings;
import io.weightstream.codec.inr.InrTrainer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The {@link InrTrainer} of the {@code inr} codec on DJL's PyTorch engine: builds the network of the problem's
 * {@link InrArchitecture} from raw tensors, fits it with the frequency-aware loss (MSE on the body + lambda_g x
 * gradient difference + lambda_f x focal frequency on the layer's 2-D view, full batch) and AdamW with a cosine
 * schedule, and stops at the step budget, the time budget or the target error, whichever comes first. The networks
 * of all blocks ({@code block.rows}) train together as batched matrix products.
 *
 * <p>Runs on a CUDA GPU when the engine finds one (a CUDA build of libtorch 2.7.1 named by
 * {@code PYTORCH_LIBRARY_PATH}, {@code PYTORCH_VERSION} and {@code PYTORCH_FLAVOR=cu128}, see README.md) unless
 * {@code device=cpu}; else on the CPU with one torch thread (ten times faster
 * than torch's default on the project's 2-core machines) unless {@code OMP_NUM_THREADS} or
 * {@code -Dai.djl.pytorch.num_threads} says otherwise. The initial weights come from a Java generator seeded with
 * the problem's seed, so CPU and GPU start from the same network. Nothing is downloaded: {@code ai.djl.offline} is
 * set to true unless set otherwise.
 *
 * <pre>{@code
 * InrFit fit = new DjlInrTrainer().train(InrProblem.of(tensor, params), InrProgress.NONE);
 * }</pre>
 */
public final class DjlInrTrainer implements InrTrainer {
    private static final String ENGINE = "PyTorch";
    /** The float network stops this far below the target, leaving room for quantization. */
    static final double TARGET_HEADROOM = 0.95;
    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.999;
    private static final double EPSILON = 1e-8;
    private static final double FINAL_LR_FRACTION = 0.01;
    /** Progress is reported at most this often. */
    private static final long PROGRESS_MS = 1000;

    @Override
    public String name() {
        return "djl-pytorch";
    }

    /** The engine with the settings above; the first call extracts the native library (seconds). */
    public static Engine engine() {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (System.getProperty("ai.djl.pytorch.num_threads") == null && System.getenv("OMP_NUM_THREADS") == null) {
            System.setProperty("ai.djl.pytorch.num_threads", "1");
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
        // a libtorch of another version than DJL's JNI library fails late and can kill the JVM: refuse it first
        LibTorchCheck.check(System.getenv("PYTORCH_LIBRARY_PATH"), LibTorchCheck.jniVersion().orElse(null));
        return Engine.getEngine(ENGINE);
    }

    /** The device {@code choice} resolves to on this machine. */
    public static Device device(InrSettings.Device choice) {
        Engine engine = engine();
        boolean gpu = engine.getGpuCount() > 0;
        return switch (choice) {
            case CPU -> Device.cpu();
            case AUTO -> gpu ? Device.gpu() : Device.cpu();
            case GPU -> {
                if (!gpu) {
                    throw new IllegalStateException("device=gpu but PyTorch finds no CUDA GPU (is a CUDA build of"
                            + " libtorch named by PYTORCH_LIBRARY_PATH, PYTORCH_VERSION=2.7.1 and PYTORCH_FLAVOR=cu128?)");
                }
                yield Device.gpu();
            }
        };
    }

    @Override
    public InrFit train(InrProblem problem, InrProgress progress) {
        InrSettings s = problem.settings();
        Device device = device(s.device());
        long start = System.nanoTime();
        // Autograd is switched on only around each forward pass, on this thread alone (PyTorch's grad mode is per
        // thread). DJL's GradientCollector cannot be used here: only one may exist per process at a time, so layers
        // trained on two threads at once (a compress operator per slot, the offline compressor's pool) would fail.
        boolean gradModeBefore = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager manager = engine().newBaseManager(device)) {
            Fitting f = new Fitting(problem, manager);
            return f.run(progress, start);
        } finally {
            JniUtils.setGradMode(gradModeBefore);
        }
    }

    /** The state of one fit: data, parameters (one slice per block), optimizer moments. */
    private static final class Fitting {
        private final InrProblem problem;
        private final InrArchitecture arch;
        private final InrSettings s;
        private final NDManager manager;
        private final NDArray encoding;
        private final NDArray coords;
        private final NDArray target;
        private final NDArray mask;
        private final float bodyElements;
        private final List<NDArray> params = new ArrayList<>();
        private final List<NDArray> moment1 = new ArrayList<>();
        private final List<NDArray> moment2 = new ArrayList<>();
        private final int blocks;
        private final int blockRows;
        private final InrQuantization quantization;
        /** In the quantization-aware phase. */
        private boolean quantized;

        Fitting(InrProblem problem, NDManager manager) {
            this.problem = problem;
            this.arch = problem.architecture();
            this.s = problem.settings();
            this.quantization = problem.quantization();
            this.manager = manager;
            this.blocks = arch.blocks();
            this.blockRows = problem.rows() / blocks;
            long points = arch.points();
            encoding = manager.create(problem.encoding(), new Shape(points, arch.inputDim()));
            coords = manager.create(problem.coordinates(), new Shape(points, arch.coordinateDim()));
            target = manager.create(problem.target(), new Shape(blocks, blockRows, problem.cols()));
            float[] m = problem.mask();
            mask = m == null ? null : manager.create(m, new Shape(blocks, blockRows, problem.cols()));
            bodyElements = problem.bodyElements();
            SplittableRandom rnd = new SplittableRandom(s.seed());
            for (InrArchitecture.Parameter p : arch.parameters()) {
                float[] init = new float[(int) p.size() * blocks];
                for (int b = 0; b < blocks; b++) {
                    float[] one = initial(p, rnd);
                    System.arraycopy(one, 0, init, b * one.length, one.length);
                }
                NDArray a = manager.create(init, new Shape(blocks, p.rows(), p.cols()));
                a.setRequiresGradient(true);
                params.add(a);
                moment1.add(manager.zeros(a.getShape()));
                moment2.add(manager.zeros(a.getShape()));
            }
        }

        /**
         * SIREN initialisation: the first sine layer U(-1/in, 1/in), the others and the output layer
         * U(-sqrt(6/in)/omega0, +), biases U(-1/sqrt(in), +); the modulator's hidden layer Kaiming-uniform and its
         * output layer zero, so training starts from omega(x) = omega0.
         */
        private float[] initial(InrArchitecture.Parameter p, SplittableRandom rnd) {
            float[] v = new float[(int) p.size()];
            String name = p.name();
            int fanIn = p.rows();
            double bound;
            if (name.startsWith("mod.2")) {
                return v;
            } else if (name.equals("mod.1.weight")) {
                bound = Math.sqrt(6.0 / fanIn);
            } else if (name.endsWith(".bias")) {
                bound = 1.0 / Math.sqrt(fanInOfBias(name));
            } else if (name.equals("syn.0.weight")) {
                bound = 1.0 / fanIn;
            } else {
                bound = Math.sqrt(6.0 / fanIn) / arch.omega0();
            }
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
            }
            return v;
        }

        private int fanInOfBias(String biasName) {
            String weight = biasName.substring(0, biasName.length() - ".bias".length()) + ".weight";
            for (InrArchitecture.Parameter q : arch.parameters()) {
                if (q.name().equals(weight)) {
                    return q.rows();
                }
            }
            throw new IllegalStateException("no weight for " + biasName);
        }

        InrFit run(InrProgress progress, long start) {
            double stopAt = s.targetRelL2() * TARGET_HEADROOM;
            double relL2 = Double.NaN;
            long lastReport = Long.MIN_VALUE / 2;
            String reason = "steps";
            int step = 0;
            while (step < s.steps()) {
                long elapsedMs = (System.nanoTime() - start) / 1_000_000;
                double progressFraction = (double) step / s.steps();
                if (s.timeBudgetMs() > 0) {
                    progressFraction = Math.max(progressFraction, (double) elapsedMs / s.timeBudgetMs());
                }
                if (s.quantAware() > 0 && progressFraction >= 1 - s.quantAware()) {
                    quantized = true;
                }
                double lr = s.learningRate() * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5
                        * (1 + Math.cos(Math.PI * Math.min(1.0, progressFraction))));
                try (NDScope scope = new NDScope()) {
                    relL2 = problem.relL2(lossAndGradients());
                    // the error is that of the weights before this step: stop with them if they are good enough
                    if (stopAt > 0 && relL2 <= stopAt) {
                        if (quantized || s.quantAware() == 0) {
                            reason = "target";
                            zeroGradients();
                            break;
                        }
                        quantized = true; // the float network is there: now make its quantized version get there
                    }
                    update(lr, step + 1);
                }
                step++;
                elapsedMs = (System.nanoTime() - start) / 1_000_000;
                if (elapsedMs - lastReport >= PROGRESS_MS || step == s.steps()) {
                    progress.step(problem.tensorName(), step, s.steps(), relL2, elapsedMs);
                    lastReport = elapsedMs;
                }
                if (s.timeBudgetMs() > 0 && elapsedMs >= s.timeBudgetMs()) {
                    reason = "time";
                    break;
                }
            }
            float[][] weights = new float[params.size()][];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = params.get(i).toFloatArray();
            }
            // the error of the final weights (each step measured the weights before its update)
            double sse;
            try (NDScope scope = new NDScope()) {
                sse = bodySse(forward(weightsInUse()).sub(target)).getFloat();
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            return new InrFit(weights, step, ms, problem.relL2(sse), manager.getDevice().toString(), reason);
        }

        /**
         * The parameters as the forward pass uses them: as they are, or (quantization-aware phase) each block's slice
         * of each tensor rounded as the codec will store it ({@link InrQuantization}: the tensor's bits, one grid per
         * slice over its [min, max] or one per output unit from float16 fields), computing the same float32 values in
         * the same order as the codec's quantizer, with straight-through gradients. Call inside an NDScope.
         */
        private List<NDArray> weightsInUse() {
            if (!quantized) {
                return params;
            }
            List<NDArray> q = new ArrayList<>(params.size());
            for (int t = 0; t < params.size(); t++) {
                NDArray w = params.get(t);
                q.add(w.add(fakeQuantized(w.stopGradient(), quantization.bits(t), quantization.perColumn(t))
                        .sub(w).stopGradient()));
            }
            return q;
        }

        /** {@code w} ([blocks, rows, cols]) at the values the codec decodes it to. */
        private NDArray fakeQuantized(NDArray w, int bits, boolean perColumn) {
            float levels = (1 << bits) - 1;
            if (perColumn) {
                NDArray absMax = w.abs().reshape(blocks, -1).max(new int[] {1}, true).reshape(blocks, 1, 1);
                NDArray scale = absMax.add(absMax.eq(0f).toType(DataType.FLOAT32, false));
                NDArray lo = w.min(new int[] {1}, true);
                NDArray hi = w.max(new int[] {1}, true);
                NDArray a = lo.div(scale).toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false);
                NDArray r = hi.sub(lo).div(scale).toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false);
                NDArray offset = a.mul(scale);
                NDArray step = r.mul(scale).div(levels);
                NDArray code = w.sub(offset).div(step.maximum(1e-30f)).round().clip(0, levels);
                return code.mul(step).add(offset);
            }
            NDArray flat = w.reshape(blocks, -1);
            NDArray lo = flat.min(new int[] {1}, true);
            NDArray step = flat.max(new int[] {1}, true).sub(lo).div(levels);
            NDArray code = flat.sub(lo).div(step.maximum(1e-30f)).round().clip(0, levels);
            return code.mul(step).add(lo).reshape(w.getShape());
        }

        /** Every block's network on its grid: a [blocks, blockRows, cols] array. */
        private NDArray forward(List<NDArray> params) {
            int p = 0;
            NDArray omega = null;
            if (arch.modWidth() > 0) {
                // [points, k] x [blocks, k, m] broadcasts to [blocks, points, m]
                NDArray hidden = coords.matMul(params.get(p++)).add(params.get(p++));
                omega = hidden.maximum(0f).matMul(params.get(p++)).add(params.get(p++)).add(1f).mul(arch.omega0());
            }
            NDArray h = encoding;
            for (int l = 0; l < arch.depth(); l++) {
                NDArray pre = h.matMul(params.get(p++)).add(params.get(p++));
                h = (omega == null ? pre.mul(arch.omega0()) : pre.mul(omega)).sin();
            }
            NDArray y = h.matMul(params.get(p++)).add(params.get(p));
            return y.reshape(blocks, blockRows, problem.cols());
        }

        private NDArray bodySse(NDArray err) {
            NDArray sq = err.square();
            return (mask == null ? sq : sq.mul(mask)).sum();
        }

        /** Forward and backward pass on all blocks; returns the body's squared error. Call inside an NDScope. */
        private double lossAndGradients() {
            JniUtils.setGradMode(true);
            try {
                NDArray err = forward(weightsInUse()).sub(target);
                NDArray sseArray = bodySse(err);
                NDArray loss = sseArray.div(bodyElements);
                if (s.lambdaGrad() > 0) {
                    NDArray grad = err.diff(1, 2).abs().mean();
                    if (blockRows > 1) {
                        grad = grad.add(err.diff(1, 1).abs().mean());
                    }
                    loss = loss.add(grad.mul(s.lambdaGrad()));
                }
                if (s.lambdaFreq() > 0) {
                    loss = loss.add(focalFrequency(err).mul(s.lambdaFreq()));
                }
                NDArray seed = manager.ones(loss.getShape(), loss.getDataType());
                JniUtils.backward((PtNDArray) loss, (PtNDArray) seed, false, false);
                return sseArray.getFloat();
            } finally {
                JniUtils.setGradMode(false);
            }
        }

        /** One AdamW update of every parameter from its gradient (step {@code t}, from 1). Inside an NDScope. */
        private void update(double lr, int t) {
            double c1 = 1 - Math.pow(BETA1, t);
            double c2 = 1 - Math.pow(BETA2, t);
            for (int i = 0; i < params.size(); i++) {
                NDArray w = params.get(i);
                NDArray g = w.getGradient();
                NDArray m = moment1.get(i);
                NDArray v = moment2.get(i);
                m.muli(BETA1).addi(g.mul(1 - BETA1));
                v.muli(BETA2).addi(g.square().muli(1 - BETA2));
                if (s.weightDecay() > 0) {
                    w.muli(1 - lr * s.weightDecay());
                }
                w.subi(m.div(c1).divi(v.div(c2).sqrt().addi(EPSILON)).muli(lr));
                g.muli(0f);
            }
        }

        private void zeroGradients() {
            for (NDArray w : params) {
                w.getGradient().muli(0f);
            }
        }

        /**
         * Focal frequency loss (Jiang et al.) of each block's error: the 2-D DFT with orthonormal scaling, each
         * frequency's squared magnitude weighted by its magnitude normalised to [0, 1] per block (alpha = 1), the
         * weights detached; the mean over frequencies and blocks.
         */
        private NDArray focalFrequency(NDArray err) {
            long r = err.getShape().get(1);
            long c = err.getShape().get(2);
            NDArray spectrum = err.fft2(new long[] {r, c}, new long[] {1, 2}).real().div(Math.sqrt((double) r * c));
            NDArray power = spectrum.square().sum(new int[] {3});
            NDArray weight = power.sqrt().stopGradient();
            weight = weight.div(weight.max(new int[] {2}, true).max(new int[] {1}, true).add(1e-12f));
            return weight.mul(power).mean();
        }
    }
}
