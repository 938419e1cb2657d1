package io.weightstream.codec.rtn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.AbstractCodecContractTest;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RtnCodecTest extends AbstractCodecContractTest {
    private final RtnCodec codec = new RtnCodec();

    @Override
    protected Codec codec() {
        return codec;
    }

    @Override
    protected List<CodecParams> paramSets() {
        return List.of(codec.defaultParams(),
                params("bits", "4", "group.size", "64", "scheme", "symmetric"),
                params("bits", "2", "axis", "last"),
                params("bits", "3", "group.size", "5", "axis", "first"),
                params("bits", "8", "entropy", "true", "axis", "last", "group.size", "7"),
                params("bits", "5", "scheme", "symmetric", "entropy", "true"));
    }

    @Override
    protected CodecParams corruptionParams() {
        return params("bits", "4", "group.size", "16");
    }

    @Override
    protected boolean supportsNonFinite() {
        return false;
    }

    private CodecParams params(String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return codec.params(m);
    }

    /**
     * Without clipping every element lies within half a step of the grid of its group, and the step of any group
     * is at most the step of a grid over the whole tensor's range (the offset rounded down and the scale rounded
     * up to float16 widen it by at most 2^-10 of the range). So |w - w'| is bounded by half of that global step,
     * plus the rounding of w' to a 16-bit output dtype.
     */
    @Override
    protected void assertReconstruction(Tensor original, Tensor decoded, CodecParams params) {
        float[] a = floats(original);
        float[] b = floats(decoded);
        int bits = params.get(RtnCodec.BITS);
        boolean asym = params.get(RtnCodec.SCHEME) == RtnCodec.Scheme.ASYMMETRIC;
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float x : a) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        double step = asym ? ((double) hi - lo + Math.abs(lo) * 0x1p-9) / RtnFormat.maxCode(bits, true)
                : Math.max(Math.abs(lo), Math.abs(hi)) / (double) RtnFormat.qmax(bits);
        double dtypeUlp = switch (original.dtype()) {
            case F16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
            default -> 0x1p-23;
        };
        for (int i = 0; i < a.length; i++) {
            double tol = step / 2 * (1 + 0x1p-9) + Math.abs(b[i]) * dtypeUlp + 1e-44;
            assertThat((double) Math.abs(a[i] - b[i])).as("element %d of %s (%s vs %s)", i, original, a[i], b[i])
                    .isLessThanOrEqualTo(tol);
        }
    }

    private static Tensor gaussian(String name, DType dtype, long seed, double sigma, long... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        TensorSpec spec = new TensorSpec(name, dtype, shape);
        float[] v = new float[(int) spec.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (normal(rnd) * sigma);
        }
        return Tensor.ofFloats(spec, v);
    }

    static double normal(SplittableRandom rnd) {
        return Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }

    private TensorMetrics roundTrip(Tensor t, CodecParams p) {
        return TensorMetrics.compare(t, codec.decode(codec.encode(t, p)));
    }

    private static int flags(byte[] payload) {
        return payload[PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT).bodyOffset() + 1];
    }

    @Test
    void eightBitPerChannelOnGaussianWeightsHasSmallError() {
        Tensor w = gaussian("w", DType.F32, 1, 0.05, 384, 1536);
        TensorMetrics m = roundTrip(w, codec.defaultParams());
        // step = range / 255 with range about 6.5 sigma over 384-1536 samples: rms error = step / sqrt(12) ~ 0.0075 sigma
        assertThat(m.relL2()).isLessThan(0.01);
        assertThat(m.cosine()).isGreaterThan(0.9999);
    }

    /** Each element within half its own group's step, groups computed here independently of the codec. */
    @ParameterizedTest(name = "bits={0} scheme={1} axis={2} g={3}")
    @CsvSource({"8,asymmetric,first,0", "8,symmetric,last,0", "4,asymmetric,last,8", "4,symmetric,first,8",
            "3,asymmetric,first,5", "2,asymmetric,last,3", "6,symmetric,last,100"})
    void everyElementIsWithinHalfAStepOfItsGroupGrid(int bits, String scheme, String axis, int g) {
        // group size 8 / 5 / 3 does not divide 37 columns nor 23 rows: the last group of a channel is shorter
        int rows = 23;
        int cols = 37;
        Tensor t = heavyTailed(rows, cols, 7);
        CodecParams p = params("bits", "" + bits, "scheme", scheme, "axis", axis, "group.size", "" + g);
        float[] a = t.toFloats();
        float[] b = codec.decode(codec.encode(t, p)).toFloats();
        boolean last = axis.equals("last");
        boolean asym = scheme.equals("asymmetric");
        int length = last ? rows : cols;
        int gl = g == 0 ? length : g;
        for (int ch = 0; ch < (last ? cols : rows); ch++) {
            for (int start = 0; start < length; start += gl) {
                int end = Math.min(length, start + gl);
                double lo = Double.POSITIVE_INFINITY;
                double hi = Double.NEGATIVE_INFINITY;
                for (int k = start; k < end; k++) {
                    double x = a[last ? k * cols + ch : ch * cols + k];
                    lo = Math.min(lo, x);
                    hi = Math.max(hi, x);
                }
                double step = asym ? (hi - lo + Math.abs(lo) * 0x1p-9) / ((1 << bits) - 1)
                        : Math.max(-lo, hi) / ((1 << (bits - 1)) - 1);
                for (int k = start; k < end; k++) {
                    int i = last ? k * cols + ch : ch * cols + k;
                    assertThat((double) Math.abs(a[i] - b[i])).as("element %d", i)
                            .isLessThanOrEqualTo(step / 2 * (1 + 0x1p-9) + 1e-7 * Math.abs(a[i]));
                }
            }
        }
    }

    private static Tensor heavyTailed(int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            // per-row and per-column scales differ, a few large outliers
            v[i] = (float) (normal(rnd) * 0.02 * (1 + (i / cols) % 3) * (1 + (i % cols) % 4) * (rnd.nextInt(50) == 0 ? 8 : 1));
        }
        return Tensor.ofFloats(new TensorSpec("t", DType.F32, rows, cols), v);
    }

    @Test
    void asymmetricUsesTheWholeGridForAllPositiveTensors() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] v = new float[64 * 200];
        for (int i = 0; i < v.length; i++) {
            v[i] = 1 + (float) rnd.nextDouble();
        }
        Tensor t = Tensor.ofFloats(new TensorSpec("positive", DType.F32, 64, 200), v);
        float[] back = codec.decode(codec.encode(t, params("bits", "4", "scheme", "asymmetric"))).toFloats();
        for (int i = 0; i < v.length; i++) {
            // range [1, 2) in 15 steps: at most 1/30 off (plus the float16 offset rounding)
            assertThat(Math.abs(v[i] - back[i])).isLessThanOrEqualTo(1f / 30 * 1.01f);
        }
        double asym = roundTrip(t, params("bits", "4", "scheme", "asymmetric")).relL2();
        double sym = roundTrip(t, params("bits", "4", "scheme", "symmetric")).relL2();
        // symmetric spends half its codes on negative values that never occur, and has 15 -> 7 steps over [0, 2]
        assertThat(asym).isLessThan(sym / 3);
    }

    @ParameterizedTest(name = "bits={0}")
    @CsvSource({"2", "3", "4", "5", "6", "7", "8"})
    void codesArePackedTightly(int bits) {
        Tensor t = gaussian("w", DType.F32, bits, 0.1, 33, 65);
        byte[] payload = codec.encode(t, params("bits", "" + bits, "axis", "first", "scheme", "symmetric"));
        int header = PayloadHeader.of(codec, t.spec()).size();
        // bits, flags, group size (1 byte varint), scale bias, 33 float16 scales, ceil(bits * N / 8) code bytes
        assertThat(payload.length).isEqualTo(header + 2 + 1 + 2 + 2 * 33 + (bits * 33 * 65 + 7) / 8);
        assertThat((long) payload.length).isLessThanOrEqualTo(codec.maxEncodedLength(t.spec(), codec.defaultParams()));
    }

    @Test
    void autoAxisPicksTheAxisAlongWhichScalesDiffer() {
        SplittableRandom rnd = new SplittableRandom(5);
        float[] byColumn = new float[256 * 128];
        float[] byRow = new float[256 * 128];
        for (int r = 0; r < 256; r++) {
            for (int c = 0; c < 128; c++) {
                double x = normal(rnd);
                // ONNX MatMul [in, out] whose output columns have very different magnitudes, and its transpose
                byColumn[r * 128 + c] = (float) (x * Math.pow(2, c % 8));
                byRow[r * 128 + c] = (float) (x * Math.pow(2, r % 8));
            }
        }
        Tensor cols = Tensor.ofFloats(new TensorSpec("matmul", DType.F32, 256, 128), byColumn);
        Tensor rows = Tensor.ofFloats(new TensorSpec("linear", DType.F32, 256, 128), byRow);
        assertThat(flags(codec.encode(cols, codec.defaultParams())) & RtnFormat.FLAG_LAST_AXIS).isNotZero();
        assertThat(flags(codec.encode(rows, codec.defaultParams())) & RtnFormat.FLAG_LAST_AXIS).isZero();
        // and auto is as good as the better explicit choice
        assertThat(roundTrip(cols, codec.defaultParams()).relL2())
                .isEqualTo(roundTrip(cols, params("axis", "last")).relL2())
                .isLessThan(roundTrip(cols, params("axis", "first")).relL2() * 0.8);
        assertThat(roundTrip(rows, codec.defaultParams()).relL2())
                .isEqualTo(roundTrip(rows, params("axis", "first")).relL2());
    }

    @Test
    void entropyCodingShrinksEightBitCodesAndDecodesToTheSameValues() {
        Tensor w = gaussian("w", DType.F32, 9, 0.05, 256, 384);
        byte[] packed = codec.encode(w, params("bits", "8"));
        byte[] coded = codec.encode(w, params("bits", "8", "entropy", "true"));
        assertThat(flags(coded) & RtnFormat.FLAG_ENTROPY).isNotZero();
        // a Gaussian quantized with a step of range/255 has an entropy of about 7.5 bits; channels of
        // different ranges mix their code distributions, so expect a little less than that
        assertThat(coded.length).isLessThan((int) (0.97 * packed.length));
        assertThat(codec.decode(coded).toBytes()).isEqualTo(codec.decode(packed).toBytes());
        // uniform codes do not pay: packed it stays
        SplittableRandom rnd = new SplittableRandom(1);
        float[] u = new float[4096];
        for (int i = 0; i < u.length; i++) {
            u[i] = (float) rnd.nextDouble();
        }
        Tensor uniform = Tensor.ofFloats(new TensorSpec("u", DType.F32, 4096), u);
        byte[] p = codec.encode(uniform, params("bits", "4", "entropy", "true"));
        assertThat(flags(p) & RtnFormat.FLAG_ENTROPY).isZero();
    }

    @Test
    void clippingLowersTheErrorOfHeavyTailedWeightsAtFewBits() {
        Tensor t = heavyTailed(64, 256, 11);
        double plain = roundTrip(t, params("bits", "3", "group.size", "64")).mse();
        double clipped = roundTrip(t, params("bits", "3", "group.size", "64", "clip.steps", "20")).mse();
        assertThat(clipped).isLessThan(plain * 0.9);
        assertThat(codec.encode(t, params("bits", "3", "group.size", "64", "clip.steps", "20")))
                .hasSameSizeAs(codec.encode(t, params("bits", "3", "group.size", "64")));
    }

    @Test
    void symmetricKeepsZerosExactAndSixteenBitDTypesComeBackInTheirDType() {
        float[] v = new float[3 * 40];
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 3 == 0 ? 0f : (float) normal(rnd);
        }
        for (DType d : List.of(DType.F32, DType.F16, DType.BF16)) {
            Tensor t = Tensor.ofFloats(new TensorSpec("z", d, 3, 40), v);
            Tensor back = codec.decode(codec.encode(t, params("scheme", "symmetric", "bits", "3")));
            assertThat(back.dtype()).isEqualTo(d);
            float[] b = back.toFloats();
            for (int i = 0; i < v.length; i += 3) {
                assertThat(b[i]).isEqualTo(0f);
            }
        }
    }

    @Test
    void tinyAndHugeWeightsKeepTheirPrecisionThroughTheExponentBias() {
        for (double sigma : new double[] {1e-30, 1e-9, 1e4, 1e30}) {
            Tensor t = gaussian("w", DType.F32, 4, sigma, 64, 64);
            assertThat(roundTrip(t, codec.defaultParams()).relL2()).as("sigma %s", sigma).isLessThan(0.01);
        }
    }

    @Test
    void rejectsNonFiniteValuesAndRangesBeyondFloat32() {
        Tensor nan = Tensor.ofFloats(new TensorSpec("nan", DType.F32, 2, 2), new float[] {1, Float.NaN, 0, 2});
        assertThatThrownBy(() -> codec.encode(nan, codec.defaultParams()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nan").hasMessageContaining("NaN");
        Tensor wide = Tensor.ofFloats(new TensorSpec("wide", DType.F32, 2), new float[] {-3e38f, 3e38f});
        assertThatThrownBy(() -> codec.encode(wide, codec.defaultParams())).isInstanceOf(IllegalArgumentException.class);
    }
}
