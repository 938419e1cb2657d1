package io.weightstream.codec.lowrank;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.AbstractCodecContractTest;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LowRankCodecTest extends AbstractCodecContractTest {
    private final LowRankCodec codec = new LowRankCodec();

    @Override
    protected Codec codec() {
        return codec;
    }

    @Override
    protected List<CodecParams> paramSets() {
        return List.of(codec.defaultParams(),
                params("energy", "1"),
                params("rank", "1000000"),
                params("ratio", "3", "method", "randomized", "power.iterations", "1"),
                params("energy", "0.99", "method", "randomized", "oversampling", "4"));
    }

    @Override
    protected boolean supportsNonFinite() {
        return false;
    }

    private CodecParams params(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return codec.params(m);
    }

    /**
     * The error of a rank-k truncation is fixed by the discarded singular values: at least energy e kept means
     * relL2 <= sqrt(1 - e); the float16 factors add about 2^-11 relative; a full-rank decomposition is only
     * that far off. Randomized SVD at a fixed ratio on random weights gives no such guarantee: there the bound
     * is the energy of a random matrix outside the top third of its spectrum, below 0.9.
     */
    @Override
    protected double maxRelL2(Tensor original, CodecParams params) {
        double fp16 = original.dtype() == DType.BF16 ? 0.01 : 0.003;
        if (params.get(LowRankCodec.RATIO) > 0) {
            return 0.9;
        }
        if (params.get(LowRankCodec.RANK) > 0) {
            return fp16;
        }
        return Math.sqrt(1 - params.get(LowRankCodec.ENERGY)) + fp16;
    }

    /** R x C with rank r exactly: sum of r outer products of Gaussian vectors with decaying weights. */
    private static Tensor lowRank(int rows, int cols, int r, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] u = new double[r][rows];
        double[][] v = new double[r][cols];
        for (int t = 0; t < r; t++) {
            for (int i = 0; i < rows; i++) {
                u[t][i] = rnd.nextGaussian() / Math.sqrt(rows);
            }
            for (int j = 0; j < cols; j++) {
                v[t][j] = rnd.nextGaussian() * Math.pow(0.8, t) / Math.sqrt(cols);
            }
        }
        float[] w = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int t = 0; t < r; t++) {
                    s += u[t][i] * v[t][j];
                }
                w[i * cols + j] = (float) s;
            }
        }
        return Tensor.ofFloats(new TensorSpec("lowrank", DType.F32, rows, cols), w);
    }

    private static int storedRank(byte[] payload) {
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader.read(in, DecodeLimits.DEFAULT);
        return (int) in.varint();
    }

    /** Square-ish matrices use EJML's SVD, tall and wide ones the Gram matrix of their short side. */
    @ParameterizedTest(name = "method={0} {1}x{2}")
    @CsvSource({"exact,300,200", "exact,900,100", "exact,60,700", "randomized,300,200", "randomized,900,100"})
    void recoversAnExactlyLowRankMatrixToFloat16Precision(String method, int rows, int cols) {
        Tensor t = lowRank(rows, cols, 12, 1);
        byte[] payload = codec.encode(t, params("energy", "0.999999", "method", method));
        assertThat(storedRank(payload)).isEqualTo(12);
        TensorMetrics m = TensorMetrics.compare(t, codec.decode(payload));
        // float16 factors: about 2^-11 relative per entry
        assertThat(m.relL2()).isLessThan(2e-3);
        // (R + C) * 12 halves instead of R * C floats
        assertThat((double) t.spec().byteSize() / payload.length).isGreaterThan(0.95 * rows * cols * 4.0 / ((rows + cols) * 24));
    }

    @Test
    void gramAndDirectSvdAgreeOnSingularValues() {
        Tensor t = lowRank(400, 90, 30, 8);
        org.ejml.data.DMatrixRMaj w = matrix(t);
        double[] direct = LowRankKernels.direct(w).s();
        double[] gram = LowRankKernels.exact(w).s();
        assertThat(gram).hasSize(90);
        for (int i = 0; i < 30; i++) {
            assertThat(gram[i]).isCloseTo(direct[i], org.assertj.core.data.Offset.offset(1e-9 * direct[0]));
        }
    }

    @Test
    void picksTheRankFromEnergyRatioOrRank() {
        Tensor t = lowRank(120, 80, 40, 2);
        // singular values decay like 0.8^t (times noise): the energy rank is the smallest k reaching the target
        for (double e : new double[] {0.5, 0.9, 0.99}) {
            byte[] p = codec.encode(t, params("energy", "" + e));
            int k = storedRank(p);
            double[] s = LowRankKernels.exact(matrix(t)).s();
            double total = 0;
            for (double x : s) {
                total += x * x;
            }
            double kept = 0;
            for (int i = 0; i < k; i++) {
                kept += s[i] * s[i];
            }
            assertThat(kept).as("energy %s, rank %d", e, k).isGreaterThanOrEqualTo(e * total);
            assertThat(kept - s[k - 1] * s[k - 1]).isLessThan(e * total);
            assertThat(TensorMetrics.compare(t, codec.decode(p)).relL2()).isLessThanOrEqualTo(Math.sqrt(1 - e) + 2e-3);
        }
        // ratio 4 on 120 x 80 floats: k = floor(120 * 80 * 4 / (4 * 2 * 200)) = 24
        byte[] byRatio = codec.encode(t, params("ratio", "4"));
        assertThat(storedRank(byRatio)).isEqualTo(24);
        assertThat((double) t.spec().byteSize() / byRatio.length).isBetween(3.9, 4.0);
        // rank wins over ratio, ratio over energy
        assertThat(storedRank(codec.encode(t, params("rank", "7", "ratio", "4", "energy", "0.1")))).isEqualTo(7);
        assertThat(storedRank(codec.encode(t, params("ratio", "4", "energy", "0.1")))).isEqualTo(24);
        assertThat(storedRank(codec.encode(t, params("rank", "500")))).isEqualTo(80);
    }

    private static org.ejml.data.DMatrixRMaj matrix(Tensor t) {
        float[] v = t.toFloats();
        org.ejml.data.DMatrixRMaj m = new org.ejml.data.DMatrixRMaj((int) t.spec().rows(), (int) t.spec().cols());
        for (int i = 0; i < v.length; i++) {
            m.data[i] = v[i];
        }
        return m;
    }

    @Test
    void randomizedMatchesExactOnAMatrixWithADecayingSpectrum() {
        Tensor t = lowRank(400, 300, 60, 3);
        double exact = TensorMetrics.compare(t, codec.decode(codec.encode(t, params("rank", "20", "method", "exact")))).relL2();
        double randomized = TensorMetrics.compare(t, codec.decode(codec.encode(t,
                params("rank", "20", "method", "randomized")))).relL2();
        // Eckart-Young: exact is optimal; two power iterations bring the randomized error within a few percent
        assertThat(randomized).isGreaterThanOrEqualTo(exact * 0.999).isLessThan(exact * 1.05);
        // and the seed makes it deterministic
        assertThat(codec.encode(t, params("rank", "20", "method", "randomized", "seed", "5")))
                .isEqualTo(codec.encode(t, params("rank", "20", "method", "randomized", "seed", "5")));
    }

    @Test
    void decodingIsTheFixedOrderFloatProductOfTheStoredFactors() {
        Tensor t = lowRank(17, 23, 5, 4);
        byte[] payload = codec.encode(t, params("rank", "5"));
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader.read(in, DecodeLimits.DEFAULT);
        int k = (int) in.varint();
        int biasA = (short) in.u16();
        int biasB = (short) in.u16();
        float[] a = new float[17 * k];
        float[] bt = new float[k * 23];
        for (int i = 0; i < a.length; i++) {
            a[i] = io.weightstream.codec.rtn.BiasedHalf.decode((short) in.u16(), biasA);
        }
        for (int i = 0; i < bt.length; i++) {
            bt[i] = io.weightstream.codec.rtn.BiasedHalf.decode((short) in.u16(), biasB);
        }
        float[] decoded = codec.decode(payload).toFloats();
        for (int i = 0; i < 17; i++) {
            for (int j = 0; j < 23; j++) {
                float s = 0;
                for (int q = 0; q < k; q++) {
                    s += a[i * k + q] * bt[q * 23 + j];
                }
                assertThat(Float.floatToIntBits(decoded[i * 23 + j])).isEqualTo(Float.floatToIntBits(s));
            }
        }
    }

    @Test
    void rejectsNonFiniteValues() {
        Tensor nan = Tensor.ofFloats(new TensorSpec("nan", DType.F32, 2, 2), new float[] {1, 2, Float.NaN, 4});
        assertThatThrownBy(() -> codec.encode(nan, codec.defaultParams())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("NaN");
    }
}
