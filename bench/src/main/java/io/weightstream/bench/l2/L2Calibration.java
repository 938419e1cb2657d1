package io.weightstream.bench.l2;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.weightstream.bench.mnist.DigitSet;
import io.weightstream.bench.mnist.MnistNetwork;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.CheckpointWriter;
import io.weightstream.serving.TextEmbedder;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The optional calibration of L2 rate control: how much each layer's weight error costs at the model's output,
 * measured on real inputs, as weights for {@code io.weightstream.ratecontrol.RateAllocator} (its {@code sensitivity}
 * option). Each layer (float tensor of rank >= 2) in turn gets seeded Gaussian noise of {@code relativeNoise} times
 * its RMS, of known energy {@code E = sum noise^2}, and the drop of the output quality is measured against the
 * unperturbed model; the layer's sensitivity is {@code drop / E}: output damage per unit of squared weight error,
 * which is what the allocator's distortion {@code sum (w - w')^2} is multiplied by. Small noise keeps the drop in its
 * quadratic regime, where it adds up across layers.
 *
 * <ul>
 *   <li>Text-embedding ONNX models: drop = mean {@code 1 - cosine} of the sentence embeddings of real paragraphs
 *       (choose paragraphs the evaluation does not use: {@link #calibrationTexts}).</li>
 *   <li>MNIST models of this project: drop = mean squared logit change over digits (the training digits: the
 *       held-back ones are the evaluation's).</li>
 * </ul>
 *
 * <pre>{@code
 * List<LayerSensitivity> s = L2Calibration.textModel(onnx, L2Calibration.calibrationTexts(64, 64), 0.05, 1);
 * L2Calibration.writeJson(L2Calibration.weights(s), Path.of("sensitivity.json"));
 * // then: RateAllocator.allocate(ckpt, Map.of("ratio", "8", "sensitivity", "sensitivity.json"))
 * }</pre>
 */
public final class L2Calibration {
    private L2Calibration() {
    }

    /**
     * One layer's measurement.
     *
     * @param name        tensor name (what the allocator's sensitivity map is keyed by)
     * @param alias       readable alias, or null
     * @param elements    weights in the layer
     * @param noiseEnergy {@code sum noise^2} added
     * @param drop        the output quality drop it caused
     * @param sensitivity {@code drop / noiseEnergy}
     */
    public record LayerSensitivity(String name, String alias, long elements, double noiseEnergy, double drop,
                                   double sensitivity) {
    }

    /**
     * Paragraphs {@code skip .. skip + count} of {@code /usr/share/common-licenses} (in the order
     * {@code RealTexts.paragraphs} lists them, so skipping the evaluation's 64 leaves texts it never sees).
     */
    public static List<String> calibrationTexts(int skip, int count) {
        List<String> all = io.weightstream.serving.RealTexts.paragraphs(skip + count);
        if (all.size() <= skip) {
            throw new IllegalArgumentException("only " + all.size() + " paragraphs: none left after skipping " + skip);
        }
        return all.subList(skip, all.size());
    }

    /** Sensitivities of the layers of a text-embedding ONNX model (tokenizer beside it, as the stack stages it). */
    public static List<LayerSensitivity> textModel(Path onnx, List<String> texts, double relativeNoise, long seed,
                                                   PrintStream log) {
        Path tokenizer = TextEmbedder.tokenizerFor(onnx);
        float[][] reference;
        try (TextEmbedder e = embedder(onnx, tokenizer)) {
            reference = e.embed(texts);
        }
        List<LayerSensitivity> out = new ArrayList<>();
        Path tmp;
        try {
            tmp = Files.createTempFile("weightstream-calibration-", ".onnx");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (Checkpoint ckpt = Checkpoint.open(onnx)) {
            for (CheckpointTensor t : ckpt.tensors()) {
                if (!layer(t)) {
                    continue;
                }
                Perturbed p = perturb(t, relativeNoise, seed);
                CheckpointWriter.write(ckpt.format(), ckpt.skeleton(),
                        name -> name.equals(t.name()) ? p.tensor.data() : tensorData(ckpt, name), tmp);
                double drop = 0;
                try (TextEmbedder e = embedder(tmp, tokenizer)) {
                    float[][] got = e.embed(texts);
                    for (int i = 0; i < texts.size(); i++) {
                        drop += 1 - TextEmbedder.cosine(reference[i], got[i]);
                    }
                }
                drop /= texts.size();
                LayerSensitivity s = new LayerSensitivity(t.name(), t.alias(), t.spec().numel(), p.energy, drop,
                        drop / p.energy);
                out.add(s);
                if (log != null) {
                    log.printf("%-56s drop %.3e energy %.3e sensitivity %.3e%n", label(t), drop, p.energy, s.sensitivity);
                }
            }
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a temp file left behind is harmless
            }
        }
        return out;
    }

    /** Sensitivities of the layers of an MNIST checkpoint of this project, on {@code digits}. */
    public static List<LayerSensitivity> mnist(Path checkpoint, DigitSet digits, double relativeNoise, long seed,
                                               PrintStream log) {
        List<Tensor> tensors = new ArrayList<>();
        Map<String, String> metadata;
        List<CheckpointTensor> sources;
        try (Checkpoint ckpt = Checkpoint.open(checkpoint)) {
            sources = ckpt.tensors();
            for (CheckpointTensor t : sources) {
                tensors.add(t.tensor().withName(t.name()));
            }
            metadata = ckpt instanceof io.weightstream.checkpoint.safetensors.SafetensorsCheckpoint s ? s.metadata() : Map.of();
            float[][] reference = MnistNetwork.of(tensors, metadata).logits(digits);
            List<LayerSensitivity> out = new ArrayList<>();
            for (int k = 0; k < sources.size(); k++) {
                CheckpointTensor t = sources.get(k);
                if (!layer(t)) {
                    continue;
                }
                Perturbed p = perturb(t, relativeNoise, seed);
                List<Tensor> changed = new ArrayList<>(tensors);
                changed.set(k, p.tensor);
                float[][] got = MnistNetwork.of(changed, metadata).logits(digits);
                double drop = 0;
                for (int i = 0; i < got.length; i++) {
                    for (int c = 0; c < got[i].length; c++) {
                        double d = got[i][c] - reference[i][c];
                        drop += d * d;
                    }
                }
                drop /= got.length;
                LayerSensitivity s = new LayerSensitivity(t.name(), t.alias(), t.spec().numel(), p.energy, drop,
                        drop / p.energy);
                out.add(s);
                if (log != null) {
                    log.printf("%-56s drop %.3e energy %.3e sensitivity %.3e%n", label(t), drop, p.energy, s.sensitivity);
                }
            }
            return out;
        }
    }

    /** The allocator's weights: sensitivities scaled to an element-weighted mean of 1 (only ratios matter). */
    public static Map<String, Double> weights(List<LayerSensitivity> layers) {
        double sum = 0;
        long n = 0;
        for (LayerSensitivity s : layers) {
            sum += s.sensitivity * s.elements;
            n += s.elements;
        }
        double mean = sum / Math.max(1, n);
        Map<String, Double> m = new LinkedHashMap<>();
        for (LayerSensitivity s : layers) {
            // a layer whose noise changed nothing still gets a small positive weight (the allocator needs > 0)
            m.put(s.name, Math.max(s.sensitivity / mean, 1e-6));
        }
        return m;
    }

    /** Writes weights as the JSON object {@code AllocationOptions.readSensitivity} reads. */
    public static void writeJson(Map<String, Double> weights, Path file) {
        try {
            Files.writeString(file, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(weights));
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + file, e);
        }
    }

    private static boolean layer(CheckpointTensor t) {
        return t.spec().dtype().isFloatingPoint() && t.spec().rank() >= 2;
    }

    private static String label(CheckpointTensor t) {
        return t.alias() != null ? t.alias() : t.name();
    }

    private record Perturbed(Tensor tensor, double energy) {
    }

    private static Perturbed perturb(CheckpointTensor t, double relativeNoise, long seed) {
        float[] v = t.tensor().toFloats();
        double sq = 0;
        for (float x : v) {
            sq += (double) x * x;
        }
        double sigma = relativeNoise * Math.sqrt(sq / Math.max(1, v.length));
        SplittableRandom rnd = new SplittableRandom(seed ^ t.name().hashCode());
        double energy = 0;
        for (int i = 0; i < v.length; i++) {
            float before = v[i];
            v[i] = (float) (v[i] + sigma * rnd.nextGaussian());
            double d = (double) v[i] - before;
            energy += d * d;
        }
        TensorSpec spec = t.spec();
        return new Perturbed(Tensor.ofFloats(spec, v), energy);
    }

    private static ByteBuffer tensorData(Checkpoint ckpt, String name) {
        for (CheckpointTensor t : ckpt.tensors()) {
            if (t.name().equals(name)) {
                return t.data();
            }
        }
        throw new IllegalArgumentException("no tensor " + name);
    }

    private static TextEmbedder embedder(Path model, Path tokenizer) {
        // one intra-op thread: the same scores whatever the machine's load (as the bench's embedding probe)
        return TextEmbedder.builder().modelPath(model).tokenizerPath(tokenizer).intraOpThreads(1).normalize(true).build();
    }
}
