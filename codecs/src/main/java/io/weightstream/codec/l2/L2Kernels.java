package io.weightstream.codec.l2;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** The loops of the {@code l2} codec, over plain arrays; callers validated their input. */
final class L2Kernels {
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private L2Kernels() {
    }

    /** {max |w|, sum w^2} of finite values in one pass; {NaN, NaN} if any value is not finite. */
    static double[] stats(float[] v) {
        double max = 0;
        double sumSq = 0;
        for (float w : v) {
            if (!Float.isFinite(w)) {
                return new double[] {Double.NaN, Double.NaN};
            }
            double a = Math.abs(w);
            max = Math.max(max, a);
            sumSq += a * a;
        }
        return new double[] {max, sumSq};
    }

    /** Root mean square about zero; 0 for an empty or all-zero tensor. Sequential, so the same everywhere. */
    static double rms(double sumSq, long n) {
        return n == 0 ? 0 : Math.sqrt(sumSq / n);
    }

    /** Symbols {@code q + kmax} of v[from, to) as bytes (alphabet at most 256); adds them to {@code counts}. */
    static void quantizeBytes(float[] v, int from, int to, Levels levels, byte[] dst, int[] counts) {
        int kmax = levels.kmax;
        switch (levels.transform) {
            case JOINT -> {
                double e = levels.param;
                double inv = 1 / levels.step;
                for (int i = from; i < to; i++) {
                    float w = v[i];
                    double a = Math.abs(w);
                    int k = a < e || a == 0 ? 0 : (int) ((a - e) * inv) + 1;
                    int s = w < 0 ? kmax - k : kmax + k;
                    dst[i - from] = (byte) s;
                    counts[s]++;
                }
            }
            case UNIFORM -> {
                double inv = 1 / levels.step;
                for (int i = from; i < to; i++) {
                    float w = v[i];
                    int k = (int) (Math.abs(w) * inv + 0.5);
                    int s = w < 0 ? kmax - k : kmax + k;
                    dst[i - from] = (byte) s;
                    counts[s]++;
                }
            }
            default -> {
                for (int i = from; i < to; i++) {
                    float w = v[i];
                    int k = levels.level(Math.abs(w));
                    int s = w < 0 ? kmax - k : kmax + k;
                    dst[i - from] = (byte) s;
                    counts[s]++;
                }
            }
        }
    }

    /** Symbols {@code q + kmax} of v[from, to) as ints. */
    static void quantizeInts(float[] v, int from, int to, Levels levels, int[] dst) {
        int kmax = levels.kmax;
        if (levels.transform == L2Transform.JOINT) {
            double e = levels.param;
            double inv = 1 / levels.step;
            for (int i = from; i < to; i++) {
                float w = v[i];
                double a = Math.abs(w);
                int k = a < e || a == 0 ? 0 : (int) ((a - e) * inv) + 1;
                dst[i - from] = w < 0 ? kmax - k : kmax + k;
            }
            return;
        }
        for (int i = from; i < to; i++) {
            float w = v[i];
            int k = levels.level(Math.abs(w));
            dst[i - from] = w < 0 ? kmax - k : kmax + k;
        }
    }

    /**
     * The decoded value of every symbol as raw little-endian bits of {@code dtype} (F64: double bits; F32: float
     * bits; F16, BF16: 16-bit patterns, each rounded once from the double reconstruction via float32).
     */
    static long[] valueTable(double[] recon, DType dtype) {
        int kmax = recon.length - 1;
        long[] table = new long[2 * kmax + 1];
        for (int k = 0; k <= kmax; k++) {
            double r = recon[k];
            table[kmax + k] = bits(r, dtype);
            table[kmax - k] = bits(-r, dtype);
        }
        table[kmax] = bits(0.0, dtype);
        return table;
    }

    private static long bits(double r, DType dtype) {
        return switch (dtype) {
            case F64 -> Double.doubleToRawLongBits(r);
            case F32 -> Float.floatToRawIntBits((float) r) & 0xffffffffL;
            case F16 -> FloatConversions.floatToF16((float) r) & 0xffffL;
            case BF16 -> FloatConversions.floatToBf16((float) r) & 0xffffL;
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        };
    }

    /**
     * Writes the values of byte symbols {@code codes[0, n)} to {@code out} from element {@code first} on.
     *
     * @return the index in codes of the first symbol outside the table, or -1 if all were valid
     */
    static int writeBytes(byte[] codes, int n, long[] table, int width, byte[] out, int first) {
        int limit = table.length;
        switch (width) {
            case 4 -> {
                int[] t = new int[limit];
                for (int s = 0; s < limit; s++) {
                    t[s] = (int) table[s];
                }
                int p = 4 * first;
                for (int i = 0; i < n; i++) {
                    int s = codes[i] & 0xff;
                    if (s >= limit) {
                        return i;
                    }
                    INT.set(out, p, t[s]);
                    p += 4;
                }
            }
            case 2 -> {
                int p = 2 * first;
                for (int i = 0; i < n; i++) {
                    int s = codes[i] & 0xff;
                    if (s >= limit) {
                        return i;
                    }
                    SHORT.set(out, p, (short) table[s]);
                    p += 2;
                }
            }
            default -> {
                int p = 8 * first;
                for (int i = 0; i < n; i++) {
                    int s = codes[i] & 0xff;
                    if (s >= limit) {
                        return i;
                    }
                    LONG.set(out, p, table[s]);
                    p += 8;
                }
            }
        }
        return -1;
    }

    /** Writes the values of wide symbols {@code codes[0, n)} (all below table.length) from element {@code first} on. */
    static void writeInts(int[] codes, int n, long[] table, int width, byte[] out, int first) {
        switch (width) {
            case 4 -> {
                int[] t = new int[table.length];
                for (int s = 0; s < t.length; s++) {
                    t[s] = (int) table[s];
                }
                int p = 4 * first;
                for (int i = 0; i < n; i++) {
                    INT.set(out, p, t[codes[i]]);
                    p += 4;
                }
            }
            case 2 -> {
                int p = 2 * first;
                for (int i = 0; i < n; i++) {
                    SHORT.set(out, p, (short) table[codes[i]]);
                    p += 2;
                }
            }
            default -> {
                int p = 8 * first;
                for (int i = 0; i < n; i++) {
                    LONG.set(out, p, table[codes[i]]);
                    p += 8;
                }
            }
        }
    }
}
