package io.weightstream.codec.inr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.AbstractCodecContractTest;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The codec contract and the {@code inr} rules, with {@link RandomFeatureTrainer} standing in for the DJL trainer
 * (the inr-trainer module runs the contract again with real training).
 */
class InrCodecTest extends AbstractCodecContractTest {
    private final InrCodec codec = new InrCodec();

    @org.junit.jupiter.api.BeforeAll
    void useTheStandInTrainer() {
        InrCodec.trainers = () -> Optional.of(new RandomFeatureTrainer());
    }

    @org.junit.jupiter.api.AfterAll
    void restoreTheTrainerLookup() {
        InrCodec.trainers = InrTrainer::find;
    }

    @Override
    protected Codec codec() {
        return codec;
    }

    private CodecParams params(String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return codec.params(m);
    }

    /** Networks for every tensor of rank >= 2 where the ratio leaves room, accepted whatever their error. */
    private CodecParams networkEverywhere() {
        return params("min.bytes", "0", "ratio", "8", "tile", "4", "depth", "1", "fallback", "store",
                "fallback.mse", "1e9");
    }

    @Override
    protected List<CodecParams> paramSets() {
        return List.of(params("fallback", "store"), networkEverywhere());
    }

    @Override
    protected CodecParams corruptionParams() {
        return params("min.bytes", "0", "ratio", "12", "tile", "1", "depth", "1", "mod.width", "4", "fallback", "store",
                "fallback.mse", "1e9");
    }

    @Override
    protected boolean supportsNonFinite() {
        return false;
    }

