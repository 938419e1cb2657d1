package io.weightstream.inr;

import io.weightstream.codec.CodecParams;
import io.weightstream.codec.OnnxWeights;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.codec.inr.InrCodec;
import io.weightstream.codec.inr.InrFit;
import io.weightstream.codec.inr.InrProblem;
import io.weightstream.codec.inr.InrProgress;
import io.weightstream.codec.inr.InrSettings;
import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Trains the {@code inr} network of real all-MiniLM-L6-v2 layers on the CPU and, when PyTorch finds one, on a CUDA
 * GPU with the same settings, and prints per layer and device: steps, training seconds, seconds per MB of layer,
 * the float network's relative L2 error and the decoded (quantized, pure-Java) layer's, and the ratio.
 *
 * <pre>
 *   # from the project root (-pl, not -f: the stack home is found from the root); CPU only (any machine):
 *   mvn -q -B -o -pl inr-trainer test-compile exec:exec@proof -Dproof.args="--limit 1 --set steps=300"
 *   # GPU machine, with PYTORCH_LIBRARY_PATH, PYTORCH_VERSION=2.7.1, PYTORCH_FLAVOR=cu128 exported (README.md):
 *   mvn -q -B -o -pl inr-trainer test-compile exec:exec@proof -Dproof.args="--devices cpu,gpu --limit 1 --set steps=300"
 * </pre>
 *
 * Options: {@code --only GLOB} (tensor names, default all), {@code --shape D0,D1} (default {@code 384,1536}: the FFN
 * input projections, ONNX {@code /encoder/layer.N/intermediate/dense/MatMul}; empty = any), {@code --limit N}
 * (layers, default 1; shape {@code *} or empty: any), {@code --devices cpu,gpu|cpu|gpu} (default: cpu, plus gpu when there is one),
 * {@code --set key=value} (codec parameters, repeatable; defaults: time.budget.s=0), {@code --model PATH} (ONNX),
 * {@code --crop R} (only the first R rows of each layer: quick experiments), {@code --save PATH} (write the selected,
 * cropped layers to a small ONNX file of initializers and stop: for carrying real layers to a GPU machine without the
 * whole model; read it there with {@code --model PATH --shape ""}).
 */
public final class GpuProof {
    private GpuProof() {
    }

