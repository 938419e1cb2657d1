package io.weightstream.codec.entropy;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Order-0 entropy coding of byte streams: static rANS with 4 interleaved 32-bit states, 16-bit
 * renormalization and 12-bit frequencies, falling back to a raw copy when coding does not pay and to a
 * single byte when the stream holds one symbol.
 *
 * <p>Stream layout; the caller keeps {@code n}, the number of symbols, and the stream delimits itself:
 * <pre>
 *   u8 method: 0 raw (n bytes follow) | 1 constant (1 byte follows) | 2 rANS
 *   rANS:      u32 LE length of the rest, frequency table ({@link FrequencyTable}, scale 12, at least
 *              2 symbols), 4 x u32 LE initial decoder states, then u16 LE renormalization words
 * </pre>
 * Symbol i is coded by state {@code i % 4}; the encoder runs backwards so the decoder reads forwards. The
 * decoder checks every read, that each state ends at its initial value and that the stream is consumed
 * exactly, so corruption is reported as {@link CorruptPayloadException} or yields other bytes, never an
 * out-of-bounds access. Decoding is integer-only and therefore identical on every machine.
 *
 * <pre>{@code
 * ByteRans.Encoder enc = new ByteRans.Encoder();            // reusable scratch, one per thread
 * byte[] dst = new byte[ByteRans.maxEncodedLength(n)];
 * int len = enc.encode(plane, 0, n, null, dst, 0, 0.01);
 * new ByteRans.Decoder().decode(PayloadReader.of(dst, 0, len), out, 0, n);
 * }</pre>
 */
public final class ByteRans {
    /** Frequencies sum to 2^12: the decoding table (16 KiB) stays in L1, costing about 0.04 % in size. */
    public static final int SCALE_BITS = 12;
    static final int M = 1 << SCALE_BITS;
    static final int MASK = M - 1;
    /** States live in [L, 2^31): non-negative ints, so no unsigned arithmetic is needed. */
    static final int L = 1 << 15;
    static final int STATES = 4;

    /** Streams of at least this many symbols are sampled before a full histogram is taken. */
    static final int SAMPLE_MIN = 8192;
    static final int SAMPLE_STRIDE = 16;
    private static final double LN2 = StrictMath.log(2);

    public static final int METHOD_RAW = 0;
    public static final int METHOD_CONST = 1;
    public static final int METHOD_RANS = 2;

    static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private ByteRans() {
    }

    /** Largest stream {@link Encoder#encode} writes for {@code n} symbols. */
    public static int maxEncodedLength(int n) {
        return n + 1;
    }

    /** Adds the byte counts of {@code src[offset, offset + n)} to {@code counts[0..256)}. */
    public static void histogram(byte[] src, int offset, int n, int[] counts) {
        int[] c = new int[4 * 256];
        int i = offset;
        int end = offset + n;
        // four sub-histograms so that runs of one symbol do not serialize on one counter
        for (; i <= end - 8; i += 8) {
            int a = (int) INT.get(src, i);
            int b = (int) INT.get(src, i + 4);
            c[a & 0xff]++;
            c[256 + ((a >>> 8) & 0xff)]++;
            c[512 + ((a >>> 16) & 0xff)]++;
            c[768 + (a >>> 24)]++;
            c[b & 0xff]++;
            c[256 + ((b >>> 8) & 0xff)]++;
            c[512 + ((b >>> 16) & 0xff)]++;
            c[768 + (b >>> 24)]++;
        }
        for (; i < end; i++) {
            c[src[i] & 0xff]++;
        }
        for (int s = 0; s < 256; s++) {
            counts[s] += c[s] + c[256 + s] + c[512 + s] + c[768 + s];
        }
    }

