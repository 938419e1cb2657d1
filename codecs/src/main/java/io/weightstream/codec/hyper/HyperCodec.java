package io.weightstream.codec.hyper;

import io.weightstream.codec.Codec;
import io.weightstream.codec.AbstractCodec;
import io.weightstream.codec.CodecParameter;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.PayloadWriter;
import io.weightstream.codec.prune.PruneCodec;
import io.weightstream.codec.entropy.ByteCoder;
import io.weightstream.codec.entropy.WideRans;
import io.weightstream.codec.rtn.PackedCodes;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * {@code hyper}: Hyper-Compression (paper 002, METHODS.md). Groups of n = 2 or 3 consecutive weights are points
 * of R^n; each is replaced by one integer "time" theta in [0, U) of the irrational winding
 * {@code h(theta) = frac(theta * a + 1/(2U))}, the trajectory node nearest to the point after it is mapped
 * into the unit cube. Per tensor: the centroid c of the points, a box of side {@code L = box * sigma} around it
 * (sigma the RMS deviation of the weights from c), and up to K outlier categories, each with its scale
 * {@code s_k = (L/2) / d_k} that pulls points up to Chebyshev distance d_k into the box. Layout:
 * {@link HyperFormat}.
 *
 * <p>What this implementation adds to the paper:
 * <ul>
 *   <li>The direction is Korobov, {@code a = (1, g, g^2 mod U) / U}, with g chosen per (n, U) for the smallest
 *       covering radius ({@link DirectionSearch}): the nodes form a lattice within 0.3 % of the hexagonal
 *       covering radius for n = 2, and decoding is exact integer arithmetic ({@code z = theta * a mod U}).</li>
 *   <li>Exact nearest node by a uniform grid of buckets with complete candidate lists ({@link NodeGrid}).</li>
 *   <li>Entropy coding ({@code entropy}): a theta is coded as the rounded Gram-Schmidt coordinates of its node
 *       in the lattice's reduced basis (n nearly independent small symbols, so order-0 coders capture almost
 *       all of the joint entropy), each symbol stream with the project's byte coder; categories with the byte
 *       coder too. A stream is coded only if that is smaller than packing it.</li>
 *   <li>The category bounds d_k minimise {@code sum n_k d_k^2} (the squared error bound) exactly over 64
 *       quantiles of the outside distances.</li>
 *   <li>{@code prune.sparsity}: magnitude pruning first (the paper's combination), the survivors' positions as
 *       a byte-coded bitmap, the survivors hyper-coded.</li>
 * </ul>
 *
 * <p>Guarantee: every group p decodes to p-hat with {@code |p - p-hat|_2 <= r * D_k} where D_k is the box side
 * of its category ({@code L} for points in the box, {@code L / s_k = 2 d_k} outside) and r the covering radius
 * of the node set in the unit cube ({@link NodeGrid#coverBound()}, about {@code 1.1 / sqrt(U)} for n = 2),
 * plus float32 rounding. NaN and infinities are rejected with IllegalArgumentException: keep such tensors
 * with {@code lossless}.
 *
 * <p>Measured on all-MiniLM-L6-v2 (whole model, 1-D tensors lossless, mean cosine of the sentence embeddings of 64
 * real paragraphs; README.md in this package has the whole curve and the commands): the defaults give 5.66x at
 * 0.9961 (rtn: 6 bits 5.16x at 0.9913), {@code box=10} 6.53x at 0.9901, and the paper's own setting
 * ({@code nodes=256, box=3, entropy=none}) 6.24x at 0.943. One core encodes about 260 MB/s and decodes about
 * 1.4 GB/s of float32 weights (rans: 1.0 GB/s).
 *
 * <p>Per-layer settings come through the policy's rules: a coarser grid for an insensitive tensor
 * ({@code {"pattern": "embeddings.word_embeddings.weight", "method": "hyper", "params": {"box": 40}}} with
 * {@code box=7} elsewhere: 7.74x at 0.9913), a finer one (more {@code nodes}, smaller {@code box}) for a sensitive one.
 *
 * <pre>{@code
 * Codec hyper = Codecs.get("hyper");
 * byte[] payload = hyper.encode(tensor, hyper.params(Map.of("nodes", "4096", "box", "6")));
 * Tensor back = hyper.decode(payload);               // original dtype and shape
 * }</pre>
 */
public final class HyperCodec extends AbstractCodec {
    public static final String NAME = "hyper";

    /** How the theta and category streams are stored. */
    public enum Entropy {
        /** Packed at ceil(log2 U) bits per theta and 1-2 bits per category. */
        NONE,
        /** rANS-coded when smaller than packed (the smallest, slower to decode). */
        RANS,
        /** Huffman-coded when smaller than packed (about 1 % larger than rANS, faster to decode). */
        HUFFMAN
    }

    public static final CodecParameter<Integer> N = CodecParameter.ofInt("n", 2, HyperFormat.MIN_N,
            HyperFormat.MAX_N, "weights per group: the dimension of the winding (the paper uses 2)");
    public static final CodecParameter<Integer> NODES = CodecParameter.ofInt("nodes", 4096, HyperFormat.MIN_NODES,
            HyperFormat.MAX_NODES, "U, trajectory nodes theta = 0..U-1 covering the box: more nodes, finer grid, "
                    + "more bits (packed: ceil(log2 U) bits per group)");
    public static final CodecParameter<Double> BOX = CodecParameter.ofDouble("box", 6.0, 1e-3, 1e3,
            "side L of the centroid box in standard deviations of the tensor's weights about the centroid; "
                    + "points outside go to the outlier categories");
    public static final CodecParameter<Integer> CATEGORIES = CodecParameter.ofInt("categories", 3, 0,
            HyperFormat.MAX_CATEGORIES, "K, outlier categories with their own scales (0 = the box grows to hold "
                    + "every point)");
    public static final CodecParameter<Entropy> ENTROPY = CodecParameter.ofEnum("entropy", Entropy.class,
            Entropy.HUFFMAN, "theta and category streams: huffman (decodes at over 1 GB/s) or rans (about 1 % "
                    + "smaller, slower to decode), each used where smaller than packing; none = always packed");
    public static final CodecParameter<Double> PRUNE_SPARSITY = CodecParameter.ofDouble("prune.sparsity", 0.0, 0.0,
            0.99, "fraction of the weights, those of smallest magnitude, set to 0 before hyper-coding the rest");

    private static final List<CodecParameter<?>> PARAMETERS = List.of(N, NODES, BOX, CATEGORIES, ENTROPY,
            PRUNE_SPARSITY);
    private static final Set<DType> DTYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);

    public HyperCodec() {
        super(NAME, HyperFormat.FORMAT_VERSION, "hyper-compression: groups of 2-3 weights as one node index of an irrational winding, entropy-coded",
                PARAMETERS, DTYPES, false);
    }

    @Override
    public long maxEncodedLength(TensorSpec spec, CodecParams params) {
        params.requireFor(this);
        long total = spec.numel();
        int n = params.get(N);
        long survivors = total - PruneCodec.prunedCount(total, params.get(PRUNE_SPARSITY));
        long groups = (survivors + n - 1) / n;
        int k = params.get(CATEGORIES);
        long body = 2 + 3 + 3 + 4L * n + 1 + 4L * (k + 1);
        if (survivors < total) {
            body += 5 + ByteCoder.maxEncodedLength((int) Math.min(Integer.MAX_VALUE - 1, (total + 7) / 8));
        }
        if (groups > 0) {
            // a coded stream is kept only when smaller than the packed one
            body += k > 0 ? 1 + HyperKernels.packedLength(groups, HyperFormat.categoryBits(k)) : 0;
            body += 1 + HyperKernels.packedLength(groups, HyperFormat.thetaBits(params.get(NODES)));
        }
        return PayloadHeader.of(this, spec).size() + body;
    }

    @Override
    public byte[] encode(Tensor tensor, CodecParams params) {
        params.requireFor(this);
        TensorSpec spec = tensor.spec();
        requireSupported(spec);
        long bound = maxEncodedLength(spec, params);
        if (bound > DecodeLimits.MAX_ARRAY_BYTES || spec.numel() > DecodeLimits.MAX_ARRAY_BYTES / 4) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "' of "
                    + spec.byteSize() + " bytes is too large for one payload; split it first");
        }
        float[] v = tensor.toFloats();
        requireFinite(spec, v);
        int n = params.get(N);
        int nodes = params.get(NODES);
        int categories = params.get(CATEGORIES);
        Entropy entropy = params.get(ENTROPY);
        int total = v.length;
        int pruned = (int) PruneCodec.prunedCount(total, params.get(PRUNE_SPARSITY));

        PayloadWriter out = new PayloadWriter((int) Math.min(bound, 1 << 20));
        PayloadHeader.of(this, spec).write(out);
        out.u8(n);
        out.u8(pruned > 0 ? HyperFormat.FLAG_PRUNED : 0);

        byte[] bitmap = null;
        float[] s = v;
        int m = total;
        if (pruned > 0) {
            int[] keep = PruneCodec.survivors(v, pruned);
            m = keep.length;
            s = new float[m];
            bitmap = new byte[(total + 7) >>> 3];
            for (int j = 0; j < m; j++) {
                int i = keep[j];
                s[j] = v[i];
                bitmap[i >>> 3] |= (byte) (1 << (i & 7));
            }
        }
        int groups = (m + n - 1) / n;

        float[] c = HyperKernels.centroid(s, m, n);
        float[] sides = boxSides(s, m, n, c, params.get(BOX), categories, spec.name());
        int g = DirectionSearch.best(n, nodes);
        WindingLattice lattice = WindingLattice.of(n, nodes, g);

        out.varint(nodes);
        out.varint(g);
        for (float x : c) {
            out.f32(x);
        }
        out.u8(sides.length - 1);
        for (float x : sides) {
            out.f32(x);
        }
        ByteCoder.Encoder bytes = new ByteCoder.Encoder();
        ByteCoder.Coding coding = entropy == Entropy.HUFFMAN ? ByteCoder.Coding.HUFFMAN : ByteCoder.Coding.RANS;
        if (bitmap != null) {
            out.varint(m);
            byte[] coded = new byte[ByteCoder.maxEncodedLength(bitmap.length)];
            int len = bytes.encode(bitmap, 0, bitmap.length, coded, 0, 0.0, coding);
            out.bytes(coded, 0, len);
        }
        if (groups == 0) {
            return out.toByteArray();
        }
        byte[] cats = new byte[groups];
        int[] thetas = new int[groups];
        HyperKernels.assign(s, m, n, c, sides, lattice, cats, thetas);

        if (sides.length > 1) {
            writeCategories(out, cats, sides.length - 1, entropy, bytes, coding);
        }
        writeThetas(out, thetas, lattice, entropy, bytes, coding);
        return out.toByteArray();
    }

    /**
     * The box side L and the sides {@code 2 d_k} of the outlier categories, as float32 values whose halves hold
     * every distance they must hold.
     */
    private static float[] boxSides(float[] s, int m, int n, float[] c, double box, int categories, String name) {
        double sigma = HyperKernels.spread(s, m, n, c);
        float side = (float) (box * sigma);
        if (Float.isInfinite(side)) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + name
                    + "' spans a range too wide for float32 arithmetic");
        }
        if (!(side > 0)) {
            // every point equals the centroid: any box will do
            side = Float.MIN_NORMAL;
        }
        double[] max = new double[1];
        double[] outside = HyperKernels.outside(s, m, n, c, side * 0.5, max);
        if (outside.length == 0) {
            return new float[] {side};
        }
        if (categories == 0) {
            return new float[] {coverSide(max[0], name)};
        }
        double[] bounds = HyperKernels.categoryBounds(outside, categories);
        float[] sides = new float[bounds.length + 1];
        sides[0] = side;
        for (int k = 0; k < bounds.length; k++) {
            sides[k + 1] = coverSide(bounds[k], name);
        }
        return sides;
    }

    /** The smallest float32 side D with {@code D / 2 >= distance}. */
    private static float coverSide(double distance, String name) {
        float side = (float) (2 * distance);
        while ((double) side * 0.5 < distance) {
            side = Math.nextUp(side);
        }
        if (Float.isInfinite(side)) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + name
                    + "' spans a range too wide for float32 arithmetic");
        }
        return side;
    }

    private static void writeCategories(PayloadWriter out, byte[] cats, int categories, Entropy entropy,
                                        ByteCoder.Encoder bytes, ByteCoder.Coding coding) {
        int groups = cats.length;
        int bits = HyperFormat.categoryBits(categories);
        int packed = (int) HyperKernels.packedLength(groups, bits);
        if (entropy != Entropy.NONE) {
            PayloadWriter sparse = sparseCategories(cats, bytes, coding, packed);
            byte[] coded = new byte[ByteCoder.maxEncodedLength(groups)];
            int len = bytes.encode(cats, 0, groups, coded, 0, 0.0, coding);
            if (sparse != null && sparse.position() <= len && sparse.position() < packed) {
                out.u8(HyperFormat.CATEGORIES_SPARSE);
                out.bytes(sparse.array(), 0, sparse.position());
                return;
            }
            if (len < packed) {
                out.u8(HyperFormat.CATEGORIES_CODED);
                out.bytes(coded, 0, len);
                return;
            }
        }
        out.u8(HyperFormat.CATEGORIES_PACKED);
        byte[] buf = out.ensureCapacity(packed);
        PackedCodes.pack(cats, 0, groups, bits, buf, out.position());
        out.advance(packed);
    }

    /** The sparse form of the categories (outlier positions as gaps), or null if it exceeds {@code limit} bytes. */
    private static PayloadWriter sparseCategories(byte[] cats, ByteCoder.Encoder bytes, ByteCoder.Coding coding,
                                                  int limit) {
        int k = 0;
        long gapBytes = 0;
        int last = -1;
        for (int j = 0; j < cats.length; j++) {
            if (cats[j] != 0) {
                gapBytes += (j - last - 1) / 255 + 1;
                last = j;
                k++;
            }
        }
        if (gapBytes + k > limit) {
            return null;
        }
        byte[] gaps = new byte[(int) gapBytes];
        byte[] values = new byte[k];
        int p = 0;
        int i = 0;
        last = -1;
        for (int j = 0; j < cats.length; j++) {
            if (cats[j] != 0) {
                int gap = j - last - 1;
                while (gap >= 255) {
                    gaps[p++] = (byte) 255;
                    gap -= 255;
                }
                gaps[p++] = (byte) gap;
                values[i++] = cats[j];
                last = j;
            }
        }
        PayloadWriter w = new PayloadWriter(gaps.length + k + 32);
        w.varint(k);
        w.varint(gaps.length);
        byte[] buf = w.ensureCapacity(ByteCoder.maxEncodedLength(gaps.length));
        w.advance(bytes.encode(gaps, 0, gaps.length, buf, w.position(), 0.0, coding));
        buf = w.ensureCapacity(ByteCoder.maxEncodedLength(k));
        w.advance(bytes.encode(values, 0, k, buf, w.position(), 0.0, coding));
        return w;
    }

    private static void writeThetas(PayloadWriter out, int[] thetas, WindingLattice lattice, Entropy entropy,
                                    ByteCoder.Encoder bytes, ByteCoder.Coding coding) {
        int groups = thetas.length;
        int bits = HyperFormat.thetaBits(lattice.nodes);
        int packed = (int) HyperKernels.packedLength(groups, bits);
        if (entropy != Entropy.NONE) {
            PayloadWriter coded = codedThetas(thetas, lattice, bytes, coding, packed);
            if (coded != null && coded.position() < packed) {
                out.u8(HyperFormat.THETA_CODED);
                out.bytes(coded.array(), 0, coded.position());
                return;
            }
        }
        out.u8(HyperFormat.THETA_PACKED);
        byte[] buf = out.ensureCapacity(packed);
        HyperKernels.pack(thetas, groups, bits, buf, out.position());
        out.advance(packed);
    }

    /** The n symbol streams of the thetas, or null as soon as they exceed {@code limit} bytes. */
    private static PayloadWriter codedThetas(int[] thetas, WindingLattice lattice, ByteCoder.Encoder bytes,
                                             ByteCoder.Coding coding, int limit) {
        int n = lattice.n;
        int groups = thetas.length;
        int[] table = lattice.nodeSymbols();
        PayloadWriter w = new PayloadWriter(Math.min(limit, 1 << 20) + 64);
        byte[] sym = null;
        int[] wide = null;
        for (int i = 0; i < n; i++) {
            int lo = Integer.MAX_VALUE;
            int hi = Integer.MIN_VALUE;
            for (int j = 0; j < groups; j++) {
                int x = table[thetas[j] * n + i];
                lo = Math.min(lo, x);
                hi = Math.max(hi, x);
            }
            int alphabet = hi - lo + 1;
            w.varint(zigzag(lo));
            w.varint(alphabet - 1);
            if (alphabet <= 256) {
                if (sym == null) {
                    sym = new byte[groups];
                }
                for (int j = 0; j < groups; j++) {
                    sym[j] = (byte) (table[thetas[j] * n + i] - lo);
                }
                byte[] buf = w.ensureCapacity(ByteCoder.maxEncodedLength(groups));
                int len = bytes.encode(sym, 0, groups, buf, w.position(), 0.0, coding);
                w.advance(len);
            } else {
                if (wide == null) {
                    wide = new int[groups];
                }
                for (int j = 0; j < groups; j++) {
                    wide[j] = table[thetas[j] * n + i] - lo;
                }
                WideRans.encode(wide, 0, groups, alphabet, w);
            }
            if (w.position() >= limit) {
                return null;
            }
        }
        return w;
    }

    static long zigzag(int v) {
        return ((long) v << 1) ^ ((long) v >> 63);
    }

    static int unzigzag(long z) {
        return (int) ((z >>> 1) ^ -(z & 1));
    }

    // ---------------------------------------------------------------- decode

    @Override
    public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader h = readHeader(in, limits);
        int total = (int) h.numel();
        int nAt = in.position();
        int n = in.u8In(HyperFormat.MIN_N, HyperFormat.MAX_N, "group size");
        int flags = in.flags(HyperFormat.KNOWN_FLAGS);
        boolean pruned = (flags & HyperFormat.FLAG_PRUNED) != 0;
        int nodesAt = in.position();
        int nodes = in.varintInt(HyperFormat.MAX_NODES, "node count");
        if (nodes < HyperFormat.MIN_NODES) {
            throw new CorruptPayloadException(nodesAt, "node count " + nodes + " below " + HyperFormat.MIN_NODES);
        }
        int g = in.varintInt(nodes - 1, "direction generator");
        float[] c = new float[n];
        for (int d = 0; d < n; d++) {
            int at = in.position();
            c[d] = in.f32();
            if (!Float.isFinite(c[d])) {
                throw new CorruptPayloadException(at, "non-finite centroid");
            }
        }
        int kAt = in.position();
        int categories = in.u8();
        if (categories > HyperFormat.MAX_CATEGORIES) {
            throw new CorruptPayloadException(kAt, categories + " outlier categories (at most 3)");
        }
        float[] sides = new float[categories + 1];
        for (int k = 0; k <= categories; k++) {
            int at = in.position();
            sides[k] = in.f32();
            if (!(sides[k] > 0) || !Float.isFinite(sides[k])) {
                throw new CorruptPayloadException(at, "box side " + sides[k] + " of category " + k);
            }
        }
        int m = total;
        byte[] bitmap = null;
        ByteCoder.Decoder bytes = new ByteCoder.Decoder();
        if (pruned) {
            m = in.varintInt(total, "survivor count");
            int bitmapAt = in.position();
            int length = (total + 7) >>> 3;
            bitmap = new byte[limits.checkAllocation(length, bitmapAt, "survivor bitmap")];
            bytes.decode(in, bitmap, 0, length);
            checkBitmap(bitmap, total, m, bitmapAt);
        }
        int groups = (m + n - 1) / n;
        float[] values = new float[limits.checkAllocation(4L * total, nAt, "values") / 4];
        if (groups > 0) {
            limits.checkAllocation((long) groups * (4L * n + 1), nAt, "groups");
            Outliers outliers = categories > 0 ? readCategories(in, groups, categories, bytes, limits) : Outliers.NONE;
            WindingLattice lattice = WindingLattice.of(n, nodes, g);
            int thetasAt = in.position();
            Thetas thetas = readThetas(in, groups, lattice, bytes, limits);
            float[] s = pruned ? new float[m] : values;
            HyperKernels.Boxes boxes = new HyperKernels.Boxes(lattice, c, sides);
            java.util.function.IntUnaryOperator thetaOf;
            if (thetas.thetas != null) {
                HyperKernels.reconstruct(thetas.thetas, m, boxes, s);
                int[] t = thetas.thetas;
                thetaOf = j -> t[j];
            } else {
                if (!HyperKernels.reconstructCoded2(thetas.s0, thetas.s1, thetas.a1, thetas.table, m, boxes, s)) {
                    throw new CorruptPayloadException(thetasAt, "coded symbols that belong to no node");
                }
                Thetas t = thetas;
                thetaOf = j -> t.table[(t.s0[j] & 0xff) * t.a1 + (t.s1[j] & 0xff)];
            }
            HyperKernels.patch(outliers.groups, outliers.categories, outliers.count, thetaOf, m, boxes, s);
            if (pruned) {
                for (int i = 0, j = 0; i < total; i++) {
                    if ((bitmap[i >>> 3] >>> (i & 7) & 1) != 0) {
                        values[i] = s[j++];
                    }
                }
            }
        }
        in.requireEnd("thetas");
        return new Tensor(h.spec(""), FloatConversions.fromFloats(h.dtype(), values));
    }

    private static void checkBitmap(byte[] bitmap, int total, int m, int at) {
        long ones = 0;
        for (byte b : bitmap) {
            ones += Integer.bitCount(b & 0xff);
        }
        int tail = total & 7;
        if (ones != m || (tail != 0 && (bitmap[bitmap.length - 1] & 0xff) >>> tail != 0)) {
            throw new CorruptPayloadException(at, "survivor bitmap with " + ones + " survivors, " + m + " declared");
        }
    }

    /** The groups outside the box and their categories, in group order. */
    private record Outliers(int count, int[] groups, byte[] categories) {
        static final Outliers NONE = new Outliers(0, new int[0], new byte[0]);
    }

    private static Outliers readCategories(PayloadReader in, int groups, int categories, ByteCoder.Decoder bytes,
                                           DecodeLimits limits) {
        int formAt = in.position();
        int form = in.u8();
        if (form == HyperFormat.CATEGORIES_SPARSE) {
            int k = in.varintInt(groups, "outlier count");
            int gapCount = in.varintInt(Integer.MAX_VALUE - 8, "gap byte count");
            int gapsAt = in.position();
            byte[] gaps = new byte[limits.checkAllocation(gapCount, gapsAt, "outlier gaps")];
            bytes.decode(in, gaps, 0, gapCount);
            int[] at = new int[limits.checkAllocation(4L * k, gapsAt, "outlier groups") / 4];
            long j = -1;
            int i = 0;
            long run = 0;
            for (byte b : gaps) {
                int v = b & 0xff;
                run += v;
                if (v != 255) {
                    j += run + 1;
                    if (i == k || j >= groups) {
                        throw new CorruptPayloadException(gapsAt, "outlier gaps beyond " + k + " outliers in "
                                + groups + " groups");
                    }
                    at[i++] = (int) j;
                    run = 0;
                }
            }
            if (i != k || run != 0) {
                throw new CorruptPayloadException(gapsAt, "outlier gaps describe " + i + " outliers, " + k + " declared");
            }
            int catsAt = in.position();
            byte[] cats = new byte[k];
            bytes.decode(in, cats, 0, k);
            for (byte c : cats) {
                if (c < 1 || c > categories) {
                    throw new CorruptPayloadException(catsAt, "outlier category " + (c & 0xff) + " not in [1, "
                            + categories + "]");
                }
            }
            return new Outliers(k, at, cats);
        }
        byte[] cats = new byte[groups];
        if (form == HyperFormat.CATEGORIES_PACKED) {
            int bits = HyperFormat.categoryBits(categories);
            long length = HyperKernels.packedLength(groups, bits);
            int at = in.position();
            in.require(length, "categories");
            if (!PackedCodes.paddingIsZero(in.array(), in.arrayIndex(), groups, bits)) {
                throw new CorruptPayloadException(at + length - 1, "non-zero padding after the last category");
            }
            PackedCodes.unpack(in.array(), in.arrayIndex(), groups, bits, cats, 0);
            in.skip((int) length);
        } else if (form == HyperFormat.CATEGORIES_CODED) {
            bytes.decode(in, cats, 0, groups);
        } else {
            throw new CorruptPayloadException(formAt, "unknown category form " + form);
        }
        int k = 0;
        int max = 0;
        for (byte b : cats) {
            max = Math.max(max, b & 0xff);
            k += b != 0 ? 1 : 0;
        }
        if (max > categories) {
            throw new CorruptPayloadException(formAt, "category " + max + " above " + categories);
        }
        int[] at = new int[k];
        byte[] values = new byte[k];
        for (int j = 0, i = 0; j < groups; j++) {
            if (cats[j] != 0) {
                at[i] = j;
                values[i++] = cats[j];
            }
        }
        return new Outliers(k, at, values);
    }

    /** Groups from which n = 2 symbol pairs are looked up in a full 256 x 256 table (a 256 KiB fill pays off). */
    static final int WIDE_TABLE_GROUPS = 1 << 15;

    /**
     * Decoded thetas: the node of every group, or (n = 2, two byte streams: the common case, decoded in one pass
     * with the reconstruction) the two symbol streams and the table from symbol pairs to nodes.
     */
    private record Thetas(int[] thetas, byte[] s0, byte[] s1, int a1, int[] table) {
    }

    /** Reads the thetas, packed or coded. */
    private static Thetas readThetas(PayloadReader in, int groups, WindingLattice lattice, ByteCoder.Decoder bytes,
                                    DecodeLimits limits) {
        int nodes = lattice.nodes;
        int formAt = in.position();
        int form = in.u8();
        int[] thetas = new int[groups];
        if (form == HyperFormat.THETA_PACKED) {
            int bits = HyperFormat.thetaBits(nodes);
            long length = HyperKernels.packedLength(groups, bits);
            int at = in.position();
            in.require(length, "thetas");
            if (!HyperKernels.unpack(in.array(), in.arrayIndex(), groups, bits, thetas)) {
                throw new CorruptPayloadException(at + length - 1, "non-zero padding after the last theta");
            }
            in.skip((int) length);
            int max = 0;
            for (int t : thetas) {
                max = Math.max(max, t);
            }
            if (max >= nodes) {
                throw new CorruptPayloadException(at, "theta " + max + " not below U = " + nodes);
            }
            return new Thetas(thetas, null, null, 0, null);
        }
        if (form != HyperFormat.THETA_CODED) {
            throw new CorruptPayloadException(formAt, "unknown theta form " + form);
        }
        int n = lattice.n;
        int[] range = lattice.symbolRange();
        int[] lo = new int[n];
        int[] alphabet = new int[n];
        // n = 2 with two byte streams and many groups: a 256 x 256 table covers every byte pair, so the symbols
        // need no range check of their own (pairs outside the alphabets map to the sentinel U like pairs of no node)
        boolean wideTable = groups >= WIDE_TABLE_GROUPS;
        byte[][] small = new byte[n][];
        int[][] wide = new int[n][];
        long cells = 1;
        for (int i = 0; i < n; i++) {
            int at = in.position();
            long zz = in.varint();
            if (zz < 0 || zz >= 2L * HyperFormat.MAX_SYMBOL_OFFSET) {
                throw new CorruptPayloadException(at, "symbol offset out of range");
            }
            lo[i] = unzigzag(zz);
            alphabet[i] = in.varintInt(HyperFormat.MAX_NODES - 1, "symbol alphabet") + 1;
            if (lo[i] < range[2 * i] || (long) lo[i] + alphabet[i] - 1 > range[2 * i + 1]) {
                throw new CorruptPayloadException(at, "symbols [" + lo[i] + ", " + ((long) lo[i] + alphabet[i])
                        + ") outside the lattice's [" + range[2 * i] + ", " + (range[2 * i + 1] + 1) + ")");
            }
            cells *= alphabet[i];
            if (alphabet[i] <= 256) {
                small[i] = new byte[groups];
                bytes.decode(in, small[i], 0, groups);
            } else {
                wide[i] = new int[groups];
                WideRans.decode(in, alphabet[i], wide[i], 0, groups);
            }
        }
        boolean pairs = n == 2 && small[0] != null && small[1] != null;
        int[] stride = alphabet;
        if (pairs && wideTable) {
            stride = new int[] {256, 256};
            cells = 256 * 256;
        } else {
            for (int i = 0; i < n; i++) {
                if (small[i] != null && alphabet[i] < 256) {
                    int max = 0;
                    for (byte b : small[i]) {
                        max = Math.max(max, b & 0xff);
                    }
                    if (max >= alphabet[i]) {
                        throw new CorruptPayloadException(formAt, "symbol " + max + " outside its alphabet of "
                                + alphabet[i]);
                    }
                }
            }
        }
        // symbol tuple -> theta; U where no node has those symbols (then the payload is corrupt)
        int[] table = new int[limits.checkAllocation(4 * cells, formAt, "symbol table") / 4];
        java.util.Arrays.fill(table, nodes);
        int[] sym = lattice.nodeSymbols();
        for (int t = 0; t < nodes; t++) {
            int idx = 0;
            boolean inside = true;
            for (int i = 0; i < n; i++) {
                int v = sym[t * n + i] - lo[i];
                inside &= v >= 0 && v < alphabet[i];
                idx = idx * stride[i] + v;
            }
            if (inside) {
                table[idx] = t;
            }
        }
        if (pairs) {
            return new Thetas(null, small[0], small[1], stride[1], table);
        }
        int bad = 0;
        for (int j = 0; j < groups; j++) {
            int idx = 0;
            for (int i = 0; i < n; i++) {
                int v = small[i] != null ? small[i][j] & 0xff : wide[i][j];
                idx = idx * alphabet[i] + v;
            }
            int t = table[idx];
            thetas[j] = t;
            bad |= nodes - 1 - t;
        }
        if (bad < 0) {
            throw new CorruptPayloadException(formAt, "coded symbols that belong to no node");
        }
        return new Thetas(thetas, null, null, 0, null);
    }
}
