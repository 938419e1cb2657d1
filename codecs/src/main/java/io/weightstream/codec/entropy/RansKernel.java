package io.weightstream.codec.entropy;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Static rANS over bytes: 4 interleaved 32-bit states in [2^15, 2^31), 16-bit renormalization, frequencies
 * of 12 bits (the decoding table, 16 KiB, stays in L1; the precision costs about 0.04 % in size). Symbol i
 * is coded by state {@code i % 4}; the encoder runs backwards so that the decoder reads forwards. Body layout
 * (after {@link ByteCoder}'s method byte and length): the {@link FrequencyTable} (at least 2 symbols),
 * 4 x u32 LE initial decoder states, u16 LE renormalization words. Integer arithmetic only.
 * Not thread-safe: one instance per thread, reused for its scratch memory; no state carries over calls.
 */
final class RansKernel {
    static final int SCALE_BITS = 12;
    static final int M = 1 << SCALE_BITS;
    static final int MASK = M - 1;
    /** States live in [L, 2^31): non-negative ints, so no unsigned arithmetic is needed. */
    static final int L = 1 << 15;
    static final int STATES = 4;

    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    // encoder
    private final int[] xmax = new int[256];
    private final long[] rcp = new long[256];
    private final int[] bias = new int[256];
    private final int[] cmpl = new int[256];
    private byte[] scratch = new byte[0];
    private int streamStart;

    // decoder: per slot, symbol (bits 0-7), slot - start of symbol (8-19), frequency (20-31)
    private final int[] table = new int[M];

    byte[] scratch() {
        return scratch;
    }

    int streamStart() {
        return streamStart;
    }

    /**
     * rANS-codes {@code src[off, off + n)} into the scratch buffer: [4 states][words] from {@link #streamStart()}.
     *
     * @return the number of word bytes, or -1 if they would exceed n bytes
     */
    int encode(FrequencyTable table, byte[] src, int off, int n) {
        int[] f = table.frequenciesUnsafe();
        int start = 0;
        for (int s = 0; s < 256; s++) {
            int fs = f[s];
            if (fs != 0) {
                // renormalize when x >= ((L >> scale) << 16) * f
                xmax[s] = (fs << (31 - SCALE_BITS)) - 1;
                cmpl[s] = M - fs;
                // q = floor(x / f) = multiplyHigh(2x, ceil(2^63 / f)) exactly for x < 2^31; for f = 1 the
                // reciprocal 2^63 - 1 gives q = x - 1, which the bias makes up for (as in ryg_rans)
                if (fs == 1) {
                    rcp[s] = Long.MAX_VALUE;
                    bias[s] = start + M - 1;
                } else {
                    rcp[s] = Long.divideUnsigned(Long.MIN_VALUE, fs) + 1;
                    bias[s] = start;
                }
                start += fs;
            }
        }
        int cap = n + 4 * STATES + 16;
        if (scratch.length < cap) {
            scratch = new byte[cap];
        }
        byte[] buf = scratch;
        int end = buf.length;
        int p = end - 4 * STATES;   // words grow down from here; the states go in front of them
        int x0 = L;
        int x1 = L;
        int x2 = L;
        int x3 = L;
        final int[] xm = xmax;
        final long[] rc = rcp;
        final int[] bi = bias;
        final int[] cm = cmpl;
        int floor = p - n; // the words must not take more than n bytes
        int groups = n >>> 2;
        // the tail (n % 4 symbols) first: symbol i belongs to state i % 4
        int[] xs = {x0, x1, x2, x3};
        for (int i = n - 1; i >= groups << 2; i--) {
            int s = src[off + i] & 0xff;
            int x = xs[i & 3];
            if (x > xm[s]) {
                p -= 2;
                SHORT.set(buf, p, (short) x);
                x >>>= 16;
            }
            int q = (int) Math.multiplyHigh((long) x << 1, rc[s]);
            xs[i & 3] = x + bi[s] + q * cm[s];
        }
        x0 = xs[0];
        x1 = xs[1];
        x2 = xs[2];
        x3 = xs[3];
        for (int g = (groups - 1) << 2; g >= 0; g -= 4) {
            if (p - 8 < floor) {
                return -1;
            }
            int s3 = src[off + g + 3] & 0xff;
            int s2 = src[off + g + 2] & 0xff;
            int s1 = src[off + g + 1] & 0xff;
            int s0 = src[off + g] & 0xff;
            // branchless renormalization: m = -1 when the state must shed 16 bits
            int m3 = (xm[s3] - x3) >> 31;
            SHORT.set(buf, p - 2, (short) x3);
            p += m3 << 1;
            x3 >>>= m3 & 16;
            x3 += bi[s3] + (int) Math.multiplyHigh((long) x3 << 1, rc[s3]) * cm[s3];

            int m2 = (xm[s2] - x2) >> 31;
            SHORT.set(buf, p - 2, (short) x2);
            p += m2 << 1;
            x2 >>>= m2 & 16;
            x2 += bi[s2] + (int) Math.multiplyHigh((long) x2 << 1, rc[s2]) * cm[s2];

            int m1 = (xm[s1] - x1) >> 31;
            SHORT.set(buf, p - 2, (short) x1);
            p += m1 << 1;
            x1 >>>= m1 & 16;
            x1 += bi[s1] + (int) Math.multiplyHigh((long) x1 << 1, rc[s1]) * cm[s1];

            int m0 = (xm[s0] - x0) >> 31;
            SHORT.set(buf, p - 2, (short) x0);
            p += m0 << 1;
            x0 >>>= m0 & 16;
            x0 += bi[s0] + (int) Math.multiplyHigh((long) x0 << 1, rc[s0]) * cm[s0];
        }
        if (p < floor) {
            return -1;
        }
        int words = end - 4 * STATES - p;
        // the states go right in front of the words, in the order the decoder reads them
        int sp = p - 4 * STATES;
        INT.set(buf, sp, x0);
        INT.set(buf, sp + 4, x1);
        INT.set(buf, sp + 8, x2);
        INT.set(buf, sp + 12, x3);
        streamStart = sp;
        return words;
    }

    /** Decodes a body (table, states, words) taking exactly the reader's remaining bytes into dst[o, o + n). */
    void decode(PayloadReader in, byte[] dst, int o, int n) {
        FrequencyTable ft = FrequencyTable.read(in, 256, SCALE_BITS, 2);
        int[] f = ft.frequenciesUnsafe();
        int[] t = table;
        int start = 0;
        for (int s = 0; s < 256; s++) {
            int fs = f[s];
            for (int j = 0; j < fs; j++) {
                t[start + j] = s | (j << 8) | (fs << 20);
            }
            start += fs;
        }
        int statesAt = in.position();
        in.require(4 * STATES, "rANS states");
        byte[] src = in.array();
        int p = in.arrayIndex();
        int x0 = (int) INT.get(src, p);
        int x1 = (int) INT.get(src, p + 4);
        int x2 = (int) INT.get(src, p + 8);
        int x3 = (int) INT.get(src, p + 12);
        if (x0 < L || x1 < L || x2 < L || x3 < L) {
            throw new CorruptPayloadException(statesAt, "rANS state out of range");
        }
        p += 4 * STATES;
        final int end = p + in.remaining() - 4 * STATES;
        int i = o;
        final int stop = o + (n & ~3);
        // fast loop: a group of 4 symbols reads at most 4 words, so check once per group
        while (i < stop && p <= end - 8) {
            int e0 = t[x0 & MASK];
            int e1 = t[x1 & MASK];
            int e2 = t[x2 & MASK];
            int e3 = t[x3 & MASK];
            INT.set(dst, i, (e0 & 0xff) | (e1 & 0xff) << 8 | (e2 & 0xff) << 16 | e3 << 24);
            x0 = (e0 >>> 20) * (x0 >>> SCALE_BITS) + ((e0 >>> 8) & MASK);
            x1 = (e1 >>> 20) * (x1 >>> SCALE_BITS) + ((e1 >>> 8) & MASK);
            x2 = (e2 >>> 20) * (x2 >>> SCALE_BITS) + ((e2 >>> 8) & MASK);
            x3 = (e3 >>> 20) * (x3 >>> SCALE_BITS) + ((e3 >>> 8) & MASK);
            // branchless renormalization: m = -1 when the state needs 16 more bits
            int m0 = (x0 - L) >> 31;
            x0 = (x0 << (m0 & 16)) | ((short) SHORT.get(src, p) & 0xffff & m0);
            p -= m0 << 1;
            int m1 = (x1 - L) >> 31;
            x1 = (x1 << (m1 & 16)) | ((short) SHORT.get(src, p) & 0xffff & m1);
            p -= m1 << 1;
            int m2 = (x2 - L) >> 31;
            x2 = (x2 << (m2 & 16)) | ((short) SHORT.get(src, p) & 0xffff & m2);
            p -= m2 << 1;
            int m3 = (x3 - L) >> 31;
            x3 = (x3 << (m3 & 16)) | ((short) SHORT.get(src, p) & 0xffff & m3);
            p -= m3 << 1;
            i += 4;
        }
        // careful loop: the last groups and the tail, checking every read
        int[] xs = {x0, x1, x2, x3};
        for (; i < o + n; i++) {
            int k = (i - o) & 3;
            int x = xs[k];
            int e = t[x & MASK];
            dst[i] = (byte) e;
            x = (e >>> 20) * (x >>> SCALE_BITS) + ((e >>> 8) & MASK);
            if (x < L) {
                if (p > end - 2) {
                    throw new CorruptPayloadException(in.position() + (end - in.arrayIndex()),
                            "rANS stream ends early");
                }
                x = (x << 16) | ((short) SHORT.get(src, p) & 0xffff);
                p += 2;
            }
            xs[k] = x;
        }
        int at = in.position() + (p - in.arrayIndex());
        if (xs[0] != L || xs[1] != L || xs[2] != L || xs[3] != L) {
            throw new CorruptPayloadException(at, "rANS stream does not decode to its final state");
        }
        if (p != end) {
            throw new CorruptPayloadException(at, (end - p) + " unused bytes at the end of an rANS stream");
        }
        in.skip(end - in.arrayIndex());
    }
}