    /**
     * Estimated stream length for {@code n} symbols with these counts (exact up to the rANS flush rounding);
     * {@code n + 1} when raw is the best choice.
     */
    public static long estimateEncodedLength(int[] counts, int n) {
        if (n == 0) {
            return 1;
        }
        int k = 0;
        for (int s = 0; s < 256; s++) {
            if (counts[s] != 0) {
                k++;
            }
        }
        if (k == 1) {
            return 2;
        }
        FrequencyTable t = FrequencyTable.normalize(counts, 256, SCALE_BITS);
        long est = 5 + t.serializedSize() + 4L * STATES + 2 + (long) Math.ceil(t.cost(counts) / 8);
        return Math.min(est, n + 1L);
    }

    /** Encoder with reusable scratch memory; not thread-safe, keeps no state that affects the output. */
    public static final class Encoder {
        private final int[] counts = new int[256];
        private final int[] xmax = new int[256];
        private final long[] rcp = new long[256];
        private final int[] bias = new int[256];
        private final int[] cmpl = new int[256];
        private byte[] scratch = new byte[0];
        private int streamStart; // where encodeRans left [states][words] in scratch

        /**
         * Codes {@code src[srcOffset, srcOffset + n)} into {@code dst} at {@code dstOffset}.
         *
         * @param histogram the byte counts of exactly these symbols if the caller has them, else null
         * @param minGain   code only if the estimate saves at least this fraction of {@code n} (e.g. 0.01)
         * @return bytes written, at most {@link #maxEncodedLength(int) maxEncodedLength(n)}
         */
        public int encode(byte[] src, int srcOffset, int n, int[] histogram, byte[] dst, int dstOffset, double minGain) {
            if (n < 0 || srcOffset < 0 || srcOffset > src.length - n) {
                throw new IndexOutOfBoundsException("source range " + srcOffset + "+" + n + " of " + src.length);
            }
            if (dstOffset < 0 || dstOffset > dst.length - maxEncodedLength(n)) {
                throw new IndexOutOfBoundsException("destination needs " + maxEncodedLength(n) + " bytes at " + dstOffset);
            }
            if (n == 0) {
                dst[dstOffset] = METHOD_RAW;
                return 1;
            }
            int[] c = counts;
            if (histogram == null && n >= SAMPLE_MIN && minGain > 0 && !samplePays(src, srcOffset, n, minGain)) {
                return raw(src, srcOffset, n, dst, dstOffset);
            }
            if (histogram != null) {
                System.arraycopy(histogram, 0, c, 0, 256);
            } else {
                java.util.Arrays.fill(c, 0);
                histogram(src, srcOffset, n, c);
            }
            int k = 0;
            int only = 0;
            for (int s = 0; s < 256; s++) {
                if (c[s] != 0) {
                    k++;
                    only = s;
                }
            }
            if (k == 1) {
                dst[dstOffset] = METHOD_CONST;
                dst[dstOffset + 1] = (byte) only;
                return 2;
            }
            FrequencyTable table = FrequencyTable.normalize(c, 256, SCALE_BITS);
            int tableSize = table.serializedSize();
            double estimate = 5 + tableSize + 4 * STATES + 2 + Math.ceil(table.cost(c) / 8);
            if (!(estimate <= n * (1 - minGain)) || estimate >= n + 1) {
                return raw(src, srcOffset, n, dst, dstOffset);
            }
            int words = encodeRans(table, src, srcOffset, n);
            int total = 5 + tableSize + 4 * STATES + words;
            if (words < 0 || total > n) {
                return raw(src, srcOffset, n, dst, dstOffset);
            }
            dst[dstOffset] = METHOD_RANS;
            INT.set(dst, dstOffset + 1, total - 5);
            int p = table.write(dst, dstOffset + 5);
            System.arraycopy(scratch, streamStart, dst, p, 4 * STATES + words);
            return total;
        }

