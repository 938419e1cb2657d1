package io.weightstream.codec;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * How far a reconstruction is from the original tensor, accumulated in double precision:
 * relative L2 error {@code ||a - b|| / ||a||}, largest absolute difference and cosine similarity.
 * Positions where both tensors hold the same non-finite value (the same infinity, or NaN and NaN) count as
 * equal and are left out of the sums; any other non-finite value makes the metrics NaN or infinite.
 *
 * <pre>{@code
 * TensorMetrics m = TensorMetrics.compare(original, codec.decode(payload));
 * if (m.relL2() > 0.01) { ... }
 * }</pre>
 *
 * @param count  number of elements compared
 * @param relL2  {@code ||a - b||_2 / ||a||_2}; 0 when both are zero, infinite when only {@code a} is
 * @param maxAbs {@code max |a_i - b_i|}
 * @param cosine {@code <a, b> / (||a|| ||b||)}; 1 when both are zero, 0 when only one is
 * @param mse    {@code mean (a_i - b_i)^2}
 */
public record TensorMetrics(long count, double relL2, double maxAbs, double cosine, double mse) {

    /** Metrics of a perfect reconstruction. */
    public static TensorMetrics exact(long count) {
        return new TensorMetrics(count, 0, 0, 1, 0);
    }

    /**
     * Compares two tensors of the same shape (dtypes may differ; integer dtypes are compared as numbers).
     *
     * @throws IllegalArgumentException if the shapes differ
     */
    public static TensorMetrics compare(Tensor original, Tensor reconstruction) {
        if (!Arrays.equals(original.spec().shape(), reconstruction.spec().shape())) {
            throw new IllegalArgumentException("shapes differ: " + Arrays.toString(original.spec().shape()) + " vs "
                    + Arrays.toString(reconstruction.spec().shape()));
        }
        long n = original.spec().numel();
        ByteBuffer a = original.data();
        ByteBuffer b = reconstruction.data();
        DType ta = original.dtype();
        DType tb = reconstruction.dtype();
        Acc acc = new Acc();
        for (long i = 0; i < n; i++) {
            acc.add(value(ta, a, (int) i), value(tb, b, (int) i));
        }
        return acc.result(n);
    }

    /** Compares two float arrays of the same length. */
    public static TensorMetrics compare(float[] original, float[] reconstruction) {
        if (original.length != reconstruction.length) {
            throw new IllegalArgumentException("lengths differ: " + original.length + " vs " + reconstruction.length);
        }
        Acc acc = new Acc();
        for (int i = 0; i < original.length; i++) {
            acc.add(original[i], reconstruction[i]);
        }
        return acc.result(original.length);
    }

    private static double value(DType t, ByteBuffer b, int i) {
        return switch (t) {
            case F32 -> b.getFloat(4 * i);
            case F64 -> b.getDouble(8 * i);
            case F16 -> io.weightstream.tensor.FloatConversions.f16ToFloat(b.getShort(2 * i));
            case BF16 -> io.weightstream.tensor.FloatConversions.bf16ToFloat(b.getShort(2 * i));
            case I64 -> b.getLong(8 * i);
            case I32 -> b.getInt(4 * i);
            case I16 -> b.getShort(2 * i);
            case I8 -> b.get(i);
            case U8, BOOL -> b.get(i) & 0xff;
        };
    }

    private static final class Acc {
        double diff2;
        double a2;
        double b2;
        double ab;
        double maxAbs;

        void add(double x, double y) {
            if (!Double.isFinite(x) || !Double.isFinite(y)) {
                if (Double.compare(x, y) == 0 || (Double.isNaN(x) && Double.isNaN(y))) {
                    return;
                }
            }
            double d = x - y;
            diff2 += d * d;
            a2 += x * x;
            b2 += y * y;
            ab += x * y;
            double ad = Math.abs(d);
            if (ad > maxAbs || Double.isNaN(ad)) {
                maxAbs = ad;
            }
        }

        TensorMetrics result(long n) {
            double rel = a2 == 0 ? (diff2 == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(diff2 / a2);
            double cos;
            if ((a2 == 0 && b2 == 0) || diff2 == 0) {
                cos = 1; // exact reconstructions report exactly 1, not 1 - ulp
            } else if (a2 == 0 || b2 == 0) {
                cos = 0;
            } else {
                cos = ab / (Math.sqrt(a2) * Math.sqrt(b2));
            }
            return new TensorMetrics(n, rel, maxAbs, cos, n == 0 ? 0 : diff2 / n);
        }
    }
}
