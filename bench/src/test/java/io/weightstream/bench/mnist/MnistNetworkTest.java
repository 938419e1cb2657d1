package io.weightstream.bench.mnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.safetensors.SafetensorsWriter;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which tensors make an MNIST model, and what the pure-Java network refuses. */
class MnistNetworkTest {
    @TempDir
    Path dir;

    @Test
    void detectsTheKindFromTensorNamesAndChecksTheMetadata() {
        assertThat(MnistNetwork.of(random(MnistModelKind.MLP, DType.F32), Map.of()).kind()).isEqualTo(MnistModelKind.MLP);
        assertThat(MnistNetwork.of(random(MnistModelKind.CNN, DType.F32), Map.of("model", "mnist-cnn")).kind())
                .isEqualTo(MnistModelKind.CNN);
        assertThatThrownBy(() -> MnistNetwork.of(random(MnistModelKind.CNN, DType.F32), Map.of("model", "mnist-mlp")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("metadata says mnist-mlp");
        assertThatThrownBy(() -> MnistNetwork.of(List.of(), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an MNIST model");
        assertThat(MnistModelKind.MLP.parameterCount()).isEqualTo(235_146);
        assertThat(MnistModelKind.CNN.parameterCount()).isEqualTo(184_586);
        assertThat(MnistModelKind.of("CNN")).isEqualTo(MnistModelKind.CNN);
        assertThat(MnistModelKind.of("mnist-mlp")).isEqualTo(MnistModelKind.MLP);
    }

    @Test
    void refusesMissingExtraOrMisshapenTensors() {
        List<Tensor> missing = random(MnistModelKind.MLP, DType.F32);
        missing.remove(1);
        assertThatThrownBy(() -> MnistNetwork.of(missing, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'fc1.bias' is missing");

        List<Tensor> extra = random(MnistModelKind.MLP, DType.F32);
        extra.add(Tensor.ofFloats(new TensorSpec("fc4.weight", DType.F32, 2), new float[2]));
        assertThatThrownBy(() -> MnistNetwork.of(extra, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unexpected tensors [fc4.weight]");

        List<Tensor> misshapen = random(MnistModelKind.CNN, DType.F32);
        misshapen.set(2, Tensor.ofFloats(new TensorSpec("conv2.weight", DType.F32, 64, 32, 3, 3), new float[64 * 32 * 9]));
        assertThatThrownBy(() -> MnistNetwork.of(misshapen, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[64, 32, 3, 3], expected [64, 32, 5, 5]");
    }

    @Test
    void halfPrecisionWeightsAreWidened() {
        List<Tensor> f32 = random(MnistModelKind.MLP, DType.F32);
        List<Tensor> f16 = new ArrayList<>();
        for (Tensor t : f32) {
            f16.add(Tensor.ofFloats(new TensorSpec(t.name(), DType.F16, t.spec().shape()), t.toFloats()));
        }
        float[] image = MnistDigits.load().heldBack().image(0);
        float[] a = MnistNetwork.of(f32, Map.of()).logits(image);
        float[] b = MnistNetwork.of(f16, Map.of()).logits(image);
        assertThat(b).hasSize(10);
        for (int i = 0; i < 10; i++) {
            assertThat(b[i]).isCloseTo(a[i], org.assertj.core.data.Offset.offset(0.05f * (1 + Math.abs(a[i]))));
        }
    }

    @Test
    void aFileThatIsNotAnMnistModelNamesTheFile() {
        Path file = dir.resolve("other.safetensors");
        SafetensorsWriter.write(List.of(Tensor.ofFloats(new TensorSpec("w", DType.F32, 2), new float[2])), Map.of(), file);
        assertThatThrownBy(() -> MnistNetwork.load(file))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("other.safetensors")
                .hasMessageContaining("not an MNIST model");
    }

    static List<Tensor> random(MnistModelKind kind, DType dtype) {
        Random random = new Random(3);
        List<Tensor> out = new ArrayList<>();
        for (TensorSpec spec : kind.tensors()) {
            float[] v = new float[Math.toIntExact(spec.numel())];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (random.nextGaussian() * 0.05);
            }
            out.add(Tensor.ofFloats(new TensorSpec(spec.name(), dtype, spec.shape()), v));
        }
        return out;
    }
}
