package io.weightstream.codec.entropy;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;

/**
 * Symbol frequencies normalized to sum to {@code 2^scaleBits}, for alphabets of up to 65536 symbols, with a
 * compact serialization. Every symbol that occurs gets a frequency of at least 1.
 *
 * <p>Serialized form: varint k (symbols present), then runs of present symbols as (varint gap from the end
 * of the previous run, varint run length - 1) until k symbols are covered, then varint (frequency - 1) of
 * every present symbol but the last, whose frequency is what is left of {@code 2^scaleBits}. An exponent
 * plane of float32 weights (about 40 adjacent symbols) costs about 50 bytes.
 *
 * <pre>{@code
 * int[] counts = ByteHistogram.count(plane, 0, n);
 * FrequencyTable t = FrequencyTable.normalize(counts, 256, 12);
 * double bits = t.cost(counts);           // coded size of the plane under this table
 * int end = t.write(dst, offset);          // serialize
 * }</pre>
 */
public final class FrequencyTable {
    /** Largest alphabet a table can describe. */
    public static final int MAX_ALPHABET = 1 << 16;
    /** Largest scale: frequencies sum to at most 2^24. */
    public static final int MAX_SCALE_BITS = 24;

    /** -log2(f / 2^24) for f in [1, 2^12] scaled so that LOG2[f] = log2(f); StrictMath keeps it identical everywhere. */
    private static final double[] LOG2 = new double[(1 << 12) + 1];

    static {
        for (int f = 1; f < LOG2.length; f++) {
            LOG2[f] = StrictMath.log(f) / StrictMath.log(2);
        }
    }

    private final int scaleBits;
    private final int[] freq;  // by symbol, 0 for absent symbols
    private final int distinct;
    private final int lastSymbol;

    private FrequencyTable(int scaleBits, int[] freq) {
        this.scaleBits = scaleBits;
        this.freq = freq;
        int k = 0;
        int last = -1;
        for (int s = 0; s < freq.length; s++) {
            if (freq[s] != 0) {
                k++;
                last = s;
            }
        }
        this.distinct = k;
        this.lastSymbol = last;
    }

    /**
     * Normalizes {@code counts[0..alphabetSize)} (at least one non-zero) to frequencies summing to
     * {@code 2^scaleBits}: each count is scaled and rounded, present symbols get at least 1, and the rounding
     * error goes to the most frequent symbol. Integer arithmetic only, so the result is the same everywhere.
     *
     * @throws IllegalArgumentException if no symbol occurs or more symbols occur than {@code 2^scaleBits}
     */
    public static FrequencyTable normalize(int[] counts, int alphabetSize, int scaleBits) {
        if (alphabetSize < 1 || alphabetSize > MAX_ALPHABET || alphabetSize > counts.length) {
            throw new IllegalArgumentException("alphabet size " + alphabetSize + " not in [1, min(" + MAX_ALPHABET
                    + ", " + counts.length + ")]");
        }
        if (scaleBits < 1 || scaleBits > MAX_SCALE_BITS) {
            throw new IllegalArgumentException("scaleBits " + scaleBits + " not in [1, " + MAX_SCALE_BITS + "]");
        }
        long total = 0;
        int k = 0;
        int maxSym = -1;
        for (int s = 0; s < alphabetSize; s++) {
            int c = counts[s];
            if (c < 0) {
                throw new IllegalArgumentException("negative count for symbol " + s);
            }
            if (c != 0) {
                total += c;
                k++;
                if (maxSym < 0 || c > counts[maxSym]) {
                    maxSym = s;
                }
            }
        }
        long m = 1L << scaleBits;
        if (k == 0) {
            throw new IllegalArgumentException("no symbol occurs");
        }
        if (k > m) {
            throw new IllegalArgumentException(k + " symbols occur but scale 2^" + scaleBits + " has room for " + m);
        }
        int[] f = new int[alphabetSize];
        long sum = 0;
        for (int s = 0; s < alphabetSize; s++) {
            long c = counts[s];
            if (c != 0) {
                long v = (c * m + total / 2) / total;
                f[s] = (int) Math.max(1, v);
                sum += f[s];
            }
        }
        long diff = m - sum;
        if (f[maxSym] + diff >= 1) {
            f[maxSym] += (int) diff;
        } else {
            // the bumps of rare symbols to 1 overshot: take the excess from the largest frequencies, one at a time
            // (largest first, the lowest symbol among equals; a heap keeps this fast when thousands of rare symbols
            // were bumped, e.g. fine quantization grids over weights with outliers)
            long[] heap = new long[k];
            int size = 0;
            for (int s = 0; s < alphabetSize; s++) {
                if (f[s] > 1) {
                    size = heapPush(heap, size, heapKey(f[s], s));
                }
            }
            while (diff < 0) {
                long top = heap[0];
                size = heapPop(heap, size);
                int best = (int) (0xffffffffL - (top & 0xffffffffL));
                long take = Math.min(-diff, Math.max(1, (f[best] - 1) / 2));
                f[best] -= (int) take;
                diff += take;
                if (f[best] > 1) {
                    size = heapPush(heap, size, heapKey(f[best], best));
                }
            }
        }
        return new FrequencyTable(scaleBits, f);
    }

