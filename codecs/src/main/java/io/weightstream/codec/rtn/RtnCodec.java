package io.weightstream.codec.rtn;

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
import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * {@code rtn}: round-to-nearest quantization to 2..8 bits per weight with a float16 scale (and, asymmetric, a
 * float16 offset) per channel or per group of {@code g} consecutive inputs of a channel; what data-free
 * HQQ/bitsandbytes-style quantization does. Codes are packed tightly ({@code bits * N / 8} bytes) or, with
 * {@code entropy=true}, rANS-coded when that is smaller. Layout: {@link RtnFormat}.
 *
 * <p>Channels ({@code axis}): {@code first} = rows of {@code [d0, rest]} (PyTorch Linear {@code [out, in]},
 * convolutions, and embeddings {@code [vocab, dim]}: one scale per token), {@code last} = columns of
 * {@code [rest, dlast]} (ONNX MatMul weights stored {@code [in, out]}: one scale per output), {@code auto}
 * (default) = whichever of the two has the smaller estimated squared error {@code sum(n_g * step_g^2)} for
 * this tensor, computed from the group ranges in one extra pass, among the layouts whose groups hold 32 elements
 * on average (shorter groups spend more on scales than they win). Tensors of rank 0 or 1 are one channel.
 *
 * <p>Guarantee without clipping ({@code clip.steps=0}): every finite element decodes within half a step,
 * {@code |w - w'| <= S/2} for its group's decoded scale S (up to float32 rounding). NaN and infinities are
 * rejected with IllegalArgumentException: keep such tensors with {@code lossless}.
 *
 * <p>Defaults, measured on all-MiniLM-L6-v2 (whole model, 1-D tensors lossless, mean cosine of the sentence
 * embeddings of 64 real paragraphs against the float32 model):
 * <ul>
 *   <li>{@code scheme=asymmetric}: better at 8 bits whatever the axis (auto 0.99943 vs symmetric 0.99918;
 *       last 0.99972 vs 0.99954) for 0.5 % more bytes (3.946x vs 3.966x).</li>
 *   <li>{@code axis=auto}: the one default that holds at every bit width. Per output column ({@code last}) is
 *       best at 8 bits for ONNX MatMul weights (0.99972, 3.971x, vs auto 0.99943, 3.946x) but the FFN output
 *       projections [1536, 384] have outlier input rows that stretch every column's grid, so {@code last}
 *       collapses at fewer bits (6 bits per channel: 0.953 vs auto 0.991; 4 bits per channel: 0.18). For
 *       8-bit ONNX models set {@code axis=last} in the policy; for PyTorch-layout tensors ([out, in]) the output
 *       channel is {@code first}.</li>
 *   <li>{@code bits=4, group.size=64}: 7.06x at 0.970 (auto; last 0.960, first 0.963); {@code clip.steps=20}
 *       0.9725; {@code group.size=32} 6.36x at 0.979.</li>
 *   <li>{@code entropy=true}: the same codes, so bit-identical weights, in fewer bytes: 8 bits 4.22x instead of
 *       3.95x, 4 bits g=64 7.49x instead of 7.06x; decoding then runs the rANS decoder first.</li>
 * </ul>
 *
 * <pre>{@code
 * Codec rtn = Codecs.get("rtn");
 * byte[] payload = rtn.encode(tensor, rtn.params(Map.of("bits", "4", "group.size", "64")));
 * Tensor back = rtn.decode(payload);               // original dtype and shape
 * }</pre>
 */
public final class RtnCodec extends AbstractCodec {
    public static final String NAME = "rtn";

    /** How codes map to values. */
    public enum Scheme {
        /** {@code w' = (q - qmax) * S}, q in [0, 2 qmax], qmax = 2^(b-1) - 1: zero is exact, one code unused. */
        SYMMETRIC,
        /** {@code w' = q * S + O}, q in [0, 2^b - 1]: the grid spans [min, max] of the group. */
        ASYMMETRIC
    }

    /** Which axis indexes the channels that get their own scales. */
    public enum Axis {
        /** The one of FIRST and LAST with the smaller estimated error for this tensor. */
        AUTO,
        /** Rows of {@code [d0, rest]}. */
        FIRST,
        /** Columns of {@code [rest, dlast]}. */
        LAST
    }

    public static final CodecParameter<Integer> BITS = CodecParameter.ofInt("bits", 8, RtnFormat.MIN_BITS,
            RtnFormat.MAX_BITS, "bits per weight");
    public static final CodecParameter<Scheme> SCHEME = CodecParameter.ofEnum("scheme", Scheme.class, Scheme.ASYMMETRIC,
            "asymmetric: grid over [min, max] with a float16 offset per group (lower error on all-MiniLM-L6-v2 at "
                    + "every bit width); symmetric: grid over [-max|w|, max|w|], zero exact, no offsets");
    public static final CodecParameter<Axis> AXIS = CodecParameter.ofEnum("axis", Axis.class, Axis.AUTO,
            "channels with their own scales: first = rows of [d0, rest] (Linear [out,in], embeddings [vocab,dim]), "
                    + "last = columns of [rest, dlast] (ONNX MatMul [in,out]), auto = the one with the smaller "
                    + "estimated error");
    public static final CodecParameter<Integer> GROUP_SIZE = CodecParameter.ofInt("group.size", 0, 0,
            Integer.MAX_VALUE, "consecutive inputs of a channel sharing one scale; 0 = the whole channel");
    public static final CodecParameter<Boolean> ENTROPY = CodecParameter.ofBoolean("entropy", false,
            "rANS-code the codes (one byte each) when that is smaller than packing them; slower to decode");
    public static final CodecParameter<Integer> CLIP_STEPS = CodecParameter.ofInt("clip.steps", 0, 0, 100,
            "0 = each group's grid spans its [min, max]; n > 0 = also try n narrower ranges (down to half) per group "
                    + "and keep the one with the least squared error (clips outliers; slower to encode)");

    private static final List<CodecParameter<?>> PARAMETERS = List.of(BITS, SCHEME, AXIS, GROUP_SIZE, ENTROPY, CLIP_STEPS);
    private static final Set<DType> DTYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);

    public RtnCodec() {
        super(NAME, RtnFormat.FORMAT_VERSION, "round-to-nearest quantization, 2-8 bits, float16 scales per channel or group",
                PARAMETERS, DTYPES, false);
    }

    @Override
    public long maxEncodedLength(TensorSpec spec, CodecParams params) {
        params.requireFor(this);
        long n = spec.numel();
        int g = params.get(GROUP_SIZE);
        long groups = Math.max(ChannelLayout.of(spec.shape(), n, false, g).groups(),
                ChannelLayout.of(spec.shape(), n, true, g).groups());
        // bits, flags, group size, two biases, scales and offsets, packed codes (rANS is used only if smaller)
        return PayloadHeader.of(this, spec).size() + 2 + 5 + 4 + 4 * groups + PackedCodes.length(n, params.get(BITS));
    }

    @Override
    public byte[] encode(Tensor tensor, CodecParams params) {
        params.requireFor(this);
        TensorSpec spec = tensor.spec();
        requireSupported(spec);
        long bound = maxEncodedLength(spec, params);
        if (bound > DecodeLimits.MAX_ARRAY_BYTES || spec.numel() > DecodeLimits.MAX_ARRAY_BYTES) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "' of "
                    + spec.byteSize() + " bytes is too large for one payload; split it first");
        }
        int bits = params.get(BITS);
        boolean asymmetric = params.get(SCHEME) == Scheme.ASYMMETRIC;
        int groupSize = params.get(GROUP_SIZE);
        float[] v = tensor.toFloats();
        int n = v.length;

        GroupRanges ranges = GroupRanges.of(spec, v, params.get(AXIS), groupSize, asymmetric);
        ChannelLayout layout = ranges.layout;
        float[] lo = ranges.lo;
        float[] hi = ranges.hi;
        int groups = lo.length;
        for (int i = 0; i < groups; i++) {
            if (!Float.isFinite(lo[i]) || !Float.isFinite(hi[i])) {
                throw nonFinite(spec);
            }
        }
        int clipSteps = params.get(CLIP_STEPS);
        if (clipSteps > 0) {
            RtnClipping.narrowRanges(v, layout, lo, hi, bits, asymmetric, clipSteps);
        }
        GroupGrid grid = GroupGrid.fit(lo, hi, bits, asymmetric, spec.name());

        int maxCode = RtnFormat.maxCode(bits, asymmetric);
        int packedLength = (int) PackedCodes.length(n, bits);
        boolean entropyWanted = params.get(ENTROPY) && n > 0;
        PayloadWriter out = new PayloadWriter((int) bound);
        PayloadHeader.of(this, spec).write(out);
        int flagsAt = out.position() + 1;
        out.u8(bits);
        out.u8((asymmetric ? RtnFormat.FLAG_ASYMMETRIC : 0) | (layout.lastAxis() ? RtnFormat.FLAG_LAST_AXIS : 0));
        out.varint(groupSize);
        out.u16(grid.scaleBias);
        if (asymmetric) {
            out.u16(grid.offsetBias);
        }
        for (short h : grid.scaleHalves) {
            out.u16(h);
        }
        if (asymmetric) {
            for (short h : grid.offsetHalves) {
                out.u16(h);
            }
        }
        byte[] buf = out.ensureCapacity(packedLength);
        if (bits == 8 && !entropyWanted) {
            // the common case: codes go straight into the payload
            RtnKernels.quantize(v, layout, grid.offsets, grid.inverses, grid.scales, maxCode, buf, out.position());
            out.advance(n);
        } else {
            byte[] codes = new byte[n];
            RtnKernels.quantize(v, layout, grid.offsets, grid.inverses, grid.scales, maxCode, codes, 0);
            int codedLength = Integer.MAX_VALUE;
            byte[] coded = null;
            if (entropyWanted) {
                coded = new byte[ByteRans.maxEncodedLength(n)];
                codedLength = new ByteRans.Encoder().encode(codes, 0, n, null, coded, 0, 0.0);
            }
            if (codedLength < packedLength) {
                buf[flagsAt] |= RtnFormat.FLAG_ENTROPY;
                out.bytes(coded, 0, codedLength);
            } else {
                PackedCodes.pack(codes, 0, n, bits, buf, out.position());
                out.advance(packedLength);
            }
        }
        byte[] payload = out.array();
        return out.position() == payload.length ? payload : out.toByteArray();
    }

    /** The layout chosen for a tensor and the minimum and maximum of each of its groups. */
    static final class GroupRanges {
        /** Average elements per group below which {@code axis=auto} avoids a layout (scales cost >= 1 bit per weight). */
        static final int MIN_AUTO_GROUP = 32;

        final ChannelLayout layout;
        final float[] lo;
        final float[] hi;

        private GroupRanges(ChannelLayout layout, float[] v) {
            this.layout = layout;
            this.lo = new float[(int) layout.groups()];
            this.hi = new float[lo.length];
            RtnKernels.ranges(v, layout, lo, hi);
        }

        /** The ranges for {@code axis}; AUTO compares the estimated squared error of both orientations. */
        static GroupRanges of(TensorSpec spec, float[] v, Axis axis, int groupSize, boolean asymmetric) {
            long[] shape = spec.shape();
            if (axis != Axis.AUTO || shape.length <= 1 || v.length == 0) {
                return new GroupRanges(ChannelLayout.of(shape, v.length, axis == Axis.LAST, groupSize), v);
            }
            ChannelLayout first = ChannelLayout.of(shape, v.length, false, groupSize);
            ChannelLayout last = ChannelLayout.of(shape, v.length, true, groupSize);
            // groups shorter than MIN_AUTO_GROUP spend more on scales than they can win (e.g. [2, 384] by column)
            boolean firstOk = first.groups() * MIN_AUTO_GROUP <= v.length;
            boolean lastOk = last.groups() * MIN_AUTO_GROUP <= v.length;
            if (!firstOk && !lastOk) {
                return new GroupRanges(last.groups() < first.groups() ? last : first, v);
            }
            if (firstOk != lastOk) {
                return new GroupRanges(lastOk ? last : first, v);
            }
            GroupRanges byRow = new GroupRanges(first, v);
            GroupRanges byColumn = new GroupRanges(last, v);
            return byColumn.estimatedError(asymmetric) <= byRow.estimatedError(asymmetric) ? byColumn : byRow;
        }

        /** {@code sum over groups of n_g * width_g^2}: proportional to the squared error of uniform rounding. */
        double estimatedError(boolean asymmetric) {
            double sum = 0;
            for (int i = 0; i < lo.length; i++) {
                double width = asymmetric ? (double) hi[i] - lo[i] : 2 * Math.max(Math.abs(lo[i]), Math.abs(hi[i]));
                sum += layout.groupElements(i) * width * width;
            }
            return sum;
        }
    }

    @Override
    public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader h = readHeader(in, limits);
        int n = (int) h.numel();
        int bits = in.u8In(RtnFormat.MIN_BITS, RtnFormat.MAX_BITS, "bits per code");
        int flagsAt = in.position();
        int flags = in.flags(RtnFormat.KNOWN_FLAGS);
        boolean asymmetric = (flags & RtnFormat.FLAG_ASYMMETRIC) != 0;
        boolean lastAxis = (flags & RtnFormat.FLAG_LAST_AXIS) != 0;
        if (lastAxis && h.rank() <= 1) {
            throw new CorruptPayloadException(flagsAt, "channels along the last axis of a tensor of rank " + h.rank());
        }
        int groupSize = in.varintInt(Integer.MAX_VALUE, "group size");
        ChannelLayout layout = ChannelLayout.of(h.shape(), n, lastAxis, groupSize);
        int scaleBias = readBias(in, "scale");
        int offsetBias = asymmetric ? readBias(in, "offset") : 0;
        long groups = layout.groups();
        in.require(groups * (asymmetric ? 4 : 2), "scales of " + groups + " groups");
        float[] scales = new float[(int) groups];
        float[] offsets = new float[(int) groups];
        readHalves(in, scales, scaleBias, "scale");
        int qmax = RtnFormat.qmax(bits);
        if (asymmetric) {
            readHalves(in, offsets, offsetBias, "offset");
        } else {
            for (int i = 0; i < scales.length; i++) {
                offsets[i] = -(qmax * scales[i]);
                if (!Float.isFinite(offsets[i])) {
                    throw new CorruptPayloadException(h.bodyOffset(), "scale of group " + i + " out of range");
                }
            }
        }
        int maxCode = RtnFormat.maxCode(bits, asymmetric);
        byte[] codes;
        int at;
        int codesAt = in.position();
        if ((flags & RtnFormat.FLAG_ENTROPY) != 0) {
            codes = new byte[limits.checkAllocation(n, codesAt, "codes")];
            new ByteRans.Decoder().decode(in, codes, 0, n);
            at = 0;
        } else {
            long packed = PackedCodes.length(n, bits);
            in.require(packed, "codes");
            if (!PackedCodes.paddingIsZero(in.array(), in.arrayIndex(), n, bits)) {
                throw new CorruptPayloadException(codesAt + packed - 1, "non-zero padding after the last code");
            }
            if (bits == 8) {
                codes = in.array();
                at = in.arrayIndex();
            } else {
                codes = new byte[limits.checkAllocation(n, codesAt, "codes")];
                PackedCodes.unpack(in.array(), in.arrayIndex(), n, bits, codes, 0);
                at = 0;
            }
            in.skip((int) packed);
        }
        in.requireEnd("codes");
        if (maxCode < 255 && RtnKernels.maxCode(codes, at, n) > maxCode) {
            throw new CorruptPayloadException(codesAt, "code above " + maxCode);
        }
        float[] values = new float[n];
        RtnKernels.dequantize(codes, at, layout, scales, offsets, values);
        return new Tensor(h.spec(""), FloatConversions.fromFloats(h.dtype(), values));
    }

    private static int readBias(PayloadReader in, String what) {
        int at = in.position();
        int bias = (short) in.u16();
        if (bias < BiasedHalf.MIN_BIAS || bias > BiasedHalf.MAX_BIAS) {
            throw new CorruptPayloadException(at, what + " exponent bias " + bias + " out of range");
        }
        return bias;
    }

    private static void readHalves(PayloadReader in, float[] dst, int bias, String what) {
        for (int i = 0; i < dst.length; i++) {
            int at = in.position();
            dst[i] = BiasedHalf.decode((short) in.u16(), bias);
            if (!Float.isFinite(dst[i])) {
                throw new CorruptPayloadException(at, "non-finite " + what + " of group " + i);
            }
        }
    }

    /** The float16 scales and offsets of every group and what the quantizer needs of them. */
    static final class GroupGrid {
        final short[] scaleHalves;
        final short[] offsetHalves;
        final int scaleBias;
        final int offsetBias;
        /** Decoded scales S, offsets O (symmetric: -(qmax * S)) and 1/S (0 where S is 0). */
        final float[] scales;
        final float[] offsets;
        final float[] inverses;

        private GroupGrid(int groups, boolean asymmetric, int scaleBias, int offsetBias) {
            this.scaleHalves = new short[groups];
            this.offsetHalves = asymmetric ? new short[groups] : new short[0];
            this.scaleBias = scaleBias;
            this.offsetBias = offsetBias;
            this.scales = new float[groups];
            this.offsets = new float[groups];
            this.inverses = new float[groups];
        }

        /**
         * Fits the grid of each group to its range [lo, hi]: the offset rounded down and the scale rounded up to
         * float16, so the grid still covers the range and no element is off by more than half a step.
         */
        static GroupGrid fit(float[] lo, float[] hi, int bits, boolean asymmetric, String tensorName) {
            int groups = lo.length;
            int steps = RtnFormat.maxCode(bits, asymmetric);
            int qmax = RtnFormat.qmax(bits);
            float maxOffset = 0;
            if (asymmetric) {
                for (int i = 0; i < groups; i++) {
                    maxOffset = Math.max(maxOffset, Math.abs(lo[i]));
                }
            }
            int offsetBias = BiasedHalf.bias(maxOffset);
            float[] off = new float[groups];
            short[] offHalves = new short[groups];
            float[] raw = new float[groups];
            float maxScale = 0;
            for (int i = 0; i < groups; i++) {
                float s;
                if (asymmetric) {
                    offHalves[i] = BiasedHalf.floor(lo[i], offsetBias);
                    off[i] = BiasedHalf.decode(offHalves[i], offsetBias);
                    s = (hi[i] - off[i]) / steps;
                } else {
                    s = Math.max(Math.abs(lo[i]), Math.abs(hi[i])) / qmax;
                }
                if (!Float.isFinite(s)) {
                    throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + tensorName
                            + "' spans a range too wide for float32 arithmetic");
                }
                raw[i] = s;
                maxScale = Math.max(maxScale, s);
            }
            GroupGrid grid = new GroupGrid(groups, asymmetric, BiasedHalf.bias(maxScale), offsetBias);
            for (int i = 0; i < groups; i++) {
                short sh = BiasedHalf.ceil(raw[i], grid.scaleBias);
                float s = BiasedHalf.decode(sh, grid.scaleBias);
                grid.scaleHalves[i] = sh;
                grid.scales[i] = s;
                if (asymmetric) {
                    grid.offsetHalves[i] = offHalves[i];
                    grid.offsets[i] = off[i];
                } else {
                    grid.offsets[i] = -(qmax * s);
                    if (!Float.isFinite(grid.offsets[i])) {
                        throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + tensorName
                                + "' spans a range too wide for float32 arithmetic");
                    }
                }
                grid.inverses[i] = s == 0 ? 0 : 1 / s;
            }
            return grid;
        }
    }
}
