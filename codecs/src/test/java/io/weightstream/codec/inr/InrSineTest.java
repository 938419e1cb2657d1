package io.weightstream.codec.inr;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class InrSineTest {
    @Test
    void matchesStrictMathOverTheRangeANetworkReaches() {
        SplittableRandom rnd = new SplittableRandom(1);
        double worst = 0;
        for (int i = 0; i < 200_000; i++) {
            double x = (rnd.nextDouble() * 2 - 1) * (i % 2 == 0 ? 10 : 2000);
            worst = Math.max(worst, Math.abs(InrSine.sin(x) - StrictMath.sin(x)));
            worst = Math.max(worst, Math.abs(InrSine.cos(x) - StrictMath.cos(x)));
        }
        assertThat(worst).isLessThan(1e-12);
    }

    @Test
    void quadrantBoundariesAndSpecialValues() {
        for (int k = -8; k <= 8; k++) {
            double x = k * Math.PI / 4;
            assertThat(InrSine.sin(x)).isCloseTo(StrictMath.sin(x), org.assertj.core.data.Offset.offset(1e-15));
            assertThat(InrSine.cos(x)).isCloseTo(StrictMath.cos(x), org.assertj.core.data.Offset.offset(1e-15));
        }
        assertThat(InrSine.sin(0.0)).isEqualTo(0.0);
        assertThat(InrSine.cos(0.0)).isEqualTo(1.0);
        assertThat(InrSine.sin(Double.NaN)).isNaN();
        assertThat(InrSine.sin(Double.POSITIVE_INFINITY)).isNaN();
        assertThat(InrSine.sin(1e9)).isEqualTo(StrictMath.sin(1e9));
        assertThat(InrSine.sin(1.5f)).isEqualTo((float) StrictMath.sin(1.5));
    }
}
