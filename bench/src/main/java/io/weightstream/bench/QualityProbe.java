package io.weightstream.bench;

import java.nio.file.Path;

/**
 * Scores a reconstructed model file against the original on what the model computes (DESIGN: model-level quality
 * on real outputs, not only weight error). The original's outputs are computed once, when the probe opens.
 *
 * <pre>{@code
 * try (QualityProbe probe = QualityProbe.open(model, options)) {
 *     QualityProbe.Quality q = probe.measure(Path.of("restored.onnx"));
 * }
 * }</pre>
 */
public interface QualityProbe extends AutoCloseable {
    /** A probe for {@code model}: sentence-embedding cosines for text models, top-1 agreement for MNIST. */
    static QualityProbe open(BenchModel model, BenchOptions options) {
        return switch (model.kind()) {
            case TEXT_EMBEDDING -> new EmbeddingProbe(model.file(), options.texts());
            case MNIST -> new MnistProbe(model.file());
        };
    }

    /**
     * A score.
     *
     * @param mean     mean cosine of the sentence embeddings, or the top-1 agreement with the original
     * @param min      the lowest cosine, or the lowest agreement within one digit class
     * @param accuracy the reconstruction's accuracy on held-back digits, NaN for text models
     */
    record Quality(double mean, double min, double accuracy) {
    }

    /** The metric's name in tables. */
    String metric();

    /** What the original scores against itself: 1, 1 and its own accuracy (rows of bit-exact methods). */
    Quality exact();

    /** The original's score on its own task, for the models table ({@code "accuracy 0.9615 on 2000 held-back digits"}). */
    String baseline();

    /** Loads {@code reconstructed}, runs it on the probe's inputs and compares with the original. */
    Quality measure(Path reconstructed);

    @Override
    void close();
}