    public static void main(String[] args) throws Exception {
        String glob = "*";
        String shape = "384,1536";
        int limit = 1;
        List<String> devices = null;
        List<String> sets = new ArrayList<>(List.of("time.budget.s=0"));
        Path model = null;
        int crop = 0;
        Path save = null;
        Path export = null;
        Path imported = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--only" -> glob = args[++i];
                case "--shape" -> shape = args[++i];
                case "--limit" -> limit = Integer.parseInt(args[++i]);
                case "--devices" -> devices = List.of(args[++i].split(","));
                case "--set" -> sets.add(args[++i]);
                case "--model" -> model = Path.of(args[++i]);
                case "--crop" -> crop = Integer.parseInt(args[++i]);
                case "--save" -> save = Path.of(args[++i]);
                case "--export" -> export = Path.of(args[++i]);
                case "--import" -> imported = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (model == null) {
            model = OnnxWeights.miniLm().orElseThrow(() -> new IllegalStateException(
                    "no all-MiniLM-L6-v2 under -Dweightstream.stack.home (mvn -pl deploy process-resources)"));
        }
        if (devices == null && imported != null) {
            devices = List.of("cpu", "gpu");
        } else if (devices == null && export == null && save == null) {
            devices = DjlInrTrainer.engine().getGpuCount() > 0 ? List.of("cpu", "gpu") : List.of("cpu");
        }
        PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + glob);
        if (save != null) {
            List<Tensor> picked = select(OnnxWeights.read(model), matcher, shape, limit, crop);
            OnnxWeights.write(save, picked);
            System.out.printf(Locale.ROOT, "saved %d layers to %s%n", picked.size(), save);
            return;
        }
        InrCodec codec = new InrCodec();
        if (export != null) {
            int index = 0;
            for (Tensor t : select(OnnxWeights.read(model), matcher, shape, limit, crop)) {
                InrProblem problem = InrProblem.of(t, CodecParams.parseAssignments(codec, sets));
                TorchExchange.export(export.resolve(Integer.toString(index++)), problem);
            }
            System.out.printf(Locale.ROOT, "exported %d problems to %s%n", index, export);
            return;
        }
        if (imported == null) {
            System.out.printf(Locale.ROOT, "engine %s, GPUs: %d%n", DjlInrTrainer.engine().getVersion(),
                    DjlInrTrainer.engine().getGpuCount());
        }
        int index = 0;
        for (Tensor t : select(OnnxWeights.read(model), matcher, shape, limit, crop)) {
            double mb = t.spec().byteSize() / 1e6;
            Path dir = imported == null ? null : imported.resolve(Integer.toString(index++));
            for (String device : devices) {
                List<String> all = new ArrayList<>(sets);
                all.add("device=" + device);
                CodecParams params = CodecParams.parseAssignments(codec, all);
                InrProblem problem = InrProblem.of(t, params);
                if (dir != null && !TorchExchange.hasResult(dir, device)) {
                    continue;
                }
                InrFit fit = dir != null ? TorchExchange.result(dir, device, problem) : new DjlInrTrainer().train(problem, new InrProgress() {
                    @Override
                    public void step(String tensor, int step, int maxSteps, double relL2, long elapsedMs) {
                        System.out.printf(Locale.ROOT, "  %s step %d/%d relL2 %.4f %.1fs%n", device, step, maxSteps,
                                relL2, elapsedMs / 1e3);
                    }
                });
                byte[] payload = codec.network(t, problem, fit.weights());
                Tensor back = codec.decode(ByteBuffer.wrap(payload));
                TensorMetrics m = TensorMetrics.compare(t, back);
                float[] a = t.toFloats();
                float[] b = back.toFloats();
                double absErr = 0;
                double abs = 0;
                float lo = Float.MAX_VALUE;
                float hi = -Float.MAX_VALUE;
                for (int i = 0; i < a.length; i++) {
                    absErr += Math.abs(a[i] - b[i]);
                    abs += Math.abs(a[i]);
                    lo = Math.min(lo, a[i]);
                    hi = Math.max(hi, a[i]);
                }
                double psnr = 10 * Math.log10((double) (hi - lo) * (hi - lo) / m.mse());
                System.out.printf(Locale.ROOT, "%s %s %.2f MB on %s (%s): %d steps, %.1f s, %.2f s/MB, trained relL2 %.4f, "
                                + "decoded relL2 %.4f, rel MAE %.4f, cosine %.4f, PSNR %.2f dB, ratio %.2f, %s%n", t.name(),
                        t.spec(), mb, fit.device(), InrSettings.Device.valueOf(device.toUpperCase(Locale.ROOT)), fit.steps(),
                        fit.trainMillis() / 1e3, fit.trainMillis() / 1e3 / mb, fit.relL2(), m.relL2(), absErr / abs,
                        m.cosine(), psnr, t.spec().byteSize() / (double) payload.length, problem.architecture());
            }
        }
    }

    /** The first {@code limit} tensors whose name matches and whose shape is {@code shape} (empty: any), cropped. */
    private static List<Tensor> select(List<Tensor> all, PathMatcher matcher, String shape, int limit, int crop) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : all) {
            String dims = java.util.Arrays.stream(t.spec().shape()).mapToObj(Long::toString)
                    .collect(java.util.stream.Collectors.joining(","));
            if (out.size() >= limit || !matcher.matches(Path.of(t.name())) || !(shape.isEmpty() || shape.equals("*") || shape.equals(dims))) {
                continue;
            }
            if (crop > 0 && crop < t.spec().rows()) {
                long[] cut = t.spec().shape();
                cut[0] = crop;
                io.weightstream.tensor.TensorSpec spec = new io.weightstream.tensor.TensorSpec(t.name(), t.dtype(), cut);
                t = new Tensor(spec, t.data().limit((int) spec.byteSize()).slice());
            }
            out.add(t);
        }
        return out;
    }
}
