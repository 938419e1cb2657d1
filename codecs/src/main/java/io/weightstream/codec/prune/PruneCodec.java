package io.weightstream.codec.prune;

import io.weightstream.codec.Codec;
import io.weightstream.codec.AbstractCodec;
import io.weightstream.codec.CodecParameter;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.PayloadWriter;
import io.weightstream.codec.entropy.ByteRans;
import io.weightstream.codec.lossless.LosslessCodec;
import io.weightstream.codec.rtn.BiasedHalf;
import io.weightstream.codec.rtn.PackedCodes;
import io.weightstream.codec.rtn.RtnCodec;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * {@code prune}: magnitude pruning. The {@code floor(sparsity * N)} elements of smallest magnitude become 0
 * (threshold found by radix selection in O(N), ties broken by index, so exactly that many); the positions of
 * the survivors are stored as a bitmap or as deltas (gaps between survivors), each rANS-coded
 * ({@code positions=auto} keeps the smaller);
 * the survivors are stored exactly (a nested {@code lossless} payload, {@code quant.bits=0}) or quantized to
 * a sign and a {@code (bits-1)}-bit magnitude on a per-channel grid over the survivors' magnitude range
 * [min|w|, max|w|] (survivors are never near 0, so this beats a symmetric grid over [-max, max]). Layout:
 * {@link PruneFormat}.
 *
 * <p>NaN and infinities are rejected with IllegalArgumentException: keep such tensors with {@code lossless}.
 *
 * <p>All-MiniLM-L6-v2 does not take pruning well (whole model, 1-D tensors lossless, mean cosine of the
 * sentence embeddings): {@code sparsity=0.1, quant.bits=8} 4.11x at 0.9945, {@code 0.2} 4.42x at 0.972,
 * {@code 0.3} 4.85x at 0.927, {@code 0.5} 6.26x at 0.67; exact survivors at 0.5: 2.35x at 0.67.
 *
 * <pre>{@code
 * Codec prune = Codecs.get("prune");
 * byte[] payload = prune.encode(tensor, prune.params(Map.of("sparsity", "0.7", "quant.bits", "8")));
 * Tensor back = prune.decode(payload);     // 70 % zeros, the rest within half a step
 * }</pre>
 */
public final class PruneCodec extends AbstractCodec {
    public static final String NAME = "prune";

    /** How the survivors' positions are stored. */
    public enum Positions {
        /** Whichever of BITMAP and DELTA is smaller for this tensor. */
        AUTO,
        /** One bit per element, rANS-coded (near the entropy for randomly placed survivors). */
        BITMAP,
        /** Distances between survivors, rANS-coded (smaller at high sparsity or clustered survivors). */
        DELTA
    }

    public static final CodecParameter<Double> SPARSITY = CodecParameter.ofDouble("sparsity", 0.5, 0.0, 1.0,
            "fraction of the elements, those of smallest magnitude, set to zero");
    public static final CodecParameter<Positions> POSITIONS = CodecParameter.ofEnum("positions", Positions.class,
            Positions.AUTO, "how survivor positions are coded: bitmap, delta (gaps between survivors), "
                    + "or auto (the smaller)");
    public static final CodecParameter<Integer> QUANT_BITS = CodecParameter.ofInt("quant.bits", 0, 0,
            PruneFormat.MAX_BITS, "0 = survivors kept exactly (lossless-coded, original dtype); 1..8 = bits per "
                    + "survivor: a sign and a (bits-1)-bit magnitude with float16 offset and step per channel");
    public static final CodecParameter<RtnCodec.Axis> AXIS = CodecParameter.ofEnum("axis", RtnCodec.Axis.class,
            RtnCodec.Axis.AUTO, "channels of quantized survivors, as rtn's axis: first = rows, last = columns, "
                    + "auto = the one with the smaller estimated error");

