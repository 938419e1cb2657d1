package io.weightstream.codec.l2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.weightstream.codec.AbstractCodecContractTest;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadWriter;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class L2CodecTest extends AbstractCodecContractTest {
    private final L2Codec codec = new L2Codec();

    @Override
    protected Codec codec() {
        return codec;
    }

    @Override
    protected List<CodecParams> paramSets() {
        return List.of(codec.defaultParams(),
                params("bits", "1.5"),
                params("bits", "7", "transform", "log"),
                params("step", "0.3"),
                params("step", "0.4", "e", "0.9"),
                params("step", "0.02", "e", "0"),                      // wide alphabet (kmax > 127)
                params("transform", "uniform", "step", "0.5", "table.groups", "7"),
                params("transform", "log", "step", "0.1", "knee", "0.5"),
                params("transform", "exp", "step", "0.2", "knee", "20"),
                params("step", "0.05", "table.groups", "3"));
    }

    @Override
    protected CodecParams corruptionParams() {
        return params("step", "0.1", "table.groups", "4");
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
     * Explicit parameters: every element decodes to exactly the reference quantizer's level (an independent
     * implementation of the paper's formulas) rounded to the dtype, except where the element sits within 1e-9
     * of a decision threshold. Searched parameters: a relative error within what the bit budget allows.
     */
    @Override
    protected void assertReconstruction(Tensor original, Tensor decoded, CodecParams params) {
        float[] a = floats(original);
        float[] b = floats(decoded);
        if (params.get(L2Codec.STEP) == 0) {
            TensorMetrics m = TensorMetrics.compare(original, decoded);
            double bits = params.get(L2Codec.BITS);
            // small tensors spend most of their budget on headers and tables: only check the large ones
            if (a.length >= 10000) {
                assertThat(m.relL2()).as("rel L2 at %s bits", bits).isLessThan(bits >= 4 ? 0.1 : 0.6);
            }
            return;
        }
        Reference ref = Reference.of(a, params);
        for (int i = 0; i < a.length; i++) {
            if (ref.nearThreshold(a[i])) {
                continue;
            }
            // symbol 0 decodes to +0.0 whatever the sign of the pruned weight
            float expected = roundTo(original.dtype(), (float) ref.decode(a[i])) + 0.0f;
            if (Float.floatToIntBits(expected) != Float.floatToIntBits(b[i])) {
                throw new AssertionError(original + " element " + i + " = " + a[i] + " decoded to " + b[i]
                        + ", reference " + expected + " (" + params + ")");
            }
        }
    }

    private static float roundTo(DType dtype, float v) {
        return Tensor.ofFloats(new TensorSpec("", dtype, 1), new float[] {v}).toFloats()[0];
    }

    /** The paper's quantizer, written out directly in double precision, independently of the codec. */
    record Reference(L2Transform t, double s, double p) {
        static Reference of(float[] v, CodecParams params) {
            double sq = 0;
            for (float x : v) {
                sq += (double) x * x;
            }
            double rms = v.length == 0 ? 0 : Math.sqrt(sq / v.length);
            double unit = rms > 0 ? rms : 1;
            L2Transform t = params.get(L2Codec.TRANSFORM);
            double s = params.get(L2Codec.STEP) * unit;
            double p = switch (t) {
                case JOINT -> params.get(L2Codec.E) < 0 ? params.get(L2Codec.STEP) / 2 * unit : params.get(L2Codec.E) * unit;
                case UNIFORM -> 0;
                default -> params.get(L2Codec.KNEE) * unit;
            };
            return new Reference(t, s, p);
        }

        /** T(a) for a >= 0. */
        double forward(double a) {
            return switch (t) {
                case JOINT -> a == 0 ? 0 : a < p ? 0.5 * a / p : (a - p) / s + 0.5;
                case UNIFORM -> a / s;
                case LOG -> p / s * Math.log1p(a / p);
                case EXP -> p / s * Math.expm1(a / p);
            };
        }

        double inverse(long k) {
            if (k == 0) {
                return 0;
            }
            return switch (t) {
                case JOINT -> p + (k - 0.5) * s;
                case UNIFORM -> k * s;
                case LOG -> p * Math.expm1(k * s / p);
                case EXP -> p * Math.log1p(k * s / p);
            };
        }

        double decode(float w) {
            long k = (long) Math.floor(forward(Math.abs(w)) + 0.5);
            double r = inverse(k);
            return w < 0 ? -r : r;
        }

        boolean nearThreshold(float w) {
            double x = forward(Math.abs(w)) + 0.5;
            return Math.abs(x - Math.rint(x)) < 1e-9 * Math.max(1, Math.abs(x));
        }
    }

    private static Tensor gaussian(String name, int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.05 * (rnd.nextInt(200) == 0 ? 8 : 1));
        }
        return Tensor.ofFloats(new TensorSpec(name, DType.F32, rows, cols), v);
    }

    @Test
    void isRegisteredAndDocumentsItsParameters() {
        assertThat(Codecs.get("l2")).isInstanceOf(L2Codec.class);
        assertThat(codec.parameters()).extracting(p -> p.key())
                .containsExactly("transform", "step", "e", "knee", "bits", "table.groups");
        assertThat(codec.params(Map.of("transform", "log")).get(L2Codec.TRANSFORM)).isEqualTo(L2Transform.LOG);
        assertThatThrownBy(() -> codec.params(Map.of("transform", "cubic"))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void jointPrunesBelowTheThresholdAndQuantizesAbove() {
        Tensor t = gaussian("w", 256, 256, 1);
        float[] v = t.toFloats();
        double rms = Math.sqrt(Arrays.stream(toDoubles(v)).map(x -> x * x).sum() / v.length);
        byte[] payload = codec.encode(t, params("step", "0.25", "e", "1.0"));
        float[] back = codec.decode(payload).toFloats();
        int pruned = 0;
        int expectedPruned = 0;
        for (int i = 0; i < v.length; i++) {
            boolean below = Math.abs(v[i]) < rms;
            expectedPruned += below ? 1 : 0;
            pruned += back[i] == 0 ? 1 : 0;
            if (below) {
                assertThat(back[i]).isZero();
            } else {
                // bins of one step above e, decoded at their middle
                assertThat(Math.abs(back[i] - v[i])).isLessThanOrEqualTo((float) (0.125 * rms * 1.0001));
                assertThat(Math.signum(back[i])).isEqualTo(Math.signum(v[i]));
            }
        }
        assertThat(pruned).isEqualTo(expectedPruned);
        assertThat((double) pruned / v.length).isBetween(0.6, 0.75); // P(|N(0,1)| < 1) = 0.68
    }

    private static double[] toDoubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    @ParameterizedTest
    @ValueSource(doubles = {1.0, 2.5, 4.0, 6.0})
    void bitsParameterHitsItsBudget(double bits) {
        Tensor t = gaussian("w", 384, 384, 7);
        byte[] payload = codec.encode(t, params("bits", Double.toString(bits)));
        double actual = payload.length * 8.0 / t.spec().numel();
        assertThat(actual).as("bits per weight").isCloseTo(bits, within(bits * 0.03 + 0.02));
    }

    @Test
    void moreBitsLessError() {
        Tensor t = gaussian("w", 300, 300, 3);
        double previous = Double.POSITIVE_INFINITY;
        for (String bits : List.of("1", "2", "3", "4", "6", "8")) {
            double rel = TensorMetrics.compare(t, codec.decode(codec.encode(t, params("bits", bits)))).relL2();
            assertThat(rel).as("rel L2 at %s bits", bits).isLessThan(previous);
            previous = rel;
        }
        // entropy-coded uniform quantization of a Gaussian: about 6 dB per bit; at 4 bits rel L2 ~ 0.07
        assertThat(previous).isLessThan(0.01);
    }

    @ParameterizedTest
    @EnumSource(L2Transform.class)
    void profilePredictsTheCodecsSizeAndError(L2Transform transform) {
        for (Tensor t : List.of(gaussian("large", 512, 512, 11), gaussian("small", 50, 60, 12))) {
            float[] v = t.toFloats();
            L2Profile profile = L2Profile.of(v);
            double param = transform == L2Transform.JOINT ? 0.3 : transform == L2Transform.LOG ? 1.5 : transform == L2Transform.EXP ? 10 : 0;
            L2Point point = profile.evaluate(transform, 0.2, param);
            assertThat(point.feasible()).isTrue();
            byte[] payload = codec.encode(t, codec.params(point.params()));
            double predicted = codec.predictedBytes(t.spec(), point);
            assertThat((double) payload.length).as("%s %s payload bytes", transform, t.name())
                    .isCloseTo(predicted, within(predicted * 0.003 + 16));
            float[] back = codec.decode(payload).toFloats();
            double sse = 0;
            for (int i = 0; i < v.length; i++) {
                double d = (double) v[i] - back[i];
                sse += d * d;
            }
            assertThat(sse).as("%s %s squared error", transform, t.name())
                    .isCloseTo(point.squaredError(), within(point.squaredError() * 0.01));
        }
    }

    @Test
    void wideAlphabetsUseTheWideCoderAndStayExact() {
        Tensor t = gaussian("w", 200, 200, 5);
        CodecParams p = params("step", "0.005", "e", "0");
        byte[] payload = codec.encode(t, p);
        L2Point point = L2Profile.of(t.toFloats()).evaluate(L2Transform.JOINT, 0.005, 0);
        assertThat(point.kmax()).isGreaterThan(127);
        TensorMetrics m = TensorMetrics.compare(t, codec.decode(payload));
        assertThat(m.relL2()).isLessThan(0.002);
        assertReconstruction(t, codec.decode(payload), p);
    }

    @Test
    void stepsTooSmallForTheRangeAreRejected() {
        Tensor t = gaussian("w", 100, 100, 5);
        assertThatThrownBy(() -> codec.encode(t, params("step", "0.00001")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("32767 levels");
        assertThatThrownBy(() -> codec.encode(t, params("transform", "exp", "step", "0.1", "knee", "0.01")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void zeroTensorsAndConstantTensorsRoundTrip() {
        Tensor zeros = Tensor.ofFloats(new TensorSpec("z", DType.F32, 64, 64), new float[4096]);
        for (CodecParams p : paramSets()) {
            assertThat(codec.decode(codec.encode(zeros, p)).toFloats()).containsOnly(0f);
        }
    }

    @Test
    void tableGroupsGiveEachRowRangeItsOwnTable() {
        // rows of very different scales: one table per group codes them smaller at the same error
        SplittableRandom rnd = new SplittableRandom(9);
        float[] v = new float[256 * 256];
        for (int r = 0; r < 256; r++) {
            double scale = r < 128 ? 0.01 : 0.2;
            for (int c = 0; c < 256; c++) {
                v[r * 256 + c] = (float) (rnd.nextGaussian() * scale);
            }
        }
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 256, 256), v);
        byte[] one = codec.encode(t, params("step", "0.05"));
        byte[] two = codec.encode(t, params("step", "0.05", "table.groups", "2"));
        assertThat(codec.decode(two).toBytes()).isEqualTo(codec.decode(one).toBytes());
        assertThat(two.length).isLessThan((int) (one.length * 0.9));
    }

    @Test
    void forgedParametersAreCorrupt() {
        Tensor t = gaussian("w", 20, 20, 1);
        byte[] payload = codec.encode(t, params("step", "0.3"));
        int body = PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT).bodyOffset();
        for (double bad : new double[] {Double.NaN, 0, -1, Double.POSITIVE_INFINITY, 1e300}) {
            byte[] forged = payload.clone();
            ByteBuffer.wrap(forged).order(java.nio.ByteOrder.LITTLE_ENDIAN).putDouble(body + 1, bad);
            if (bad == 1e300) {
                // a finite step whose levels overflow float32
                assertThatThrownBy(() -> codec.decode(forged)).isInstanceOf(CorruptPayloadException.class)
                        .hasMessageContaining("non-finite");
            } else {
                assertThatThrownBy(() -> codec.decode(forged)).isInstanceOf(CorruptPayloadException.class);
            }
        }
        byte[] forged = payload.clone();
        forged[body] = 9;
        assertThatThrownBy(() -> codec.decode(forged)).isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining("transform");
    }

    @Test
    void byteSymbolsOutsideTheAlphabetAreCorrupt() {
        // kmax 1 (alphabet 3) but a stream holding symbol 200
        Tensor t = gaussian("w", 4, 4, 1);
        PayloadWriter w = new PayloadWriter(128);
        PayloadHeader.of(codec, t.spec()).write(w);
        w.u8(0).f64(1.0).f64(0.5).varint(1).varint(1);
        w.u8(io.weightstream.codec.entropy.ByteCoder.METHOD_CONST).u8(200);
        byte[] forged = w.toByteArray();
        assertThatThrownBy(() -> codec.decode(forged)).isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining("outside the alphabet");
    }

    @Test
    void float16AndFloat64KeepTheirDtypes() {
        Tensor t32 = gaussian("w", 64, 64, 2);
        for (DType d : List.of(DType.F16, DType.BF16, DType.F64)) {
            Tensor t = Tensor.ofFloats(new TensorSpec("w", d, 64, 64), t32.toFloats());
            Tensor back = codec.decode(codec.encode(t, params("step", "0.2")));
            assertThat(back.dtype()).isEqualTo(d);
            assertThat(TensorMetrics.compare(t, back).relL2()).isLessThan(0.1);
        }
    }
}
