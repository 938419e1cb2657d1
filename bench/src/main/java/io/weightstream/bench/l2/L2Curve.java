package io.weightstream.bench.l2;

import io.weightstream.bench.mnist.MnistEvaluator;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.compress.ModelMaterializer;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.compress.WszContainer;
import io.weightstream.policy.Policies;
import io.weightstream.ratecontrol.Allocation;
import io.weightstream.ratecontrol.RateAllocator;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.serving.ModelComparison;
import io.weightstream.serving.OnnxModel;
import io.weightstream.serving.TextEmbedder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * One point of a rate-distortion curve, measured the way {@code weightstream compress / decompress / eval} measure
 * it: the model is compressed with a policy (rate-controlled l2, or a fixed codec setting such as rtn), the
 * container written (ratio = file bytes / container bytes), the model rebuilt from it, and compared with the
 * original on real inputs: mean and minimum sentence-embedding cosine on the evaluation's 64 paragraphs for text
 * ONNX models, top-1 agreement and accuracy on the 2,000 held-back digits for MNIST checkpoints.
 *
 * <pre>{@code
 * L2Curve.Point p = L2Curve.l2(model, Map.of("ratio", "8"), work);
 * L2Curve.Point q = L2Curve.codec(model, "rtn", Map.of("bits", "5"), work);
 * }</pre>
 */
public final class L2Curve {
    private L2Curve() {
    }

    /**
     * A measured point.
     *
     * @param label       what was run
     * @param ratio       file bytes / container bytes
     * @param quality     mean cosine (text) or top-1 agreement (MNIST)
     * @param minQuality  minimum cosine (text) or the reconstruction's accuracy (MNIST)
     * @param allocation  the allocation for l2 points, else null
     */
    public record Point(String label, double ratio, double quality, double minQuality, Allocation allocation) {
        public String line() {
            return String.format(Locale.ROOT, "%-40s ratio %7.4f  quality %.6f  (%s %.6f)", label, ratio, quality,
                    minQualityName(), minQuality);
        }

        private String minQualityName() {
            return label.contains(".safetensors") ? "accuracy" : "min";
        }
    }

    /** Rate-controlled l2 with {@code settings} ({@code ratio=R}, options of the allocator). */
    public static Point l2(Path model, Map<String, String> settings, Path work) {
        Allocation a;
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            a = RateAllocator.allocate(ckpt, settings);
        }
        Point p = measure(model, a.policy(), "l2 " + settings, work);
        return new Point(p.label, p.ratio, p.quality, p.minQuality, a);
    }

    /** One codec at fixed parameters on every tensor (1-D ones lossless), as {@code --method M --set ...}. */
    public static Point codec(Path model, String method, Map<String, String> params, Path work) {
        return measure(model, Policies.of(method, params), method + " " + params, work);
    }

    /** Compresses with {@code policy}, writes the container, rebuilds the model and compares it. */
    public static Point measure(Path model, CompressionPolicy policy, String label, Path work) {
        String name = model.getFileName().toString();
        String ext = name.substring(name.lastIndexOf('.'));
        Path container = work.resolve("curve.wsz");
        Path restored = work.resolve("curve" + ext);
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            OfflineCompressor.Result r = new OfflineCompressor(Runtime.getRuntime().availableProcessors())
                    .compress(ckpt, name, "curve", policy, row -> { });
            WszContainer.write(container, r.version(), r.chunks());
            double ratio = ckpt.fileBytes() / (double) Files.size(container);
            WszContainer.Contents c = WszContainer.read(container);
            new ModelMaterializer(Runtime.getRuntime().availableProcessors(), DecodeLimits.DEFAULT)
                    .materialize(c.version(), c.chunksByTensor(), restored);
            if (ext.equals(".onnx")) {
                Path tokenizer = TextEmbedder.tokenizerFor(model);
                try (OnnxModel a = OnnxModel.builder().path(model).intraOpThreads(1).build();
                        OnnxModel b = OnnxModel.builder().path(restored).intraOpThreads(1).build()) {
                    ModelComparison.Result q = ModelComparison.compare(a, b, tokenizer, ModelComparison.Options.defaults());
                    return new Point(label + " " + name, ratio, q.meanCosine(), q.minCosine(), null);
                }
            }
            MnistEvaluator.Agreement q = MnistEvaluator.heldBack().agreement(model, restored);
            return new Point(label + " " + name, ratio, q.agreement(), q.reconstructedAccuracy(), null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                Files.deleteIfExists(container);
                Files.deleteIfExists(restored);
            } catch (IOException ignored) {
                // left-over scratch files are harmless
            }
        }
    }
}
