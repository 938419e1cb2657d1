package io.weightstream.codec.rtn;

/**
 * Tight bit packing of small unsigned codes (1 to 8 bits each, one per byte in memory): code {@code i}
 * occupies bits {@code [i*bits, (i+1)*bits)} of the stream, least significant bit first, so {@code n} codes
 * take exactly {@code ceil(n*bits/8)} bytes. Shared by the quantizing codecs.
 *
 * <pre>{@code
 * byte[] packed = new byte[(int) PackedCodes.length(n, 4)];
 * PackedCodes.pack(codes, 0, n, 4, packed, 0);
 * PackedCodes.unpack(packed, 0, n, 4, codes, 0);
 * }</pre>
 */
public final class PackedCodes {
    private PackedCodes() {
    }

    /** Bytes {@code n} codes of {@code bits} bits take. */
    public static long length(long n, int bits) {
        return (n * bits + 7) >>> 3;
    }

    /** Packs {@code codes[from, from + n)} (each below 2^bits) into {@code dst} at {@code offset}. */
    public static void pack(byte[] codes, int from, int n, int bits, byte[] dst, int offset) {
        switch (bits) {
            case 8 -> System.arraycopy(codes, from, dst, offset, n);
            case 4 -> {
                int pairs = n >>> 1;
                for (int i = 0; i < pairs; i++) {
                    dst[offset + i] = (byte) ((codes[from + 2 * i] & 0xf) | (codes[from + 2 * i + 1] << 4));
                }
                if ((n & 1) != 0) {
                    dst[offset + pairs] = (byte) (codes[from + n - 1] & 0xf);
                }
            }
            case 2 -> {
                int quads = n >>> 2;
                for (int i = 0; i < quads; i++) {
                    int j = from + 4 * i;
                    dst[offset + i] = (byte) ((codes[j] & 3) | (codes[j + 1] & 3) << 2 | (codes[j + 2] & 3) << 4
                            | codes[j + 3] << 6);
                }
                int rest = n & 3;
                if (rest != 0) {
                    int v = 0;
                    for (int k = 0; k < rest; k++) {
                        v |= (codes[from + 4 * quads + k] & 3) << (2 * k);
                    }
                    dst[offset + quads] = (byte) v;
                }
            }
            default -> packAny(codes, from, n, bits, dst, offset);
        }
    }

    private static void packAny(byte[] codes, int from, int n, int bits, byte[] dst, int offset) {
        long acc = 0;
        int filled = 0;
        int p = offset;
        int mask = (1 << bits) - 1;
        for (int i = 0; i < n; i++) {
            acc |= (long) (codes[from + i] & mask) << filled;
            filled += bits;
            if (filled >= 32) {
                dst[p] = (byte) acc;
                dst[p + 1] = (byte) (acc >>> 8);
                dst[p + 2] = (byte) (acc >>> 16);
                dst[p + 3] = (byte) (acc >>> 24);
                p += 4;
                acc >>>= 32;
                filled -= 32;
            }
        }
        while (filled > 0) {
            dst[p++] = (byte) acc;
            acc >>>= 8;
            filled -= 8;
        }
    }

    /** Unpacks {@code n} codes from {@code src} at {@code offset} (which holds {@link #length} bytes) into {@code codes}. */
    public static void unpack(byte[] src, int offset, int n, int bits, byte[] codes, int from) {
        switch (bits) {
            case 8 -> System.arraycopy(src, offset, codes, from, n);
            case 4 -> {
                int pairs = n >>> 1;
                for (int i = 0; i < pairs; i++) {
                    int b = src[offset + i];
                    codes[from + 2 * i] = (byte) (b & 0xf);
                    codes[from + 2 * i + 1] = (byte) ((b >>> 4) & 0xf);
                }
                if ((n & 1) != 0) {
                    codes[from + n - 1] = (byte) (src[offset + pairs] & 0xf);
                }
            }
            case 2 -> {
                int quads = n >>> 2;
                for (int i = 0; i < quads; i++) {
                    int b = src[offset + i];
                    int j = from + 4 * i;
                    codes[j] = (byte) (b & 3);
                    codes[j + 1] = (byte) ((b >>> 2) & 3);
                    codes[j + 2] = (byte) ((b >>> 4) & 3);
                    codes[j + 3] = (byte) ((b >>> 6) & 3);
                }
                int rest = n & 3;
                for (int k = 0; k < rest; k++) {
                    codes[from + 4 * quads + k] = (byte) ((src[offset + quads] >>> (2 * k)) & 3);
                }
            }
            default -> unpackAny(src, offset, n, bits, codes, from);
        }
    }

    private static void unpackAny(byte[] src, int offset, int n, int bits, byte[] codes, int from) {
        long acc = 0;
        int have = 0;
        int p = offset;
        int end = offset + (int) length(n, bits);
        int mask = (1 << bits) - 1;
        for (int i = 0; i < n; i++) {
            if (have < bits) {
                if (p + 4 <= end) {
                    acc |= ((src[p] & 0xffL) | (src[p + 1] & 0xffL) << 8 | (src[p + 2] & 0xffL) << 16
                            | (src[p + 3] & 0xffL) << 24) << have;
                    p += 4;
                    have += 32;
                } else {
                    while (have < bits && p < end) {
                        acc |= (src[p++] & 0xffL) << have;
                        have += 8;
                    }
                }
            }
            codes[from + i] = (byte) (acc & mask);
            acc >>>= bits;
            have -= bits;
        }
    }

    /**
     * True if the bits after the last code of a packed stream are zero (encoders leave them zero; a decoder that
     * checks this notices some corruption for free).
     */
    public static boolean paddingIsZero(byte[] src, int offset, long n, int bits) {
        long usedBits = n * bits;
        int tail = (int) (usedBits & 7);
        if (tail == 0) {
            return true;
        }
        int last = src[offset + (int) (usedBits >>> 3)] & 0xff;
        return (last >>> tail) == 0;
    }
}
