package io.weightstream.bench.inr;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.policy.CodecChoice;
import io.weightstream.policy.PolicyResolver;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pieces of the inr bench that need no training: the scope of its policies and the crop of a layer. */
class InrBenchTest {
    @Test
    void scopedPoliciesCompressOnlyLayersOverTheScopeRule() {
        CompressionPolicy p = InrBench.scoped("rtn", Map.of("bits", "4"));
        PolicyResolver r = new PolicyResolver(p);
        // the MNIST CNN's conv1 (3.2 KB) and a 100 KB matrix stay exact, conv2 (200 KB) is compressed
        List<CodecChoice> small = r.resolve("conv1.weight", null, new TensorSpec("conv1.weight", DType.F32, 32, 1, 5, 5));
        List<CodecChoice> edge = r.resolve("x.weight", null, new TensorSpec("x.weight", DType.F32, 100, 256));
        List<CodecChoice> big = r.resolve("conv2.weight", null, new TensorSpec("conv2.weight", DType.F32, 64, 32, 5, 5));
        assertThat(small.get(0).method()).isEqualTo("lossless");
        assertThat(edge.get(0).method()).isEqualTo("lossless");
        assertThat(big.get(0).method()).isEqualTo("rtn");
    }

    @Test
    void cropKeepsTheFirstRows() {
        float[] v = new float[6 * 4];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 6, 4), v);
        Tensor c = InrBench.crop(t, 2);
        assertThat(c.spec().shape()).containsExactly(2, 4);
        assertThat(c.toFloats()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
        assertThat(InrBench.crop(t, 0)).isSameAs(t);
        assertThat(InrBench.ABLATION).extracting(a -> a[0]).containsExactly("w/o preprocessing (MSE + grad + freq)",
                "MSE", "MSE + grad", "MSE + freq", "MSE + grad + freq");
    }
}
