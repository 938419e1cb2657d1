package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {
    private static OnnxModel minilm;

    @BeforeAll
    static void load() {
        minilm = OnnxModel.builder().path(TestModels.minilm()).intraOpThreads(1).build();
    }

    @AfterAll
    static void close() {
        minilm.close();
    }

    private static Map<String, Object> bertInputs(long[][] ids) {
        long[][] mask = new long[ids.length][ids[0].length];
        for (long[] row : mask) {
            java.util.Arrays.fill(row, 1);
        }
        return Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", new long[ids.length][ids[0].length]);
    }

    @Test
    void exposesTheRealModelsInputsAndOutputs() {
        assertThat(minilm.name()).isEqualTo("all-minilm-l6-v2.onnx");
        assertThat(minilm.inputNames()).containsExactly("input_ids", "attention_mask", "token_type_ids");
        assertThat(minilm.outputNames()).containsExactly("last_hidden_state");
        OnnxModel.Port ids = minilm.input("input_ids");
        assertThat(ids.elementType()).isEqualTo("INT64");
        assertThat(ids.dtype()).isEqualTo(io.weightstream.tensor.DType.I64);
        assertThat(ids.shape()).containsExactly(-1, -1);
        assertThat(ids.dimensionNames()).containsExactly("batch_size", "sequence_length");
        OnnxModel.Port out = minilm.outputs().get(0);
        assertThat(out.shape()).containsExactly(-1, -1, 384);
        assertThat(out.shapeString()).isEqualTo("[batch_size, sequence_length, 384]");
        assertThat(minilm.intraOpThreads()).isEqualTo(1);
    }

    @Test
    void runsTheRealModel() {
        // [CLS] hello world [SEP] in the bert-base-uncased vocabulary
        Map<String, Object> out = minilm.run(bertInputs(new long[][] {{101, 7592, 2088, 102}, {101, 2088, 7592, 102}}));
        float[][][] hidden = (float[][][]) out.get("last_hidden_state");
        assertThat(hidden.length).isEqualTo(2);
        assertThat(hidden[0].length).isEqualTo(4);
        assertThat(hidden[0][0].length).isEqualTo(384);
        // word order matters to a transformer: the two rows differ
        assertThat(hidden[0][1]).isNotEqualTo(hidden[1][2]);
        for (float v : hidden[1][3]) {
            assertThat(Float.isFinite(v)).isTrue();
        }
    }

    @Test
    void rejectsBadInputsNamingThem() {
        long[][] ids = {{101, 7592, 102}};
        Map<String, Object> good = bertInputs(ids);

        Map<String, Object> unknown = new java.util.HashMap<>(good);
        unknown.put("pixel_values", new float[1][3]);
        assertThatThrownBy(() -> minilm.run(unknown)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown input 'pixel_values'").hasMessageContaining("input_ids");

        Map<String, Object> missing = new java.util.HashMap<>(good);
        missing.remove("token_type_ids");
        assertThatThrownBy(() -> minilm.run(missing)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing input [token_type_ids]");

        Map<String, Object> wrongType = new java.util.HashMap<>(good);
        wrongType.put("input_ids", new float[][] {{101, 7592, 102}});
        assertThatThrownBy(() -> minilm.run(wrongType)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("input 'input_ids'").hasMessageContaining("INT64").hasMessageContaining("float[][]");

        Map<String, Object> wrongRank = new java.util.HashMap<>(good);
        wrongRank.put("attention_mask", new long[] {1, 1, 1});
        assertThatThrownBy(() -> minilm.run(wrongRank)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("input 'attention_mask'").hasMessageContaining("rank 2").hasMessageContaining("rank 1");

        Map<String, Object> ragged = new java.util.HashMap<>(bertInputs(new long[][] {{101, 102}, {101, 102}}));
        ragged.put("input_ids", new long[][] {{101, 102}, {101}});
        assertThatThrownBy(() -> minilm.run(ragged)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("input 'input_ids'").hasMessageContaining("ragged");

        Map<String, Object> mismatched = new java.util.HashMap<>(good);
        mismatched.put("attention_mask", new long[][] {{1, 1, 1, 1}});
        assertThatThrownBy(() -> minilm.run(mismatched)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'sequence_length' is 4").hasMessageContaining("input 'input_ids' has 3");

        Map<String, Object> nullValue = new java.util.HashMap<>(good);
        nullValue.put("input_ids", null);
        assertThatThrownBy(() -> minilm.run(nullValue)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("input 'input_ids'").hasMessageContaining("null");

        assertThatThrownBy(() -> minilm.run(good, Set.of("pooler_output"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown output 'pooler_output'");
    }

    @Test
    void checksFixedDimensionsAndRunsATinyModelFromBytes() {
        try (OnnxModel tiny = OnnxModel.builder().bytes(TestModels.tinyAffine(TestModels.tinyWeights()))
                .name("tiny").intraOpThreads(1).build()) {
            assertThat(tiny.inputNames()).containsExactly("x", "bias");
            float[][] x = {{1, 0, 0}, {0, 1, 2}};
            float[][] bias = {{0, 0, 0, 100}, {0, 0, 0, 0}};
            float[][] y = (float[][]) tiny.run(Map.of("x", x, "bias", bias)).get("y");
            float[] w = TestModels.tinyWeights();
            // y = x @ W + bias, computed by hand
            assertThat(y[0]).containsExactly(w[0], w[1], w[2], w[3] + 100);
            assertThat(y[1][2]).isEqualTo(w[6] + 2 * w[10]);

            assertThatThrownBy(() -> tiny.run(Map.of("x", new float[][] {{1, 2, 3, 4}}, "bias", new float[1][4])))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("input 'x' of model 'tiny': dimension 1 must be 3 but is 4");
            assertThatThrownBy(() -> tiny.run(Map.of("x", new float[2][3], "bias", new float[3][4])))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'batch' is 3 but input 'x' has 2");
        }
    }

    @Test
    void loadingFromBytesAndFromPathGivesTheSameOutputs() throws Exception {
        Map<String, Object> in = bertInputs(new long[][] {{101, 2023, 2003, 1037, 3231, 102}});
        try (OnnxModel fromBytes = OnnxModel.builder().bytes(Files.readAllBytes(TestModels.minilm()))
                .intraOpThreads(1).build()) {
            assertThat(fromBytes.name()).isEqualTo("model");
            assertThat((float[][][]) fromBytes.run(in).get("last_hidden_state"))
                    .isDeepEqualTo((float[][][]) minilm.run(in).get("last_hidden_state"));
        }
    }

    @Test
    void concurrentRunsGiveTheSameResultsAsSequentialOnes() throws Exception {
        List<Map<String, Object>> inputs = new ArrayList<>();
        List<Object> expected = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Map<String, Object> in = bertInputs(new long[][] {{101, 1000 + i, 2000 + 3 * i, 3000 + i, 102}});
            inputs.add(in);
            expected.add(minilm.run(in).get("last_hidden_state"));
        }
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Object>> futures = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                for (Map<String, Object> in : inputs) {
                    futures.add(pool.submit(() -> minilm.run(in).get("last_hidden_state")));
                }
            }
            for (int i = 0; i < futures.size(); i++) {
                assertThat((float[][][]) futures.get(i).get()).isDeepEqualTo((float[][][]) expected.get(i % inputs.size()));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void reportsUnloadableModelsAndRunsAfterClose(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> OnnxModel.load(dir.resolve("absent.onnx")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no such model file");
        Path garbage = Files.write(dir.resolve("garbage.onnx"), "this is not a protobuf".getBytes());
        assertThatThrownBy(() -> OnnxModel.load(garbage))
                .isInstanceOf(OnnxModelException.class).hasMessageContaining("garbage.onnx");
        assertThatThrownBy(() -> OnnxModel.builder().bytes(TestModels.brokenModel()).name("broken").build())
                .isInstanceOf(OnnxModelException.class).hasMessageContaining("'broken'");
        assertThatThrownBy(() -> OnnxModel.builder().path(garbage).intraOpThreads(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("intraOpThreads");
        assertThatThrownBy(() -> OnnxModel.builder().build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exactly one of");

        OnnxModel tiny = OnnxModel.load(TestModels.tinyAffine(TestModels.tinyWeights()));
        tiny.close();
        tiny.close();   // idempotent
        assertThatThrownBy(() -> tiny.run(Map.of("x", new float[1][3], "bias", new float[1][4])))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }
}