    private static final List<CodecParameter<?>> PARAMETERS = List.of(SPARSITY, POSITIONS, QUANT_BITS, AXIS);
    private static final Set<DType> DTYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);
    private static final LosslessCodec LOSSLESS = new LosslessCodec();
    /** Average survivors per channel below which {@code axis=auto} avoids a layout. */
    private static final int MIN_AUTO_CHANNEL = 32;

    public PruneCodec() {
        super(NAME, PruneFormat.FORMAT_VERSION, "magnitude pruning with compact positions; survivors exact or quantized",
                PARAMETERS, DTYPES, false);
    }

    /** How many of {@code n} elements a sparsity prunes (floor, at most n); shared with hyper's prune option. */
    public static long prunedCount(long n, double sparsity) {
        return Math.min(n, (long) Math.floor(sparsity * n));
    }

    /**
     * The indices, ascending, of the {@code v.length - pruned} elements of largest magnitude: the
     * {@code pruned} smallest are dropped, ties at the threshold broken by index (earlier elements go first).
     * O(N) radix selection; the one magnitude selection of the project (hyper's prune option uses it too).
     */
    public static int[] survivors(float[] v, int pruned) {
        return PruneKernels.survivors(v, pruned);
    }

    @Override
    public long maxEncodedLength(TensorSpec spec, CodecParams params) {
        params.requireFor(this);
        long n = spec.numel();
        long k = n - prunedCount(n, params.get(SPARSITY));
        long bitmap = 1 + (n + 7) / 8;
        long delta = 10 + 1 + k + n / 255 + 1;
        long positions = switch (params.get(POSITIONS)) {
            case BITMAP -> bitmap;
            case DELTA -> delta;
            case AUTO -> Math.min(bitmap, delta);
        };
        int bits = params.get(QUANT_BITS);
        long survivors;
        if (bits == 0) {
            survivors = 10 + LOSSLESS.maxEncodedLength(new TensorSpec("", spec.dtype(), k), LOSSLESS.defaultParams());
        } else {
            long channels = Math.max(channels(spec, false), channels(spec, true));
            survivors = 4 + 4 * channels + PackedCodes.length(k, bits);
        }
        return PayloadHeader.of(this, spec).size() + 10 + 3 + positions + survivors;
    }

    private static long channels(TensorSpec spec, boolean lastAxis) {
        long n = spec.numel();
        if (n == 0) {
            return 0;
        }
        if (spec.rank() <= 1) {
            return 1;
        }
        return lastAxis ? spec.dim(spec.rank() - 1) : spec.dim(0);
    }

    @Override
    public byte[] encode(Tensor tensor, CodecParams params) {
        params.requireFor(this);
        TensorSpec spec = tensor.spec();
        requireSupported(spec);
        long bound = maxEncodedLength(spec, params);
        if (bound > DecodeLimits.MAX_ARRAY_BYTES || spec.byteSize() > DecodeLimits.MAX_ARRAY_BYTES) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "' of "
                    + spec.byteSize() + " bytes is too large for one payload; split it first");
        }
        float[] v = tensor.toFloats();
        requireFinite(spec, v);
        int n = v.length;
        int pruned = (int) prunedCount(n, params.get(SPARSITY));
        int k = n - pruned;
        int[] idx = PruneKernels.survivors(v, pruned);
        int bits = params.get(QUANT_BITS);

        PayloadWriter out = new PayloadWriter((int) Math.min(bound, 1 << 20));
        PayloadHeader.of(this, spec).write(out);
        out.varint(k);
        // positions: code both forms when auto and keep the smaller
        Positions form = params.get(POSITIONS);
        byte[] bitmapStream = null;
        int bitmapLength = Integer.MAX_VALUE;
        if (form != Positions.DELTA) {
            byte[] bitmap = PruneKernels.bitmap(idx, n);
            bitmapStream = new byte[ByteRans.maxEncodedLength(bitmap.length)];
            bitmapLength = new ByteRans.Encoder().encode(bitmap, 0, bitmap.length, null, bitmapStream, 0, 0.0);
        }
        byte[] deltaStream = null;
        int deltaLength = Integer.MAX_VALUE;
        int deltaCount = 0;
        if (form != Positions.BITMAP) {
            deltaCount = PruneKernels.deltaBytes(idx);
            byte[] deltas = PruneKernels.deltas(idx, deltaCount);
            deltaStream = new byte[ByteRans.maxEncodedLength(deltaCount)];
            deltaLength = new ByteRans.Encoder().encode(deltas, 0, deltaCount, null, deltaStream, 0, 0.0);
            deltaLength += PayloadWriter.varintSize(deltaCount);
        }
        boolean useDelta = deltaLength < bitmapLength;
        out.u8(useDelta ? PruneFormat.POSITIONS_DELTA : PruneFormat.POSITIONS_BITMAP);
        out.u8(bits);
        SurvivorGrid grid = bits == 0 ? null : SurvivorGrid.fit(spec, v, idx, bits, params.get(AXIS));
        out.u8(grid != null && grid.lastAxis ? PruneFormat.FLAG_LAST_AXIS : 0);
        if (useDelta) {
            out.varint(deltaCount);
            out.bytes(deltaStream, 0, deltaLength - PayloadWriter.varintSize(deltaCount));
        } else {
            out.bytes(bitmapStream, 0, bitmapLength);
        }
        if (grid == null) {
            byte[] exact = LOSSLESS.encode(survivorValues(tensor, idx), LOSSLESS.defaultParams());
            out.varint(exact.length);
            out.bytes(exact);
        } else {
            grid.write(out, v, idx);
        }
        return out.toByteArray();
    }

    /** The survivors' raw values in the original dtype, as a 1-D tensor. */
    private static Tensor survivorValues(Tensor tensor, int[] idx) {
        int w = tensor.dtype().size();
        byte[] src = tensor.toBytes();
        byte[] out = new byte[idx.length * w];
        for (int j = 0; j < idx.length; j++) {
            copyElement(src, idx[j], out, j, w);
        }
        return new Tensor(new TensorSpec("survivors", tensor.dtype(), idx.length), ByteBuffer.wrap(out));
    }

    private static final java.lang.invoke.VarHandle SHORT =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(short[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.invoke.VarHandle INT =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(int[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.invoke.VarHandle LONG =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Copies element {@code from} of {@code src} to element {@code to} of {@code dst}, {@code w} bytes each. */
    private static void copyElement(byte[] src, int from, byte[] dst, int to, int w) {
        switch (w) {
            case 2 -> SHORT.set(dst, 2 * to, (short) SHORT.get(src, 2 * from));
            case 4 -> INT.set(dst, 4 * to, (int) INT.get(src, 4 * from));
            case 8 -> LONG.set(dst, 8 * to, (long) LONG.get(src, 8 * from));
            default -> System.arraycopy(src, from * w, dst, to * w, w);
        }
    }

    @Override
    public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader h = readHeader(in, limits);
        int n = (int) h.numel();
        int k = in.varintInt(n, "survivor count");
        int formAt = in.position();
        int form = in.u8();
        if (form != PruneFormat.POSITIONS_BITMAP && form != PruneFormat.POSITIONS_DELTA) {
            throw new CorruptPayloadException(formAt, "unknown positions form " + form);
        }
        int bits = in.u8In(0, PruneFormat.MAX_BITS, "survivor bits");
        int flagsAt = in.position();
        int flags = in.u8();
        if ((flags & ~PruneFormat.FLAG_LAST_AXIS) != 0 || (flags != 0 && (bits == 0 || h.rank() <= 1))) {
            throw new CorruptPayloadException(flagsAt, "unexpected flags " + flags);
        }
        int positionsAt = in.position();
        int[] idx;
        ByteRans.Decoder rans = new ByteRans.Decoder();
        if (form == PruneFormat.POSITIONS_BITMAP) {
            int length = (n + 7) >>> 3;
            byte[] bitmap = new byte[limits.checkAllocation(length, positionsAt, "bitmap")];
            rans.decode(in, bitmap, 0, length);
            limits.checkAllocation(4L * k, positionsAt, "survivor indices");
            idx = PruneKernels.fromBitmap(bitmap, n, k, positionsAt);
        } else {
            // every survivor takes at least one gap byte, every 255 pruned elements at most one more
            int m = in.varintInt((int) Math.min(Integer.MAX_VALUE, k + n / 255L + 1), "delta byte count");
            byte[] deltas = new byte[limits.checkAllocation(m, positionsAt, "deltas")];
            rans.decode(in, deltas, 0, m);
            limits.checkAllocation(4L * k, positionsAt, "survivor indices");
            idx = PruneKernels.fromDeltas(deltas, n, k, positionsAt);
        }
        ByteBuffer out;
        if (bits == 0) {
            out = scatterExact(in, h, idx, limits);
        } else {
            float[] values = new float[n];
            SurvivorGrid.decode(in, h, (flags & PruneFormat.FLAG_LAST_AXIS) != 0, bits, idx, values);
            out = FloatConversions.fromFloats(h.dtype(), values);
        }
        in.requireEnd("survivors");
        return new Tensor(h.spec(""), out);
    }

    private static ByteBuffer scatterExact(PayloadReader in, PayloadHeader h, int[] idx, DecodeLimits limits) {
        int lengthAt = in.position();
        int length = in.varintInt(in.remaining(), "survivor payload length");
        PayloadReader nested = in.slice(length, "survivor payload");
        int start = nested.position();
        Tensor values;
        try {
            values = LOSSLESS.decode(ByteBuffer.wrap(nested.array(), nested.arrayIndex(), length).slice(), limits);
        } catch (CorruptPayloadException e) {
            throw new CorruptPayloadException(start + e.offset(), "survivor values: " + e.getMessage(), e);
        }
        if (values.dtype() != h.dtype() || values.spec().rank() != 1 || values.spec().numel() != idx.length) {
            throw new CorruptPayloadException(lengthAt, "survivor values are " + values.spec() + ", expected "
                    + idx.length + " of " + h.dtype());
        }
        int w = h.dtype().size();
        byte[] out = new byte[limits.checkAllocation(h.byteSize(), lengthAt, "tensor")];
        byte[] src = values.toBytes();
        for (int j = 0; j < idx.length; j++) {
            copyElement(src, j, out, idx[j], w);
        }
        return ByteBuffer.wrap(out);
    }

    /** Per-channel float16 offset and step of the survivors' magnitudes. */
    static final class SurvivorGrid {
        final boolean lastAxis;
        final int bits;
        final int offsetBias;
        final int stepBias;
        final short[] offsetHalves;
        final short[] stepHalves;
        /** Channel of each survivor and survivors per channel (encoder side only). */
        final int[] channel;
        final int[] count;

        private SurvivorGrid(boolean lastAxis, int bits, int offsetBias, int stepBias, short[] offsetHalves,
                             short[] stepHalves, int[] channel, int[] count) {
            this.lastAxis = lastAxis;
            this.bits = bits;
            this.offsetBias = offsetBias;
            this.stepBias = stepBias;
            this.offsetHalves = offsetHalves;
            this.stepHalves = stepHalves;
            this.channel = channel;
            this.count = count;
        }

        /** Columns of the 2-D view: elements per row (first) or the last dimension (last); 0 for empty tensors. */
        static int cols(long[] shape, long n, boolean lastAxis) {
            if (n == 0) {
                return 0;
            }
            if (shape.length <= 1) {
                return (int) n;
            }
            return (int) (lastAxis ? shape[shape.length - 1] : n / shape[0]);
        }

        static int channelCount(long[] shape, long n, boolean lastAxis) {
            if (n == 0) {
                return 0;
            }
            return shape.length <= 1 ? 1 : (int) (lastAxis ? shape[shape.length - 1] : shape[0]);
        }

        static SurvivorGrid fit(TensorSpec spec, float[] v, int[] idx, int bits, RtnCodec.Axis axis) {
            long[] shape = spec.shape();
            int k = idx.length;
            if (axis == RtnCodec.Axis.AUTO && shape.length >= 2 && v.length > 0) {
                SurvivorGrid byRow = fit(shape, v, idx, bits, false);
                SurvivorGrid byColumn = fit(shape, v, idx, bits, true);
                boolean rowOk = (long) byRow.offsetHalves.length * MIN_AUTO_CHANNEL <= k;
                boolean colOk = (long) byColumn.offsetHalves.length * MIN_AUTO_CHANNEL <= k;
                if (rowOk != colOk) {
                    return colOk ? byColumn : byRow;
                }
                if (!rowOk) {
                    return byColumn.offsetHalves.length < byRow.offsetHalves.length ? byColumn : byRow;
                }
                return byColumn.estimatedError() <= byRow.estimatedError() ? byColumn : byRow;
            }
            return fit(shape, v, idx, bits, axis == RtnCodec.Axis.LAST && shape.length >= 2);
        }

        private static SurvivorGrid fit(long[] shape, float[] v, int[] idx, int bits, boolean lastAxis) {
            int cols = cols(shape, v.length, lastAxis);
            int channels = channelCount(shape, v.length, lastAxis);
            int[] channel = PruneKernels.channels(idx, cols, lastAxis);
            float[] lo = new float[channels];
            float[] hi = new float[channels];
            double[] sum = new double[channels];
            int[] count = new int[channels];
            java.util.Arrays.fill(lo, Float.POSITIVE_INFINITY);
            for (int j = 0; j < idx.length; j++) {
                int c = channel[j];
                float m = Math.abs(v[idx[j]]);
                lo[c] = Math.min(lo[c], m);
                hi[c] = Math.max(hi[c], m);
                sum[c] += m;
                count[c]++;
            }
            int levels = 1 << (bits - 1);
            float maxOffset = 0;
            for (int c = 0; c < channels; c++) {
                if (count[c] == 0) {
                    lo[c] = 0;
                } else if (levels == 1) {
                    // one magnitude level: the mean magnitude minimizes the squared error
                    lo[c] = (float) (sum[c] / count[c]);
                }
                maxOffset = Math.max(maxOffset, lo[c]);
            }
            int offsetBias = BiasedHalf.bias(maxOffset);
            short[] offsetHalves = new short[channels];
            float[] raw = new float[channels];
            float maxStep = 0;
            for (int c = 0; c < channels; c++) {
                if (levels == 1) {
                    offsetHalves[c] = BiasedHalf.nearest(lo[c], offsetBias);
                } else {
                    offsetHalves[c] = BiasedHalf.floor(lo[c], offsetBias);
                    if (count[c] > 0) {
                        float off = BiasedHalf.decode(offsetHalves[c], offsetBias);
                        raw[c] = (hi[c] - off) / (levels - 1);
                        maxStep = Math.max(maxStep, raw[c]);
                    }
                }
            }
            int stepBias = BiasedHalf.bias(maxStep);
            short[] stepHalves = new short[channels];
            for (int c = 0; c < channels; c++) {
                stepHalves[c] = BiasedHalf.ceil(raw[c], stepBias);
            }
            return new SurvivorGrid(lastAxis, bits, offsetBias, stepBias, offsetHalves, stepHalves, channel, count);
        }

        /** Sum over channels of survivors * step^2: proportional to the squared rounding error. */
        private double estimatedError() {
            double sum = 0;
            for (int c = 0; c < count.length; c++) {
                double s = BiasedHalf.decode(stepHalves[c], stepBias);
                sum += count[c] * s * s;
            }
            return sum;
        }

        void write(PayloadWriter out, float[] v, int[] idx) {
            out.u16(offsetBias);
            out.u16(stepBias);
            for (short s : offsetHalves) {
                out.u16(s);
            }
            for (short s : stepHalves) {
                out.u16(s);
            }
            int channels = offsetHalves.length;
            float[] off = new float[channels];
            float[] inv = new float[channels];
            float[] step = new float[channels];
            for (int c = 0; c < channels; c++) {
                off[c] = BiasedHalf.decode(offsetHalves[c], offsetBias);
                step[c] = BiasedHalf.decode(stepHalves[c], stepBias);
                inv[c] = step[c] == 0 ? 0 : 1 / step[c];
            }
            int maxQ = (1 << (bits - 1)) - 1;
            int k = idx.length;
            byte[] codes = new byte[k];
            for (int j = 0; j < k; j++) {
                int c = channel[j];
                float x = v[idx[j]];
                float m = Math.abs(x);
                int q;
                if (maxQ == 0) {
                    q = 0;
                } else if (Float.isFinite(inv[c])) {
                    q = (int) ((m - off[c]) * inv[c] + 0.5f);
                } else {
                    q = (int) ((m - off[c]) / step[c] + 0.5f);
                }
                q = Math.min(Math.max(q, 0), maxQ);
                int sign = Float.floatToRawIntBits(x) >>> 31;
                codes[j] = (byte) (sign << (bits - 1) | q);
            }
            int length = (int) PackedCodes.length(k, bits);
            byte[] buf = out.ensureCapacity(length);
            PackedCodes.pack(codes, 0, k, bits, buf, out.position());
            out.advance(length);
        }

        static void decode(PayloadReader in, PayloadHeader h, boolean lastAxis, int bits, int[] idx, float[] values) {
            long[] shape = h.shape();
            int n = values.length;
            int cols = cols(shape, n, lastAxis);
            int channels = channelCount(shape, n, lastAxis);
            int offsetBias = readBias(in, "offset");
            int stepBias = readBias(in, "step");
            in.require(4L * channels, "channel offsets and steps");
            float[] off = readHalves(in, channels, offsetBias, "offset");
            float[] step = readHalves(in, channels, stepBias, "step");
            int k = idx.length;
            long length = PackedCodes.length(k, bits);
            int codesAt = in.position();
            in.require(length, "survivor codes");
            if (!PackedCodes.paddingIsZero(in.array(), in.arrayIndex(), k, bits)) {
                throw new CorruptPayloadException(codesAt + length - 1, "non-zero padding after the last code");
            }
            byte[] codes = new byte[k];
            PackedCodes.unpack(in.array(), in.arrayIndex(), k, bits, codes, 0);
            in.skip((int) length);
            int signBit = 1 << (bits - 1);
            int qMask = signBit - 1;
            int[] channel = PruneKernels.channels(idx, cols, lastAxis);
            for (int j = 0; j < k; j++) {
                int c = channel[j];
                int code = codes[j] & 0xff;
                float m = (code & qMask) * step[c] + off[c];
                values[idx[j]] = (code & signBit) != 0 ? -m : m;
            }
        }

        private static int readBias(PayloadReader in, String what) {
            int at = in.position();
            int bias = (short) in.u16();
            if (bias < BiasedHalf.MIN_BIAS || bias > BiasedHalf.MAX_BIAS) {
                throw new CorruptPayloadException(at, what + " exponent bias " + bias + " out of range");
            }
            return bias;
        }

        private static float[] readHalves(PayloadReader in, int count, int bias, String what) {
            float[] out = new float[count];
            for (int i = 0; i < count; i++) {
                int at = in.position();
                out[i] = BiasedHalf.decode((short) in.u16(), bias);
                if (!Float.isFinite(out[i])) {
                    throw new CorruptPayloadException(at, "non-finite " + what + " of channel " + i);
                }
            }
            return out;
        }
    }
}
