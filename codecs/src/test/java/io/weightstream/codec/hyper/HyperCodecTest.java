package io.weightstream.codec.hyper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.AbstractCodecContractTest;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The codec contract plus hyper's own promises: every group within its proven bound
 * {@code |p - p-hat| <= r_cover * D_k} (D_k = L for the box, L / s_k for outlier category k), decoded values equal
 * to those of the exact nearest node (found here by brute force), pruning exactly as declared, and a golden
 * payload pinning the format and the encoder's choices.
 */
class HyperCodecTest extends AbstractCodecContractTest {
    private final HyperCodec codec = new HyperCodec();

    @Override
    protected Codec codec() {
        return codec;
    }

    @Override
    protected List<CodecParams> paramSets() {
        return List.of(codec.defaultParams(),
                params("n", "3", "nodes", "4096", "box", "5"),
                params("nodes", "256", "box", "3", "entropy", "none"),
                params("nodes", "64", "categories", "0"),
                params("nodes", "1000", "box", "0.5", "categories", "2", "entropy", "rans"),
                params("n", "3", "nodes", "729", "categories", "1", "entropy", "none"),
                params("prune.sparsity", "0.5", "nodes", "2048"),
                params("nodes", "65536", "box", "12"));
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

    /** What a payload declares before its streams. */
    record Declared(int n, boolean pruned, int nodes, int g, float[] c, float[] sides) {
        static Declared of(byte[] payload) {
            PayloadReader in = PayloadReader.of(payload);
            PayloadHeader.read(in, DecodeLimits.DEFAULT);
            int n = in.u8();
            boolean pruned = (in.u8() & HyperFormat.FLAG_PRUNED) != 0;
            int nodes = (int) in.varint();
            int g = (int) in.varint();
            float[] c = new float[n];
            for (int d = 0; d < n; d++) {
                c[d] = in.f32();
            }
            float[] sides = new float[in.u8() + 1];
            for (int k = 0; k < sides.length; k++) {
                sides[k] = in.f32();
            }
            return new Declared(n, pruned, nodes, g, c, sides);
        }

        /** Category of a group at Chebyshev distance {@code dist}: the first box whose half side holds it. */
        int category(double dist) {
            int k = 0;
            while (dist > sides[k] * 0.5) {
                k++;
            }
            return k;
        }
    }

    /** The survivors of magnitude pruning, computed here by sorting: indices in increasing order. */
    static int[] survivors(float[] v, double sparsity) {
        int pruned = (int) Math.min(v.length, Math.floor(sparsity * v.length));
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < v.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(Math.abs(v[a]), Math.abs(v[b]));
            return c != 0 ? c : Integer.compare(a, b);
        });
        boolean[] gone = new boolean[v.length];
        for (int i = 0; i < pruned; i++) {
            gone[order[i]] = true;
        }
        return java.util.stream.IntStream.range(0, v.length).filter(i -> !gone[i]).toArray();
    }

    /**
     * The proven bound, group by group: {@code |p - p-hat|_2 <= r * D_k} with r the cube covering radius bound of
     * the payload's node set, plus the rounding of p-hat to float32 and to the output dtype. Pruned elements must
     * decode to exactly 0.
     */
    @Override
    protected void assertReconstruction(Tensor original, Tensor decoded, CodecParams params) {
        float[] a = floats(original);
        float[] b = floats(decoded);
        if (a.length == 0) {
            return;
        }
        byte[] payload = codec.encode(original, params);
        Declared h = Declared.of(payload);
        double sparsity = params.get(HyperCodec.PRUNE_SPARSITY);
        int[] keep = survivors(a, sparsity);
        assertThat(h.pruned()).isEqualTo(keep.length < a.length);
        boolean[] kept = new boolean[a.length];
        for (int i : keep) {
            kept[i] = true;
        }
        for (int i = 0; i < a.length; i++) {
            if (!kept[i]) {
                assertThat(b[i]).as("pruned element %d of %s", i, original).isEqualTo(0f);
            }
        }
        WindingLattice lattice = WindingLattice.of(h.n(), h.nodes(), h.g());
        double r = lattice.grid().coverBound() / h.nodes();
        double ulp = switch (original.dtype()) {
            case F16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
            default -> 0x1p-24;
        };
        int n = h.n();
        for (int j = 0; j * n < keep.length; j++) {
            double dist = 0;
            double err2 = 0;
            double rounding = 0;
            for (int d = 0; d < n; d++) {
                int i = j * n + d;
                double p = i < keep.length ? a[keep[i]] : h.c()[d];
                dist = Math.max(dist, Math.abs(p - h.c()[d]));
                if (i < keep.length) {
                    double e = p - b[keep[i]];
                    err2 += e * e;
                    rounding += Math.abs(b[keep[i]]) * (ulp + 0x1p-24) + 1e-44;
                }
            }
            int k = h.category(dist);
            double bound = r * h.sides()[k] * (1 + 1e-9) + rounding;
            assertThat(Math.sqrt(err2)).as("group %d (category %d) of %s", j, k, original).isLessThanOrEqualTo(bound);
        }
    }

    // ---------------------------------------------------------------- exact nearest node, end to end

    /**
     * Each decoded group equals, to the last bit, the value of the node nearest to it, found by brute force over
     * all U nodes in the unit cube: the nearest-node search is exact, and the decoder computes exactly the documented
     * expression.
     */
    @ParameterizedTest(name = "n={0} U={1} box={2}")
    @CsvSource({"2,256,3", "2,4096,6", "2,1000,2", "3,512,4", "3,4096,6"})
    void decodedGroupsAreTheirExactNearestNodes(int n, int nodes, double box) {
        Tensor t = heavyTailed(40, 150, 11);
        CodecParams p = params("n", "" + n, "nodes", "" + nodes, "box", "" + box);
        byte[] payload = codec.encode(t, p);
        Declared h = Declared.of(payload);
        float[] a = t.toFloats();
        float[] b = codec.decode(payload).toFloats();
        WindingLattice lattice = WindingLattice.of(n, nodes, h.g());
        for (int j = 0; j < a.length / n; j++) {
            double dist = 0;
            for (int d = 0; d < n; d++) {
                dist = Math.max(dist, Math.abs((double) a[j * n + d] - h.c()[d]));
            }
            int k = h.category(dist);
            double side = h.sides()[k];
            // brute force in lattice units
            int best = -1;
            double bestD = Double.POSITIVE_INFINITY;
            for (int theta = 0; theta < nodes; theta++) {
                double s = 0;
                for (int d = 0; d < n; d++) {
                    double x = ((double) a[j * n + d] - h.c()[d]) * (nodes / side) + (nodes - 1) * 0.5;
                    double e = x - lattice.coordinate(theta, d);
                    s += e * e;
                }
                if (s < bestD) {
                    bestD = s;
                    best = theta;
                }
            }
            for (int d = 0; d < n; d++) {
                double w = side / nodes;
                double o = (double) h.c()[d] - side * 0.5 + w * 0.5;
                float expected = (float) (o + lattice.coordinate(best, d) * w);
                assertThat(b[j * n + d]).as("group %d coordinate %d (category %d)", j, d, k).isEqualTo(expected);
            }
        }
    }

    /** Weights with a Gaussian body and a few large outliers, like the FFN output projections of a transformer. */
    static Tensor heavyTailed(int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            double x = Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
            v[i] = (float) (0.05 * x * (rnd.nextInt(200) == 0 ? 30 : 1) + 0.01);
        }
        return Tensor.ofFloats(new TensorSpec("w", DType.F32, rows, cols), v);
    }

    // ---------------------------------------------------------------- rate and quality

    @Test
    void defaultsGiveAboutFiveAndAHalfBitsAtTwoAndAHalfPercentErrorOnGaussianWeights() {
        SplittableRandom rnd = new SplittableRandom(5);
        float[] v = new float[384 * 1536];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (0.05 * Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble()));
        }
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 384, 1536), v);
        byte[] payload = codec.encode(t, codec.defaultParams());
        TensorMetrics m = TensorMetrics.compare(t, codec.decode(payload));
        double bitsPerWeight = 8.0 * payload.length / v.length;
        // spacing L / sqrt(U) = 6 sigma / 64; rms error about 0.3 of the spacing per coordinate
        assertThat(m.relL2()).isBetween(0.02, 0.035);
        assertThat(bitsPerWeight).isBetween(5.0, 6.0);
        // packed thetas would take 6 bits per weight: the entropy coder must have won
        assertThat(payload[thetaFormOffset(payload)]).isEqualTo((byte) HyperFormat.THETA_CODED);
    }

    /** Offset of the theta form byte of a payload whose categories are sparse or absent. */
    private static int thetaFormOffset(byte[] payload) {
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader.read(in, DecodeLimits.DEFAULT);
        int n = in.u8();
        in.u8();
        in.varint();
        in.varint();
        in.skip(4 * n);
        int k = in.u8();
        in.skip(4 * (k + 1));
        if (k > 0) {
            int form = in.u8();
            assertThat(form).isEqualTo(HyperFormat.CATEGORIES_SPARSE);
            int outliers = (int) in.varint();
            int gaps = (int) in.varint();
            byte[] tmp = new byte[gaps];
            new io.weightstream.codec.entropy.ByteCoder.Decoder().decode(in, tmp, 0, gaps);
            new io.weightstream.codec.entropy.ByteCoder.Decoder().decode(in, new byte[outliers], 0, outliers);
        }
        return in.position();
    }

    @Test
    void moreNodesMeanSmallerErrorAndMoreBytes() {
        Tensor t = heavyTailed(256, 512, 3);
        double previousError = Double.POSITIVE_INFINITY;
        int previousLength = 0;
        for (int nodes : new int[] {256, 1024, 4096, 16384}) {
            byte[] payload = codec.encode(t, params("nodes", "" + nodes));
            double e = TensorMetrics.compare(t, codec.decode(payload)).relL2();
            assertThat(e).as("error at U=%d", nodes).isLessThan(previousError * 0.6);
            assertThat(payload.length).as("bytes at U=%d", nodes).isGreaterThan(previousLength);
            previousError = e;
            previousLength = payload.length;
        }
    }

    @Test
    void outlierCategoriesCutTheErrorOfHeavyTails() {
        Tensor t = heavyTailed(256, 512, 9);
        double none = TensorMetrics.compare(t, codec.decode(codec.encode(t, params("categories", "0")))).relL2();
        double three = TensorMetrics.compare(t, codec.decode(codec.encode(t, params("categories", "3")))).relL2();
        // without categories the box grows to the largest outlier and the grid coarsens with it
        assertThat(three).isLessThan(none / 3);
    }

    @Test
    void categoriesAreOrderedBoxesEndingAtTheLargestDistance() {
        Tensor t = heavyTailed(128, 128, 21);
        byte[] payload = codec.encode(t, codec.defaultParams());
        Declared h = Declared.of(payload);
        float[] v = t.toFloats();
        double max = 0;
        for (int j = 0; j < v.length / 2; j++) {
            max = Math.max(max, Math.max(Math.abs(v[2 * j] - (double) h.c()[0]), Math.abs(v[2 * j + 1] - (double) h.c()[1])));
        }
        assertThat(h.sides()).hasSize(4);
        for (int k = 1; k < h.sides().length; k++) {
            assertThat(h.sides()[k]).isGreaterThan(h.sides()[k - 1]);
        }
        float last = h.sides()[h.sides().length - 1];
        assertThat(last * 0.5).isGreaterThanOrEqualTo(max);
        assertThat((double) Math.nextDown(last) * 0.5).isLessThan(max);
    }

    @Test
    void pruningZeroesExactlyTheSmallestMagnitudesAndShrinksThePayload() {
        Tensor t = heavyTailed(96, 200, 17);
        float[] a = t.toFloats();
        byte[] plain = codec.encode(t, codec.defaultParams());
        byte[] pruned = codec.encode(t, params("prune.sparsity", "0.6"));
        float[] b = codec.decode(pruned).toFloats();
        int[] keep = survivors(a, 0.6);
        assertThat(keep).hasSize(a.length - (int) Math.floor(0.6 * a.length));
        long zeros = Arrays.stream(keep).filter(i -> b[i] == 0f).count();
        long allZeros = 0;
        for (float x : b) {
            allZeros += x == 0f ? 1 : 0;
        }
        assertThat(allZeros - zeros).isEqualTo(a.length - keep.length);
        assertThat(pruned.length).isLessThan(plain.length * 7 / 10);
    }

    @Test
    void pruningBreaksTiesByIndex() {
        float[] v = {0.5f, -0.1f, 0.1f, 0.1f, -0.1f, 0.3f, 0.2f, 0.1f};
        Tensor t = Tensor.ofFloats(new TensorSpec("ties", DType.F32, v.length), v);
        float[] b = codec.decode(codec.encode(t, params("prune.sparsity", "0.5"))).toFloats();
        // four of the five 0.1 magnitudes go, the lowest indices first: 1, 2, 3, 4; index 7 stays
        assertThat(b[1]).isZero();
        assertThat(b[2]).isZero();
        assertThat(b[3]).isZero();
        assertThat(b[4]).isZero();
        assertThat(b[7]).isNotZero();
    }

    // ---------------------------------------------------------------- determinism across machines

    /**
     * A seeded tensor encodes to these exact bytes and decodes to these exact floats on every machine: the
     * direction search, the nearest-node search, the category bounds and the decoder are all deterministic.
     * Update both hashes only with a format change (and a new format version).
     */
    @Test
    void goldenPayload() throws Exception {
        Tensor t = heavyTailed(64, 96, 1234);
        byte[] payload = codec.encode(t, codec.defaultParams());
        byte[] decoded = codec.decode(payload).toBytes();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        String payloadHash = HexFormat.of().formatHex(sha.digest(payload));
        String decodedHash = HexFormat.of().formatHex(sha.digest(decoded));
        assertThat(payloadHash + " " + decodedHash).isEqualTo(GOLDEN);
    }

    private static final String GOLDEN = "d98e9eebb6931f46ffaf766782633d3e155605d66558365dfdf565d21e215c53 "
            + "f74237a2761e48ae377609222fcfb1996ba775eb3f0fb62d84ae6b422dfdf850";

    // ---------------------------------------------------------------- corrupt input beyond the default form

    /** The truncation and bit-flip sweeps on payloads of the other forms: packed, dense categories, pruned, n = 3. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {"nodes=256,box=3,entropy=none", "box=0.4,categories=2,entropy=rans",
            "prune.sparsity=0.3", "n=3,nodes=1000", "nodes=65536,box=12"})
    void otherFormsFailCleanlyWhenCorrupted(String settings) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : settings.split(",")) {
            m.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        }
        byte[] payload = codec.encode(heavyTailed(23, 41, 77), codec.params(m));
        for (int cut = 0; cut < payload.length; cut++) {
            byte[] prefix = Arrays.copyOf(payload, cut);
            assertThatThrownBy(() -> codec.decode(ByteBuffer.wrap(prefix), TIGHT))
                    .isInstanceOf(CorruptPayloadException.class);
        }
        SplittableRandom rnd = new SplittableRandom(3);
        for (int pos = 0; pos < payload.length; pos++) {
            for (int j = 0; j < 2; j++) {
                byte[] bad = payload.clone();
                bad[pos] ^= (byte) (1 << rnd.nextInt(8));
                decodeCorrupt(bad, TIGHT, "bit flip at " + pos);
            }
        }
    }

    /**
     * Large tensors (from {@link HyperCodec#WIDE_TABLE_GROUPS} groups) look symbol pairs up in a full 256 x 256 table
     * without checking the symbols first: corrupt symbols must still end as CorruptPayloadException.
     */
    @Test
    void largeTensorsFailCleanlyWhenCorrupted() {
        Tensor t = heavyTailed(256, 300, 99);
        assertThat(t.spec().numel() / 2).isGreaterThanOrEqualTo(HyperCodec.WIDE_TABLE_GROUPS);
        byte[] payload = codec.encode(t, codec.defaultParams());
        SplittableRandom rnd = new SplittableRandom(12);
        for (int q = 0; q < 1500; q++) {
            byte[] bad = payload.clone();
            int pos = q < 500 ? rnd.nextInt(Math.min(400, payload.length)) : rnd.nextInt(payload.length);
            bad[pos] = (byte) (q % 3 == 0 ? rnd.nextInt(256) : bad[pos] ^ (1 << rnd.nextInt(8)));
            decodeCorrupt(bad, TIGHT, "byte " + pos + " changed");
        }
        for (int q = 0; q < 200; q++) {
            int cut = rnd.nextInt(payload.length);
            assertThatThrownBy(() -> codec.decode(ByteBuffer.wrap(Arrays.copyOf(payload, cut)), TIGHT))
                    .isInstanceOf(CorruptPayloadException.class);
        }
    }

    @Test
    void codedSymbolsOfNoNodeAreRejected() {
        // all symbol pairs within the declared alphabets but off the node set must be caught: flip symbols in
        // the raw-stored symbol streams of a tiny tensor until one decodes to no node
        Tensor t = heavyTailed(2, 500, 5);
        byte[] payload = codec.encode(t, params("nodes", "4096", "entropy", "rans"));
        int rejected = 0;
        for (int pos = payload.length - 200; pos < payload.length; pos++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] bad = payload.clone();
                bad[pos] ^= (byte) (1 << bit);
                try {
                    codec.decode(bad);
                } catch (CorruptPayloadException e) {
                    rejected++;
                }
            }
        }
        assertThat(rejected).isPositive();
    }

    @Test
    void rejectsParametersOfAnotherCodecAndNonFloatTensors() {
        Tensor ints = new Tensor(new TensorSpec("i", DType.I32, 4), ByteBuffer.allocate(16));
        assertThatThrownBy(() -> codec.encode(ints, codec.defaultParams())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dtype");
        CodecParams rtn = io.weightstream.codec.Codecs.get("rtn").defaultParams();
        assertThatThrownBy(() -> codec.encode(heavyTailed(2, 2, 1), rtn)).isInstanceOf(IllegalArgumentException.class);
    }
}
