package io.weightstream.codec.entropy;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Canonical Huffman coding of bytes, codes at most 11 bits long, in 4 independent bit streams (one per
 * quarter of the symbols) that the decoder reads two at a time, each lookup of 11 bits yielding up to 6
 * symbols. Body layout (after {@link ByteCoder}'s method byte and length):
 * <pre>
 *   varint k (symbols present), runs of present symbols as in {@link FrequencyTable},
 *   code lengths of the present symbols as 4-bit nibbles, low nibble first (a complete code: Kraft sum 1),
 *   3 x u32 LE byte lengths of streams 0..2 (stream 3 takes the rest),
 *   4 bit streams, most significant bit first, each padded with zero bits to a whole byte
 * </pre>
 * Not thread-safe: one instance per thread, reused for its scratch memory; no state carries over calls.
 */
final class HuffmanKernel {
    static final int MAX_LEN = 11;
    private static final int LUT_SIZE = 1 << MAX_LEN;
    static final int STREAMS = 4;
    /** Symbols one lookup can yield. */
    private static final int MAX_SYMBOLS = 6;

    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    // encoder
    private final int[] lengths = new int[256];
    /** Per symbol: code in bits 0-15, length in bits 16-19. */
    private final int[] codes = new int[256];
    private final long[] keys = new long[256];
    private final long[] work = new long[256];
    private final int[] symbols = new int[256];
    private byte[] scratch = new byte[0];

    // decoder
    /** Per 11-bit prefix: symbols (bits 0-47), count (48-50), bits used (51-54), length of the first symbol (55-58). */
    private final long[] lut = new long[LUT_SIZE];
    private final int[] single = new int[LUT_SIZE];
    /** The code lengths {@link #lut} was built for: consecutive blocks often share them. */
    private final int[] lutLengths = new int[256];
    private boolean lutValid;

    // ------------------------------------------------------------------ code construction

    /**
     * Builds length-limited Huffman code lengths for {@code counts} (at least 2 symbols present).
     *
     * @return the coded size in bits of symbols with exactly these counts
     */
    long build(int[] counts) {
        int k = 0;
        for (int s = 0; s < 256; s++) {
            lengths[s] = 0;
            if (counts[s] != 0) {
                keys[k++] = ((long) counts[s] << 8) | s; // ascending count, ties by symbol: deterministic
            }
        }
        Arrays.sort(keys, 0, k);
        for (int i = 0; i < k; i++) {
            work[i] = keys[i] >>> 8;
            symbols[i] = (int) (keys[i] & 0xff);
        }
        minimumRedundancy(work, k);
        // work[i] = optimal length of the i-th least frequent symbol; limit to MAX_LEN (miniz's method)
        int[] numCodes = new int[64];
        for (int i = 0; i < k; i++) {
            numCodes[(int) Math.min(63, work[i])]++;
        }
        for (int l = MAX_LEN + 1; l < 64; l++) {
            numCodes[MAX_LEN] += numCodes[l];
            numCodes[l] = 0;
        }
        long total = 0;
        for (int l = MAX_LEN; l > 0; l--) {
            total += (long) numCodes[l] << (MAX_LEN - l);
        }
        while (total != 1L << MAX_LEN) {
            numCodes[MAX_LEN]--;
            for (int l = MAX_LEN - 1; l > 0; l--) {
                if (numCodes[l] != 0) {
                    numCodes[l]--;
                    numCodes[l + 1] += 2;
                    break;
                }
            }
            total--;
        }
        // the most frequent symbols take the shortest lengths
        int j = k;
        long bits = 0;
        for (int l = 1; l <= MAX_LEN; l++) {
            for (int c = numCodes[l]; c > 0; c--) {
                int s = symbols[--j];
                lengths[s] = l;
                bits += (long) counts[s] * l;
            }
        }
        assignCodes(lengths, codes);
        return bits;
    }

    /** Moffat and Katajainen's in-place minimum-redundancy code lengths of weights sorted ascending. */
    private static void minimumRedundancy(long[] a, int n) {
        if (n == 0) {
            return;
        }
        if (n == 1) {
            a[0] = 1;
            return;
        }
        a[0] += a[1];
        int root = 0;
        int leaf = 2;
        for (int next = 1; next < n - 1; next++) {
            if (leaf >= n || a[root] < a[leaf]) {
                a[next] = a[root];
                a[root++] = next;
            } else {
                a[next] = a[leaf++];
            }
            if (leaf >= n || (root < next && a[root] < a[leaf])) {
                a[next] += a[root];
                a[root++] = next;
            } else {
                a[next] += a[leaf++];
            }
        }
        a[n - 2] = 0;
        for (int next = n - 3; next >= 0; next--) {
            a[next] = a[(int) a[next]] + 1;
        }
        int avbl = 1;
        int used = 0;
        int dpth = 0;
        int root2 = n - 2;
        int next = n - 1;
        while (avbl > 0) {
            while (root2 >= 0 && a[root2] == dpth) {
                used++;
                root2--;
            }
            while (avbl > used) {
                a[next--] = dpth;
                avbl--;
            }
            avbl = 2 * used;
            dpth++;
            used = 0;
        }
    }

    /** Canonical codes (DEFLATE's rule) for lengths; codes[s] = code | length << 16. */
    private static void assignCodes(int[] lengths, int[] codes) {
        int[] count = new int[MAX_LEN + 2];
        for (int s = 0; s < 256; s++) {
            count[lengths[s]]++;
        }
        count[0] = 0;
        int[] next = new int[MAX_LEN + 2];
        int code = 0;
        for (int l = 1; l <= MAX_LEN; l++) {
            code = (code + count[l - 1]) << 1;
            next[l] = code;
        }
        for (int s = 0; s < 256; s++) {
            int l = lengths[s];
            codes[s] = l == 0 ? 0 : next[l]++ | (l << 16);
        }
    }

    /** Bytes {@link #writeTable} takes for the current code. */
    int tableSize() {
        int k = 0;
        for (int s = 0; s < 256; s++) {
            if (lengths[s] != 0) {
                k++;
            }
        }
        return writeRuns(null, 0) + (k + 1) / 2;
    }

    private int writeRuns(byte[] dst, int p) {
        int k = 0;
        for (int s = 0; s < 256; s++) {
            if (lengths[s] != 0) {
                k++;
            }
        }
        p = FrequencyTable.putVarint(dst, p, k);
        int prevEnd = 0;
        int s = 0;
        while (s < 256) {
            if (lengths[s] == 0) {
                s++;
                continue;
            }
            int start = s;
            while (s < 256 && lengths[s] != 0) {
                s++;
            }
            p = FrequencyTable.putVarint(dst, p, start - prevEnd);
            p = FrequencyTable.putVarint(dst, p, s - start - 1);
            prevEnd = s;
        }
        return p;
    }

    // ------------------------------------------------------------------ encoding

    /**
     * Writes the body (table, stream lengths, streams) for {@code src[off, off + n)} at {@code dst[p]}; the
     * caller checked with {@link #build} and {@link #tableSize} that it fits.
     *
     * @return bytes written
     */
    int encode(byte[] src, int off, int n, byte[] dst, int p) {
        int start = p;
        p = writeRuns(dst, p);
        int nibble = -1;
        for (int s = 0; s < 256; s++) {
            if (lengths[s] != 0) {
                if (nibble < 0) {
                    nibble = lengths[s];
                } else {
                    dst[p++] = (byte) (nibble | (lengths[s] << 4));
                    nibble = -1;
                }
            }
        }
        if (nibble >= 0) {
            dst[p++] = (byte) nibble;
        }
        int lengthsAt = p;
        p += 4 * (STREAMS - 1);
        int cap = n + 8 * STREAMS + 16;
        if (scratch.length < cap) {
            scratch = new byte[cap];
        }
        int seg = (n + STREAMS - 1) / STREAMS;
        for (int k = 0; k < STREAMS; k++) {
            int from = Math.min(n, k * seg);
            int to = Math.min(n, from + seg);
            int len = encodeStream(src, off + from, to - from, scratch);
            System.arraycopy(scratch, 0, dst, p, len);
            p += len;
            if (k < STREAMS - 1) {
                INT.set(dst, lengthsAt + 4 * k, len);
            }
        }
        return p - start;
    }

    /** One bit stream, MSB first, into buf[0..]; returns its length in bytes. */
    private int encodeStream(byte[] src, int off, int n, byte[] buf) {
        final int[] c = codes;
        long acc = 0;
        int bits = 0;
        int q = 0;
        int i = off;
        int end = off + n;
        // 4 codes (at most 44 bits) on top of at most 7 pending bits, then flush whole bytes branch-free;
        // the 4 codes are joined first so that only one shift-or waits on the accumulator
        for (; i <= end - 4; i += 4) {
            int c0 = c[src[i] & 0xff];
            int c1 = c[src[i + 1] & 0xff];
            int c2 = c[src[i + 2] & 0xff];
            int c3 = c[src[i + 3] & 0xff];
            int l1 = c1 >>> 16;
            int l3 = c3 >>> 16;
            int l23 = (c2 >>> 16) + l3;
            int l0123 = (c0 >>> 16) + l1 + l23;
            long c01 = ((long) (c0 & 0xffff) << l1) | (c1 & 0xffff);
            long c23 = ((long) (c2 & 0xffff) << l3) | (c3 & 0xffff);
            acc = (acc << l0123) | (c01 << l23) | c23;
            bits += l0123;
            LONG_BE.set(buf, q, acc << (64 - bits));
            q += bits >>> 3;
            bits &= 7;
        }
        for (; i < end; i++) {
            int c0 = c[src[i] & 0xff];
            acc = (acc << (c0 >>> 16)) | (c0 & 0xffff);
            bits += c0 >>> 16;
            LONG_BE.set(buf, q, acc << (64 - bits));
            q += bits >>> 3;
            bits &= 7;
        }
        if (bits > 0) {
            buf[q++] = (byte) (acc << (8 - bits));
        }
        return q;
    }

    // ------------------------------------------------------------------ decoding

    /** Decodes a body of exactly the reader's remaining bytes into dst[o, o + n). */
    void decode(PayloadReader in, byte[] dst, int o, int n) {
        readTable(in);
        int lengthsAt = in.position();
        int[] streamEnd = new int[STREAMS];
        int[] streamStart = new int[STREAMS];
        long sum = 0;
        int[] len = new int[STREAMS];
        for (int k = 0; k < STREAMS - 1; k++) {
            len[k] = in.i32();
            sum += len[k] & 0xffffffffL;
        }
        if (sum > in.remaining() || len[0] < 0 || len[1] < 0 || len[2] < 0) {
            throw new CorruptPayloadException(lengthsAt, "Huffman stream lengths exceed the body");
        }
        len[STREAMS - 1] = (int) (in.remaining() - sum);
        int p = in.arrayIndex();
        for (int k = 0; k < STREAMS; k++) {
            streamStart[k] = p;
            p += len[k];
            streamEnd[k] = p;
        }
        byte[] src = in.array();
        int base = in.position() - in.arrayIndex(); // payload offset = array index + base
        int seg = (n + STREAMS - 1) / STREAMS;
        for (int k = 0; k < STREAMS; k += 2) {
            int fromA = Math.min(n, k * seg);
            int toA = Math.min(n, fromA + seg);
            int fromB = Math.min(n, (k + 1) * seg);
            int toB = Math.min(n, fromB + seg);
            decodePair(src, streamStart[k], streamEnd[k], dst, o + fromA, o + toA,
                    streamStart[k + 1], streamEnd[k + 1], o + fromB, o + toB, base);
        }
        in.skip(in.remaining());
    }

    private void readTable(PayloadReader in) {
        int at = in.position();
        int k = in.varintInt(256, "Huffman symbol count");
        if (k < 2) {
            throw new CorruptPayloadException(at, "Huffman table with " + k + " symbols");
        }
        int[] len = lengths;
        Arrays.fill(len, 0);
        int covered = 0;
        int next = 0;
        int[] order = symbols;
        while (covered < k) {
            int runAt = in.position();
            int gap = in.varintInt(256, "symbol gap");
            int run = in.varintInt(256, "run length") + 1;
            if (next + gap + run > 256 || covered + run > k) {
                throw new CorruptPayloadException(runAt, "Huffman table run beyond the alphabet or symbol count");
            }
            next += gap;
            for (int i = 0; i < run; i++) {
                order[covered++] = next++;
            }
        }
        int nibblesAt = in.position();
        in.require((k + 1) / 2, "Huffman code lengths");
        long kraft = 0;
        for (int i = 0; i < k; i += 2) {
            int b = in.u8();
            int l0 = b & 15;
            int l1 = b >>> 4;
            if (l0 < 1 || l0 > MAX_LEN || (i + 1 < k ? l1 < 1 || l1 > MAX_LEN : l1 != 0)) {
                throw new CorruptPayloadException(nibblesAt + i / 2, "Huffman code length out of range");
            }
            len[order[i]] = l0;
            kraft += 1L << (MAX_LEN - l0);
            if (i + 1 < k) {
                len[order[i + 1]] = l1;
                kraft += 1L << (MAX_LEN - l1);
            }
        }
        if (kraft != LUT_SIZE) {
            throw new CorruptPayloadException(nibblesAt, "Huffman code lengths do not form a complete code");
        }
        if (lutValid && Arrays.equals(len, lutLengths)) {
            return;
        }
        assignCodes(len, codes);
        for (int s = 0; s < 256; s++) {
            int l = len[s];
            if (l != 0) {
                int c = codes[s] & 0xffff;
                int from = c << (MAX_LEN - l);
                Arrays.fill(single, from, from + (1 << (MAX_LEN - l)), s | (l << 8));
            }
        }
        for (int v = 0; v < LUT_SIZE; v++) {
            long e = 0;
            int used = 0;
            int count = 0;
            int first = 0;
            while (count < MAX_SYMBOLS) {
                int d = single[(v << used) & (LUT_SIZE - 1)];
                int l = d >>> 8;
                if (used + l > MAX_LEN) {
                    break;
                }
                if (count == 0) {
                    first = l;
                }
                e |= (long) (d & 0xff) << (8 * count);
                used += l;
                count++;
            }
            lut[v] = e | ((long) count << 48) | ((long) used << 51) | ((long) first << 55);
        }
        System.arraycopy(len, 0, lutLengths, 0, 256);
        lutValid = true;
    }

    /** Decodes two streams into their segments: both at once while they have room, then each to its end. */
    private void decodePair(byte[] src, int pa, int qa, byte[] dst, int ia, int ea,
                            int pb, int qb, int ib, int eb, int base) {
        final long[] t = lut;
        long ba = 0;
        long bb = 0;
        int ca = 0;
        int cb = 0;
        while (pa <= qa - 8 && pb <= qb - 8 && ia <= ea - 32 && ib <= eb - 32) {
            // refill to at least 56 bits (F. Giesen's branch-free variant): 4 lookups of at most 11 bits follow
            ba |= (long) LONG_BE.get(src, pa) >>> ca;
            pa += (63 - ca) >>> 3;
            ca |= 56;
            bb |= (long) LONG_BE.get(src, pb) >>> cb;
            pb += (63 - cb) >>> 3;
            cb |= 56;
            for (int r = 0; r < 4; r++) {
                long x = t[(int) (ba >>> (64 - MAX_LEN))];
                long y = t[(int) (bb >>> (64 - MAX_LEN))];
                LONG_LE.set(dst, ia, x);
                LONG_LE.set(dst, ib, y);
                ia += (int) (x >>> 48) & 7;
                ib += (int) (y >>> 48) & 7;
                int lx = (int) (x >>> 51) & 15;
                int ly = (int) (y >>> 51) & 15;
                ba <<= lx;
                bb <<= ly;
                ca -= lx;
                cb -= ly;
            }
        }
        finishFast(src, pa, qa, ba, ca, dst, ia, ea, base);
        finishFast(src, pb, qb, bb, cb, dst, ib, eb, base);
    }

    /** One stream alone as long as it has room (its partner ended first), then {@link #finish}. */
    private void finishFast(byte[] src, int p, int q, long buf, int avail, byte[] dst, int i, int e, int base) {
        final long[] t = lut;
        while (p <= q - 8 && i <= e - 32) {
            buf |= (long) LONG_BE.get(src, p) >>> avail;
            p += (63 - avail) >>> 3;
            avail |= 56;
            for (int r = 0; r < 4; r++) {
                long x = t[(int) (buf >>> (64 - MAX_LEN))];
                LONG_LE.set(dst, i, x);
                i += (int) (x >>> 48) & 7;
                int l = (int) (x >>> 51) & 15;
                buf <<= l;
                avail -= l;
            }
        }
        finish(src, p, q, buf, avail, dst, i, e, base);
    }

    /** Decodes the rest of one stream symbol by symbol, checking every byte, and checks the stream's end. */
    private void finish(byte[] src, int p, int q, long buf, int avail, byte[] dst, int i, int e, int base) {
        final long[] t = lut;
        while (i < e) {
            while (avail <= 56 && p < q) {
                buf |= (src[p++] & 0xffL) << (56 - avail);
                avail += 8;
            }
            long x = t[(int) (buf >>> (64 - MAX_LEN))];
            int l = (int) (x >>> 55) & 15;
            if (l > avail) {
                throw new CorruptPayloadException(q + base, "Huffman stream ends early");
            }
            dst[i++] = (byte) x;
            buf <<= l;
            avail -= l;
        }
        if (p != q || avail >= 8 || (avail > 0 && buf >>> (64 - avail) != 0)) {
            throw new CorruptPayloadException(p + base, "Huffman stream does not end where its length says");
        }
    }
}
