package io.weightstream.codec.lossless;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Raw kernels: split little-endian elements into byte planes and merge them back. Callers validated every
 * range; {@code rotate} turns a float's bits left by one (exponent into the top byte) on the way out and
 * right on the way back.
 */
final class BytePlanes {
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private BytePlanes() {
    }

    /**
     * Splits {@code n} elements of {@code width} bytes at {@code src[off]} into {@code planes[k][0, n)},
     * plane 0 holding the most significant byte.
     */
    static void split(byte[] src, int off, int n, int width, boolean rotate, byte[][] planes) {
        switch (width) {
            case 4 -> split4(src, off, n, rotate, planes[0], planes[1], planes[2], planes[3]);
            case 2 -> split2(src, off, n, rotate, planes[0], planes[1]);
            case 1 -> System.arraycopy(src, off, planes[0], 0, n);
            case 8 -> split8(src, off, n, rotate, planes);
            default -> throw new IllegalArgumentException("width " + width);
        }
    }

    private static void split4(byte[] src, int off, int n, boolean rotate, byte[] p0, byte[] p1, byte[] p2, byte[] p3) {
        int r = rotate ? 1 : 0;
        for (int i = 0; i < n; i++) {
            int v = Integer.rotateLeft((int) INT.get(src, off + 4 * i), r);
            p0[i] = (byte) (v >>> 24);
            p1[i] = (byte) (v >>> 16);
            p2[i] = (byte) (v >>> 8);
            p3[i] = (byte) v;
        }
    }

    private static void split2(byte[] src, int off, int n, boolean rotate, byte[] p0, byte[] p1) {
        int r = rotate ? 1 : 0;
        for (int i = 0; i < n; i++) {
            int h = (short) SHORT.get(src, off + 2 * i) & 0xffff;
            int v = ((h << r) | (h >>> (16 - r))) & 0xffff; // 16-bit rotate; r = 0 keeps h (h >>> 16 == 0)
            p0[i] = (byte) (v >>> 8);
            p1[i] = (byte) v;
        }
    }

    private static void split8(byte[] src, int off, int n, boolean rotate, byte[][] planes) {
        int r = rotate ? 1 : 0;
        for (int i = 0; i < n; i++) {
            long v = Long.rotateLeft((long) LONG.get(src, off + 8 * i), r);
            for (int k = 0; k < 8; k++) {
                planes[k][i] = (byte) (v >>> (56 - 8 * k));
            }
        }
    }

    /**
     * Merges planes back into {@code n} elements at {@code dst[off]}; plane k is read from
     * {@code planes[k]} starting at {@code starts[k]}.
     */
    static void merge(byte[][] planes, int[] starts, int n, int width, boolean rotate, byte[] dst, int off) {
        switch (width) {
            case 4 -> merge4(planes[0], starts[0], planes[1], starts[1], planes[2], starts[2], planes[3], starts[3],
                    n, rotate, dst, off);
            case 2 -> merge2(planes[0], starts[0], planes[1], starts[1], n, rotate, dst, off);
            case 1 -> System.arraycopy(planes[0], starts[0], dst, off, n);
            case 8 -> merge8(planes, starts, n, rotate, dst, off);
            default -> throw new IllegalArgumentException("width " + width);
        }
    }

    private static void merge4(byte[] p0, int s0, byte[] p1, int s1, byte[] p2, int s2, byte[] p3, int s3,
                               int n, boolean rotate, byte[] dst, int off) {
        int r = rotate ? 1 : 0;
        for (int i = 0; i < n; i++) {
            int v = (p0[s0 + i] << 24) | ((p1[s1 + i] & 0xff) << 16) | ((p2[s2 + i] & 0xff) << 8) | (p3[s3 + i] & 0xff);
            INT.set(dst, off + 4 * i, Integer.rotateRight(v, r));
        }
    }

    private static void merge2(byte[] p0, int s0, byte[] p1, int s1, int n, boolean rotate, byte[] dst, int off) {
        int r = rotate ? 1 : 0;
        for (int i = 0; i < n; i++) {
            int v = ((p0[s0 + i] & 0xff) << 8) | (p1[s1 + i] & 0xff);
            int h = (v >>> r) | (v << (16 - r)); // 16-bit rotate right; the low 16 bits are what counts
            SHORT.set(dst, off + 2 * i, (short) (r == 0 ? v : h));
        }
    }