    /** Adds a key to a binary max-heap of {@code size} keys; returns the new size. */
    private static int heapPush(long[] heap, int size, long key) {
        int i = size;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] >= key) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = key;
        return size + 1;
    }

    /** Removes the largest key of a binary max-heap of {@code size} keys; returns the new size. */
    private static int heapPop(long[] heap, int size) {
        long last = heap[--size];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && heap[child + 1] > heap[child]) {
                child++;
            }
            if (heap[child] <= last) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        if (size > 0) {
            heap[i] = last;
        }
        return size;
    }

    /** Orders by frequency, then by the lower symbol: larger keys first. */
    private static long heapKey(int frequency, int symbol) {
        return ((long) frequency << 32) | (0xffffffffL - symbol);
    }

    /** A table from explicit frequencies, which must sum to {@code 2^scaleBits}. */
    public static FrequencyTable of(int[] frequencies, int scaleBits) {
        long sum = 0;
        for (int f : frequencies) {
            if (f < 0) {
                throw new IllegalArgumentException("negative frequency");
            }
            sum += f;
        }
        if (scaleBits < 1 || scaleBits > MAX_SCALE_BITS || sum != 1L << scaleBits || frequencies.length > MAX_ALPHABET) {
            throw new IllegalArgumentException("frequencies sum to " + sum + ", not 2^" + scaleBits);
        }
        return new FrequencyTable(scaleBits, frequencies.clone());
    }

    public int scaleBits() {
        return scaleBits;
    }

    /** One more than the largest symbol this table can hold. */
    public int alphabetSize() {
        return freq.length;
    }

    /** Number of symbols with a non-zero frequency. */
    public int distinctSymbols() {
        return distinct;
    }

    public int frequency(int symbol) {
        return symbol < freq.length ? freq[symbol] : 0;
    }

    /** The frequencies by symbol (a copy). */
    public int[] frequencies() {
        return freq.clone();
    }

    int[] frequenciesUnsafe() {
        return freq;
    }

    /**
     * Bits needed to code symbols with these {@code counts} under this table (the ideal arithmetic-coding cost;
     * rANS adds only its final state flush). Infinite if a counted symbol has no frequency.
     */
    public double cost(int[] counts) {
        double bits = 0;
        int n = Math.min(counts.length, freq.length);
        for (int s = 0; s < n; s++) {
            int c = counts[s];
            if (c != 0) {
                int f = freq[s];
                if (f == 0) {
                    return Double.POSITIVE_INFINITY;
                }
                bits += c * (scaleBits - log2(f));
            }
        }
        for (int s = n; s < counts.length; s++) {
            if (counts[s] != 0) {
                return Double.POSITIVE_INFINITY;
            }
        }
        return bits;
    }

    private static double log2(int f) {
        if (f < LOG2.length) {
            return LOG2[f];
        }
        return StrictMath.log(f) / StrictMath.log(2);
    }

    /** Bytes {@link #write} produces. */
    public int serializedSize() {
        return write(null, 0);
    }

    /**
     * Writes the table at {@code dst[offset]} ({@code dst} may be null to only measure).
     *
     * @return the offset after the table
     */
    public int write(byte[] dst, int offset) {
        int p = putVarint(dst, offset, distinct);
        int prevEnd = 0;
        int s = 0;
        while (s < freq.length) {
            if (freq[s] == 0) {
                s++;
                continue;
            }
            int runStart = s;
            while (s < freq.length && freq[s] != 0) {
                s++;
            }
            p = putVarint(dst, p, runStart - prevEnd);
            p = putVarint(dst, p, s - runStart - 1);
            prevEnd = s;
        }
        for (int sym = 0; sym < lastSymbol; sym++) {
            if (freq[sym] != 0) {
                p = putVarint(dst, p, freq[sym] - 1);
            }
        }
        return p;
    }

    /**
     * Reads a table written by {@link #write}, validating it completely.
     *
     * @param alphabetSize symbols must be below this
     * @param minDistinct fewest symbols the caller accepts (rANS of bytes needs 2: a single symbol is coded as a constant)
     */
    public static FrequencyTable read(PayloadReader in, int alphabetSize, int scaleBits, int minDistinct) {
        int at = in.position();
        long m = 1L << scaleBits;
        int k = in.varintInt((int) Math.min(alphabetSize, m), "symbol count of frequency table");
        if (k < Math.max(1, minDistinct)) {
            throw new CorruptPayloadException(at, "frequency table with " + k + " symbols (at least "
                    + Math.max(1, minDistinct) + " expected)");
        }
        int[] f = new int[alphabetSize];
        int covered = 0;
        int next = 0;
        while (covered < k) {
            int runAt = in.position();
            int gap = in.varintInt(alphabetSize, "symbol gap");
            int len = in.varintInt(alphabetSize, "run length") + 1;
            if ((long) next + gap + len > alphabetSize || covered + len > k) {
                throw new CorruptPayloadException(runAt, "frequency table run beyond the alphabet or symbol count");
            }
            next += gap;
            for (int i = 0; i < len; i++) {
                f[next + i] = 1; // marks presence; replaced below
            }
            next += len;
            covered += len;
        }
        long sum = 0;
        int last = next - 1;
        for (int s = 0; s < last; s++) {
            if (f[s] != 0) {
                int fat = in.position();
                int v = in.varintInt((int) Math.min(Integer.MAX_VALUE, m - 1), "frequency") + 1;
                sum += v;
                if (sum >= m) {
                    throw new CorruptPayloadException(fat, "frequencies exceed 2^" + scaleBits);
                }
                f[s] = v;
            }
        }
        f[last] = (int) (m - sum);
        return new FrequencyTable(scaleBits, f);
    }

    static int putVarint(byte[] dst, int p, long v) {
        while ((v & ~0x7fL) != 0) {
            if (dst != null) {
                dst[p] = (byte) ((v & 0x7f) | 0x80);
            }
            p++;
            v >>>= 7;
        }
        if (dst != null) {
            dst[p] = (byte) v;
        }
        return p + 1;
    }
}
