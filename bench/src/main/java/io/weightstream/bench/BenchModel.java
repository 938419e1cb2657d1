package io.weightstream.bench;

import io.weightstream.codec.Codecs;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A model the bench compresses: the checkpoint file, how its quality is measured, and which methods apply to it.
 *
 * <pre>{@code
 * BenchModel m = BenchModels.resolve("minilm", options, System.out::println);
 * m.accepts(BenchMethods.get("rtn"));   // true; false for the 8-bit input, which only lossless methods take
 * }</pre>
 *
 * @param id             the name in tables, {@code all-minilm-l6-v2}, {@code mnist-mlp}, ...
 * @param description    one line for the report
 * @param file           the checkpoint (.onnx or .safetensors)
 * @param kind           how quality is measured
 * @param quantizedInput true for an already 8-bit model: only lossless methods apply (its tensors are integers)
 * @param int8Reference  ONNX Runtime's int8 model of the same network, for the {@code ort-int8} reference row, or null
 */
public record BenchModel(String id, String description, Path file, Kind kind, boolean quantizedInput, Path int8Reference) {
    /** How a reconstruction is scored against the original. */
    public enum Kind {
        /** Sentence embeddings of real paragraphs: mean and min cosine. */
        TEXT_EMBEDDING,
        /** Real held-back MNIST digits: top-1 agreement with the original and accuracy. */
        MNIST
    }

    public BenchModel {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(kind, "kind");
    }

    /** Whether rows of {@code method} make sense for this model. */
    public boolean accepts(BenchMethod method) {
        return switch (method.kind()) {
            case ORT_INT8 -> int8Reference != null;
            case ZSTD -> true;
            case CODEC -> !quantizedInput || Codecs.get(method.name()).isLossless();
        };
    }

    /** The quality metric's name in tables: {@code embedding_cosine} or {@code top1_agreement}. */
    public String metric() {
        return kind == Kind.TEXT_EMBEDDING ? "embedding_cosine" : "top1_agreement";
    }
}