        /**
         * Whether a sample of every 16th symbol suggests coding can save {@code minGain}: nearly random planes
         * (float32 mantissas) are then stored raw without a full histogram. The sample's entropy is corrected
         * for its small size (Miller-Madow), so the test is not biased towards coding.
         */
        private boolean samplePays(byte[] src, int off, int n, double minGain) {
            int[] c = counts;
            java.util.Arrays.fill(c, 0);
            int samples = 0;
            for (int i = off, end = off + n; i < end; i += SAMPLE_STRIDE) {
                c[src[i] & 0xff]++;
                samples++;
            }
            int k = 0;
            for (int s = 0; s < 256; s++) {
                if (c[s] != 0) {
                    k++;
                }
            }
            if (k <= 1) {
                return true;
            }
            FrequencyTable t = FrequencyTable.normalize(c, 256, SCALE_BITS);
            double bitsPerSymbol = t.cost(c) / samples + (k - 1) / (2.0 * samples * LN2);
            return bitsPerSymbol / 8 <= 1 - minGain;
        }

        private static int raw(byte[] src, int srcOffset, int n, byte[] dst, int dstOffset) {
            dst[dstOffset] = METHOD_RAW;
            System.arraycopy(src, srcOffset, dst, dstOffset + 1, n);
            return n + 1;
        }

        /**
         * rANS-codes into {@code scratch}: [states][words] from {@code streamStart} to 16 bytes before its end.
         *
         * @return the number of word bytes, or -1 if they would exceed n bytes
         */
        private int encodeRans(FrequencyTable table, byte[] src, int off, int n) {
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
    }

    /** Decoder with a reusable decoding table; not thread-safe, keeps no state that affects the output. */
    public static final class Decoder {
        /** Per slot: symbol (bits 0-7), slot - start of symbol (8-19), frequency (20-31). */
        private final int[] table = new int[M];

        /**
         * Decodes the stream at the position of {@code in} into {@code dst[dstOffset, dstOffset + n)} and moves
         * {@code in} past it.
         *
         * @throws CorruptPayloadException if the stream is malformed or truncated
         */
        public void decode(PayloadReader in, byte[] dst, int dstOffset, int n) {
            int raw = decodeOrLocateRaw(in, dst, dstOffset, n);
            if (raw >= 0) {
                System.arraycopy(in.array(), raw, dst, dstOffset, n);
            }
        }

        /**
         * Like {@link #decode}, except that a raw stream is not copied: its {@code n} bytes stay in
         * {@code in.array()} at the returned index. Returns -1 when the symbols were decoded into {@code dst}.
         */
        public int decodeOrLocateRaw(PayloadReader in, byte[] dst, int dstOffset, int n) {
            if (n < 0 || dstOffset < 0 || dstOffset > dst.length - n) {
                throw new IndexOutOfBoundsException("destination range " + dstOffset + "+" + n + " of " + dst.length);
            }
            int methodAt = in.position();
            int method = in.u8();
            switch (method) {
                case METHOD_RAW -> {
                    in.require(n, "raw stream of " + n + " bytes");
                    int at = in.arrayIndex();
                    in.skip(n);
                    return at;
                }
                case METHOD_CONST -> {
                    if (n == 0) {
                        throw new CorruptPayloadException(methodAt, "constant stream of no symbols");
                    }
                    byte v = (byte) in.u8();
                    java.util.Arrays.fill(dst, dstOffset, dstOffset + n, v);
                    return -1;
                }
                case METHOD_RANS -> {
                    int lengthAt = in.position();
                    int length = in.i32();
                    if (length < 0 || length > in.remaining()) {
                        throw new CorruptPayloadException(lengthAt, "rANS stream length " + Integer.toUnsignedString(length)
                                + " exceeds the " + in.remaining() + " bytes left");
                    }
                    if (n < 2) {
                        throw new CorruptPayloadException(methodAt, "rANS stream for " + n + " symbols");
                    }
                    decodeRans(in.slice(length, "rANS stream"), dst, dstOffset, n);
                    return -1;
                }
                default -> throw new CorruptPayloadException(methodAt, "unknown byte stream method " + method);
            }
        }

        private void decodeRans(PayloadReader in, byte[] dst, int o, int n) {
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
}
