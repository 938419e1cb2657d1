package io.weightstream.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class TensorMetricsTest {
    @Test
    void knownValues() {
        TensorMetrics m = TensorMetrics.compare(new float[] {3, 4}, new float[] {3, 5});
        assertThat(m.count()).isEqualTo(2);
        assertThat(m.relL2()).isCloseTo(0.2, offset(1e-12));
        assertThat(m.maxAbs()).isEqualTo(1);
        assertThat(m.cosine()).isCloseTo(29 / (5 * Math.sqrt(34)), offset(1e-12));
        assertThat(m.mse()).isEqualTo(0.5);
        assertThat(TensorMetrics.compare(new float[] {1, -2}, new float[] {1, -2})).isEqualTo(TensorMetrics.exact(2));
    }

    @Test
    void zerosAndNonFiniteValues() {
        assertThat(TensorMetrics.compare(new float[] {0, 0}, new float[] {0, 0})).isEqualTo(TensorMetrics.exact(2));
        TensorMetrics onlyB = TensorMetrics.compare(new float[] {0}, new float[] {1});
        assertThat(onlyB.relL2()).isInfinite();
        assertThat(onlyB.cosine()).isZero();
        TensorMetrics sameSpecials = TensorMetrics.compare(new float[] {Float.NaN, Float.POSITIVE_INFINITY, 2},
                new float[] {Float.NaN, Float.POSITIVE_INFINITY, 2});
        assertThat(sameSpecials.relL2()).isZero();
        assertThat(sameSpecials.cosine()).isCloseTo(1, offset(1e-12));
        assertThat(TensorMetrics.compare(new float[] {Float.NaN, 1}, new float[] {0, 1}).relL2()).isNaN();
        assertThat(TensorMetrics.compare(new float[] {1}, new float[] {Float.NEGATIVE_INFINITY}).maxAbs()).isInfinite();
    }

    @Test
    void comparesTensorsOfDifferentDTypesByValue() {
        TensorSpec f32 = new TensorSpec("a", DType.F32, 2, 2);
        Tensor a = Tensor.ofFloats(f32, new float[] {1, 2, 3, 4});
        Tensor b = Tensor.ofFloats(new TensorSpec("b", DType.BF16, 2, 2), new float[] {1, 2, 3, 4});
        assertThat(TensorMetrics.compare(a, b)).isEqualTo(TensorMetrics.exact(4));
        ByteBuffer ints = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(2).putInt(3).putInt(5).flip();
        TensorMetrics m = TensorMetrics.compare(a, new Tensor(new TensorSpec("c", DType.I32, 2, 2), ints));
        assertThat(m.maxAbs()).isEqualTo(1);
        assertThatThrownBy(() -> TensorMetrics.compare(a, Tensor.ofFloats(new TensorSpec("d", DType.F32, 4), new float[4])))
                .hasMessageContaining("shapes differ");
    }
}
