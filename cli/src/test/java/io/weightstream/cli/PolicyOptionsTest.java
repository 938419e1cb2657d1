package io.weightstream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.PolicyRule;
import io.weightstream.policy.PolicyResolver;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How {@code --method/--set/--only} become a policy, in particular l2's whole-model rate control, which
 * {@code publish} resolves per checkpoint (so the manifest carries one exact rule per layer).
 */
class PolicyOptionsTest {
    private static PolicyOptions options(String method, String only, String... settings) {
        PolicyOptions o = new PolicyOptions();
        o.method = method;
        o.only = only == null ? new ArrayList<>() : new ArrayList<>(List.of(only.split(" ")));
        o.settings = List.of(settings);
        return o;
    }

    @Test
    void plainSettingsDoNotDependOnTheCheckpoint() {
        PolicyOptions rtn = options("rtn", null, "bits=8");
        assertThat(rtn.perCheckpoint()).isFalse();
        CompressionPolicy p = rtn.policy();
        assertThat(p.getDefaultMethod()).isEqualTo("rtn");
        assertThat(p.getDefaultParams()).containsEntry("bits", "8");
        // inr's own `ratio` is a per-tensor codec parameter, not whole-model rate control
        assertThat(options("inr", null, "ratio=2").perCheckpoint()).isFalse();
    }

    @Test
    void l2RatioIsResolvedPerCheckpointIntoOneRulePerLayer() {
        PolicyOptions l2 = options("l2", null, "ratio=8", "verify=false");
        assertThat(l2.perCheckpoint()).isTrue();
        assertThatThrownBy(l2::policy).isInstanceOf(IllegalStateException.class).hasMessageContaining("checkpoint");
        StringWriter log = new StringWriter();
        CompressionPolicy p;
        try (Checkpoint ckpt = Checkpoint.open(CompressCliTest.MINILM)) {
            p = l2.policy(ckpt, new PrintWriter(log));
        }
        assertThat(log.toString()).contains("l2 rate control: target ratio 8.0");
        List<PolicyRule> l2Rules = p.getRules().stream().filter(r -> r.getMethod().equals("l2")).toList();
        assertThat(l2Rules).hasSize(39); // every weight matrix of all-MiniLM-L6-v2 gets its own step and threshold
        assertThat(l2Rules).allSatisfy(r -> assertThat(r.getParams()).containsKeys("transform", "step"));
    }

    @Test
    void repeatedOnlyGivesOneRulePerGlobAndKeepsTheRestLossless() {
        // both FFN projections of a BERT-like model, not attention/output/dense: two globs, since '*' matches '/'
        CompressionPolicy p = options("rtn", "*layer.?/intermediate/dense/MatMul *layer.?/output/dense/MatMul", "bits=4")
                .policy();
        assertThat(p.getDefaultMethod()).isEqualTo("lossless");
        assertThat(p.getRules()).extracting(PolicyRule::getPattern)
                .containsExactly("*layer.?/intermediate/dense/MatMul", "*layer.?/output/dense/MatMul");
        assertThat(p.getRules()).allSatisfy(r -> {
            assertThat(r.getMethod()).isEqualTo("rtn");
            assertThat(r.getParams()).containsEntry("bits", "4");
        });
        PolicyResolver resolver = new PolicyResolver(p);
        TensorSpec spec = new TensorSpec("w", DType.F32, new long[] {384, 1536});
        assertThat(resolver.resolve("onnx::MatMul_798", "/encoder/layer.3/intermediate/dense/MatMul", spec).get(0)
                .codec().name()).isEqualTo("rtn");
        assertThat(resolver.resolve("/encoder/layer.3/output/dense/MatMul", null, spec).get(0).codec().name())
                .isEqualTo("rtn");
        assertThat(resolver.resolve("/encoder/layer.3/attention/output/dense/MatMul", null, spec).get(0).codec().name())
                .isEqualTo("lossless");
    }

    @Test
    void onlyWithAWholeModelTargetIsRefused() {
        PolicyOptions o = options("l2", "*MatMul", "ratio=8");
        try (Checkpoint ckpt = Checkpoint.open(CompressCliTest.MINILM)) {
            assertThatThrownBy(() -> o.policy(ckpt, new PrintWriter(new StringWriter())))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--only");
        }
    }
}
