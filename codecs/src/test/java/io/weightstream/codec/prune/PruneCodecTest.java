package io.weightstream.codec.prune;

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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PruneCodecTest extends AbstractCodecContractTest {
    private final PruneCodec codec = new PruneCodec();

    @Override
    protected Codec codec() {
        return codec;
    }

    @Override
    protected List<CodecParams> paramSets() {
        return List.of(codec.defaultParams(),
                params("sparsity", "0.9", "positions", "delta"),
                params("sparsity", "0.3", "positions", "bitmap", "quant.bits", "8"),
                params("sparsity", "0.7", "quant.bits", "4", "axis", "last"),
                params("sparsity", "0.5", "quant.bits", "1", "axis", "first"),
                params("sparsity", "0", "quant.bits", "3"),
                params("sparsity", "1"));
    }

    @Override
    protected CodecParams corruptionParams() {
        return params("quant.bits", "4");
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
     * Exactly floor(s N) elements are zero and they are the smallest magnitudes; survivors are exact
     * (quant.bits=0) or within half a step of a grid over their channel's magnitude range, which is at most
     * the whole tensor's magnitude range split into 2^(bits-1) - 1 steps (plus float16 widening).
     */
    @Override
    protected void assertReconstruction(Tensor original, Tensor decoded, CodecParams params) {
        float[] a = floats(original);
        float[] b = floats(decoded);
        int pruned = (int) Math.floor(params.get(PruneCodec.SPARSITY) * a.length);
        int bits = params.get(PruneCodec.QUANT_BITS);
        assertPrunedAreTheSmallest(a, b, pruned, bits == 0);
        if (bits == 0) {
            for (int i = 0; i < a.length; i++) {
                if (b[i] != 0) {
                    assertThat(Float.floatToIntBits(b[i])).isEqualTo(Float.floatToIntBits(a[i]));
                }
            }
            return;
        }
        if (bits == 1) {
            for (int i = 0; i < a.length; i++) {
                if (b[i] != 0) {
                    assertThat(Math.signum(b[i])).as("sign of element %d", i).isEqualTo(Math.signum(a[i]));
                }
            }
            return;
        }
        float maxMag = 0;
        for (float x : a) {
            maxMag = Math.max(maxMag, Math.abs(x));
        }
        double step = maxMag * (1 + 0x1p-9) / ((1 << (bits - 1)) - 1);
        double ulp = original.dtype() == DType.BF16 ? 0x1p-8 : original.dtype() == DType.F16 ? 0x1p-11 : 0x1p-23;
        for (int i = 0; i < a.length; i++) {
            if (b[i] != 0) {
                assertThat((double) Math.abs(a[i] - b[i])).as("element %d", i)
                        .isLessThanOrEqualTo(step / 2 * (1 + 0x1p-9) + Math.abs(b[i]) * ulp + 1e-44);
            }
        }
    }

    /** With quantized survivors a tiny survivor may decode to 0, so only exact survivors show which were pruned. */
    private static void assertPrunedAreTheSmallest(float[] a, float[] b, int pruned, boolean exactSurvivors) {
        int zeros = 0;
        float maxPruned = 0;
        for (int i = 0; i < a.length; i++) {
            if (b[i] == 0 && a[i] != 0) {
                maxPruned = Math.max(maxPruned, Math.abs(a[i]));
            }
        }
        for (int i = 0; i < a.length; i++) {
            if (b[i] == 0) {
                zeros++;
            }
        }
        float[] mags = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            mags[i] = Math.abs(a[i]);
        }
        float[] sorted = mags.clone();
        Arrays.sort(sorted);
        if (pruned > 0 && pruned < a.length) {
            float threshold = sorted[pruned - 1];
            for (int i = 0; i < a.length; i++) {
                if (mags[i] < threshold) {
                    assertThat(b[i]).as("element %d below the threshold is pruned", i).isEqualTo(0f);
                }
                if (mags[i] > threshold && exactSurvivors) {
                    assertThat(b[i] != 0 || a[i] == 0).as("element %d above the threshold survives", i).isTrue();
                }
            }
        }
        assertThat(zeros).isGreaterThanOrEqualTo(pruned);
        if (!exactSurvivors) {
            return;
        }
        assertThat(maxPruned).isLessThanOrEqualTo(pruned == a.length ? Float.POSITIVE_INFINITY
                : pruned == 0 ? 0 : sorted[pruned - 1]);
    }

    private static float[] gaussian(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble()) * 0.05);
        }
        return v;
    }

    private static int positionsForm(byte[] payload) {
        PayloadHeader h = PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT);
        int p = h.bodyOffset();
        while (payload[p] < 0) {
            p++; // the survivor-count varint
        }
        return payload[p + 1];
    }

    @ParameterizedTest(name = "sparsity={0}")
    @CsvSource({"0.1", "0.5", "0.9", "0.99"})
    void keepsExactlyTheLargestMagnitudesWithTiesBrokenByIndex(double sparsity) {
        // coarse values: many ties at the threshold
        SplittableRandom rnd = new SplittableRandom(7);
        float[] v = new float[97 * 31];
        for (int i = 0; i < v.length; i++) {
            v[i] = (rnd.nextInt(41) - 20) / 8f;
        }
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 97, 31), v);
        float[] b = codec.decode(codec.encode(t, params("sparsity", "" + sparsity))).toFloats();
        int pruned = (int) Math.floor(sparsity * v.length);
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < v.length; i++) {
            order[i] = i;
        }
        // stable sort by magnitude: index order among equal magnitudes
        Arrays.sort(order, (x, y) -> Float.compare(Math.abs(v[x]), Math.abs(v[y])));
        for (int r = 0; r < v.length; r++) {
            int i = order[r];
            assertThat(b[i]).as("rank %d (element %d)", r, i).isEqualTo(r < pruned ? 0f : v[i]);
        }
    }

    @Test
    void positionsCodingPicksTheSmallerFormAndBothDecodeAlike() {
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 256, 256), gaussian(256 * 256, 3));
        for (String s : new String[] {"0.5", "0.95"}) {
            byte[] auto = codec.encode(t, params("sparsity", s));
            byte[] bitmap = codec.encode(t, params("sparsity", s, "positions", "bitmap"));
            byte[] gaps = codec.encode(t, params("sparsity", s, "positions", "delta"));
            assertThat(auto.length).isEqualTo(Math.min(bitmap.length, gaps.length));
            assertThat(codec.decode(bitmap).toBytes()).isEqualTo(codec.decode(gaps).toBytes())
                    .isEqualTo(codec.decode(auto).toBytes());
        }
        // random survivors at 95 % sparsity: gaps (about H(0.05)/0.05 bits per survivor) beat a raw-ish bitmap
        assertThat(positionsForm(codec.encode(t, params("sparsity", "0.95", "positions", "auto"))))
                .isEqualTo(PruneFormat.POSITIONS_DELTA);
        byte[] dense = codec.encode(t, params("sparsity", "0.95", "positions", "bitmap", "quant.bits", "8"));
        // 5 % survivors at 8 bits plus about H(0.05) = 0.29 bits per element of positions
        assertThat(dense.length).isLessThan((int) (t.spec().numel() * (0.05 + 0.29 / 8 * 1.1) + 2048));
    }

    @Test
    void halfSparsityWithEightBitSurvivorsIsAboutSixTimesSmallerThanFloat32() {
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 384, 1536), gaussian(384 * 1536, 5));
        byte[] payload = codec.encode(t, params("sparsity", "0.5", "quant.bits", "8"));
        double ratio = (double) t.spec().byteSize() / payload.length;
        // 0.5 * 8 bits + 1 bit of positions per element: 32 / 5 = 6.4
        assertThat(ratio).isBetween(6.2, 6.5);
        TensorMetrics m = TensorMetrics.compare(t, codec.decode(payload));
        // the half of smallest magnitude of a Gaussian holds 7.1 % of its energy: relL2 = sqrt(0.071) = 0.267
        assertThat(m.relL2()).isBetween(0.26, 0.275);
        // exact survivors: the same zeros, no further error
        TensorMetrics exact = TensorMetrics.compare(t, codec.decode(codec.encode(t, params("sparsity", "0.5"))));
        assertThat(exact.relL2()).isLessThan(m.relL2()).isGreaterThan(0.26);
    }

    @Test
    void signMagnitudeGridBeatsASymmetricGridOverSurvivors() {
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 64, 512), gaussian(64 * 512, 9));
        float[] a = t.toFloats();
        float[] b = codec.decode(codec.encode(t, params("sparsity", "0.5", "quant.bits", "4", "axis", "first"))).toFloats();
        double err = 0;
        double symmetricStepBound = 0;
        for (int r = 0; r < 64; r++) {
            float max = 0;
            for (int c = 0; c < 512; c++) {
                max = Math.max(max, Math.abs(a[r * 512 + c]));
            }
            // a symmetric 4-bit grid over [-max, max] has step max / 7, rms error step / sqrt(12)
            symmetricStepBound += 256 * Math.pow(max / 7, 2) / 12;
            for (int c = 0; c < 512; c++) {
                if (b[r * 512 + c] != 0) {
                    err += Math.pow(a[r * 512 + c] - b[r * 512 + c], 2);
                }
            }
        }
        assertThat(err).isLessThan(symmetricStepBound * 0.8);
    }

    @Test
    void rejectsNonFiniteValues() {
        Tensor inf = Tensor.ofFloats(new TensorSpec("inf", DType.F32, 3), new float[] {1, Float.POSITIVE_INFINITY, 0});
        assertThatThrownBy(() -> codec.encode(inf, codec.defaultParams())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("inf");
    }
}
