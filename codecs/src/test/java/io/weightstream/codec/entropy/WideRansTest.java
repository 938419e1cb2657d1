package io.weightstream.codec.entropy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.PayloadWriter;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class WideRansTest {
    private static byte[] encode(int[] s, int alphabet) {
        PayloadWriter out = new PayloadWriter(16);
        out.u8(0xAA); // the stream must not depend on where it starts
        WideRans.encode(s, 0, s.length, alphabet, out);
        byte[] all = out.toByteArray();
        return Arrays.copyOfRange(all, 1, all.length);
    }

    private static int[] decode(byte[] stream, int alphabet, int n) {
        int[] out = new int[n];
        PayloadReader in = PayloadReader.of(stream);
        WideRans.decode(in, alphabet, out, 0, n);
        assertThat(in.remaining()).isZero();
        return out;
    }

    /** Laplacian-like quantization levels centred in the alphabet, like L2 symbols. */
    static int[] levels(SplittableRandom rnd, int n, int alphabet, double spread) {
        int[] s = new int[n];
        for (int i = 0; i < n; i++) {
            double u = rnd.nextDouble() - 0.5;
            int v = (int) (alphabet / 2 - Math.signum(u) * spread * Math.log(1 - 2 * Math.abs(u)));
            s[i] = Math.max(0, Math.min(alphabet - 1, v));
        }
        return s;
    }

    @Test
    void roundTripsSmallAndWideAlphabets() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int alphabet : new int[] {2, 3, 256, 4096, 65536}) {
            for (int n : new int[] {0, 1, 2, 3, 5, 17, 1000, 100_001}) {
                int[] s = levels(rnd, n, alphabet, Math.max(0.5, alphabet / 50.0));
                byte[] stream = encode(s, alphabet);
                assertThat(decode(stream, alphabet, n)).as("alphabet %d, n %d", alphabet, n).isEqualTo(s);
                assertThat(encode(s, alphabet)).isEqualTo(stream);
            }
        }
        int[] all = new int[200_000];
        for (int i = 0; i < all.length; i++) {
            all[i] = i % 65536; // every symbol of the widest alphabet
        }
        assertThat(decode(encode(all, 65536), 65536, all.length)).isEqualTo(all);
        int[] constant = new int[500];
        Arrays.fill(constant, 1234);
        assertThat(encode(constant, 2000)).hasSize(3);
        assertThat(decode(encode(constant, 2000), 2000, 500)).isEqualTo(constant);
    }

    @Test
    void sizeIsCloseToTheEntropy() {
        int[] s = levels(new SplittableRandom(2), 300_000, 4096, 3);
        int[] c = new int[4096];
        for (int v : s) {
            c[v]++;
        }
        double bits = 0;
        for (int v : c) {
            if (v > 0) {
                bits -= v * Math.log((double) v / s.length) / Math.log(2);
            }
        }
        assertThat((double) encode(s, 4096).length).isLessThan(bits / 8 * 1.005 + 200);
    }

    @Test
    void rejectsSymbolsOutsideTheAlphabet() {
        assertThatThrownBy(() -> encode(new int[] {1, 2, 7}, 7)).hasMessageContaining("symbol 7 at 2");
        assertThatThrownBy(() -> encode(new int[] {-1}, 7)).hasMessageContaining("symbol -1");
        assertThatThrownBy(() -> encode(new int[] {1}, 70_000)).hasMessageContaining("alphabet size");
    }

    @Test
    void corruptStreamsFailCleanly() {
        int[] s = levels(new SplittableRandom(3), 3000, 1024, 20);
        byte[] stream = encode(s, 1024);
        for (int cut = 0; cut < stream.length; cut++) {
            byte[] prefix = Arrays.copyOf(stream, cut);
            assertThatThrownBy(() -> decode(prefix, 1024, s.length)).isInstanceOf(CorruptPayloadException.class);
        }
        assertThatThrownBy(() -> decode(stream, 1024, s.length + 1)).isInstanceOf(CorruptPayloadException.class);
        assertThatThrownBy(() -> decode(stream, 1024, s.length - 1)).isInstanceOf(CorruptPayloadException.class);
        SplittableRandom rnd = new SplittableRandom(4);
        for (int pos = 0; pos < stream.length; pos++) {
            byte[] bad = stream.clone();
            bad[pos] ^= (byte) (1 << rnd.nextInt(8));
            try {
                int[] out = decode(bad, 1024, s.length);
                assertThat(Arrays.stream(out).allMatch(v -> v >= 0 && v < 1024)).isTrue();
            } catch (CorruptPayloadException e) {
                assertThat(e.offset()).isBetween(0L, (long) stream.length);
            } catch (Throwable e) {
                fail("byte %d: %s", pos, e);
            }
        }
    }
}
