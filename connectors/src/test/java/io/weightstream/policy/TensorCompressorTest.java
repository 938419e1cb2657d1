package io.weightstream.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.codec.Codecs;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.LayerMetrics;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TensorCompressorTest {
    private static Tensor gaussian(String name, long seed, long... shape) {
        TensorSpec spec = new TensorSpec(name, DType.F32, shape);
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[(int) spec.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.05);
        }
        return Tensor.ofFloats(spec, v);
    }

    private static String sha256OfDecoded(byte[] payload) {
        return TensorCompressor.sha256(Codecs.decode(ByteBuffer.wrap(payload)).toBytes());
    }

    @Test
    void anErrorAboveMaxRelL2FallsBackToTheNextMethod() {
        CompressionPolicy p = CompressionPolicy.newBuilder().setDefaultMethod("rtn")
                .setDefaultParams(Map.of("bits", "2")).setMaxRelL2(0.02)
                .setFallbackMethods(new ArrayList<>(List.of("rtn:bits=4", "rtn:bits=8"))).build();
        TensorCompressor compressor = new TensorCompressor(new PolicyResolver(p));
        Tensor t = gaussian("onnx::MatMul_798", 1, 128, 256);
        CompressedTensor c = compressor.compress(t, "/encoder/layer.0/attention/self/query/MatMul");
        // 2 bits (relL2 ~ 0.3) and 4 bits (~ 0.07) miss 0.02; 8 bits (~ 0.005) makes it
        assertThat(c.method()).isEqualTo("rtn");
        assertThat(c.params()).containsEntry("bits", "8").containsEntry("scheme", "asymmetric");
        assertThat(c.rejected()).extracting(r -> r.params().get("bits")).containsExactly("2", "4");
        assertThat(c.rejected()).allSatisfy(r -> assertThat(r.reason()).contains("> maxRelL2 0.02"));
        assertThat(c.metrics().relL2()).isLessThanOrEqualTo(0.02);
        assertThat(c.ratio()).isGreaterThan(3.8);
        assertThat(c.originalBytes()).isEqualTo(t.spec().byteSize());
        assertThat(c.reconstructionSha256()).isEqualTo(sha256OfDecoded(c.payload()));
        LayerMetrics m = c.toLayerMetrics();
        assertThat(m.getRelL2()).isEqualTo(c.metrics().relL2());
        assertThat(m.getCosine()).isGreaterThan(0.9999);
        assertThat(m.getEncodeMs()).isNotNegative();
    }

    @Test
    void withoutMaxRelL2TheFirstChoiceIsKeptWhateverItsError() {
        TensorCompressor compressor = new TensorCompressor(new PolicyResolver(Policies.of("rtn", Map.of("bits", "2"))));
        CompressedTensor c = compressor.compress(gaussian("w", 2, 64, 64), null);
        assertThat(c.params()).containsEntry("bits", "2");
        assertThat(c.rejected()).isEmpty();
        assertThat(c.metrics().relL2()).isGreaterThan(0.1);
    }

    @Test
    void aTensorTheCodecRejectsGoesToTheKeepMethodExactly() {
        float[] v = gaussian("w", 3, 32, 32).toFloats();
        v[17] = Float.NaN;
        v[99] = Float.NEGATIVE_INFINITY;
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 32, 32), v);
        CompressedTensor c = new TensorCompressor(new PolicyResolver(Policies.of("rtn", Map.of()))).compress(t, null);
        assertThat(c.method()).isEqualTo("lossless");
        assertThat(c.rejected()).singleElement().satisfies(r -> {
            assertThat(r.method()).isEqualTo("rtn");
            assertThat(r.reason()).startsWith("rejected: ").contains("NaN");
        });
        assertThat(c.reconstructionSha256()).isEqualTo(TensorCompressor.sha256(t.toBytes()));
    }

    @Test
    void integerAndOneDimensionalTensorsAreKeptBitExact() {
        TensorCompressor compressor = new TensorCompressor(new PolicyResolver(Policies.of("rtn", Map.of("bits", "4"))));
        ByteBuffer ids = ByteBuffer.allocate(8 * 300).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 300; i++) {
            ids.putLong(i * 7L - 1000);
        }
        Tensor longs = new Tensor(new TensorSpec("ids", DType.I64, 3, 100), ids.flip());
        Tensor bias = gaussian("bias", 4, 384);
        for (Tensor t : List.of(longs, bias)) {
            CompressedTensor c = compressor.compress(t, null);
            assertThat(c.method()).as(t.name()).isEqualTo("lossless");
            assertThat(c.metrics().relL2()).isZero();
            assertThat(c.reconstructionSha256()).isEqualTo(TensorCompressor.sha256(t.toBytes()))
                    .isEqualTo(sha256OfDecoded(c.payload()));
        }
    }

    /**
     * The whole all-MiniLM-L6-v2 (float32, as read by the ONNX checkpoint reader) under the default 8-bit policy:
     * ratio >= 3.9 against the tensors' float32 bytes, and policy rules see the readable aliases.
     */
    @Test
    void realModelEightBitPolicy() {
        String home = System.getProperty("weightstream.stack.home");
        assumeThat(home).as("weightstream.stack.home").isNotNull();
        Path model = Path.of(home, "models/all-minilm-l6-v2/all-minilm-l6-v2.onnx");
        assumeThat(Files.isRegularFile(model)).as(model + " staged by the deploy module").isTrue();
        CompressionPolicy policy = CompressionPolicy.newBuilder(Policies.of("rtn", Map.of()))
                .setRules(new ArrayList<>(List.of(io.weightstream.schemas.PolicyRule.newBuilder()
                        .setPattern("*attention/self/query/MatMul").setMethod("rtn").setParams(Map.of("entropy", "true"))
                        .build()))).build();
        TensorCompressor compressor = new TensorCompressor(new PolicyResolver(policy));
        long original = 0;
        long encoded = 0;
        double diff2 = 0;
        double norm2 = 0;
        int entropyCoded = 0;
        int kept = 0;
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            for (CheckpointTensor ct : ckpt.tensors()) {
                CompressedTensor c = compressor.compress(ct.tensor(), ct.alias());
                original += c.originalBytes();
                encoded += c.payload().length;
                if (c.method().equals("rtn")) {
                    double d2 = c.metrics().mse() * c.metrics().count();
                    diff2 += d2;
                    norm2 += d2 / (c.metrics().relL2() * c.metrics().relL2());
                    assertThat(c.metrics().relL2()).as(ct.name()).isLessThan(0.025);
                    entropyCoded += "true".equals(c.params().get("entropy")) ? 1 : 0;
                } else {
                    assertThat(ct.spec().rank() <= 1 || !ct.spec().dtype().isFloatingPoint()).as(ct.name()).isTrue();
                    kept++;
                }
            }
        }
        double ratio = (double) original / encoded;
        System.out.printf("all-MiniLM-L6-v2, rtn 8-bit: %d -> %d bytes, ratio %.3f, aggregate relL2 %.5f, %d kept%n",
                original, encoded, ratio, Math.sqrt(diff2 / norm2), kept);
        assertThat(ratio).isGreaterThanOrEqualTo(3.9);
        // one query projection per layer, found through its alias
        assertThat(entropyCoded).isEqualTo(6);
    }
}
