package io.weightstream.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.PolicyRule;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicyResolverTest {
    private static final String QUERY_ALIAS = "/encoder/layer.0/attention/self/query/MatMul";
    private static final String QUERY_NAME = "onnx::MatMul_798";
    private static final TensorSpec MATRIX = new TensorSpec(QUERY_NAME, DType.F32, 384, 384);

    @ParameterizedTest(name = "{0} ~ {1}: {2}")
    @CsvSource(delimiter = '|', value = {
            "*attention/self/*|/encoder/layer.0/attention/self/query/MatMul|true",
            "*/query/*|/encoder/layer.0/attention/self/query/MatMul|true",
            "/encoder/layer.?/attention/*|/encoder/layer.0/attention/self/query/MatMul|true",
            "/encoder/layer.?/attention/*|/encoder/layer.10/attention/self/query/MatMul|false",
            "*layer.1*|/encoder/layer.0/attention/self/query/MatMul|false",
            "*MatMul|/encoder/layer.0/attention/self/query/MatMul|true",
            "onnx::MatMul_*|onnx::MatMul_798|true",
            "onnx::MatMul_79?|onnx::MatMul_798|true",
            "onnx::MatMul_7|onnx::MatMul_798|false",
            "embeddings.*|embeddings.word_embeddings.weight|true",
            "*word_embeddings*|embeddings.word_embeddings.weight|true",
            "embeddings.word_embeddings.weight|embeddings.word_embeddings.weight|true",
            "embeddings?word_embeddings.weight|embeddings.word_embeddings.weight|true",
            "embeddings|embeddings.word_embeddings.weight|false",
            "*|anything/at/all|true",
            "a.c|abc|false",
            "[ab]*|[ab]x|true",
            "(x)+|(x)+|true"})
    void globsMatchWholeNamesWithStarCrossingSlashesAndDots(String glob, String name, boolean matches) {
        assertThat(TensorGlob.of(glob).matches(name)).isEqualTo(matches);
    }

    @Test
    void aRuleMatchesTheNameOrTheAlias() {
        TensorGlob byAlias = TensorGlob.of("*attention/self/query*");
        assertThat(byAlias.matches(QUERY_NAME, QUERY_ALIAS)).isTrue();
        assertThat(byAlias.matches(QUERY_NAME, null)).isFalse();
        assertThat(TensorGlob.of("onnx::MatMul_798").matches(QUERY_NAME, QUERY_ALIAS)).isTrue();
        assertThatThrownBy(() -> TensorGlob.of("")).isInstanceOf(IllegalArgumentException.class);
    }

    private static PolicyRule rule(String pattern, String method, Map<String, String> params) {
        return PolicyRule.newBuilder().setPattern(pattern).setMethod(method).setParams(params).build();
    }

    private static List<String> describe(List<CodecChoice> choices) {
        return choices.stream().map(c -> c.method() + c.params().toMap(false) + " " + c.reason()).toList();
    }

    @Test
    void firstMatchingRuleThenFallbacksInOrderThenKeep() {
        CompressionPolicy p = CompressionPolicy.newBuilder().setDefaultMethod("rtn")
                .setDefaultParams(Map.of("bits", "8"))
                .setRules(new ArrayList<>(List.of(
                        rule("*attention/self/*", "rtn", Map.of("bits", "4", "group.size", "64")),
                        rule("*query*", "prune", Map.of()),
                        rule("embeddings.word_embeddings.weight", "rtn", Map.of("axis", "first")))))
                .setMaxRelL2(0.05)
                .setFallbackMethods(new ArrayList<>(List.of("rtn:bits=8", "prune:sparsity=0.3,quant.bits=8", "rtn:bits=8")))
                .build();
        PolicyResolver r = new PolicyResolver(p);
        // the alias matches the first rule (the second would match too: first wins)
        assertThat(describe(r.resolve(QUERY_NAME, QUERY_ALIAS, MATRIX))).containsExactly(
                "rtn{bits=4, group.size=64} rule *attention/self/*",
                "rtn{bits=8} fallback 1",
                "prune{sparsity=0.3, quant.bits=8} fallback 2",
                "lossless{} keep: last resort");
        // no alias: no rule matches the bare ONNX name, so the default; its duplicate in the fallbacks is dropped
        assertThat(describe(r.resolve(QUERY_NAME, null, MATRIX))).containsExactly(
                "rtn{bits=8} default",
                "prune{sparsity=0.3, quant.bits=8} fallback 2",
                "lossless{} keep: last resort");
        TensorSpec emb = new TensorSpec("embeddings.word_embeddings.weight", DType.F32, 30522, 384);
        assertThat(r.resolve(emb.name(), null, emb).get(0).params().toMap(false)).containsEntry("axis", "first");
        assertThat(r.maxRelL2()).hasValue(0.05);
    }

    @Test
    void oneDimensionalSmallAndNonFloatTensorsAreKept() {
        CompressionPolicy p = CompressionPolicy.newBuilder().setDefaultMethod("rtn").setKeepUnderBytes(4096)
                .setRules(new ArrayList<>(List.of(rule("*", "rtn", Map.of("bits", "2"))))).build();
        PolicyResolver r = new PolicyResolver(p);
        assertThat(describe(r.resolve("encoder.layer.0.attention.output.LayerNorm.bias", null,
                new TensorSpec("b", DType.F32, 384)))).containsExactly("lossless{} keep: rank 1");
        assertThat(describe(r.resolve("scalar", null, new TensorSpec("s", DType.F32))))
                .containsExactly("lossless{} keep: rank 0");
        assertThat(describe(r.resolve("small", null, new TensorSpec("s", DType.F32, 16, 16))))
                .containsExactly("lossless{} keep: 1024 bytes < keepUnderBytes 4096");
        // integer tensors go lossless whatever the rules say, even 2-D ones above the size limit
        assertThat(describe(r.resolve("/embeddings/Constant", "/embeddings/Constant", new TensorSpec("c", DType.I64, 64, 64))))
                .containsExactly("lossless{} keep: I64 is not floating-point");
        assertThat(describe(r.resolve("big", null, new TensorSpec("w", DType.BF16, 64, 64))))
                .containsExactly("rtn{bits=2} rule *", "lossless{} keep: last resort");
        // with keepOneDimensional off, a 1-D float tensor follows the rules
        CompressionPolicy all = CompressionPolicy.newBuilder(p).setKeepOneDimensional(false).setKeepUnderBytes(0).build();
        assertThat(new PolicyResolver(all).resolve("b", null, new TensorSpec("b", DType.F32, 384)).get(0).method())
                .isEqualTo("rtn");
    }

    @Test
    void theListEndsAtTheFirstLosslessChoice() {
        CompressionPolicy p = CompressionPolicy.newBuilder().setDefaultMethod("lossless")
                .setDefaultParams(Map.of("block.size", "65536"))
                .setFallbackMethods(new ArrayList<>(List.of("rtn"))).build();
        assertThat(describe(new PolicyResolver(p).resolve("w", null, MATRIX))).containsExactly("lossless{block.size=65536} default");
    }

    @Test
    void onlyCompressesTheMatchingTensors() {
        PolicyResolver r = new PolicyResolver(Policies.only("*attention*", "rtn", Map.of("bits", "4")));
        assertThat(r.resolve(QUERY_NAME, QUERY_ALIAS, MATRIX).get(0).method()).isEqualTo("rtn");
        assertThat(describe(r.resolve("onnx::MatMul_799", "/encoder/layer.0/intermediate/dense/MatMul", MATRIX)))
                .containsExactly("lossless{} default");
    }

    @Test
    void anInvalidPolicyIsRejectedWhenTheResolverIsBuilt() {
        CompressionPolicy p = CompressionPolicy.newBuilder().setDefaultMethod("nope").build();
        assertThatThrownBy(() -> new PolicyResolver(p)).isInstanceOf(PolicyException.class).hasMessageContaining("nope");
    }
}
