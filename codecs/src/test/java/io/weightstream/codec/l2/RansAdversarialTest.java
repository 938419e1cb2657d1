package io.weightstream.codec.l2;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.PayloadWriter;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.codec.entropy.ByteRans;
import io.weightstream.codec.entropy.WideRans;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The entropy coders under the symbol streams L2 produces at the extremes: a single symbol, uniform symbols over
 * the whole 65535-symbol alphabet, every symbol once next to one symbol with a huge count, tens of millions of
 * symbols, and the codec itself at the widest alphabet (kmax = 32767). Each must round-trip exactly and, where the
 * ideal size is known, code close to it ({@link SymbolStreams#estimateBytes} being what rate control believes).
 */
class RansAdversarialTest {
    private static final int WIDE = 2 * L2Transform.MAX_LEVEL + 1;

    private static int[] wideRoundTrip(int[] symbols, int alphabet) {
        PayloadWriter out = new PayloadWriter(16);
        SymbolStreams.writeWide(symbols, 0, symbols.length, alphabet, out);
        byte[] stream = out.toByteArray();
        int[] back = new int[symbols.length];
        PayloadReader in = PayloadReader.of(stream);
        WideRans.decode(in, alphabet, back, 0, back.length);
        assertThat(in.remaining()).isZero();
        assertThat(back).isEqualTo(symbols);
        return new int[] {stream.length};
    }

    private static int[] counts(int[] symbols, int alphabet) {
        int[] c = new int[alphabet];
        for (int s : symbols) {
            c[s]++;
        }
        return c;
    }

    private static double entropyBytes(int[] counts, long n) {
        double bits = 0;
        for (int c : counts) {
            if (c > 0) {
                bits -= c * Math.log((double) c / n) / Math.log(2);
            }
        }
        return bits / 8;
    }

    @Test
    void oneSymbolIsAConstantStream() {
        int[] s = new int[1 << 20];
        Arrays.fill(s, 40000);
        int len = wideRoundTrip(s, WIDE)[0];
        assertThat(len).isLessThanOrEqualTo(4);
        assertThat(SymbolStreams.estimateBytes(counts(s, WIDE), WIDE)).isLessThanOrEqualTo(4);

        byte[] b = new byte[1 << 20];
        Arrays.fill(b, (byte) 7);
        byte[] dst = new byte[ByteRans.maxEncodedLength(b.length)];
        int n = new ByteRans.Encoder().encode(b, 0, b.length, null, dst, 0, 0.0);
        assertThat(n).isEqualTo(2);
        byte[] back = new byte[b.length];
        new ByteRans.Decoder().decode(PayloadReader.of(dst, 0, n), back, 0, back.length);
        assertThat(back).isEqualTo(b);
    }

    @Test
    void uniformOverTheWholeAlphabetCostsSixteenBitsPerSymbol() {
        SplittableRandom rnd = new SplittableRandom(1);
        int[] s = new int[WIDE * 8];
        for (int i = 0; i < s.length; i++) {
            s[i] = rnd.nextInt(WIDE);
        }
        int len = wideRoundTrip(s, WIDE)[0];
        double ideal = entropyBytes(counts(s, WIDE), s.length);
        // the table of 65535 symbols costs about 2 bytes each on top of 16 bits per symbol
        assertThat((double) len).isBetween(ideal, ideal * 1.01 + 3 * WIDE);
        assertThat(SymbolStreams.estimateBytes(counts(s, WIDE), WIDE)).isCloseTo(len,
                org.assertj.core.api.Assertions.within(len * 0.001 + 16));
    }

    @Test
    void everySymbolOnceBesideOneHugeCount() {
        int n = 1 << 23;
        int[] s = new int[n];
        Arrays.fill(s, L2Transform.MAX_LEVEL);
        for (int k = 0; k < WIDE; k++) {
            s[(int) ((long) k * (n - 1) / WIDE)] = k;
        }
        int len = wideRoundTrip(s, WIDE)[0];
        double ideal = entropyBytes(counts(s, WIDE), n);
        // every rare symbol needs a frequency of at least 1 out of 2^18: that costs, but boundedly
        assertThat((double) len).isLessThan(ideal + 0.5 * n / 8 + 4 * WIDE);
        assertThat(SymbolStreams.estimateBytes(counts(s, WIDE), WIDE)).isCloseTo(len,
                org.assertj.core.api.Assertions.within(len * 0.001 + 16));
    }

    @Test
    void tensOfMillionsOfBytesWithExtremeSkew() {
        int n = 1 << 25;
        byte[] b = new byte[n];
        SplittableRandom rnd = new SplittableRandom(2);
        Arrays.fill(b, (byte) 128);
        for (int i = 0; i < 3000; i++) {
            b[rnd.nextInt(n)] = (byte) rnd.nextInt(256);
        }
        int[] c = new int[256];
        ByteRans.histogram(b, 0, n, c);
        byte[] dst = new byte[ByteRans.maxEncodedLength(n)];
        int len = new ByteRans.Encoder().encode(b, 0, n, c, dst, 0, 0.0);
        byte[] back = new byte[n];
        new ByteRans.Decoder().decode(PayloadReader.of(dst, 0, len), back, 0, n);
        assertThat(back).isEqualTo(b);
        // the dominant symbol's frequency is capped at 1 - 255/4096 by 12-bit precision: about 0.09 bits each
        assertThat(len).isLessThan(n / 64);
        assertThat(SymbolStreams.estimateBytes(c, 256)).isCloseTo(len, org.assertj.core.api.Assertions.within(len * 0.001 + 16));
    }

    @Test
    void theCodecAtTheWidestAlphabet() {
        // values on a grid of 32767 steps each side: kmax = 32767, every level present
        int n = 4 * WIDE;
        float[] v = new float[n];
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((i % WIDE) - L2Transform.MAX_LEVEL + 0.3 * rnd.nextDouble() - 0.15);
        }
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 4, WIDE), v);
        L2Codec codec = new L2Codec();
        double rms = Math.sqrt(Arrays.stream(toDoubles(v)).map(x -> x * x).sum() / n);
        // uniform step 1 (in absolute terms): every value rounds to its integer
        byte[] payload = codec.encode(t, codec.params(java.util.Map.of("transform", "uniform", "step",
                Double.toString(1 / rms))));
        float[] back = codec.decode(payload).toFloats();
        for (int i = 0; i < n; i++) {
            assertThat(Math.abs(back[i] - Math.rint(v[i]))).isLessThan(1e-3f * Math.max(1, Math.abs(back[i])));
        }
        assertThat(TensorMetrics.compare(t, codec.decode(payload)).relL2()).isLessThan(1e-4);
    }

    private static double[] toDoubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }
}
