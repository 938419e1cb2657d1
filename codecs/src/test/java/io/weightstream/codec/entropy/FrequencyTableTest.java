package io.weightstream.codec.entropy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.PayloadReader;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FrequencyTableTest {
    @Test
    void normalizedFrequenciesSumToTheScaleAndKeepEverySymbol() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int trial = 0; trial < 200; trial++) {
            int alphabet = 1 + rnd.nextInt(trial % 10 == 0 ? 65536 : 300);
            int[] counts = new int[alphabet];
            int present = 0;
            for (int s = 0; s < alphabet; s++) {
                if (rnd.nextInt(3) == 0) {
                    counts[s] = rnd.nextInt(5) == 0 ? 1 : rnd.nextInt(1_000_000);
                    present += counts[s] > 0 ? 1 : 0;
                }
            }
            if (present == 0) {
                counts[0] = 5;
                present = 1;
            }
            int scale = Math.max(12, 32 - Integer.numberOfLeadingZeros(present) + 1);
            FrequencyTable t = FrequencyTable.normalize(counts, alphabet, scale);
            long sum = 0;
            for (int s = 0; s < alphabet; s++) {
                assertThat(t.frequency(s) > 0).isEqualTo(counts[s] > 0);
                sum += t.frequency(s);
            }
            assertThat(sum).isEqualTo(1L << scale);
            assertThat(t.distinctSymbols()).isEqualTo(present);

            byte[] buf = new byte[t.serializedSize() + 5];
            int end = t.write(buf, 2);
            assertThat(end - 2).isEqualTo(t.serializedSize());
            PayloadReader in = PayloadReader.of(buf, 2, end - 2);
            FrequencyTable back = FrequencyTable.read(in, alphabet, scale, 1);
            assertThat(back.frequencies()).isEqualTo(t.frequencies());
            assertThat(in.remaining()).isZero();
        }
    }

    @Test
    void costIsTheIdealCodeLength() {
        int[] counts = {3, 1, 0, 4};
        FrequencyTable t = FrequencyTable.of(new int[] {3, 1, 0, 4}, 3);
        double expected = 3 * Math.log(8.0 / 3) / Math.log(2) + 1 * 3 + 4 * 1;
        assertThat(t.cost(counts)).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(t.cost(new int[] {0, 0, 1, 0})).isInfinite();
    }

    @Test
    void rejectsBadArguments() {
        assertThatThrownBy(() -> FrequencyTable.normalize(new int[4], 4, 12)).hasMessageContaining("no symbol");
        int[] many = new int[300];
        Arrays.fill(many, 1);
        assertThatThrownBy(() -> FrequencyTable.normalize(many, 300, 8)).hasMessageContaining("room for 256");
        assertThatThrownBy(() -> FrequencyTable.of(new int[] {1, 2}, 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void corruptTablesFailCleanly() {
        int[] counts = new int[256];
        SplittableRandom rnd = new SplittableRandom(2);
        for (int s = 80; s < 130; s++) {
            counts[s] = 1 + rnd.nextInt(5000);
        }
        counts[3] = 1;
        FrequencyTable t = FrequencyTable.normalize(counts, 256, 12);
        byte[] buf = new byte[t.serializedSize()];
        t.write(buf, 0);
        for (int cut = 0; cut < buf.length; cut++) {
            int c = cut;
            assertThatThrownBy(() -> FrequencyTable.read(PayloadReader.of(buf, 0, c), 256, 12, 2))
                    .isInstanceOf(CorruptPayloadException.class);
        }
        for (int pos = 0; pos < buf.length; pos++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] bad = buf.clone();
                bad[pos] ^= (byte) (1 << bit);
                try {
                    FrequencyTable back = FrequencyTable.read(PayloadReader.of(bad), 256, 12, 2);
                    assertThat(Arrays.stream(back.frequencies()).asLongStream().sum()).isEqualTo(4096);
                } catch (CorruptPayloadException e) {
                    assertThat(e.offset()).isBetween(0L, (long) buf.length);
                } catch (Throwable e) {
                    fail("bit %d of byte %d: %s", bit, pos, e);
                }
            }
        }
    }
}
