package io.weightstream.serving;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One model version loaded into ONNX Runtime and warmed up, ready to answer requests: the unit a
 * {@link ModelManager} swaps. Closing it closes the runtime session (and the embedder, if any); the manager does
 * that after the last request using it has finished.
 *
 * <pre>{@code
 * ServedModel m = new ServedModel(info, onnx, embedderOrNull);
 * manager.swap(m);
 * }</pre>
 */
public final class ServedModel implements AutoCloseable {
    /**
     * What is known of a served version (for {@code GET /v1/models/{name}}).
     *
     * @param model            model name
     * @param version          version name
     * @param file             the materialized model file in the repository
     * @param fileBytes        its size
     * @param encodedBytes     compressed size (sum of payloads)
     * @param ratio            original tensor bytes / encoded bytes
     * @param methods          tensors per method, e.g. {rtn=36, lossless=212}
     * @param publishedAtMs    when the trainer published it
     * @param servingSinceMs   when this replica started serving it (0 until swapped in)
     */
    public record Info(String model, String version, Path file, long fileBytes, long encodedBytes, double ratio,
                       Map<String, Integer> methods, long publishedAtMs, long servingSinceMs) {
        public Info {
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(version, "version");
            methods = Map.copyOf(methods);
        }

        public Info servingSince(long ms) {
            return new Info(model, version, file, fileBytes, encodedBytes, ratio, methods, publishedAtMs, ms);
        }
    }

    private final Info info;
    private final OnnxModel onnx;
    private final TextEmbedder embedder;

    /** @param embedder the text embedder over {@code onnx} (borrowing it), or {@code null} for non-text models */
    public ServedModel(Info info, OnnxModel onnx, TextEmbedder embedder) {
        this.info = Objects.requireNonNull(info, "info");
        this.onnx = Objects.requireNonNull(onnx, "onnx");
        this.embedder = embedder;
    }

    public Info info() {
        return info;
    }

    public String model() {
        return info.model();
    }

    public String version() {
        return info.version();
    }

    public OnnxModel onnx() {
        return onnx;
    }

    public Optional<TextEmbedder> embedder() {
        return Optional.ofNullable(embedder);
    }

    @Override
    public void close() {
        if (embedder != null) {
            embedder.close();
        }
        onnx.close();
    }

    @Override
    public String toString() {
        return "ServedModel(" + info.model() + "/" + info.version() + ")";
    }
}
