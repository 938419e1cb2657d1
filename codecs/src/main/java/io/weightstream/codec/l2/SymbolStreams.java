package io.weightstream.codec.l2;

import io.weightstream.codec.PayloadWriter;
import io.weightstream.codec.entropy.ByteRans;
import io.weightstream.codec.entropy.FrequencyTable;
import io.weightstream.codec.entropy.WideRans;

/**
 * How a group of L2 symbols is entropy-coded, and what it costs: alphabets of at most 256 symbols go to
 * {@link ByteRans} (one byte per symbol, 12-bit frequencies, the fastest decoder), wider ones to {@link WideRans}
 * (up to 65535 symbols). Both frequency tables have the same 12-bit precision up to 1024 distinct symbols, so the
 * wide coder would not code small alphabets smaller. {@link #estimateBytes} predicts the stream length from the
 * symbol counts (the ideal cost under the normalized table plus the table and the coder's fixed bytes), which is
 * what rate control optimizes; the real length differs by a few bytes.
 */
final class SymbolStreams {
    /** Alphabets up to this size are coded as bytes. */
    static final int BYTE_ALPHABET = 256;
    /** ByteRans' frequency precision. */
    private static final int BYTE_SCALE_BITS = 12;

    private SymbolStreams() {
    }

    static boolean bytes(int alphabet) {
        return alphabet <= BYTE_ALPHABET;
    }

    /**
     * The predicted stream length for symbols with these {@code counts} (indexed by symbol, {@code alphabet} of
     * them, summing to the group size).
     */
    static double estimateBytes(int[] counts, int alphabet) {
        int distinct = 0;
        int only = 0;
        for (int s = 0; s < alphabet; s++) {
            if (counts[s] != 0) {
                distinct++;
                only = s;
            }
        }
        if (bytes(alphabet)) {
            if (distinct <= 1) {
                return 2; // method byte + the constant
            }
            FrequencyTable t = FrequencyTable.normalize(counts, alphabet, BYTE_SCALE_BITS);
            // method, u32 length, table, 4 x u32 states, 16-bit words
            return 1 + 4 + t.serializedSize() + 16 + 2 * Math.ceil(t.cost(counts) / 16);
        }
        if (distinct <= 1) {
            return 1 + PayloadWriter.varintSize(only);
        }
        int scale = wideScaleBits(distinct);
        FrequencyTable t = FrequencyTable.normalize(counts, alphabet, scale);
        // scale byte, u32 length, table, 4 x u64 states, 32-bit words
        return 1 + 4 + t.serializedSize() + 32 + 4 * Math.ceil(t.cost(counts) / 32);
    }

    /** The frequency scale {@link WideRans} picks for this many distinct symbols. */
    static int wideScaleBits(int distinct) {
        return Math.min(WideRans.MAX_SCALE_BITS, Math.max(12, 32 - Integer.numberOfLeadingZeros(distinct - 1) + 2));
    }

    /** Codes byte symbols (alphabet at most 256) and appends the stream. */
    static void writeBytes(byte[] symbols, int off, int n, int[] histogram, PayloadWriter out) {
        byte[] buf = out.ensureCapacity(ByteRans.maxEncodedLength(n));
        int len = new ByteRans.Encoder().encode(symbols, off, n, histogram, buf, out.position(), 0.0);
        out.advance(len);
    }

    /** Codes wide symbols and appends the stream. */
    static void writeWide(int[] symbols, int off, int n, int alphabet, PayloadWriter out) {
        WideRans.encode(symbols, off, n, alphabet, out);
    }
}
