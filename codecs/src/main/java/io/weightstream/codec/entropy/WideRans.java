package io.weightstream.codec.entropy;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.PayloadWriter;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Static rANS over alphabets of up to 65536 symbols (quantization levels, indices): 4 interleaved 64-bit
 * states in [2^31, 2^63), 32-bit renormalization, frequencies of {@code scale} bits, where scale is
 * {@code max(12, ceil(log2(distinct symbols)) + 2)} up to {@link #MAX_SCALE_BITS}. Integer arithmetic only.
 *
 * <p>Stream layout (self-delimiting; the caller keeps the symbol count n and the alphabet size):
 * <pre>
 *   u8 scale: 0 = every symbol equal (varint symbol follows) | 12..18
 *   u32 LE length of the rest, {@link FrequencyTable} (scale bits, alphabet size),
 *   4 x u64 LE initial decoder states, u32 LE renormalization words
 * </pre>
 *
 * <pre>{@code
 * PayloadWriter out = new PayloadWriter(n);
 * WideRans.encode(levels, 0, n, 1 << 12, out);
 * int[] back = new int[n];
 * WideRans.decode(PayloadReader.of(out.toByteArray()), 1 << 12, back, 0, n);
 * }</pre>
 */
public final class WideRans {
    /** Largest alphabet. */
    public static final int MAX_ALPHABET = FrequencyTable.MAX_ALPHABET;
    /** Largest frequency scale (the decoder's table then has 2^18 entries, 1 MiB). */
    public static final int MAX_SCALE_BITS = 18;
    private static final int MIN_SCALE_BITS = 12;
    private static final long L = 1L << 31;
    private static final int STATES = 4;
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private WideRans() {
    }

    /**
     * Appends the stream for {@code symbols[off, off + n)} to {@code out}.
     *
     * @throws IllegalArgumentException if a symbol is outside {@code [0, alphabetSize)}
     */
    public static void encode(int[] symbols, int off, int n, int alphabetSize, PayloadWriter out) {
        if (alphabetSize < 1 || alphabetSize > MAX_ALPHABET) {
            throw new IllegalArgumentException("alphabet size " + alphabetSize + " not in [1, " + MAX_ALPHABET + "]");
        }
        if (n < 0 || off < 0 || off > symbols.length - n) {
            throw new IndexOutOfBoundsException("range " + off + "+" + n + " of " + symbols.length);
        }
        int[] counts = new int[alphabetSize];
        int distinct = 0;
        for (int i = off; i < off + n; i++) {
            int s = symbols[i];
            if (s < 0 || s >= alphabetSize) {
                throw new IllegalArgumentException("symbol " + s + " at " + i + " outside the alphabet [0, " + alphabetSize + ")");
            }
            if (counts[s]++ == 0) {
                distinct++;
            }
        }
        if (distinct <= 1) {
            out.u8(0);
            out.varint(n == 0 ? 0 : symbols[off]);
            return;
        }
        int scale = Math.max(MIN_SCALE_BITS, 32 - Integer.numberOfLeadingZeros(distinct - 1) + 2);
        FrequencyTable table = FrequencyTable.normalize(counts, alphabetSize, scale);
        int[] f = table.frequenciesUnsafe();
        int[] start = new int[alphabetSize];
        for (int s = 0, c = 0; s < alphabetSize; s++) {
            start[s] = c;
            c += f[s];
        }
        // words are produced backwards; each symbol adds at most one 32-bit word per state step
        int[] words = new int[n + 1];
        int w = words.length;
        long[] x = {L, L, L, L};
        for (int i = n - 1; i >= 0; i--) {
            int s = symbols[off + i];
            int k = i & (STATES - 1);
            long xs = x[k];
            long fs = f[s];
            long xmax = ((L >>> scale) << 32) * fs;
            if (xs >= xmax) {
                words[--w] = (int) xs;
                xs >>>= 32;
            }
            long q = xs / fs;
            x[k] = (q << scale) + (xs - q * fs) + start[s];
        }
        out.u8(scale);
        int lengthAt = out.position();
        out.i32(0);
        int tableStart = out.position();
        byte[] t = new byte[table.serializedSize()];
        table.write(t, 0);
        out.bytes(t);
        for (long s : x) {
            out.i64(s);
        }
        int nw = words.length - w;
        byte[] buf = out.ensureCapacity(4 * nw);
        int p = out.position();
        for (int i = w; i < words.length; i++) {
            INT.set(buf, p, words[i]);
            p += 4;
        }
        out.advance(4 * nw);
        out.i32At(lengthAt, out.position() - tableStart);
    }

    /**
     * Decodes a stream into {@code dst[off, off + n)} and moves {@code in} past it.
     *
     * @throws CorruptPayloadException if the stream is malformed, truncated or holds other than n symbols
     */
    public static void decode(PayloadReader in, int alphabetSize, int[] dst, int off, int n) {
        if (alphabetSize < 1 || alphabetSize > MAX_ALPHABET) {
            throw new IllegalArgumentException("alphabet size " + alphabetSize + " not in [1, " + MAX_ALPHABET + "]");
        }
        if (n < 0 || off < 0 || off > dst.length - n) {
            throw new IndexOutOfBoundsException("range " + off + "+" + n + " of " + dst.length);
        }
        int scaleAt = in.position();
        int scale = in.u8();
        if (scale == 0) {
            int s = in.varintInt(alphabetSize - 1, "constant symbol");
            Arrays.fill(dst, off, off + n, s);
            return;
        }
        if (scale < MIN_SCALE_BITS || scale > MAX_SCALE_BITS) {
            throw new CorruptPayloadException(scaleAt, "frequency scale " + scale + " not in [" + MIN_SCALE_BITS + ", "
                    + MAX_SCALE_BITS + "]");
        }
        int lengthAt = in.position();
        int length = in.i32();
        if (length < 0 || length > in.remaining()) {
            throw new CorruptPayloadException(lengthAt, "stream length " + Integer.toUnsignedString(length)
                    + " exceeds the " + in.remaining() + " bytes left");
        }
        PayloadReader body = in.slice(length, "wide rANS stream");
        FrequencyTable table = FrequencyTable.read(body, alphabetSize, scale, 2);
        int[] f = table.frequenciesUnsafe();
        int m = 1 << scale;
        // per slot: the symbol; per symbol: frequency and start
        int[] slotSymbol = new int[m];
        int[] start = new int[alphabetSize];
        for (int s = 0, c = 0; s < alphabetSize; s++) {
            start[s] = c;
            Arrays.fill(slotSymbol, c, c + f[s], s);
            c += f[s];
        }
        int statesAt = body.position();
        body.require(8L * STATES, "wide rANS states");
        long[] x = new long[STATES];
        for (int k = 0; k < STATES; k++) {
            x[k] = body.i64();
            if (x[k] < L) {
                throw new CorruptPayloadException(statesAt, "rANS state out of range");
            }
        }
        if ((body.remaining() & 3) != 0) {
            throw new CorruptPayloadException(body.position(), "wide rANS words are not whole 32-bit words");
        }
        byte[] src = body.array();
        int p = body.arrayIndex();
        int end = p + body.remaining();
        long mask = m - 1;
        for (int i = 0; i < n; i++) {
            int k = i & (STATES - 1);
            long xs = x[k];
            int s = slotSymbol[(int) (xs & mask)];
            dst[off + i] = s;
            xs = f[s] * (xs >>> scale) + (xs & mask) - start[s];
            if (xs < L) {
                if (p > end - 4) {
                    throw new CorruptPayloadException(body.limit(), "wide rANS stream ends early");
                }
                xs = (xs << 32) | ((int) INT.get(src, p) & 0xffffffffL);
                p += 4;
            }
            x[k] = xs;
        }
        int at = body.position() + (p - body.arrayIndex());
        for (long xs : x) {
            if (xs != L) {
                throw new CorruptPayloadException(at, "wide rANS stream does not decode to its final state");
            }
        }
        if (p != end) {
            throw new CorruptPayloadException(at, (end - p) + " unused bytes at the end of a wide rANS stream");
        }
        body.skip(body.remaining());
    }
}
