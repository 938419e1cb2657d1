package io.weightstream.serving;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Sentence embeddings from a BERT-style ONNX text model: the model's {@code tokenizer.json}, then the model, then
 * mean pooling of the token embeddings over the attention mask and L2 normalization, exactly what
 * sentence-transformers does for all-MiniLM-L6-v2.
 *
 * <p>Texts are truncated to {@link Builder#maxLength(int)} tokens (default 256, sentence-transformers' limit for
 * all-MiniLM-L6-v2), sorted by token count and run in batches padded to the longest text of the batch, so little
 * work is spent on padding; the result keeps the caller's order. The model gets {@code input_ids},
 * {@code attention_mask} and {@code token_type_ids}, each only if it declares it. Embedding the same texts twice
 * gives bit-identical vectors. {@link #embed} may be called from several threads at once.
 *
 * <pre>{@code
 * Path onnx = Path.of(stackHome, "models/all-minilm-l6-v2/all-minilm-l6-v2.onnx");
 * try (TextEmbedder embedder = TextEmbedder.builder().modelPath(onnx).intraOpThreads(1).build()) {
 *     float[][] v = embedder.embed(List.of("A man is eating food.", "A man is eating a piece of bread."));
 *     double similarity = TextEmbedder.cosine(v[0], v[1]);   // about 0.75
 * }
 * }</pre>
 */
public final class TextEmbedder implements AutoCloseable {
    static {
        // the tokenizer's native library ships inside its jar; never let DJL reach for the network
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    public static final int DEFAULT_MAX_LENGTH = 256;
    public static final int DEFAULT_BATCH_SIZE = 16;
    // the names the Hugging Face exporters give the per-token output of a BERT-style encoder
    private static final List<String> TOKEN_OUTPUT_NAMES = List.of("last_hidden_state", "token_embeddings");

    private final OnnxModel model;
    private final boolean ownsModel;
    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;
    private final int batchSize;
    private final boolean normalize;
    private final String outputName;
    private final boolean pooled;
    private final boolean longIds;
    private final boolean wantsMask;
    private final boolean wantsTypeIds;
    private final int dimension;
    // embeds share the read lock; close takes the write lock so the native tokenizer is never freed under a caller
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    private TextEmbedder(OnnxModel model, boolean ownsModel, HuggingFaceTokenizer tokenizer, int maxLength,
            int batchSize, boolean normalize) {
        this.model = model;
        this.ownsModel = ownsModel;
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.batchSize = batchSize;
        this.normalize = normalize;
        OnnxModel.Port ids = model.input("input_ids");
        if (ids == null || ids.rank() != 2 || !(ids.elementType().equals("INT64") || ids.elementType().equals("INT32"))) {
            throw new IllegalArgumentException("model '" + model.name() + "' is not a text model: it needs an INT64 or"
                    + " INT32 input 'input_ids' of rank 2; its inputs are " + model.inputs());
        }
        this.longIds = ids.elementType().equals("INT64");
        for (OnnxModel.Port in : model.inputs()) {
            if (!Set.of("input_ids", "attention_mask", "token_type_ids").contains(in.name())) {
                throw new IllegalArgumentException("model '" + model.name() + "' has input '" + in.name()
                        + "', which a text embedder cannot fill; its inputs are " + model.inputs());
            }
            if (!in.elementType().equals(ids.elementType()) || in.rank() != 2) {
                throw new IllegalArgumentException("model '" + model.name() + "': input '" + in.name() + "' is "
                        + in + " but input_ids is " + ids);
            }
        }
        this.wantsMask = model.hasInput("attention_mask");
        this.wantsTypeIds = model.hasInput("token_type_ids");
        OnnxModel.Port out = tokenOutput(model);
        this.outputName = out.name();
        this.pooled = out.rank() == 2;
        this.dimension = (int) out.shape()[out.rank() - 1];
    }

    /** An embedder with the defaults for {@code onnxFile} and the tokenizer found by {@link #tokenizerFor}. */
    public static TextEmbedder open(Path onnxFile) {
        return builder().modelPath(onnxFile).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Where the tokenizer of {@code onnxFile} is: {@code <base>-tokenizer.json} next to it (how the stack stages
     * {@code all-minilm-l6-v2.onnx} + {@code all-minilm-l6-v2-tokenizer.json}), else {@code tokenizer.json} next to it.
     */
    public static Optional<Path> findTokenizer(Path onnxFile) {
        for (Path candidate : tokenizerCandidates(onnxFile)) {
            if (Files.isRegularFile(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /**
     * Like {@link #findTokenizer} but fails when there is none.
     *
     * @throws IllegalArgumentException naming the files looked for
     */
    public static Path tokenizerFor(Path onnxFile) {
        return findTokenizer(onnxFile).orElseThrow(() -> new IllegalArgumentException(
                "no tokenizer for " + onnxFile + ": looked for " + tokenizerCandidates(onnxFile)));
    }

    private static List<Path> tokenizerCandidates(Path onnxFile) {
        Path abs = onnxFile.toAbsolutePath();
        String file = abs.getFileName().toString();
        String base = file.endsWith(".onnx") ? file.substring(0, file.length() - ".onnx".length()) : file;
        return List.of(abs.resolveSibling(base + "-tokenizer.json"), abs.resolveSibling("tokenizer.json"));
    }

    /** The length of each embedding (384 for all-MiniLM-L6-v2). */
    public int dimension() {
        return dimension;
    }

    public int maxLength() {
        return maxLength;
    }

    public int batchSize() {
        return batchSize;
    }

    public boolean normalizes() {
        return normalize;
    }

    /** The model this embedder runs. */
    public OnnxModel model() {
        return model;
    }

    /** The embedding of one text. */
    public float[] embed(String text) {
        return embed(List.of(text))[0];
    }

    /**
     * One embedding per text, in the order of {@code texts}.
     *
     * @throws IllegalArgumentException when a text is null
     * @throws IllegalStateException after {@link #close()}
     */
    public float[][] embed(List<String> texts) {
        Objects.requireNonNull(texts, "texts");
        for (int i = 0; i < texts.size(); i++) {
            if (texts.get(i) == null) {
                throw new IllegalArgumentException("text " + i + " is null");
            }
        }
        float[][] result = new float[texts.size()][];
        if (texts.isEmpty()) {
            return result;
        }
        lifecycle.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("text embedder of '" + model.name() + "' is closed");
            }
            embedSorted(texts, result);
        } finally {
            lifecycle.readLock().unlock();
        }
        return result;
    }

    private void embedSorted(List<String> texts, float[][] result) {
        Encoding[] encodings = tokenizer.batchEncode(texts);
        Integer[] order = new Integer[texts.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        // similar lengths in one batch keep padding small; a stable sort keeps the batches deterministic
        Arrays.sort(order, Comparator.comparingInt(i -> encodings[i].getIds().length));
        for (int start = 0; start < order.length; start += batchSize) {
            int end = Math.min(order.length, start + batchSize);
            Encoding[] batch = new Encoding[end - start];
            for (int j = start; j < end; j++) {
                batch[j - start] = encodings[order[j]];
            }
            float[][] vectors = embedBatch(batch);
            for (int j = start; j < end; j++) {
                result[order[j]] = vectors[j - start];
            }
        }
    }

    private float[][] embedBatch(Encoding[] batch) {
        int rows = batch.length;
        int seq = 0;
        for (Encoding e : batch) {
            seq = Math.max(seq, e.getIds().length);
        }
        long[][] ids = new long[rows][seq];
        long[][] mask = new long[rows][seq];
        long[][] types = new long[rows][seq];
        for (int r = 0; r < rows; r++) {
            long[] rowIds = batch[r].getIds();
            long[] rowTypes = batch[r].getTypeIds();
            System.arraycopy(rowIds, 0, ids[r], 0, rowIds.length);
            System.arraycopy(rowTypes, 0, types[r], 0, rowTypes.length);
            Arrays.fill(mask[r], 0, rowIds.length, 1L);   // padding: id 0, mask 0
        }
        Map<String, Object> inputs = new HashMap<>();
        inputs.put("input_ids", longIds ? ids : toInts(ids));
        if (wantsMask) {
            inputs.put("attention_mask", longIds ? mask : toInts(mask));
        }
        if (wantsTypeIds) {
            inputs.put("token_type_ids", longIds ? types : toInts(types));
        }
        Object out = model.run(inputs, Set.of(outputName)).get(outputName);
        float[][] vectors = pooled ? (float[][]) out : meanPool((float[][][]) out, mask);
        if (normalize) {
            for (float[] v : vectors) {
                l2Normalize(v);
            }
        }
        return vectors;
    }

    /** Mean of the token vectors whose mask is 1 (sentence-transformers' {@code Pooling(mode="mean")}). */
    static float[][] meanPool(float[][][] tokens, long[][] mask) {
        float[][] out = new float[tokens.length][];
        for (int r = 0; r < tokens.length; r++) {
            int dim = tokens[r][0].length;
            double[] sum = new double[dim];
            long count = 0;
            for (int t = 0; t < tokens[r].length; t++) {
                if (mask[r][t] != 0) {
                    count++;
                    float[] v = tokens[r][t];
                    for (int k = 0; k < dim; k++) {
                        sum[k] += v[k];
                    }
                }
            }
            double denominator = Math.max(count, 1e-9);   // sentence-transformers clamps the count the same way
            out[r] = new float[dim];
            for (int k = 0; k < dim; k++) {
                out[r][k] = (float) (sum[k] / denominator);
            }
        }
        return out;
    }

    /** Divides by the L2 norm, clamped at 1e-12 like {@code torch.nn.functional.normalize}. */
    static void l2Normalize(float[] v) {
        double sq = 0;
        for (float x : v) {
            sq += (double) x * x;
        }
        double norm = Math.max(Math.sqrt(sq), 1e-12);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (v[i] / norm);
        }
    }

    /** Cosine similarity of two vectors of the same length (0 when one of them is all zeros). */
    public static double cosine(float[] a, float[] b) {
        return Similarity.cosine(a, b);
    }

    private static int[][] toInts(long[][] values) {
        int[][] out = new int[values.length][];
        for (int r = 0; r < values.length; r++) {
            out[r] = new int[values[r].length];
            for (int c = 0; c < values[r].length; c++) {
                out[r][c] = (int) values[r][c];
            }
        }
        return out;
    }

    private static OnnxModel.Port tokenOutput(OnnxModel model) {
        for (String name : TOKEN_OUTPUT_NAMES) {
            for (OnnxModel.Port out : model.outputs()) {
                if (out.name().equals(name) && out.rank() == 3 && out.elementType().equals("FLOAT") && !out.isDynamic(2)) {
                    return out;
                }
            }
        }
        for (OnnxModel.Port out : model.outputs()) {
            if (out.rank() == 3 && out.elementType().equals("FLOAT") && !out.isDynamic(2)) {
                return out;
            }
        }
        // models exported with their pooling layer give one vector per text already
        for (OnnxModel.Port out : model.outputs()) {
            if (out.rank() == 2 && out.elementType().equals("FLOAT") && !out.isDynamic(1)) {
                return out;
            }
        }
        throw new IllegalArgumentException("model '" + model.name() + "' has no FLOAT output of shape [batch, tokens,"
                + " dim] or [batch, dim] to pool; its outputs are " + model.outputs());
    }

    /** Waits for embeds in flight, then frees the tokenizer, and the model when this embedder loaded it. */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            tokenizer.close();
        } finally {
            lifecycle.writeLock().unlock();
            if (ownsModel) {
                model.close();
            }
        }
    }

    /** Options of a {@link TextEmbedder}; {@link #build()} checks them and loads the model and tokenizer. */
    public static final class Builder {
        private Path modelPath;
        private OnnxModel model;
        private Path tokenizerPath;
        private int maxLength = DEFAULT_MAX_LENGTH;
        private int batchSize = DEFAULT_BATCH_SIZE;
        private boolean normalize = true;
        private int intraOpThreads = Runtime.getRuntime().availableProcessors();

        private Builder() {
        }

        /** Load the model from this file; the embedder owns and closes it. */
        public Builder modelPath(Path onnxFile) {
            this.modelPath = Objects.requireNonNull(onnxFile, "onnxFile");
            return this;
        }

        /** Use an already loaded model; the caller keeps owning it (the embedder does not close it). */
        public Builder model(OnnxModel loaded) {
            this.model = Objects.requireNonNull(loaded, "loaded");
            return this;
        }

        /** The {@code tokenizer.json}; default: {@link #tokenizerFor(Path)} of the model path. */
        public Builder tokenizerPath(Path tokenizerJson) {
            this.tokenizerPath = Objects.requireNonNull(tokenizerJson, "tokenizerJson");
            return this;
        }

        /** Tokens per text, special tokens included; longer texts are truncated. Default 256. */
        public Builder maxLength(int tokens) {
            this.maxLength = tokens;
            return this;
        }

        /** Texts per model run. Default 16. */
        public Builder batchSize(int texts) {
            this.batchSize = texts;
            return this;
        }

        /** L2-normalize each embedding (default true, as all-MiniLM-L6-v2's Normalize module does). */
        public Builder normalize(boolean l2Normalize) {
            this.normalize = l2Normalize;
            return this;
        }

        /** Intra-op threads when the embedder loads the model itself. Default: available processors. */
        public Builder intraOpThreads(int threads) {
            this.intraOpThreads = threads;
            return this;
        }

        /**
         * @throws IllegalArgumentException for a missing model or tokenizer, or limits below 1 (max length below 2,
         *     which leaves no room for the special tokens), or a model that is not a BERT-style text model
         * @throws UncheckedIOException when the tokenizer cannot be read
         * @throws OnnxModelException when ONNX Runtime rejects the model
         */
        public TextEmbedder build() {
            if ((modelPath == null) == (model == null)) {
                throw new IllegalArgumentException("set exactly one of modelPath(...) and model(...)");
            }
            if (maxLength < 2) {
                throw new IllegalArgumentException("maxLength must be at least 2 (room for [CLS] and [SEP]), got "
                        + maxLength);
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
            }
            if (intraOpThreads < 1) {
                throw new IllegalArgumentException("intraOpThreads must be at least 1, got " + intraOpThreads);
            }
            Path tokenizerJson = tokenizerPath;
            if (tokenizerJson == null) {
                if (modelPath == null) {
                    throw new IllegalArgumentException("set tokenizerPath(...) when passing a loaded model");
                }
                tokenizerJson = tokenizerFor(modelPath);
            }
            if (!Files.isRegularFile(tokenizerJson)) {
                throw new IllegalArgumentException("no such tokenizer file: " + tokenizerJson);
            }
            HuggingFaceTokenizer tokenizer = loadTokenizer(tokenizerJson, maxLength);
            OnnxModel loaded = model;
            try {
                if (loaded == null) {
                    loaded = OnnxModel.builder().path(modelPath).intraOpThreads(intraOpThreads).build();
                }
                return new TextEmbedder(loaded, model == null, tokenizer, maxLength, batchSize, normalize);
            } catch (RuntimeException e) {
                tokenizer.close();
                if (model == null && loaded != null) {
                    loaded.close();
                }
                throw e;
            }
        }

        private static HuggingFaceTokenizer loadTokenizer(Path tokenizerJson, int maxLength) {
            // tokenizer.json files often carry a fixed padding (all-MiniLM-L6-v2's pads every text to 128): switch
            // it off and pad per batch ourselves; truncate to maxLength with the special tokens kept
            Map<String, String> options = Map.of(
                    "padding", "false",
                    "truncation", "true",
                    "maxLength", Integer.toString(maxLength),
                    "addSpecialTokens", "true");
            try {
                return HuggingFaceTokenizer.newInstance(tokenizerJson, options);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
            }
        }
    }

    @Override
    public String toString() {
        return "TextEmbedder[" + model.name() + ", dim=" + dimension + ", maxLength=" + maxLength + ", batch="
                + batchSize + (normalize ? ", normalized" : "") + "]";
    }

    /** For tests: the token ids the tokenizer gives {@code text} (special tokens included, truncated). */
    long[] tokenIds(String text) {
        lifecycle.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("text embedder of '" + model.name() + "' is closed");
            }
            return tokenizer.encode(text).getIds();
        } finally {
            lifecycle.readLock().unlock();
        }
    }
}