    private static void merge8(byte[][] planes, int[] starts, int n, boolean rotate, byte[] dst, int off) {
        int r = rotate ? 1 : 0;
        for (int i = 0; i < n; i++) {
            long v = 0;
            for (int k = 0; k < 8; k++) {
                v = (v << 8) | (planes[k][starts[k] + i] & 0xff);
            }
            LONG.set(dst, off + 8 * i, Long.rotateRight(v, r));
        }
    }

    /** Narrows {@code n} float32 values, all exactly representable as float16 or bfloat16, to 2 bytes each. */
    static void narrow(byte[] src, int off, int n, int form, byte[] dst) {
        for (int i = 0; i < n; i++) {
            int bits = (int) INT.get(src, off + 4 * i);
            short h = (short) (form == LosslessFormat.FORM_F16 ? exactF16(bits) : bits >>> 16);
            SHORT.set(dst, 2 * i, h);
        }
    }

    /** Widens {@code n} float16 or bfloat16 values at {@code src[0]} to float32 bits at {@code dst[off]}. */
    static void widen(byte[] src, int n, int form, byte[] dst, int off) {
        for (int i = 0; i < n; i++) {
            int h = (short) SHORT.get(src, 2 * i) & 0xffff;
            int bits = form == LosslessFormat.FORM_F16 ? F16ToF32.BITS[h] : h << 16;
            INT.set(dst, off + 4 * i, bits);
        }
    }

    /**
     * The form an F32 tensor can be stored in without loss: FORM_F16 if every value (NaN payloads, signed zeros
     * and subnormals included) survives float32 -> float16 -> float32 bit for bit, else FORM_BF16 if every value
     * has zero low 16 bits, else FORM_AS_IS. Stops at the first value that fits neither.
     */
    static int narrowestForm(java.nio.ByteBuffer le, int n) {
        boolean f16 = true;
        boolean bf16 = true;
        for (int i = 0; i < n && (f16 || bf16); i++) {
            int b = le.getInt(4 * i);
            if (bf16 && (b & 0xffff) != 0) {
                bf16 = false;
            }
            if (f16 && exactF16(b) < 0) {
                f16 = false;
            }
        }
        return f16 ? LosslessFormat.FORM_F16 : bf16 ? LosslessFormat.FORM_BF16 : LosslessFormat.FORM_AS_IS;
    }

    /**
     * The float16 bits of a float32 value if it is exactly a float16 value (NaN payloads, signalling NaNs,
     * signed zeros and float16 subnormals included), else -1. Integer arithmetic only.
     */
    static int exactF16(int bits) {
        int sign = (bits >>> 16) & 0x8000;
        int e = (bits >>> 23) & 0xff;
        int m = bits & 0x7fffff;
        if (e == 0xff) { // infinity or NaN: the payload must fit 10 bits (a NaN keeps a non-zero mantissa)
            return (m & 0x1fff) != 0 ? -1 : sign | 0x7c00 | (m >>> 13);
        }
        if (e == 0) { // zero, or a float32 subnormal far below the float16 range
            return m == 0 ? sign : -1;
        }
        int exp = e - 127;
        if (exp > 15 || exp < -24) {
            return -1;
        }
        if (exp >= -14) { // float16 normal
            return (m & 0x1fff) != 0 ? -1 : sign | ((exp + 15) << 10) | (m >>> 13);
        }
        int shift = -1 - exp; // float16 subnormal: 1.m * 2^exp = (1.m >> shift) * 2^-24, shift in [14, 23]
        int full = 0x800000 | m;
        return (full & ((1 << shift) - 1)) != 0 ? -1 : sign | (full >>> shift);
    }

    /**
     * float16 bits -> float32 bits for all 65536 patterns, in integer arithmetic only so that NaN payloads
     * survive on every platform (a float round trip may quiet a signalling NaN).
     */
    static final class F16ToF32 {
        static final int[] BITS = new int[1 << 16];

        static {
            for (int h = 0; h < BITS.length; h++) {
                BITS[h] = bits(h);
            }
        }

        static int bits(int h) {
            int sign = (h & 0x8000) << 16;
            int exp = (h >>> 10) & 0x1f;
            int mant = h & 0x3ff;
            if (exp == 0x1f) {
                return sign | 0x7f800000 | (mant << 13);
            }
            if (exp == 0) {
                if (mant == 0) {
                    return sign;
                }
                int p = 31 - Integer.numberOfLeadingZeros(mant); // mant * 2^-24 = 1.f * 2^(p - 24)
                return sign | ((p - 24 + 127) << 23) | ((mant << (23 - p)) & 0x7fffff);
            }
            return sign | ((exp + 112) << 23) | (mant << 13);
        }
    }
}
