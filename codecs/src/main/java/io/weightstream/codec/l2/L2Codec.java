package io.weightstream.codec.l2;

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
import io.weightstream.codec.entropy.WideRans;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * {@code l2}: the joint pruning + quantization + range coding of paper 003 (METHODS.md "L2"). Every weight
 * becomes an integer symbol {@code q = round(T(w))} of one of the {@link L2Transform} family (joint
 * prune+quantize by default: a dead zone {@code [-e, e)} coded as 0, uniform steps {@code s} beyond it), the
 * symbols are rANS-coded with a frequency table per layer (or per group of rows, {@code table.groups}), and the
 * decoder looks every symbol's value up in a table computed from (transform, s, e): pure Java, deterministic.
 * Layout: {@link L2Format}.
 *
 * <p>Parameters are in units of the tensor's RMS ({@code sqrt(mean w^2)}), so one setting means the same on every
 * layer: {@code step=0.25} quantizes with steps of a quarter of the layer's RMS. With {@code step=0} (default) the
 * codec chooses the step and the threshold itself for about {@code bits} bits per weight (the whole payload
 * counted) at the least squared error ({@link L2Profile#search}); whole-model rate control, which spends
 * bits where they buy the most, is {@code io.weightstream.ratecontrol.RateAllocator} (connectors), which writes a
 * policy with one explicit {@code (transform, step, e)} per tensor.
 *
 * <p>NaN and infinities are rejected with IllegalArgumentException (keep such tensors with {@code lossless}), and
 * so is a step that would need more than 32767 levels for the tensor's range.
 *
 * <pre>{@code
 * Codec l2 = Codecs.get("l2");
 * byte[] a = l2.encode(tensor, l2.params(Map.of("bits", "3.5")));                        // searched
 * byte[] b = l2.encode(tensor, l2.params(Map.of("step", "0.3", "e", "0.4")));             // explicit
 * byte[] c = l2.encode(tensor, l2.params(Map.of("transform", "log", "step", "0.2", "knee", "1")));
 * Tensor back = l2.decode(a);
 * }</pre>
 */
public final class L2Codec extends AbstractCodec {
    public static final String NAME = "l2";

    public static final CodecParameter<L2Transform> TRANSFORM = CodecParameter.ofEnum("transform", L2Transform.class,
            L2Transform.JOINT, "joint: prune |w| < e to 0, uniform steps beyond; uniform: steps of s; log: steps "
                    + "growing beyond the knee; exp: steps shrinking beyond the knee");
    public static final CodecParameter<Double> STEP = CodecParameter.ofDouble("step", 0.0, 0.0, 1e6,
            "quantization step s in units of the tensor's RMS; 0 = choose step and e for 'bits'");
    public static final CodecParameter<Double> E = CodecParameter.ofDouble("e", -1.0, -1.0, 1e6,
            "joint: prune threshold in units of the tensor's RMS (|w| < e decodes to 0); -1 = half the step "
                    + "(plain uniform rounding)");
    public static final CodecParameter<Double> KNEE = CodecParameter.ofDouble("knee", 1.0, 1e-6, 1e6,
            "log, exp: magnitude (RMS units) beyond which the steps grow (log) or shrink (exp)");
    public static final CodecParameter<Double> BITS = CodecParameter.ofDouble("bits", 4.0, 0.05, 32.0,
            "with step=0: target payload bits per weight (all bytes counted); the codec searches step and e "
                    + "(and for log/exp the knee) for the least squared error");
    public static final CodecParameter<Integer> TABLE_GROUPS = CodecParameter.ofInt("table.groups", 1, 1,
            L2Format.MAX_GROUPS, "number of consecutive element ranges (groups of rows), each with its own "
                    + "frequency table");

    private static final List<CodecParameter<?>> PARAMETERS = List.of(TRANSFORM, STEP, E, KNEE, BITS, TABLE_GROUPS);
    private static final Set<DType> DTYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);

    public L2Codec() {
        super(NAME, L2Format.FORMAT_VERSION, "joint pruning + quantization + rANS (paper L2), rate-controlled per layer or per model",
                PARAMETERS, DTYPES, false);
    }

    @Override
    public long maxEncodedLength(TensorSpec spec, CodecParams params) {
        params.requireFor(this);
        long n = spec.numel();
        long groups = Math.max(1, Math.min(params.get(TABLE_GROUPS), n));
        // per group: the larger of a byte stream (n_g + 1) and a wide stream (scale, length, table of at most
        // 9 bytes per symbol, states, one 32-bit word per symbol)
        long tables = Math.min(n, groups * (long) WideRans.MAX_ALPHABET);
        return PayloadHeader.of(this, spec).size() + L2Profile.fixedBodyBytes(L2Transform.MAX_LEVEL, (int) groups)
                + groups * (1 + 4 + 4 + 32 + 4) + 4 * n + 9 * tables;
    }

    /**
     * The payload bytes predicted for {@code point} on a tensor of {@code spec}: what rate control counts
     * ({@link L2Point#bodyBytes()} plus the header).
     */
    public double predictedBytes(TensorSpec spec, L2Point point) {
        return PayloadHeader.of(this, spec).size() + point.bodyBytes();
    }

    @Override
    public byte[] encode(Tensor tensor, CodecParams params) {
        params.requireFor(this);
        TensorSpec spec = tensor.spec();
        requireSupported(spec);
        if (spec.numel() > DecodeLimits.MAX_ARRAY_BYTES / 4) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "' of "
                    + spec.numel() + " elements is too large for one payload; split it first");
        }
        float[] v = tensor.toFloats();
        int n = v.length;
        double[] st = L2Kernels.stats(v);
        if (Double.isNaN(st[0])) {
            throw nonFinite(spec);
        }
        double maxAbs = st[0];
        double rms = L2Kernels.rms(st[1], n);
        L2Transform transform = params.get(TRANSFORM);
        double step = params.get(STEP);
        double param;
        PayloadHeader header = PayloadHeader.of(this, spec);
        if (step == 0) {
            double bodyBits = Math.max(0.0, params.get(BITS) * n - 8.0 * header.size()) / Math.max(1, n);
            L2Point p = L2Profile.of(v).search(transform, bodyBits);
            step = p.step();
            param = p.param();
        } else {
            param = switch (transform) {
                case JOINT -> params.get(E) < 0 ? step / 2 : params.get(E);
                case UNIFORM -> 0;
                case LOG, EXP -> params.get(KNEE);
            };
        }
        double unit = rms > 0 ? rms : 1;
        double s = step * unit;
        double p = transform == L2Transform.UNIFORM ? 0 : param * unit;
        String problem = transform.problem(s, p);
        if (problem != null) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "': " + problem
                    + " after scaling by the RMS " + rms);
        }
        Levels levels = Levels.of(transform, s, p, maxAbs);
        if (levels == null) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "': step " + step
                    + " RMS is too small for its range (max |w| = " + maxAbs + " = " + (maxAbs / unit)
                    + " RMS): it needs more than " + L2Transform.MAX_LEVEL + " levels");
        }
        int groups = (int) Math.max(1, Math.min(params.get(TABLE_GROUPS), n));
        int kmax = levels.kmax;
        PayloadWriter out = new PayloadWriter(Math.max(64, n / 2));
        header.write(out);
        out.u8(transform.code());
        out.f64(s);
        out.f64(p);
        out.varint(kmax);
        out.varint(groups);
        int largest = 0;
        for (int g = 0; g < groups; g++) {
            largest = Math.max(largest, L2Format.groupStart(n, groups, g + 1) - L2Format.groupStart(n, groups, g));
        }
        if (SymbolStreams.bytes(levels.alphabet())) {
            byte[] codes = new byte[largest];
            int[] counts = new int[256];
            for (int g = 0; g < groups; g++) {
                int from = L2Format.groupStart(n, groups, g);
                int to = L2Format.groupStart(n, groups, g + 1);
                java.util.Arrays.fill(counts, 0);
                L2Kernels.quantizeBytes(v, from, to, levels, codes, counts);
                SymbolStreams.writeBytes(codes, 0, to - from, counts, out);
            }
        } else {
            int[] codes = new int[largest];
            for (int g = 0; g < groups; g++) {
                int from = L2Format.groupStart(n, groups, g);
                int to = L2Format.groupStart(n, groups, g + 1);
                L2Kernels.quantizeInts(v, from, to, levels, codes);
                SymbolStreams.writeWide(codes, 0, to - from, levels.alphabet(), out);
            }
        }
        return out.toByteArray();
    }

    @Override
    public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader h = readHeader(in, limits);
        DType dtype = h.dtype();
        int n = (int) h.numel();
        int codeAt = in.position();
        L2Transform transform = L2Transform.ofCode(in.u8());
        if (transform == null) {
            throw new CorruptPayloadException(codeAt, "unknown transform");
        }
        int paramsAt = in.position();
        double s = in.f64();
        double p = in.f64();
        String problem = transform.problem(s, p);
        if (problem != null || (transform == L2Transform.UNIFORM && p != 0)) {
            throw new CorruptPayloadException(paramsAt, "bad transform parameters: "
                    + (problem != null ? problem : "uniform with a second parameter " + p));
        }
        int kmax = in.varintInt(L2Transform.MAX_LEVEL, "largest level");
        int groupsAt = in.position();
        int groups = in.varintInt(L2Format.MAX_GROUPS, "symbol group count");
        if (groups < 1 || (n == 0 ? groups != 1 : groups > n)) {
            throw new CorruptPayloadException(groupsAt, groups + " symbol groups for " + n + " elements");
        }
        double[] recon = new double[kmax + 1];
        for (int k = 1; k <= kmax; k++) {
            recon[k] = transform.reconstruction(k, s, p);
            if (!Double.isFinite(recon[k]) || (dtype != DType.F64 && !Float.isFinite((float) recon[k]))) {
                throw new CorruptPayloadException(paramsAt, "level " + k + " decodes to a non-finite value");
            }
        }
        long[] table = L2Kernels.valueTable(recon, dtype);
        int width = dtype.size();
        int outAt = in.position();
        byte[] out = new byte[limits.checkAllocation((long) n * width, outAt, "decoded tensor")];
        int largest = 0;
        for (int g = 0; g < groups; g++) {
            largest = Math.max(largest, L2Format.groupStart(n, groups, g + 1) - L2Format.groupStart(n, groups, g));
        }
        int alphabet = 2 * kmax + 1;
        if (SymbolStreams.bytes(alphabet)) {
            byte[] codes = new byte[limits.checkAllocation(largest, outAt, "symbols")];
            ByteRans.Decoder decoder = new ByteRans.Decoder();
            for (int g = 0; g < groups; g++) {
                int from = L2Format.groupStart(n, groups, g);
                int len = L2Format.groupStart(n, groups, g + 1) - from;
                int at = in.position();
                decoder.decode(in, codes, 0, len);
                int bad = L2Kernels.writeBytes(codes, len, table, width, out, from);
                if (bad >= 0) {
                    throw new CorruptPayloadException(at, "symbol " + (codes[bad] & 0xff) + " of group " + g
                            + " outside the alphabet of " + alphabet);
                }
            }
        } else {
            int[] codes = new int[limits.checkAllocation(4L * largest, outAt, "symbols") / 4];
            for (int g = 0; g < groups; g++) {
                int from = L2Format.groupStart(n, groups, g);
                int len = L2Format.groupStart(n, groups, g + 1) - from;
                WideRans.decode(in, alphabet, codes, 0, len);
                L2Kernels.writeInts(codes, len, table, width, out, from);
            }
        }
        in.requireEnd("symbol streams");
        return new Tensor(h.spec(""), ByteBuffer.wrap(out));
    }
}
