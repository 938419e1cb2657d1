package io.weightstream.serving;

import java.lang.reflect.Array;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Compares an original model with its reconstruction (after compression) on what they compute, not on their
 * weights.
 *
 * <ul>
 *   <li>Text-embedding models (inputs {@code input_ids}, {@code attention_mask} and optionally
 *       {@code token_type_ids}, and a tokenizer found by
 *       {@link TextEmbedder#findTokenizer} next to either file): the sentence embeddings of real paragraphs
 *       ({@link RealTexts}, or a texts file) from both models, one cosine per text.</li>
 *   <li>Any other model: seeded synthetic inputs built from the declared input types and shapes (dynamic
 *       dimensions: {@value #SYNTHETIC_BATCH} for the first, {@value #SYNTHETIC_DIM} for the others), then per
 *       sample and output the cosine of the flattened outputs and their relative L2 error.</li>
 * </ul>
 *
 * <pre>{@code
 * ModelComparison.Result r = ModelComparison.compare(Path.of("model.onnx"), Path.of("restored.onnx"),
 *         ModelComparison.Options.defaults().withMaxTexts(64));
 * System.out.println(r.toLine());   // float32 vs 8-bit all-MiniLM-L6-v2: mean_cosine=0.991166 min_cosine=0.976086
 * }</pre>
 */
public final class ModelComparison {
    /** First dynamic dimension (the batch) of a synthetic input. */
    public static final int SYNTHETIC_BATCH = 2;
    /** Every other dynamic dimension of a synthetic input (sequence length, ...). */
    public static final int SYNTHETIC_DIM = 16;
    // synthetic inputs larger than this would be a model we should not be probing with random data on this machine
    static final long MAX_SYNTHETIC_ELEMENTS = 64L << 20;
    // integer inputs that are not masks or type ids are most often indices (token ids): keep them small and valid
    static final int SYNTHETIC_INT_BOUND = 100;
    private static final Set<String> TEXT_INPUTS = Set.of("input_ids", "attention_mask", "token_type_ids");

    private ModelComparison() {
    }

    /** How to probe the models. */
    public enum Mode {
        /** Text embeddings when the model looks like a text model and has a tokenizer, raw outputs otherwise. */
        AUTO,
        /** Sentence embeddings of real texts. */
        TEXT_EMBEDDING,
        /** Raw outputs on seeded synthetic inputs. */
        RAW_OUTPUTS
    }

    /**
     * Options of a comparison.
     *
     * @param maxTexts texts to embed in text mode (default 64)
     * @param textsFile a texts file ({@link RealTexts#fromFile}), or {@code null} for the license paragraphs
     * @param batchSize texts per model run (default 16)
     * @param maxLength tokens per text (default 256)
     * @param intraOpThreads ONNX Runtime threads per model (default: available processors)
     * @param mode how to probe (default {@link Mode#AUTO})
     * @param samples synthetic input batches in raw mode (default 8)
     * @param seed seed of the synthetic inputs (default 42)
     */
    public record Options(int maxTexts, Path textsFile, int batchSize, int maxLength, int intraOpThreads, Mode mode,
            int samples, long seed) {
        public Options {
            Objects.requireNonNull(mode, "mode");
            requireAtLeast("maxTexts", maxTexts, 1);
            requireAtLeast("batchSize", batchSize, 1);
            requireAtLeast("maxLength", maxLength, 2);
            requireAtLeast("intraOpThreads", intraOpThreads, 1);
            requireAtLeast("samples", samples, 1);
        }

        public static Options defaults() {
            return new Options(64, null, TextEmbedder.DEFAULT_BATCH_SIZE, TextEmbedder.DEFAULT_MAX_LENGTH,
                    Runtime.getRuntime().availableProcessors(), Mode.AUTO, 8, 42L);
        }

        public Options withMaxTexts(int n) {
            return new Options(n, textsFile, batchSize, maxLength, intraOpThreads, mode, samples, seed);
        }

        public Options withTextsFile(Path file) {
            return new Options(maxTexts, file, batchSize, maxLength, intraOpThreads, mode, samples, seed);
        }

        public Options withBatchSize(int n) {
            return new Options(maxTexts, textsFile, n, maxLength, intraOpThreads, mode, samples, seed);
        }

        public Options withMaxLength(int tokens) {
            return new Options(maxTexts, textsFile, batchSize, tokens, intraOpThreads, mode, samples, seed);
        }

        public Options withIntraOpThreads(int threads) {
            return new Options(maxTexts, textsFile, batchSize, maxLength, threads, mode, samples, seed);
        }

        public Options withMode(Mode m) {
            return new Options(maxTexts, textsFile, batchSize, maxLength, intraOpThreads, m, samples, seed);
        }

        public Options withSamples(int n) {
            return new Options(maxTexts, textsFile, batchSize, maxLength, intraOpThreads, mode, n, seed);
        }

        public Options withSeed(long s) {
            return new Options(maxTexts, textsFile, batchSize, maxLength, intraOpThreads, mode, samples, s);
        }

        private static void requireAtLeast(String name, int value, int min) {
            if (value < min) {
                throw new IllegalArgumentException(name + " must be at least " + min + ", got " + value);
            }
        }
    }

    /**
     * The outcome of a comparison.
     *
     * @param mode {@link Mode#TEXT_EMBEDDING} or {@link Mode#RAW_OUTPUTS}
     * @param samples texts embedded, or synthetic input batches run
     * @param outputs the outputs compared ({@code "sentence_embedding"} in text mode)
     * @param comparisons cosines measured (texts, or samples times outputs)
     * @param meanCosine mean of the cosines
     * @param minCosine the lowest cosine
     * @param meanRelativeError mean of {@code ||reconstructed - original|| / ||original||}
     * @param maxRelativeError the highest relative error
     * @param source where the inputs came from
     */
    public record Result(Mode mode, int samples, List<String> outputs, int comparisons, double meanCosine,
            double minCosine, double meanRelativeError, double maxRelativeError, String source) {
        public Result {
            outputs = List.copyOf(outputs);
        }

        /** {@code mean_cosine=X min_cosine=Y} with 6 decimals: the last line {@code weightstream eval} prints. */
        public String toLine() {
            return String.format(Locale.ROOT, "mean_cosine=%.6f min_cosine=%.6f", meanCosine, minCosine);
        }

        /** The lines printed before {@link #toLine()}: what was compared and the relative errors. */
        public List<String> details() {
            String what = mode == Mode.TEXT_EMBEDDING
                    ? "mode=text-embedding texts=" + samples
                    : "mode=raw-outputs samples=" + samples + " outputs=" + outputs;
            return List.of(
                    what + " source=" + source,
                    String.format(Locale.ROOT, "mean_relative_error=%.6f max_relative_error=%.6f",
                            meanRelativeError, maxRelativeError));
        }
    }

    /**
     * Loads both models and compares them.
     *
     * @throws IllegalArgumentException when a file is missing, the models' inputs differ, text mode is asked
     *     for a model without a tokenizer, or the texts cannot be found
     * @throws OnnxModelException when ONNX Runtime cannot load or run a model
     */
    public static Result compare(Path original, Path reconstructed, Options options) {
        Objects.requireNonNull(original, "original");
        Objects.requireNonNull(reconstructed, "reconstructed");
        Objects.requireNonNull(options, "options");
        Optional<Path> tokenizer = TextEmbedder.findTokenizer(original).or(() -> TextEmbedder.findTokenizer(reconstructed));
        try (OnnxModel a = OnnxModel.builder().path(original).intraOpThreads(options.intraOpThreads()).build();
                OnnxModel b = OnnxModel.builder().path(reconstructed).intraOpThreads(options.intraOpThreads()).build()) {
            return compare(a, b, tokenizer.orElse(null), options);
        }
    }

    /**
     * Compares two loaded models (the caller keeps owning them).
     *
     * @param tokenizerJson the tokenizer of a text model, or {@code null}
     */
    public static Result compare(OnnxModel original, OnnxModel reconstructed, Path tokenizerJson, Options options) {
        checkSameInputs(original, reconstructed);
        boolean textModel = original.hasInput("input_ids") && original.hasInput("attention_mask")
                && TEXT_INPUTS.containsAll(original.inputNames());
        Mode mode = options.mode();
        if (mode == Mode.AUTO) {
            mode = textModel && tokenizerJson != null ? Mode.TEXT_EMBEDDING : Mode.RAW_OUTPUTS;
        }
        if (mode == Mode.TEXT_EMBEDDING) {
            if (tokenizerJson == null) {
                throw new IllegalArgumentException("text-embedding comparison of '" + original.name()
                        + "' needs its tokenizer (<model>-tokenizer.json or tokenizer.json next to the model)");
            }
            List<String> texts = options.textsFile() != null
                    ? RealTexts.fromFile(options.textsFile(), options.maxTexts())
                    : RealTexts.paragraphs(options.maxTexts());
            String source = options.textsFile() != null ? options.textsFile().toString() : RealTexts.COMMON_LICENSES.toString();
            try (TextEmbedder ea = embedder(original, tokenizerJson, options);
                    TextEmbedder eb = embedder(reconstructed, tokenizerJson, options)) {
                return compareEmbeddings(ea, eb, texts, source);
            }
        }
        return compareRawOutputs(original, reconstructed, options.samples(), options.seed());
    }

    /** Embeds {@code texts} with both embedders and compares the embeddings text by text. */
    public static Result compareEmbeddings(TextEmbedder original, TextEmbedder reconstructed, List<String> texts,
            String source) {
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("no texts to compare on");
        }
        float[][] a = original.embed(texts);
        float[][] b = reconstructed.embed(texts);
        Stats stats = new Stats();
        for (int i = 0; i < texts.size(); i++) {
            stats.add(Similarity.cosine(a[i], b[i]), Similarity.relativeError(a[i], b[i]));
        }
        return stats.result(Mode.TEXT_EMBEDDING, texts.size(), List.of("sentence_embedding"), source);
    }

    /**
     * Runs both models on {@code samples} seeded synthetic input batches and compares every numeric output.
     *
     * @throws IllegalArgumentException when an input cannot be synthesized (strings, float16, non-tensors), an
     *     output differs in shape between the models, or no output is numeric
     */
    public static Result compareRawOutputs(OnnxModel original, OnnxModel reconstructed, int samples, long seed) {
        checkSameInputs(original, reconstructed);
        List<String> outputs = new ArrayList<>();
        for (String name : original.outputNames()) {
            if (reconstructed.outputNames().contains(name)) {
                outputs.add(name);
            }
        }
        if (outputs.isEmpty()) {
            throw new IllegalArgumentException("models '" + original.name() + "' and '" + reconstructed.name()
                    + "' have no output name in common: " + original.outputNames() + " vs "
                    + reconstructed.outputNames());
        }
        Stats stats = new Stats();
        List<String> compared = new ArrayList<>();
        for (int s = 0; s < samples; s++) {
            Map<String, Object> inputs = syntheticInputs(original, new SplittableRandom(seed + s));
            Map<String, Object> outA = original.run(inputs, Set.copyOf(outputs));
            Map<String, Object> outB = reconstructed.run(inputs, Set.copyOf(outputs));
            for (String name : outputs) {
                double[] x = flatten(outA.get(name));
                double[] y = flatten(outB.get(name));
                if (x == null || y == null) {
                    continue;   // a sequence, map or string output: nothing numeric to compare
                }
                if (x.length != y.length) {
                    throw new IllegalArgumentException("output '" + name + "' has " + x.length
                            + " elements in the original model and " + y.length + " in the reconstructed one");
                }
                if (s == 0) {
                    compared.add(name);
                }
                stats.add(Similarity.cosine(x, y), Similarity.relativeError(x, y));
            }
        }
        if (stats.count == 0) {
            throw new IllegalArgumentException("model '" + original.name() + "' has no numeric output to compare: "
                    + original.outputs());
        }
        return stats.result(Mode.RAW_OUTPUTS, samples, compared, "synthetic inputs, seed=" + seed);
    }

    /**
     * Deterministic inputs for {@code model}: float inputs N(0, 1); integer inputs all 1 when the name says
     * mask, all 0 for type ids, 0..n-1 along the last axis for position ids, uniform in [0, 100) otherwise;
     * booleans true for masks, random otherwise.
     */
    public static Map<String, Object> syntheticInputs(OnnxModel model, SplittableRandom random) {
        Map<String, Long> symbolic = new HashMap<>();
        Map<String, Object> inputs = new LinkedHashMap<>();
        for (OnnxModel.Port in : model.inputs()) {
            if (!in.isTensor()) {
                throw new IllegalArgumentException("cannot synthesize input '" + in.name() + "' of type "
                        + in.elementType());
            }
            long[] declared = in.shape();
            String[] names = in.dimensionNames();
            int[] dims = new int[declared.length];
            long numel = 1;
            for (int d = 0; d < dims.length; d++) {
                long size = declared[d];
                if (size < 0) {
                    long fallback = d == 0 ? SYNTHETIC_BATCH : SYNTHETIC_DIM;
                    size = names[d].isEmpty() ? fallback : symbolic.computeIfAbsent(names[d], k -> fallback);
                }
                numel = Math.multiplyExact(numel, size);
                if (numel > MAX_SYNTHETIC_ELEMENTS) {
                    throw new IllegalArgumentException("input '" + in.name() + "' " + in.shapeString() + " needs more"
                            + " than " + MAX_SYNTHETIC_ELEMENTS + " elements");
                }
                dims[d] = (int) size;
            }
            inputs.put(in.name(), synthesize(in, dims, random));
        }
        return inputs;
    }

    private static Object synthesize(OnnxModel.Port in, int[] dims, SplittableRandom random) {
        String lower = in.name().toLowerCase(Locale.ROOT);
        boolean mask = lower.contains("mask");
        boolean typeIds = lower.contains("token_type") || lower.contains("segment");
        boolean positions = lower.contains("position");
        int last = dims.length == 0 ? 1 : dims[dims.length - 1];
        Class<?> element;
        Filler filler;
        switch (in.elementType()) {
            case "FLOAT" -> {
                element = float.class;
                filler = (arr, i, flat) -> Array.setFloat(arr, i, (float) gaussian(random));
            }
            case "DOUBLE" -> {
                element = double.class;
                filler = (arr, i, flat) -> Array.setDouble(arr, i, gaussian(random));
            }
            case "INT64", "INT32", "INT16", "INT8", "UINT8" -> {
                element = switch (in.elementType()) {
                    case "INT64" -> long.class;
                    case "INT32" -> int.class;
                    case "INT16" -> short.class;
                    default -> byte.class;
                };
                Class<?> type = element;
                filler = (arr, i, flat) -> {
                    long v = mask ? 1 : typeIds ? 0 : positions ? flat % last : random.nextInt(SYNTHETIC_INT_BOUND);
                    if (type == long.class) {
                        Array.setLong(arr, i, v);
                    } else if (type == int.class) {
                        Array.setInt(arr, i, (int) v);
                    } else if (type == short.class) {
                        Array.setShort(arr, i, (short) v);
                    } else {
                        Array.setByte(arr, i, (byte) v);
                    }
                };
            }
            case "BOOL" -> {
                element = boolean.class;
                filler = (arr, i, flat) -> Array.setBoolean(arr, i, mask || random.nextBoolean());
            }
            default -> throw new IllegalArgumentException("cannot synthesize input '" + in.name() + "' of element type "
                    + in.elementType());
        }
        if (dims.length == 0) {
            Object holder = Array.newInstance(element, 1);
            filler.fill(holder, 0, 0);
            return Array.get(holder, 0);   // boxed scalar
        }
        Object array = Array.newInstance(element, dims);
        fill(array, dims.length, filler, new long[] {0});
        return array;
    }

    @FunctionalInterface
    private interface Filler {
        void fill(Object array, int index, long flatIndex);
    }

    private static void fill(Object array, int rank, Filler filler, long[] counter) {
        int n = Array.getLength(array);
        if (rank == 1) {
            for (int i = 0; i < n; i++) {
                filler.fill(array, i, counter[0]++);
            }
        } else {
            for (int i = 0; i < n; i++) {
                fill(Array.get(array, i), rank - 1, filler, counter);
            }
        }
    }

    private static double gaussian(SplittableRandom random) {
        // Box-Muller on SplittableRandom: java.util.Random's nextGaussian is fine too, but this keeps one generator
        double u1 = 1.0 - random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** All numbers of a nested primitive array, row-major, or {@code null} for strings, lists and maps. */
    static double[] flatten(Object value) {
        DoubleList out = new DoubleList();
        return flattenInto(value, out) ? out.toArray() : null;
    }

    private static boolean flattenInto(Object value, DoubleList out) {
        if (value instanceof float[] f) {
            for (float x : f) {
                out.add(x);
            }
        } else if (value instanceof double[] d) {
            for (double x : d) {
                out.add(x);
            }
        } else if (value instanceof long[] l) {
            for (long x : l) {
                out.add(x);
            }
        } else if (value instanceof int[] n) {
            for (int x : n) {
                out.add(x);
            }
        } else if (value instanceof short[] s) {
            for (short x : s) {
                out.add(x);
            }
        } else if (value instanceof byte[] b) {
            for (byte x : b) {
                out.add(x);
            }
        } else if (value instanceof boolean[] z) {
            for (boolean x : z) {
                out.add(x ? 1 : 0);
            }
        } else if (value instanceof Object[] rows && !(value instanceof String[])) {
            for (Object row : rows) {
                if (!flattenInto(row, out)) {
                    return false;
                }
            }
        } else if (value instanceof Number n) {
            out.add(n.doubleValue());
        } else if (value instanceof Boolean z) {
            out.add(z ? 1 : 0);
        } else {
            return false;
        }
        return true;
    }

    private static void checkSameInputs(OnnxModel a, OnnxModel b) {
        Map<String, String> ta = new LinkedHashMap<>();
        Map<String, String> tb = new LinkedHashMap<>();
        for (OnnxModel.Port p : a.inputs()) {
            ta.put(p.name(), p.elementType() + "/rank" + p.rank());
        }
        for (OnnxModel.Port p : b.inputs()) {
            tb.put(p.name(), p.elementType() + "/rank" + p.rank());
        }
        if (!ta.equals(tb)) {
            throw new IllegalArgumentException("the models take different inputs: '" + a.name() + "' " + a.inputs()
                    + " vs '" + b.name() + "' " + b.inputs());
        }
    }

    private static TextEmbedder embedder(OnnxModel model, Path tokenizerJson, Options options) {
        return TextEmbedder.builder().model(model).tokenizerPath(tokenizerJson).maxLength(options.maxLength())
                .batchSize(options.batchSize()).normalize(true).build();
    }

    private static final class Stats {
        int count;
        double cosineSum;
        double minCosine = Double.POSITIVE_INFINITY;
        double errorSum;
        double maxError;

        void add(double cosine, double relativeError) {
            count++;
            cosineSum += cosine;
            minCosine = Math.min(minCosine, cosine);
            errorSum += relativeError;
            maxError = Math.max(maxError, relativeError);
        }

        Result result(Mode mode, int samples, List<String> outputs, String source) {
            return new Result(mode, samples, outputs, count, cosineSum / count, minCosine, errorSum / count, maxError,
                    source);
        }
    }

    private static final class DoubleList {
        private double[] values = new double[256];
        private int size;

        void add(double v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, values.length * 2);
            }
            values[size++] = v;
        }

        double[] toArray() {
            return Arrays.copyOf(values, size);
        }
    }
}
