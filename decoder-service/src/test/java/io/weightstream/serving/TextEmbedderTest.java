package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextEmbedderTest {
    private static TextEmbedder embedder;

    @BeforeAll
    static void load() {
        embedder = TextEmbedder.builder().modelPath(TestModels.minilm()).intraOpThreads(1).build();
    }

    @AfterAll
    static void close() {
        embedder.close();
    }

    @Test
    void reproducesTheSimilaritiesSentenceTransformersDocuments() {
        // https://sbert.net/docs/sentence_transformer/usage/usage.html prints, for all-MiniLM-L6-v2:
        // tensor([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])
        float[][] v = embedder.embed(List.of("The weather is lovely today.", "It's so sunny outside!",
                "He drove to the stadium."));
        assertThat(TextEmbedder.cosine(v[0], v[1])).isCloseTo(0.6660, within(0.0006));
        assertThat(TextEmbedder.cosine(v[0], v[2])).isCloseTo(0.1046, within(0.0006));
        assertThat(TextEmbedder.cosine(v[1], v[2])).isCloseTo(0.1411, within(0.0006));
    }

    @Test
    void similarSentencesAreCloseAndUnrelatedOnesAreNot() {
        float[][] v = embedder.embed(List.of("A man is eating food.", "A man is eating a piece of bread.",
                "The new movie is awesome.", "hi", "hello"));
        double related = TextEmbedder.cosine(v[0], v[1]);
        double unrelated = TextEmbedder.cosine(v[0], v[2]);
        System.out.printf("cosine(food, bread)=%.4f cosine(food, movie)=%.4f cosine(hi, hello)=%.4f%n",
                related, unrelated, TextEmbedder.cosine(v[3], v[4]));
        assertThat(related).isGreaterThan(0.6);
        assertThat(unrelated).isLessThan(0.2);
        // LangChain4j's own test of this artifact: cosine("hi", "hello") > 0.8
        assertThat(TextEmbedder.cosine(v[3], v[4])).isGreaterThan(0.8);
    }

    @Test
    void embeddingsAreNormalizedAndDeterministic() {
        List<String> texts = RealTexts.paragraphs(24);
        float[][] first = embedder.embed(texts);
        float[][] second = embedder.embed(texts);
        assertThat(second).isDeepEqualTo(first);
        assertThat(first).hasNumberOfRows(24);
        for (float[] v : first) {
            assertThat(v).hasSize(384);
            double sq = 0;
            for (float x : v) {
                sq += (double) x * x;
            }
            assertThat(Math.sqrt(sq)).isCloseTo(1.0, within(1e-5));
        }
        assertThat(embedder.dimension()).isEqualTo(384);
    }

    @Test
    void resultsKeepTheCallersOrderWhateverTheBatching() {
        List<String> texts = new ArrayList<>(RealTexts.paragraphs(20));
        float[][] batched = embedder.embed(texts);
        try (TextEmbedder oneByOne = TextEmbedder.builder().model(embedder.model())
                .tokenizerPath(TextEmbedder.tokenizerFor(TestModels.minilm())).batchSize(1).build()) {
            List<String> reversed = new ArrayList<>(texts);
            Collections.reverse(reversed);
            float[][] single = oneByOne.embed(reversed);
            for (int i = 0; i < texts.size(); i++) {
                // padding to another length changes the float summation order, not the meaning
                assertThat(TextEmbedder.cosine(batched[i], single[texts.size() - 1 - i])).isGreaterThan(0.99999);
            }
        }
        // the borrowed model is still open after the second embedder closed
        assertThat(embedder.embed("still open")).hasSize(384);
        assertThat(embedder.embed(List.of())).isEmpty();
    }

    @Test
    void concurrentEmbedsMatchSequentialOnes() throws Exception {
        List<String> texts = RealTexts.paragraphs(12);
        float[][] expected = embedder.embed(texts);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            List<java.util.concurrent.Future<float[][]>> futures = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                futures.add(pool.submit(() -> embedder.embed(texts)));
            }
            for (java.util.concurrent.Future<float[][]> f : futures) {
                assertThat(f.get()).isDeepEqualTo(expected);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aClosedEmbedderRefusesWorkAndClosesTheModelItLoaded() {
        TextEmbedder own = TextEmbedder.builder().modelPath(TestModels.minilm()).intraOpThreads(1).build();
        OnnxModel model = own.model();
        own.close();
        own.close();
        assertThatThrownBy(() -> own.embed("hi")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> model.run(java.util.Map.of("input_ids", new long[][] {{101, 102}},
                "attention_mask", new long[][] {{1, 1}}, "token_type_ids", new long[][] {{0, 0}})))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void truncatesToMaxLengthAndDoesNotPadSingleTexts() {
        String longest = RealTexts.paragraphs(200).stream().max((a, b) -> a.length() - b.length()).orElseThrow();
        long[] ids = embedder.tokenIds(longest + " " + longest);
        assertThat(ids).hasSize(256);
        assertThat(ids[0]).isEqualTo(101);     // [CLS]
        assertThat(ids[255]).isEqualTo(102);   // [SEP] kept after truncation
        // the tokenizer.json pads to 128; the embedder switched that off
        assertThat(embedder.tokenIds("hello world")).containsExactly(101, 7592, 2088, 102);

        try (TextEmbedder short16 = TextEmbedder.builder().model(embedder.model())
                .tokenizerPath(TextEmbedder.tokenizerFor(TestModels.minilm())).maxLength(16).build()) {
            assertThat(short16.tokenIds(longest)).hasSize(16);
            // the first 14 word pieces agree, so the embeddings are related but not equal
            double c = TextEmbedder.cosine(short16.embed(longest), embedder.embed(longest));
            assertThat(c).isLessThan(0.999).isGreaterThan(0.3);
        }
    }

    @Test
    void findsTheTokenizerBesideTheModel(@TempDir Path dir) throws Exception {
        Path minilm = TestModels.minilm();
        assertThat(TextEmbedder.tokenizerFor(minilm).getFileName().toString())
                .isEqualTo("all-minilm-l6-v2-tokenizer.json");

        Path model = Files.createFile(dir.resolve("restored.onnx"));   // only the location matters
        assertThat(TextEmbedder.findTokenizer(model)).isEmpty();
        assertThatThrownBy(() -> TextEmbedder.tokenizerFor(model)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("restored-tokenizer.json").hasMessageContaining("tokenizer.json");
        Path plain = Files.copy(TextEmbedder.tokenizerFor(minilm), dir.resolve("tokenizer.json"));
        assertThat(TextEmbedder.tokenizerFor(model)).isEqualTo(plain.toAbsolutePath());
        Path named = Files.copy(plain, dir.resolve("restored-tokenizer.json"));
        assertThat(TextEmbedder.tokenizerFor(model)).isEqualTo(named.toAbsolutePath());
    }

    @Test
    void rejectsModelsThatAreNotTextModels() {
        try (OnnxModel tiny = OnnxModel.load(TestModels.tinyAffine(TestModels.tinyWeights()))) {
            assertThatThrownBy(() -> TextEmbedder.builder().model(tiny)
                    .tokenizerPath(TextEmbedder.tokenizerFor(TestModels.minilm())).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a text model");
        }
        assertThatThrownBy(() -> TextEmbedder.builder().modelPath(TestModels.minilm()).maxLength(1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxLength");
        assertThatThrownBy(() -> embedder.embed(java.util.Arrays.asList("a", null)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("text 1 is null");
    }
}
