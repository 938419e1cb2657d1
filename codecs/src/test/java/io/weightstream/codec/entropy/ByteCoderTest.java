package io.weightstream.codec.entropy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class ByteCoderTest {
    /** Streams with a known character, of awkward lengths. */
    static Stream<Arguments> streams() {
        SplittableRandom rnd = new SplittableRandom(7);
        List<Arguments> out = new ArrayList<>();
        for (int n : new int[] {0, 1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 63, 64, 65, 100, 127, 1000, 4097, 9999, 65536, 100003}) {
            out.add(Arguments.of("uniform-" + n, uniform(rnd, n)));
            out.add(Arguments.of("geometric-" + n, geometric(rnd, n, 0.3)));
            out.add(Arguments.of("exponent-like-" + n, exponentLike(rnd, n)));
        }
        out.add(Arguments.of("two-symbols-extreme", twoSymbols(100_000, 1)));
        out.add(Arguments.of("two-symbols-even", twoSymbols(50_000, 25_000)));
        out.add(Arguments.of("constant", new byte[5000]));
        out.add(Arguments.of("all-256-with-rare", allWithRare(rnd)));
        out.add(Arguments.of("fibonacci-counts", fibonacci()));
        return out.stream();
    }

    static byte[] uniform(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    static byte[] geometric(SplittableRandom rnd, int n, double p) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            int v = 0;
            while (v < 255 && rnd.nextDouble() > p) {
                v++;
            }
            b[i] = (byte) v;
        }
        return b;
    }

    /** About 2.6 bits of entropy around 120, like float32 weight exponents. */
    static byte[] exponentLike(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            int v = 122;
            while (v > 90 && rnd.nextDouble() < 0.5) {
                v--;
            }
            b[i] = (byte) (rnd.nextInt(50) == 0 ? v + 3 : v);
        }
        return b;
    }

    static byte[] twoSymbols(int n, int rare) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) 7);
        for (int i = 0; i < rare; i++) {
            b[(int) ((long) i * n / rare)] = (byte) 200;
        }
        return b;
    }

    static byte[] allWithRare(SplittableRandom rnd) {
        byte[] b = new byte[70_000];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (rnd.nextInt(10) == 0 ? rnd.nextInt(256) : rnd.nextInt(3));
        }
        for (int s = 0; s < 256; s++) {
            b[s * 7] = (byte) s; // every symbol at least once
        }
        return b;
    }

    /** Counts 1, 1, 2, 3, 5, 8, ...: optimal Huffman codes far longer than 11 bits. */
    static byte[] fibonacci() {
        List<Byte> list = new ArrayList<>();
        long a = 1;
        long b = 1;
        for (int s = 0; s < 25; s++) {
            for (long i = 0; i < a; i++) {
                list.add((byte) s);
            }
            long c = a + b;
            a = b;
            b = c;
        }
        byte[] out = new byte[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    private static byte[] encode(byte[] src, double minGain, ByteCoder.Coding coding) {
        byte[] dst = new byte[ByteCoder.maxEncodedLength(src.length) + 3];
        int len = new ByteCoder.Encoder().encode(src, 0, src.length, dst, 1, minGain, coding);
        assertThat(len).isLessThanOrEqualTo(ByteCoder.maxEncodedLength(src.length));
        return Arrays.copyOfRange(dst, 1, 1 + len);
    }

    private static byte[] decode(byte[] stream, int n) {
        byte[] out = new byte[n + 2];
        PayloadReader in = PayloadReader.of(stream);
        new ByteCoder.Decoder().decode(in, out, 1, n);
        assertThat(in.remaining()).as("stream consumed exactly").isZero();
        return Arrays.copyOfRange(out, 1, 1 + n);
    }

    static double entropyBytes(byte[] b) {
        int[] c = new int[256];
        for (byte x : b) {
            c[x & 0xff]++;
        }
        double bits = 0;
        for (int v : c) {
            if (v > 0) {
                bits -= v * Math.log((double) v / b.length) / Math.log(2);
            }
        }
        return bits / 8;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("streams")
    void roundTripsWithBothCoders(String name, byte[] src) {
        for (ByteCoder.Coding coding : ByteCoder.Coding.values()) {
            for (double minGain : new double[] {0, 0.02, 1}) {
                byte[] stream = encode(src, minGain, coding);
                assertThat(decode(stream, src.length)).as("%s %s minGain %s", name, coding, minGain).isEqualTo(src);
                assertThat(encode(src, minGain, coding)).as("deterministic").isEqualTo(stream);
            }
        }
    }

    @Test
    void sizesAreCloseToTheEntropy() {
        byte[] src = exponentLike(new SplittableRandom(3), 200_000);
        double h = entropyBytes(src);
        byte[] rans = encode(src, 0.02, ByteCoder.Coding.RANS);
        byte[] huffman = encode(src, 0.02, ByteCoder.Coding.HUFFMAN);
        assertThat(rans[0]).isEqualTo((byte) ByteCoder.METHOD_RANS);
        assertThat(huffman[0]).isEqualTo((byte) ByteCoder.METHOD_HUFFMAN);
        assertThat((double) rans.length).isLessThan(h * 1.002 + 100);
        assertThat((double) huffman.length).isLessThan(h * 1.04 + 100).isGreaterThan(h);
    }

    @Test
    void randomBytesAreStoredRawAndConstantsAsOneByte() {
        byte[] random = uniform(new SplittableRandom(4), 50_000);
        for (ByteCoder.Coding coding : ByteCoder.Coding.values()) {
            byte[] stream = encode(random, 0.02, coding);
            assertThat(stream[0]).isEqualTo((byte) ByteCoder.METHOD_RAW);
            assertThat(stream).hasSize(random.length + 1);
            assertThat(encode(new byte[1000], 0.02, coding)).containsExactly(ByteCoder.METHOD_CONST, 0);
        }
    }

    @Test
    void histogramGivenByTheCallerIsUsed() {
        byte[] src = geometric(new SplittableRandom(5), 30_000, 0.4);
        int[] counts = new int[256];
        ByteCoder.histogram(src, 0, src.length, counts);
        assertThat(Arrays.stream(counts).sum()).isEqualTo(src.length);
        byte[] dst = new byte[src.length + 1];
        int len = new ByteCoder.Encoder().encode(src, 0, src.length, counts, dst, 0, 0.02, ByteCoder.Coding.RANS);
        assertThat(Arrays.copyOf(dst, len)).isEqualTo(encode(src, 0.02, ByteCoder.Coding.RANS));
    }

    @Test
    void byteRansStreamsAreByteCoderStreams() {
        byte[] src = exponentLike(new SplittableRandom(6), 20_000);
        byte[] dst = new byte[ByteRans.maxEncodedLength(src.length)];
        int len = new ByteRans.Encoder().encode(src, 0, src.length, null, dst, 0, 0.0);
        assertThat(dst[0]).isEqualTo((byte) ByteCoder.METHOD_RANS);
        assertThat(decode(Arrays.copyOf(dst, len), src.length)).isEqualTo(src);
        byte[] out = new byte[src.length];
        new ByteRans.Decoder().decode(PayloadReader.of(dst, 0, len), out, 0, src.length);
        assertThat(out).isEqualTo(src);
    }

    @ParameterizedTest
    @EnumSource(ByteCoder.Coding.class)
    void truncatedStreamsAreRejected(ByteCoder.Coding coding) {
        byte[] src = exponentLike(new SplittableRandom(8), 3000);
        byte[] stream = encode(src, 0, coding);
        for (int cut = 0; cut < stream.length; cut++) {
            byte[] prefix = Arrays.copyOf(stream, cut);
            assertThatThrownBy(() -> decode(prefix, src.length)).as("cut %d", cut)
                    .isInstanceOf(CorruptPayloadException.class);
        }
    }

    @ParameterizedTest
    @EnumSource(ByteCoder.Coding.class)
    void corruptedStreamsFailCleanlyOrDecodeToOtherBytes(ByteCoder.Coding coding) {
        for (byte[] src : List.of(exponentLike(new SplittableRandom(9), 2000), allWithRare(new SplittableRandom(10)))) {
            byte[] stream = encode(src, 0, coding);
            SplittableRandom rnd = new SplittableRandom(11);
            int step = Math.max(1, stream.length / 2000);
            for (int pos = 0; pos < stream.length; pos += pos < 600 ? 1 : step) {
                for (int bit : new int[] {rnd.nextInt(8), rnd.nextInt(8)}) {
                    byte[] bad = stream.clone();
                    bad[pos] ^= (byte) (1 << bit);
                    try {
                        decode(bad, src.length);
                    } catch (CorruptPayloadException e) {
                        assertThat(e.offset()).isBetween(0L, (long) stream.length);
                    } catch (Throwable e) {
                        fail("bit %d of byte %d: %s", bit, pos, e);
                    }
                }
            }
        }
    }

    @Test
    void wrongSymbolCountsAreRejected() {
        byte[] src = exponentLike(new SplittableRandom(12), 5000);
        // rANS states must come back to their start: a wrong count is always caught
        byte[] rans = encode(src, 0, ByteCoder.Coding.RANS);
        assertThatThrownBy(() -> decode(rans, src.length + 1)).isInstanceOf(CorruptPayloadException.class);
        assertThatThrownBy(() -> decode(rans, src.length - 1)).isInstanceOf(CorruptPayloadException.class);
        // Huffman streams only end on their byte boundary: a count off by one may go unnoticed when the code
        // of the last symbol is all zero bits; it must never fail otherwise than cleanly
        byte[] huffman = encode(src, 0, ByteCoder.Coding.HUFFMAN);
        for (int n : new int[] {src.length - 100, src.length - 1, src.length + 1, src.length + 100}) {
            try {
                decode(huffman, n);
            } catch (CorruptPayloadException e) {
                assertThat(e.offset()).isBetween(0L, (long) huffman.length);
            }
        }
        assertThatThrownBy(() -> decode(huffman, src.length + 100)).isInstanceOf(CorruptPayloadException.class);
        assertThatThrownBy(() -> decode(new byte[] {9}, 3)).isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining("method 9");
    }

    @Test
    void rejectsBadRanges() {
        ByteCoder.Encoder enc = new ByteCoder.Encoder();
        assertThatThrownBy(() -> enc.encode(new byte[10], 5, 6, new byte[20], 0, 0, ByteCoder.Coding.RANS))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> enc.encode(new byte[10], 0, 10, new byte[10], 0, 0, ByteCoder.Coding.RANS))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }
}