    /** The contract's samples without its 300 x 701 noise (701 is prime: one value per grid point, slow here),
     *  plus a 120 x 260 noise layer over 100 KB. */
    @Override
    protected List<Tensor> sampleTensors(DType dtype) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : super.sampleTensors(dtype)) {
            if (!t.name().equals("large")) {
                out.add(t);
            }
        }
        if (dtype.isFloatingPoint()) {
            out.add(weights("wide", dtype, new SplittableRandom(5), 120, 260));
        }
        return out;
    }

    /**
     * A layer a network of {@code params} represents exactly: the output of {@link RandomFeatureTrainer}'s sine
     * layers (the same seed) through a random output layer, scaled like weights.
     */
    private Tensor representable(int rows, int cols, CodecParams params) {
        Tensor shape = weights("probe", DType.F32, new SplittableRandom(1), rows, cols);
        InrArchitecture arch = InrProblem.of(shape, params).architecture();
        float[][] w = RandomFeatureTrainer.initialWeights(arch, params.get(InrCodec.SEED));
        SplittableRandom rnd = new SplittableRandom(2);
        float[] out = w[w.length - 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (rnd.nextDouble() - 0.5);
        }
        float[] v = new InrNetwork(arch, w).evaluateAll();
        for (int i = 0; i < v.length; i++) {
            v[i] *= 0.05f;
        }
        return Tensor.ofFloats(new TensorSpec("representable", DType.F32, rows, cols), v);
    }

    /**
     * A layer comes back exact (stored) or as a network that passed the fallback rule: normalised MSE at most
     * fallback.mse, outliers bit-exact. The smooth layer under networkEverywhere() is fitted closely.
     */
    @Override
    protected void assertReconstruction(Tensor original, Tensor decoded, CodecParams params) {
        if (Arrays.equals(original.toBytes(), decoded.toBytes())) {
            return;
        }
        float[] a = floats(original);
        float[] b = floats(decoded);
        InrBody body = InrBody.split(a, params.get(InrCodec.OUTLIER_FRACTION));
        double mse = InrCodec.normalisedMse(a, b, body.halfRange());
        assertThat(mse).as("normalised MSE of %s", original).isLessThanOrEqualTo(params.get(InrCodec.FALLBACK_MSE));
        int size = original.dtype().size();
        byte[] ob = original.toBytes();
        byte[] db = decoded.toBytes();
        for (int i : body.outliers()) {
            assertThat(Arrays.copyOfRange(db, i * size, (i + 1) * size)).as("outlier %d of %s", i, original)
                    .isEqualTo(Arrays.copyOfRange(ob, i * size, (i + 1) * size));
        }
    }

    @Test
    void blocksHoldAboutBlockValuesValuesWhateverTheShape() {
        CodecParams defaults = codec.defaultParams();
        // 24576 values: 16 rows of [384, 1536], 64 of [1536, 384]: equal blocks for both FFN projections
        assertThat(InrCodec.blockRows(new long[] {384, 1536}, defaults)).isEqualTo(16);
        assertThat(InrCodec.blockRows(new long[] {1536, 384}, defaults)).isEqualTo(64);
        assertThat(InrCodec.blockRows(new long[] {64, 32, 5, 5}, defaults)).isEqualTo(31); // the grid takes 16
        assertThat(InrArchitecture.gridOf(new long[] {64, 32, 5, 5}, 16, 31)[0]).isEqualTo(16);
        assertThat(InrCodec.blockRows(new long[] {10, 1_000_000}, defaults)).isEqualTo(1);
        assertThat(InrCodec.blockRows(new long[] {40_000}, defaults)).isZero();
        assertThat(InrCodec.blockRows(new long[] {1536, 384}, params("block.values", "6144"))).isEqualTo(16);
        assertThat(InrCodec.blockRows(new long[] {1536, 384}, params("block.rows", "8"))).isEqualTo(8);
        assertThat(InrCodec.blockRows(new long[] {1536, 384}, params("block.rows", "0"))).isZero();
    }

    @Test
    void isDiscoveredByName() {
        assertThat(Codecs.get("inr")).isInstanceOf(InrCodec.class);
        // no trainer in this module: the DJL one lives in inr-trainer
        assertThat(InrTrainer.find()).isEmpty();
    }

    @Test
    void outOfScopeTensorsAreKeptAsTheyAreWithoutATrainer() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (Tensor t : List.of(weights("bias", DType.F32, rnd, 40_000), weights("small", DType.F32, rnd, 100, 100),
                weights("norm", DType.BF16, rnd, 384))) {
            byte[] payload = codec.encode(t, codec.defaultParams(), Optional.empty());
            assertThat(codec.decode(payload).toBytes()).as(t.name()).isEqualTo(t.toBytes());
            assertThat(payload.length).isEqualTo(PayloadHeader.of(codec, t.spec()).size() + 1 + t.toBytes().length);
        }
    }

    @Test
    void aLayerInScopeNeedsTheTrainer() {
        Tensor t = weights("layer", DType.F32, new SplittableRandom(8), 256, 128);
        assertThatThrownBy(() -> codec.encode(t, codec.defaultParams(), Optional.empty()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the inr trainer (module inr-trainer, DJL) is not on the class path");
    }

    @Test
    void fallbackRuleRejectsOrStoresANetworkAboveTheThreshold() {
        // noise: no network of a sixth of its size gets within MSE 0.01 of it
        Tensor noise = weights("noise", DType.F32, new SplittableRandom(9), 256, 128);
        assertThatThrownBy(() -> codec.encode(noise, params("depth", "1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exceeds fallback.mse 0.01");
        byte[] stored = codec.encode(noise, params("depth", "1", "fallback", "store"));
        assertThat(codec.decode(stored).toBytes()).isEqualTo(noise.toBytes());
        byte[] kept = codec.encode(noise, params("depth", "1", "fallback.mse", "1e9"));
        assertThat(kept.length).isLessThan(stored.length / 4);
        // a ratio that leaves no room for any network follows the same rule
        assertThatThrownBy(() -> codec.encode(noise, params("ratio", "100000")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaves no room");
        assertThat(codec.decode(codec.encode(noise, params("ratio", "100000", "fallback", "store"))).toBytes())
                .isEqualTo(noise.toBytes());
    }

    @Test
    void aRepresentableLayerIsAcceptedAtTheTargetRatio() {
        CodecParams p = params("ratio", "10", "depth", "2", "tile", "8", "omega0", "3", "bits", "12");
        Tensor t = representable(256, 512, p);
        byte[] payload = codec.encode(t, p);
        double ratio = t.spec().byteSize() / (double) payload.length;
        // at least the target, short of it only by the last width step
        assertThat(ratio).isBetween(10.0, 10.5);
        assertThat(TensorMetrics.compare(t, codec.decode(payload)).relL2()).isLessThan(0.02);
    }

    @Test
    void aConstantBodyNeedsNoNetworkAndATinyOneIsKeptAsItIs() {
        float[] v = new float[64 * 64];
        Arrays.fill(v, 0.5f);
        v[7] = -3f;
        v[4000] = 9f;
        Tensor flat = Tensor.ofFloats(new TensorSpec("flat", DType.F32, 64, 64), v);
        CodecParams p = params("min.bytes", "0", "outlier.fraction", String.valueOf(2.0 / v.length));
        byte[] payload = codec.encode(flat, p, Optional.empty());
        assertThat(payload[PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT).bodyOffset()])
                .isEqualTo((byte) InrFormat.MODE_FLAT);
        assertThat(payload.length).isLessThan(64);
        assertThat(codec.decode(payload).toBytes()).isEqualTo(flat.toBytes());
        // two values, both outliers: the dictionary would outweigh the tensor
        Tensor tiny = Tensor.ofFloats(new TensorSpec("tiny", DType.F32, 1, 2), new float[] {1f, 2f});
        CodecParams all = params("min.bytes", "0", "outlier.fraction", "0.5");
        byte[] small = codec.encode(tiny, all, Optional.empty());
        assertThat((long) small.length).isLessThanOrEqualTo(codec.maxEncodedLength(tiny.spec(), all));
        assertThat(codec.decode(small).toBytes()).isEqualTo(tiny.toBytes());
    }

    @Test
    void preprocessingRoundTripPatchesOutliersExactly() {
        // a layer whose body is a constant network output, with planted extremes at both ends
        SplittableRandom rnd = new SplittableRandom(10);
        int rows = 200;
        int cols = 160;
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextDouble() * 0.02 - 0.01);
        }
        int[] planted = {3, 999, 12345, 31999, 77, 20000};
        float[] extremes = {7.5f, -3.25f, 1e-3f + 5f, -9.875f, 4.0001f, -2.2f};
        for (int i = 0; i < planted.length; i++) {
            v[planted[i]] = extremes[i];
        }
        Tensor t = Tensor.ofFloats(new TensorSpec("planted", DType.F32, rows, cols), v);
        // no refit: the output layer stays the constant network this test decodes
        CodecParams p = params("outlier.fraction", String.valueOf(6.0 / v.length), "ratio", "8", "tile", "16",
                "refit", "false", "bits.edge", "8", "grid.columns", "false");
        InrProblem problem = InrProblem.of(t, p);
        int[] sorted = planted.clone();
        Arrays.sort(sorted);
        assertThat(problem.body().outliers()).containsExactly(sorted);
        assertThat(problem.mask()[planted[0]]).isZero();
        assertThat(problem.bodyElements()).isEqualTo(v.length - 6L);
        // the body is normalised to [-1, 1] by its own range, not the outliers'
        float[] target = problem.target();
        float lo = Float.MAX_VALUE;
        float hi = -Float.MAX_VALUE;
        for (int i = 0; i < target.length; i++) {
            if (problem.mask()[i] == 1f) {
                lo = Math.min(lo, target[i]);
                hi = Math.max(hi, target[i]);
            }
        }
        assertThat(lo).isEqualTo(-1f);
        assertThat(hi).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-6f));

        // a network that outputs the constant 0.25: the body decodes to lo + 1.25 * half, the outliers exactly
        float[][] w = new float[problem.architecture().parameters().size()][];
        for (int i = 0; i < w.length; i++) {
            w[i] = new float[(int) problem.architecture().parameters().get(i).size() * problem.architecture().blocks()];
        }
        Arrays.fill(w[w.length - 1], 0.25f);
        Tensor back = codec.decode(codec.network(t, problem, w, 8));
        float[] b = back.toFloats();
        float expected = problem.body().lo() + 1.25f * problem.body().halfRange();
        for (int i = 0; i < b.length; i++) {
            int k = Arrays.binarySearch(sorted, i);
            assertThat(b[i]).as("element %d", i).isEqualTo(k >= 0 ? v[i] : expected);
        }
    }

    @Test
    void decodingIsBitIdenticalHereAndEverywhere() throws Exception {
        // random weights, all bits of the format used: modulator, 3 layers, tile 4, 12-bit codes, outliers
        Tensor t = weights("golden", DType.F32, new SplittableRandom(11), 96, 160);
        // 12 bits everywhere on one grid per tensor and block, no refit: the same network as format version 1, so
        // the same decoded bytes (the hash predates version 2)
        CodecParams p = params("min.bytes", "0", "ratio", "3", "tile", "4", "depth", "3", "mod.width", "6", "bits", "12",
                "block.rows", "32", "refit", "false");
        InrProblem problem = InrProblem.of(t, p);
        SplittableRandom rnd = new SplittableRandom(12);
        float[][] w = new float[problem.architecture().parameters().size()][];
        for (int i = 0; i < w.length; i++) {
            w[i] = new float[(int) problem.architecture().parameters().get(i).size() * problem.architecture().blocks()];
            for (int j = 0; j < w[i].length; j++) {
                w[i][j] = (float) (rnd.nextDouble() - 0.5) * (i < 4 ? 0.5f : 0.2f);
            }
        }
        byte[] payload = codec.network(t, problem, w, 12);
        byte[] first = codec.decode(payload).toBytes();
        assertThat(codec.decode(payload).toBytes()).isEqualTo(first);
        // chunks of any size and any order give the same floats
        InrNetwork net = new InrNetwork(problem.architecture(), w);
        assertThat(problem.architecture().blocks()).isEqualTo(3);
        float[] all = net.evaluateAll();
        float[] one = new float[4];
        long points = problem.architecture().points();
        for (long point = 3 * points - 1; point >= 0; point -= 37) {
            net.evaluate((int) (point / points), point % points, 1, one, 0);
            assertThat(one).containsExactly(Arrays.copyOfRange(all, (int) point * 4, (int) point * 4 + 4));
        }
        // pinned: a change in evaluation order, the sine, the grid or the format changes these bytes
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(first));
        assertThat(sha).isEqualTo(GOLDEN_SHA256);
    }

    /** SHA-256 of the decoded bytes, computed once; must hold on every JVM and machine. */
    static final String GOLDEN_SHA256 = "06a9bbcdf51aec6dbc58f8abd4c25cc67d8a7858a44305b215a6cb7750edc8a4";

    @Test
    void corruptNetworkFieldsAreRejectedWithTheirOffset() {
        Tensor t = weights("layer", DType.F32, new SplittableRandom(13), 64, 128);
        byte[] payload = codec.encode(t, corruptionParams());
        PayloadHeader h = PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT);
        int mode = h.bodyOffset();
        assertThat(payload[mode]).isEqualTo((byte) InrFormat.MODE_NETWORK);
        byte[] bad = payload.clone();
        bad[mode] = 9;
        assertThatThrownBy(() -> codec.decode(bad)).isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining("unknown mode 9").extracting(e -> ((CorruptPayloadException) e).offset())
                .isEqualTo((long) mode);
        // an outlier count beyond the tensor
        byte[] many = payload.clone();
        many[mode + 1] = (byte) 0xff;
        many[mode + 2] = (byte) 0xff;
        many[mode + 3] = (byte) 0x7f;
        assertThatThrownBy(() -> codec.decode(many)).isInstanceOf(CorruptPayloadException.class);
    }
}
