package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelComparisonTest {
    // one thread per model and a few dozen texts: gentle on the shared 2-core machine
    private static final ModelComparison.Options OPTIONS =
            ModelComparison.Options.defaults().withIntraOpThreads(1).withMaxTexts(32);

    @Test
    void theModelComparedWithItselfHasCosineOne() {
        ModelComparison.Result r = ModelComparison.compare(TestModels.minilm(), TestModels.minilm(), OPTIONS);
        System.out.println("self: " + r.details() + " " + r.toLine());
        assertThat(r.mode()).isEqualTo(ModelComparison.Mode.TEXT_EMBEDDING);
        assertThat(r.samples()).isEqualTo(32);
        assertThat(r.meanCosine()).isCloseTo(1.0, within(1e-6));
        assertThat(r.minCosine()).isCloseTo(1.0, within(1e-6));
        assertThat(r.maxRelativeError()).isLessThan(1e-6);
        assertThat(r.toLine()).isEqualTo("mean_cosine=1.000000 min_cosine=1.000000");
    }

    @Test
    void theEightBitVariantIsCloseButNotEqual() {
        ModelComparison.Result r = ModelComparison.compare(TestModels.minilm(), TestModels.minilmQuantized(), OPTIONS);
        System.out.println("float32 vs -q: " + r.details() + " " + r.toLine());
        assertThat(r.mode()).isEqualTo(ModelComparison.Mode.TEXT_EMBEDDING);
        assertThat(r.meanCosine()).isLessThan(0.9999).isGreaterThan(0.9);
        assertThat(r.minCosine()).isLessThanOrEqualTo(r.meanCosine()).isGreaterThan(0.8);
        assertThat(r.meanRelativeError()).isGreaterThan(1e-3);
        assertThat(r.toLine()).matches("mean_cosine=0\\.\\d{6} min_cosine=0\\.\\d{6}");
    }

    @Test
    void aDamagedWeightGivesAClearlyLowerCosine(@TempDir Path dir) throws Exception {
        Path damaged = TestModels.withNoisyMatMulWeight(TestModels.minilm(), dir, 1.0, 7);
        ModelComparison.Result quantized = ModelComparison.compare(TestModels.minilm(), TestModels.minilmQuantized(),
                OPTIONS);
        // the damaged copy has no tokenizer beside it: the original's is used for both
        ModelComparison.Result r = ModelComparison.compare(TestModels.minilm(), damaged, OPTIONS);
        System.out.println("float32 vs damaged: " + r.details() + " " + r.toLine());
        assertThat(r.mode()).isEqualTo(ModelComparison.Mode.TEXT_EMBEDDING);
        assertThat(r.meanCosine()).isLessThan(quantized.meanCosine() - 0.02);
        assertThat(r.minCosine()).isLessThan(quantized.minCosine());
        assertThat(r.meanRelativeError()).isGreaterThan(quantized.meanRelativeError());
    }

    @Test
    void textsFromAFileAreUsed(@TempDir Path dir) throws Exception {
        Path texts = Files.writeString(dir.resolve("texts.txt"), "A man is eating food.\nhi\nhello\n");
        ModelComparison.Result r = ModelComparison.compare(TestModels.minilm(), TestModels.minilmQuantized(),
                OPTIONS.withTextsFile(texts));
        assertThat(r.samples()).isEqualTo(3);
        assertThat(r.details().get(0)).contains("texts=3", texts.toString());
        assertThat(r.meanCosine()).isLessThan(1.0).isGreaterThan(0.8);
    }

    @Test
    void rawOutputsModeComparesTheHiddenStatesOnSyntheticTokens() {
        ModelComparison.Options raw = OPTIONS.withMode(ModelComparison.Mode.RAW_OUTPUTS).withSamples(2);
        ModelComparison.Result self = ModelComparison.compare(TestModels.minilm(), TestModels.minilm(), raw);
        assertThat(self.mode()).isEqualTo(ModelComparison.Mode.RAW_OUTPUTS);
        assertThat(self.outputs()).containsExactly("last_hidden_state");
        assertThat(self.comparisons()).isEqualTo(2);
        assertThat(self.toLine()).isEqualTo("mean_cosine=1.000000 min_cosine=1.000000");
        ModelComparison.Result q = ModelComparison.compare(TestModels.minilm(), TestModels.minilmQuantized(), raw);
        System.out.println("float32 vs -q, raw: " + q.details() + " " + q.toLine());
        assertThat(q.meanCosine()).isLessThan(0.9999).isGreaterThan(0.5);
        assertThat(q.maxRelativeError()).isGreaterThan(1e-3);
    }

    @Test
    void modelsWithoutATokenizerAreComparedOnRawOutputs(@TempDir Path dir) throws Exception {
        float[] w = TestModels.tinyWeights();
        Path original = Files.write(dir.resolve("tiny.onnx"), TestModels.tinyAffine(w));
        float[] doubled = w.clone();
        for (int i = 0; i < doubled.length; i++) {
            doubled[i] *= 2;
        }
        float[] perturbed = w.clone();
        perturbed[5] += 3;
        Path scaled = Files.write(dir.resolve("scaled.onnx"), TestModels.tinyAffine(doubled));
        Path noisy = Files.write(dir.resolve("noisy.onnx"), TestModels.tinyAffine(perturbed));

        ModelComparison.Result self = ModelComparison.compare(original, original, OPTIONS);
        assertThat(self.mode()).isEqualTo(ModelComparison.Mode.RAW_OUTPUTS);
        assertThat(self.samples()).isEqualTo(8);
        assertThat(self.toLine()).isEqualTo("mean_cosine=1.000000 min_cosine=1.000000");
        assertThat(self.maxRelativeError()).isZero();

        ModelComparison.Result s = ModelComparison.compare(original, scaled, OPTIONS);
        assertThat(s.meanRelativeError()).isGreaterThan(0.05);   // y = 2xW + b: same direction, different length
        assertThat(s.meanCosine()).isGreaterThan(0.9);
        ModelComparison.Result n = ModelComparison.compare(original, noisy, OPTIONS);
        assertThat(n.meanCosine()).isLessThan(0.999);
        assertThat(n.minCosine()).isLessThanOrEqualTo(n.meanCosine());

        assertThatThrownBy(() -> ModelComparison.compare(original, original,
                OPTIONS.withMode(ModelComparison.Mode.TEXT_EMBEDDING)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokenizer");
        assertThatThrownBy(() -> ModelComparison.compare(original, TestModels.minilm(), OPTIONS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("different inputs");
    }

    @Test
    void syntheticInputsAreSeededAndFollowTheDeclaredShapes() {
        try (OnnxModel minilm = OnnxModel.builder().path(TestModels.minilm()).intraOpThreads(1).build()) {
            Map<String, Object> a = ModelComparison.syntheticInputs(minilm, new SplittableRandom(3));
            Map<String, Object> b = ModelComparison.syntheticInputs(minilm, new SplittableRandom(3));
            Map<String, Object> c = ModelComparison.syntheticInputs(minilm, new SplittableRandom(4));
            long[][] ids = (long[][]) a.get("input_ids");
            assertThat(ids).isDeepEqualTo((long[][]) b.get("input_ids")).isNotEqualTo(c.get("input_ids"));
            assertThat(ids.length).isEqualTo(ModelComparison.SYNTHETIC_BATCH);
            assertThat(ids[0].length).isEqualTo(ModelComparison.SYNTHETIC_DIM);
            assertThat(((long[][]) a.get("attention_mask"))[1]).containsOnly(1L);
            assertThat(((long[][]) a.get("token_type_ids"))[0]).containsOnly(0L);
            for (long[] row : ids) {
                for (long id : row) {
                    assertThat(id).isBetween(0L, (long) ModelComparison.SYNTHETIC_INT_BOUND - 1);
                }
            }
        }
    }
}
