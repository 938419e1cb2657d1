package io.weightstream.bench;

import io.weightstream.serving.RealTexts;
import io.weightstream.serving.TextEmbedder;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Sentence-embedding cosines of a text model and its reconstruction on real paragraphs
 * ({@link RealTexts#paragraphs}): what {@code ModelComparison.compare} measures in text mode (same texts, tokenizer,
 * batch size, maximum length and L2 normalization), with the original embedded once for all rows. ONNX Runtime runs
 * with one intra-op thread so scores do not depend on the machine's load.
 */
final class EmbeddingProbe implements QualityProbe {
    private final Path tokenizer;
    private final List<String> texts;
    private final float[][] reference;

    EmbeddingProbe(Path original, int maxTexts) {
        this.tokenizer = TextEmbedder.tokenizerFor(original);
        this.texts = RealTexts.paragraphs(maxTexts);
        try (TextEmbedder e = embedder(original)) {
            this.reference = e.embed(texts);
        }
    }

    private TextEmbedder embedder(Path model) {
        return TextEmbedder.builder().modelPath(model).tokenizerPath(tokenizer).intraOpThreads(1).normalize(true).build();
    }

    @Override
    public String metric() {
        return "embedding_cosine";
    }

    @Override
    public Quality exact() {
        return new Quality(1.0, 1.0, Double.NaN);
    }

    @Override
    public String baseline() {
        return String.format(Locale.ROOT, "%d real paragraphs of %s", texts.size(), RealTexts.COMMON_LICENSES);
    }

    @Override
    public Quality measure(Path reconstructed) {
        float[][] out;
        try (TextEmbedder e = embedder(reconstructed)) {
            out = e.embed(texts);
        }
        double sum = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < texts.size(); i++) {
            double c = TextEmbedder.cosine(reference[i], out[i]);
            sum += c;
            min = Math.min(min, c);
        }
        return new Quality(sum / texts.size(), min, Double.NaN);
    }

    @Override
    public void close() {
    }
}
