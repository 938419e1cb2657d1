package io.weightstream.codec.lowrank;

import io.weightstream.codec.Codec;
import io.weightstream.codec.AbstractCodec;
import io.weightstream.codec.CodecParameter;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.PayloadWriter;
import io.weightstream.codec.rtn.BiasedHalf;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.ejml.data.DMatrixRMaj;

/**
 * {@code lowrank}: truncated SVD of the 2-D view {@code W (R x C) ~ U_k S_k V_k^T}, stored as two float16
 * factors {@code A = U_k sqrt(S_k)} and {@code B = V_k sqrt(S_k)} ({@code (R + C) k} halves). The rank comes
 * from, in this order of precedence: {@code rank} if set, else {@code ratio} (the largest k whose factors are
 * at most original bytes / ratio), else {@code energy} (the smallest k keeping that fraction of
 * {@code ||W||_F^2}). SVDs use EJML: {@code exact} (thin SVD of the whole matrix) or {@code randomized}
 * (Gaussian range finder with oversampling and power iterations, for large matrices); {@code auto} picks
 * exact up to min(R, C) = 1024. Decoding multiplies the factors in pure Java in a fixed order. Layout:
 * {@link LowRankFormat}.
 *
 * <p>Trained transformer weights are far from low-rank, so this is a baseline, not a winner: on
 * all-MiniLM-L6-v2 (1-D tensors lossless) {@code energy=0.9} gives 2.70x at a sentence-embedding cosine of
 * 0.53, {@code energy=0.99} 1.87x at 0.914, {@code ratio=2} 2.00x at 0.770. NaN and infinities are rejected.
 *
 * <pre>{@code
 * Codec lowrank = Codecs.get("lowrank");
 * byte[] payload = lowrank.encode(tensor, lowrank.params(Map.of("ratio", "4")));
 * Tensor back = lowrank.decode(payload);
 * }</pre>
 */
public final class LowRankCodec extends AbstractCodec {
    public static final String NAME = "lowrank";

    /** How singular triplets are computed. */
    public enum Method {
        /** EXACT up to min(R, C) = {@value #AUTO_EXACT_LIMIT}, else RANDOMIZED. */
        AUTO,
        /** The thin SVD of the whole matrix. */
        EXACT,
        /** A randomized range finder, then the SVD of the small projection. */
        RANDOMIZED;

        static final int AUTO_EXACT_LIMIT = 1024;
    }

    public static final CodecParameter<Double> ENERGY = CodecParameter.ofDouble("energy", 0.9, 0.0, 1.0,
            "fraction of the squared singular values (Frobenius energy) kept; used unless rank or ratio is set");
    public static final CodecParameter<Double> RATIO = CodecParameter.ofDouble("ratio", 0.0, 0.0, 1e9,
            "target compression ratio (original bytes / factor bytes) from which the rank is derived; 0 = unused");
    public static final CodecParameter<Integer> RANK = CodecParameter.ofInt("rank", 0, 0, Integer.MAX_VALUE,
            "the rank itself (capped at min(R, C)); 0 = derive it from ratio or energy");
    public static final CodecParameter<Method> METHOD = CodecParameter.ofEnum("method", Method.class, Method.AUTO,
            "exact SVD, randomized SVD, or auto (exact up to min(R, C) = 1024)");
    public static final CodecParameter<Integer> OVERSAMPLING = CodecParameter.ofInt("oversampling", 10, 0, 1000,
            "randomized: extra columns of the test matrix beyond the rank");
    public static final CodecParameter<Integer> POWER_ITERATIONS = CodecParameter.ofInt("power.iterations", 2, 0, 20,
            "randomized: power iterations that sharpen the captured subspace");
    public static final CodecParameter<Long> SEED = CodecParameter.ofLong("seed", 0L, Long.MIN_VALUE, Long.MAX_VALUE,
            "randomized: seed of the Gaussian test matrix (encoding is deterministic for a given seed)");

