package io.weightstream.codec.entropy;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Order-0 entropy coding of byte streams, for any codec: each stream is stored raw, as one constant byte,
 * rANS-coded or Huffman-coded, whichever the encoder finds worth it. Streams delimit themselves, so a codec
 * can write several in a row and keep only their symbol counts.
 *
 * <pre>
 *   u8 method: 0 raw: n bytes follow
 *              1 constant: 1 byte follows, repeated n times
 *              2 rANS:    u32 LE body length, body ({@code RansKernel}: 4 interleaved states, 12-bit frequencies)
 *              3 Huffman: u32 LE body length, body ({@code HuffmanKernel}: codes of at most 11 bits, 4 streams)
 * </pre>
 *
 * {@link Coding#RANS} gets within about 0.05 % of the order-0 entropy; {@link Coding#HUFFMAN} gives up about
 * 1 to 2 % of size on skewed streams (float exponents) for two to three times the speed. Decoding checks every
 * read, the table, and that each stream ends exactly where its length says, so corruption is reported as
 * {@link CorruptPayloadException} or yields other bytes, never an out-of-bounds access. Integer arithmetic
 * only: the same stream decodes to the same bytes on every machine.
 *
 * <pre>{@code
 * ByteCoder.Encoder enc = new ByteCoder.Encoder();            // scratch memory; one per thread
 * byte[] dst = new byte[ByteCoder.maxEncodedLength(n)];
 * int len = enc.encode(plane, 0, n, dst, 0, 0.01, ByteCoder.Coding.RANS);
 * new ByteCoder.Decoder().decode(PayloadReader.of(dst, 0, len), out, 0, n);
 * }</pre>
 */
public final class ByteCoder {
    /** The entropy coders a stream may use. */
    public enum Coding {
        /** Static rANS: the smallest streams. */
        RANS,
        /** Canonical Huffman: faster, slightly larger. */
        HUFFMAN
    }

    public static final int METHOD_RAW = 0;
    public static final int METHOD_CONST = 1;
    public static final int METHOD_RANS = 2;
    public static final int METHOD_HUFFMAN = 3;

    /** Streams of at least this many symbols are sampled before a full histogram is taken. */
    static final int SAMPLE_MIN = 8192;
    static final int SAMPLE_STRIDE = 16;
    private static final double LN2 = StrictMath.log(2);

    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private ByteCoder() {
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

    /** Encoder with reusable scratch memory; not thread-safe, keeps no state that affects the output. */
    public static final class Encoder {
        private final int[] counts = new int[256];
        private RansKernel rans;
        private HuffmanKernel huffman;

        /** Like {@link #encode(byte[], int, int, int[], byte[], int, double, Coding)} without a histogram. */
        public int encode(byte[] src, int srcOffset, int n, byte[] dst, int dstOffset, double minGain, Coding coding) {
            return encode(src, srcOffset, n, null, dst, dstOffset, minGain, coding);
        }

        /**
         * Codes {@code src[srcOffset, srcOffset + n)} into {@code dst} at {@code dstOffset}: constant if it holds
         * one symbol, else with {@code coding} if that saves at least {@code minGain} of n, else raw.
         *
         * @param histogram the byte counts of exactly these symbols if the caller has them, else null (a large
         *                  stream is then sampled first, so nearly random data is stored raw cheaply)
         * @return bytes written, at most {@link #maxEncodedLength(int) maxEncodedLength(n)}
         */
        public int encode(byte[] src, int srcOffset, int n, int[] histogram, byte[] dst, int dstOffset,
                          double minGain, Coding coding) {
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
            if (histogram == null && n >= SAMPLE_MIN && minGain > 0 && !samplePays(src, srcOffset, n, minGain)) {
                return raw(src, srcOffset, n, dst, dstOffset);
            }
            int[] c = counts;
            if (histogram != null) {
                System.arraycopy(histogram, 0, c, 0, 256);
            } else {
                Arrays.fill(c, 0);
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
            double limit = Math.min(n * (1 - minGain), n);
            return coding == Coding.HUFFMAN
                    ? huffman(src, srcOffset, n, dst, dstOffset, limit)
                    : rans(src, srcOffset, n, dst, dstOffset, limit);
        }

        private int huffman(byte[] src, int off, int n, byte[] dst, int dstOffset, double limit) {
            if (huffman == null) {
                huffman = new HuffmanKernel();
            }
            long bits = huffman.build(counts);
            // exact up to the padding of the 4 streams
            long size = 5 + huffman.tableSize() + 4L * (HuffmanKernel.STREAMS - 1) + (bits + 7) / 8 + HuffmanKernel.STREAMS;
            if (size > limit) {
                return raw(src, off, n, dst, dstOffset);
            }
            dst[dstOffset] = METHOD_HUFFMAN;
            int body = huffman.encode(src, off, n, dst, dstOffset + 5);
            INT.set(dst, dstOffset + 1, body);
            return 5 + body;
        }

        private int rans(byte[] src, int off, int n, byte[] dst, int dstOffset, double limit) {
            if (rans == null) {
                rans = new RansKernel();
            }
            FrequencyTable table = FrequencyTable.normalize(counts, 256, RansKernel.SCALE_BITS);
            int tableSize = table.serializedSize();
            double estimate = 5 + tableSize + 4 * RansKernel.STATES + 2 + Math.ceil(table.cost(counts) / 8);
            if (estimate > limit) {
                return raw(src, off, n, dst, dstOffset);
            }
            int words = rans.encode(table, src, off, n);
            int total = 5 + tableSize + 4 * RansKernel.STATES + words;
            if (words < 0 || total > n) {
                return raw(src, off, n, dst, dstOffset);
            }
            dst[dstOffset] = METHOD_RANS;
            INT.set(dst, dstOffset + 1, total - 5);
            int p = table.write(dst, dstOffset + 5);
            System.arraycopy(rans.scratch(), rans.streamStart(), dst, p, 4 * RansKernel.STATES + words);
            return total;
        }

        /**
         * Whether a sample of every 16th symbol suggests coding can save {@code minGain}: nearly random planes
         * (float32 mantissas) are then stored raw without a full histogram. The sample's entropy is corrected
         * for its small size (Miller-Madow), so the test is not biased towards coding.
         */
        private boolean samplePays(byte[] src, int off, int n, double minGain) {
            int[] c = counts;
            Arrays.fill(c, 0);
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
            FrequencyTable t = FrequencyTable.normalize(c, 256, RansKernel.SCALE_BITS);
            double bitsPerSymbol = t.cost(c) / samples + (k - 1) / (2.0 * samples * LN2);
            return bitsPerSymbol / 8 <= 1 - minGain;
        }

        private static int raw(byte[] src, int srcOffset, int n, byte[] dst, int dstOffset) {
            dst[dstOffset] = METHOD_RAW;
            System.arraycopy(src, srcOffset, dst, dstOffset + 1, n);
            return n + 1;
        }
    }

    /** Decoder with reusable tables; not thread-safe, keeps no state that affects the output. */
    public static final class Decoder {
        private RansKernel rans;
        private HuffmanKernel huffman;

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
                    Arrays.fill(dst, dstOffset, dstOffset + n, v);
                    return -1;
                }
                case METHOD_RANS, METHOD_HUFFMAN -> {
                    int lengthAt = in.position();
                    int length = in.i32();
                    if (length < 0 || length > in.remaining()) {
                        throw new CorruptPayloadException(lengthAt, "stream length " + Integer.toUnsignedString(length)
                                + " exceeds the " + in.remaining() + " bytes left");
                    }
                    if (n < 2) {
                        throw new CorruptPayloadException(methodAt, "entropy-coded stream for " + n + " symbols");
                    }
                    PayloadReader body = in.slice(length, "entropy-coded stream");
                    if (method == METHOD_RANS) {
                        if (rans == null) {
                            rans = new RansKernel();
                        }
                        rans.decode(body, dst, dstOffset, n);
                    } else {
                        if (huffman == null) {
                            huffman = new HuffmanKernel();
                        }
                        huffman.decode(body, dst, dstOffset, n);
                    }
                    return -1;
                }
                default -> throw new CorruptPayloadException(methodAt, "unknown byte stream method " + method);
            }
        }
    }
}
