package io.weightstream.codec.entropy;

import io.weightstream.codec.PayloadReader;

/**
 * {@link ByteCoder} streams coded with rANS: the smallest order-0 coding of bytes (within about 0.05 % of the
 * entropy). Same stream format as {@link ByteCoder} (whose decoder reads these streams and vice versa).
 *
 * <pre>{@code
 * byte[] dst = new byte[ByteRans.maxEncodedLength(n)];
 * int len = new ByteRans.Encoder().encode(codes, 0, n, null, dst, 0, 0.0);
 * new ByteRans.Decoder().decode(PayloadReader.of(dst, 0, len), out, 0, n);
 * }</pre>
 */
public final class ByteRans {
    private ByteRans() {
    }

    /** Largest stream {@link Encoder#encode} writes for {@code n} symbols. */
    public static int maxEncodedLength(int n) {
        return ByteCoder.maxEncodedLength(n);
    }

    /** Adds the byte counts of {@code src[offset, offset + n)} to {@code counts[0..256)}. */
    public static void histogram(byte[] src, int offset, int n, int[] counts) {
        ByteCoder.histogram(src, offset, n, counts);
    }

    /** rANS encoder with reusable scratch memory; not thread-safe. */
    public static final class Encoder {
        private final ByteCoder.Encoder encoder = new ByteCoder.Encoder();

        /**
         * Codes {@code src[srcOffset, srcOffset + n)} into {@code dst} at {@code dstOffset}: constant, rANS if that
         * saves at least {@code minGain} of n, else raw.
         *
         * @param histogram the byte counts of exactly these symbols if the caller has them, else null
         * @return bytes written, at most {@link #maxEncodedLength(int) maxEncodedLength(n)}
         */
        public int encode(byte[] src, int srcOffset, int n, int[] histogram, byte[] dst, int dstOffset, double minGain) {
            return encoder.encode(src, srcOffset, n, histogram, dst, dstOffset, minGain, ByteCoder.Coding.RANS);
        }
    }

    /** Decoder of {@link ByteCoder} streams; not thread-safe. */
    public static final class Decoder {
        private final ByteCoder.Decoder decoder = new ByteCoder.Decoder();

        /** See {@link ByteCoder.Decoder#decode}. */
        public void decode(PayloadReader in, byte[] dst, int dstOffset, int n) {
            decoder.decode(in, dst, dstOffset, n);
        }

        /** See {@link ByteCoder.Decoder#decodeOrLocateRaw}. */
        public int decodeOrLocateRaw(PayloadReader in, byte[] dst, int dstOffset, int n) {
            return decoder.decodeOrLocateRaw(in, dst, dstOffset, n);
        }
    }
}