    private static final List<CodecParameter<?>> PARAMETERS =
            List.of(ENERGY, RATIO, RANK, METHOD, OVERSAMPLING, POWER_ITERATIONS, SEED);
    private static final Set<DType> DTYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);

    public LowRankCodec() {
        super(NAME, LowRankFormat.FORMAT_VERSION, "truncated SVD (exact or randomized), float16 factors, rank by energy, ratio or fixed",
                PARAMETERS, DTYPES, false);
    }

    /** Rows and columns of the 2-D view. */
    static long[] view(long[] shape, long numel) {
        if (numel == 0) {
            return new long[] {0, 0};
        }
        if (shape.length <= 1) {
            return new long[] {1, numel};
        }
        return new long[] {shape[0], numel / shape[0]};
    }

    @Override
    public long maxEncodedLength(TensorSpec spec, CodecParams params) {
        params.requireFor(this);
        long[] rc = view(spec.shape(), spec.numel());
        long k = Math.min(rc[0], rc[1]);
        int set = params.get(RANK);
        if (set > 0) {
            k = Math.min(k, set);
        } else if (params.get(RATIO) > 0) {
            k = rankForRatio(rc[0], rc[1], spec.dtype(), params.get(RATIO));
        }
        return PayloadHeader.of(this, spec).size() + 5 + 4 + 2 * (rc[0] + rc[1]) * k;
    }

    /** The largest rank whose factors take at most original bytes / ratio; at least 1, at most min(R, C). */
    static long rankForRatio(long rows, long cols, DType dtype, double ratio) {
        long max = Math.min(rows, cols);
        if (max == 0) {
            return 0;
        }
        double k = rows * cols * (double) dtype.size() / (ratio * 2.0 * (rows + cols));
        return Math.max(1, Math.min(max, (long) Math.floor(k)));
    }

    @Override
    public byte[] encode(Tensor tensor, CodecParams params) {
        params.requireFor(this);
        TensorSpec spec = tensor.spec();
        requireSupported(spec);
        long bound = maxEncodedLength(spec, params);
        if (bound > DecodeLimits.MAX_ARRAY_BYTES || spec.numel() > DecodeLimits.MAX_ARRAY_BYTES / 8) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "' of "
                    + spec.byteSize() + " bytes is too large for one payload; split it first");
        }
        float[] v = tensor.toFloats();
        double total = 0;
        for (float x : v) {
            total += (double) x * x;
        }
        if (!Double.isFinite(total)) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name()
                    + "' holds NaN or infinite values (or squares beyond double range); keep it with a lossless codec");
        }
        long[] rc = view(spec.shape(), v.length);
        int rows = (int) rc[0];
        int cols = (int) rc[1];
        int full = Math.min(rows, cols);
        Factors f = full == 0 ? new Factors(0, new float[0], new float[0]) : factorize(v, rows, cols, total, spec.dtype(), params);

        int biasA = BiasedHalf.bias(maxAbs(f.a));
        int biasB = BiasedHalf.bias(maxAbs(f.bt));
        PayloadWriter out = new PayloadWriter(64 + 2 * (rows + cols) * f.rank);
        PayloadHeader.of(this, spec).write(out);
        out.varint(f.rank);
        out.u16(biasA);
        out.u16(biasB);
        for (float x : f.a) {
            out.u16(BiasedHalf.nearest(x, biasA));
        }
        for (float x : f.bt) {
            out.u16(BiasedHalf.nearest(x, biasB));
        }
        return out.toByteArray();
    }

    /** Rank-k factors: a (rows x k) and bt (k x cols), both row-major. */
    private record Factors(int rank, float[] a, float[] bt) {
    }

    private static Factors factorize(float[] v, int rows, int cols, double total, DType dtype, CodecParams params) {
        int full = Math.min(rows, cols);
        int k;
        if (params.get(RANK) > 0) {
            k = Math.min(full, params.get(RANK));
        } else if (params.get(RATIO) > 0) {
            k = (int) rankForRatio(rows, cols, dtype, params.get(RATIO));
        } else {
            k = -1; // from energy, once the singular values are known
        }
        if (total == 0) {
            return new Factors(0, new float[0], new float[0]);
        }
        DMatrixRMaj w = new DMatrixRMaj(rows, cols);
        for (int i = 0; i < v.length; i++) {
            w.data[i] = v[i];
        }
        Method method = params.get(METHOD);
        int oversampling = params.get(OVERSAMPLING);
        if (method == Method.AUTO) {
            method = full <= Method.AUTO_EXACT_LIMIT || (k > 0 && 2 * (k + oversampling) >= full)
                    ? Method.EXACT : Method.RANDOMIZED;
        }
        LowRankKernels.Svd svd;
        if (method == Method.EXACT) {
            svd = LowRankKernels.exact(w);
        } else if (k > 0) {
            svd = LowRankKernels.randomized(w, Math.min(full, k + oversampling), params.get(POWER_ITERATIONS), params.get(SEED));
        } else {
            // energy target with a randomized SVD: widen the sketch until it captures the target energy
            int l = Math.min(full, 32 + oversampling);
            while (true) {
                svd = LowRankKernels.randomized(w, l, params.get(POWER_ITERATIONS), params.get(SEED));
                int need = LowRankKernels.rankForEnergy(svd.s(), total, params.get(ENERGY));
                double captured = 0;
                for (double s : svd.s()) {
                    captured += s * s;
                }
                if (l >= full || (captured >= params.get(ENERGY) * total && need + oversampling <= l)) {
                    break;
                }
                l = Math.min(full, 2 * l);
            }
        }
        if (k < 0) {
            k = LowRankKernels.rankForEnergy(svd.s(), total, params.get(ENERGY));
        }
        k = Math.min(k, svd.size());
        float[] a = new float[rows * k];
        float[] bt = new float[k * cols];
        for (int t = 0; t < k; t++) {
            double root = Math.sqrt(svd.s()[t]);
            for (int i = 0; i < rows; i++) {
                a[i * k + t] = (float) (svd.u().get(i, t) * root);
            }
            for (int j = 0; j < cols; j++) {
                bt[t * cols + j] = (float) (svd.v().get(j, t) * root);
            }
        }
        return new Factors(k, a, bt);
    }

    private static float maxAbs(float[] x) {
        float m = 0;
        for (float f : x) {
            m = Math.max(m, Math.abs(f));
        }
        return m;
    }

    @Override
    public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
        PayloadReader in = PayloadReader.of(payload);
        PayloadHeader h = readHeader(in, limits);
        long[] rc = view(h.shape(), h.numel());
        int rows = (int) rc[0];
        int cols = (int) rc[1];
        int k = in.varintInt(Math.min(rows, cols), "rank");
        int biasA = readBias(in, "A");
        int biasB = readBias(in, "B");
        long halves = ((long) rows + cols) * k;
        in.require(2 * halves, "factors of rank " + k);
        float[] a = readHalves(in, rows * k, biasA, "A");
        float[] bt = readHalves(in, k * cols, biasB, "B");
        in.requireEnd("factors");
        float[] out = new float[rows * cols];
        LowRankKernels.product(a, bt, rows, cols, k, out);
        return new Tensor(h.spec(""), FloatConversions.fromFloats(h.dtype(), out));
    }

    private static int readBias(PayloadReader in, String what) {
        int at = in.position();
        int bias = (short) in.u16();
        if (bias < BiasedHalf.MIN_BIAS || bias > BiasedHalf.MAX_BIAS) {
            throw new CorruptPayloadException(at, "exponent bias of " + what + " " + bias + " out of range");
        }
        return bias;
    }

    private static float[] readHalves(PayloadReader in, int count, int bias, String what) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            int at = in.position();
            out[i] = BiasedHalf.decode((short) in.u16(), bias);
            if (!Float.isFinite(out[i])) {
                throw new CorruptPayloadException(at, "non-finite element " + i + " of factor " + what);
            }
        }
        return out;
    }
}
