package io.weightstream.codec.l2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DifferentiableCounterTest {
    private static float[] gaussian(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.05);
        }
        return v;
    }

    @Test
    void aNarrowKernelCountsLikeTheExactEntropy() {
        L2Profile p = L2Profile.of(gaussian(1 << 14, 1));
        for (double step : new double[] {0.1, 0.3, 1.0}) {
            L2Point exact = p.evaluate(L2Transform.JOINT, step, 0.7 * step);
            DifferentiableCounter c = DifferentiableCounter.forPoint(p, L2Transform.JOINT, step, 0.7 * step, 1e6);
            assertThat(c.bits() / p.count()).as("bits per weight at step %s", step)
                    .isCloseTo(exact.entropyBits(), within(0.01 * exact.entropyBits() + 0.002));
        }
    }

    @Test
    void theDefaultKernelStaysCloseAndSmooth() {
        L2Profile p = L2Profile.of(gaussian(1 << 16, 2));
        L2Point exact = p.evaluate(L2Transform.UNIFORM, 0.25, 0);
        DifferentiableCounter c = DifferentiableCounter.forPoint(p, L2Transform.UNIFORM, 0.25, 0,
                DifferentiableCounter.DEFAULT_RESOLUTION);
        // sampled (2^14 of 2^16) and smoothed: within a few percent of the exact entropy
        assertThat(c.bits() / p.count()).isCloseTo(exact.entropyBits(), within(0.05 * exact.entropyBits()));
        assertThat(c.delta()).isGreaterThan(0).isLessThanOrEqualTo(0.5);
        // the relaxed CDF is monotone and spans [0, 1]
        double previous = -1;
        for (double x = -40; x <= 40; x += 0.05) {
            double f = c.cdf(x);
            assertThat(f).isGreaterThanOrEqualTo(previous - 1e-12).isBetween(0.0, 1.0);
            previous = f;
        }
        assertThat(c.cdf(-1e9)).isZero();
        assertThat(c.cdf(1e9)).isEqualTo(1.0);
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        // symbols away from half-integers, so a small move does not change any rounding
        SplittableRandom rnd = new SplittableRandom(4);
        double[] t = new double[400];
        for (int i = 0; i < t.length; i++) {
            t[i] = Math.round(rnd.nextGaussian() * 3) + (rnd.nextDouble() - 0.5) * 0.6;
        }
        DifferentiableCounter c = DifferentiableCounter.of(t, 0.3, t.length);
        double[] g = c.gradient(false);
        double[] sorted = t.clone();
        java.util.Arrays.sort(sorted);
        double h = 1e-6;
        for (int i = 0; i < sorted.length; i += 37) {
            double[] up = sorted.clone();
            up[i] += h;
            double[] down = sorted.clone();
            down[i] -= h;
            double fd = (DifferentiableCounter.of(up, 0.3, t.length).bits() - DifferentiableCounter.of(down, 0.3, t.length).bits())
                    / (2 * h);
            assertThat(g[i]).as("d bits / d t[%d]", i).isCloseTo(fd, within(1e-4 * Math.max(1, Math.abs(fd))));
        }
    }

    @Test
    void largerStepsCostFewerBits() {
        L2Profile p = L2Profile.of(gaussian(1 << 14, 5));
        DifferentiableCounter c = DifferentiableCounter.forPoint(p, L2Transform.JOINT, 0.3, 0.3, 1024);
        double[] g = c.parameterGradient();
        assertThat(g[0]).as("d bits / d step").isNegative();
        assertThat(g[1]).as("d bits / d e (a wider dead zone)").isNegative();
        // the gradient predicts the change of a small step move
        double ds = 0.003;
        double moved = DifferentiableCounter.forPoint(p, L2Transform.JOINT, 0.3 + ds, 0.3, 1024).bits();
        assertThat(moved - c.bits()).isNegative();
        assertThatThrownBy(() -> DifferentiableCounter.of(new double[] {1, 2}, 0.3, 2).parameterGradient())
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void targetTermIsTheReluOfEquationTen() {
        assertThat(DifferentiableCounter.targetTerm(1000, 100, 8)).isEqualTo(600);
        assertThat(DifferentiableCounter.targetTerm(300, 100, 8)).isZero();
        assertThatThrownBy(() -> DifferentiableCounter.targetTerm(1, 1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DifferentiableCounter.of(new double[] {1}, 0.6, 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
