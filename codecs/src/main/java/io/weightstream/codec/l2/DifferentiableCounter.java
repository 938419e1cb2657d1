package io.weightstream.codec.l2;

import java.util.Arrays;

/**
 * The paper's differentiable rate estimate (paper 003, section 4.3): the probability of symbol {@code q} is
 * {@code P(q) = F(q + 0.5) - F(q - 0.5)}, where {@code F} is the empirical CDF of the continuous symbols
 * {@code t = T(w)} relaxed with the cosine kernel {@code K(x) = (pi / 4 delta) cos(pi x / 2 delta)} on
 * {@code [-delta, delta]} (so each sample spreads its unit mass over {@code 2 delta} around itself), and the layer
 * costs {@code sum_i -log2 P(round(t_i))} bits. Because {@code F} is smooth in every {@code t_i}, the estimate has
 * a gradient; rounding passes gradients straight through (STE). Following the paper's implementation notes, the
 * counter works on a sorted sample of at most 2^14 values (binary search for the kernel window) and scales the
 * estimate to the population.
 *
 * <p>As {@code delta -> 0} the estimate tends to {@code N} times the order-0 entropy of the symbols (the exact
 * path, {@link L2Profile#evaluate}); {@code delta} is {@code (max t - min t) / resolution}, at most 0.5.
 * {@link #targetTerm} is the paper's ReLU term (Eq. 10) that stops pushing once a target ratio is met.
 *
 * <pre>{@code
 * DifferentiableCounter c = DifferentiableCounter.forPoint(profile, L2Transform.JOINT, 0.3, 0.4, 1024);
 * double bits = c.bits();                       // estimated coded size of the layer's symbols
 * double[] dBits = c.parameterGradient();       // {d bits / d step, d bits / d param} (RMS units)
 * double penalty = DifferentiableCounter.targetTerm(bits, profile.count(), 8.0);
 * }</pre>
 */
public final class DifferentiableCounter {
    /** Default ratio of the symbol range to the kernel half-width. */
    public static final double DEFAULT_RESOLUTION = 1024;
    private static final double LN2 = StrictMath.log(2);

    private final double[] t;        // continuous symbols of the sample, sorted
    private final double delta;
    private final long population;
    private final int[] q;           // round(t_i)
    private final int[] distinct;    // the distinct symbols, ascending
    private final int[] countOf;     // sample count of each distinct symbol
    private final double[] prob;     // P(q) of each distinct symbol
    // only for forPoint: d t_i / d step and d t_i / d param of each sorted sample
    private double[] dtStep;
    private double[] dtParam;

    private DifferentiableCounter(double[] sorted, double delta, long population) {
        this.t = sorted;
        this.delta = delta;
        this.population = population;
        int m = sorted.length;
        this.q = new int[m];
        int k = 0;
        int[] d = new int[m];
        int[] c = new int[m];
        for (int i = 0; i < m; i++) {
            q[i] = (int) Math.floor(sorted[i] + 0.5);
            if (k > 0 && d[k - 1] == q[i]) {
                c[k - 1]++;
            } else {
                d[k] = q[i];
                c[k++] = 1;
            }
        }
        this.distinct = Arrays.copyOf(d, k);
        this.countOf = Arrays.copyOf(c, k);
        this.prob = new double[k];
        for (int j = 0; j < k; j++) {
            prob[j] = probability(distinct[j]);
        }
    }

    /**
     * A counter over continuous symbols {@code t} (a sample of the layer) for a layer of {@code population}
     * elements.
     *
     * @param delta the kernel half-width in symbol units, in (0, 0.5]
     */
    public static DifferentiableCounter of(double[] t, double delta, long population) {
        if (!(delta > 0 && delta <= 0.5)) {
            throw new IllegalArgumentException("delta " + delta + " not in (0, 0.5]");
        }
        if (t.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        for (double x : t) {
            if (!Double.isFinite(x)) {
                throw new IllegalArgumentException("non-finite continuous symbol " + x);
            }
        }
        double[] sorted = t.clone();
        Arrays.sort(sorted);
        return new DifferentiableCounter(sorted, delta, Math.max(population, t.length));
    }

    /** The paper's kernel half-width for these symbols: {@code (max t - min t) / resolution}, within (0, 0.5]. */
    public static double delta(double[] t, double resolution) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double x : t) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        double d = (hi - lo) / resolution;
        return d > 0 ? Math.min(0.5, d) : 0.5;
    }

    /**
     * The counter for one operating point of a profiled tensor (step and param in RMS units, as
     * {@link L2Profile#evaluate} takes them), over the profile's sample; {@link #parameterGradient()} then gives
     * the derivatives of {@link #bits()} with respect to the step and the parameter.
     */
    public static DifferentiableCounter forPoint(L2Profile profile, L2Transform transform, double step, double param,
                                                 double resolution) {
        float[] sample = profile.sample();
        if (sample.length == 0) {
            throw new IllegalArgumentException("empty tensor");
        }
        double[] abs = profile.absolute(transform, step, param);
        double s = abs[0];
        double p = abs[1];
        String problem = transform.problem(s, p);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        double unit = profile.rms() > 0 ? profile.rms() : 1;
        int m = sample.length;
        // the sample is sorted and T is odd and increasing, so the continuous symbols come out sorted too
        double[] sorted = new double[m];
        double[] dS = new double[m];
        double[] dP = new double[m];
        for (int j = 0; j < m; j++) {
            double a = Math.abs(sample[j]);
            double sign = sample[j] < 0 ? -1 : 1;
            sorted[j] = sign * transform.forward(a, s, p);
            // chain rule to RMS units: d/d(step) = unit * d/ds
            dS[j] = sign * transform.forwardDerivativeStep(a, s, p) * unit;
            dP[j] = transform == L2Transform.UNIFORM ? 0 : sign * transform.forwardDerivativeParam(a, s, p) * unit;
            if (!Double.isFinite(sorted[j])) {
                throw new IllegalArgumentException("the point overflows: T(" + sample[j] + ") is not finite");
            }
        }
        DifferentiableCounter c = new DifferentiableCounter(sorted, delta(sorted, resolution), profile.count());
        c.dtStep = dS;
        c.dtParam = dP;
        return c;
    }

    /** The kernel half-width. */
    public double delta() {
        return delta;
    }

    /** The relaxed CDF {@code F(x)}: the fraction of samples below x, each counted by the kernel's integral. */
    public double cdf(double x) {
        int lo = lowerBound(x - delta, true);
        int hi = lowerBound(x + delta, false);
        double sum = lo;
        for (int i = lo; i < hi; i++) {
            sum += 0.5 * (1 + StrictMath.sin(Math.PI * (x - t[i]) / (2 * delta)));
        }
        return sum / t.length;
    }

    /** The relaxed density {@code f(x) = F'(x)}. */
    double density(double x) {
        int lo = lowerBound(x - delta, true);
        int hi = lowerBound(x + delta, false);
        double sum = 0;
        for (int i = lo; i < hi; i++) {
            sum += kernel(x - t[i]);
        }
        return sum / t.length;
    }

    private double kernel(double u) {
        return Math.abs(u) > delta ? 0 : Math.PI / (4 * delta) * StrictMath.cos(Math.PI * u / (2 * delta));
    }

    /** First index with t > x (strict) or t >= x. */
    private int lowerBound(double x, boolean strict) {
        int lo = 0;
        int hi = t.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (strict ? t[mid] <= x : t[mid] < x) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** {@code P(q) = F(q + 0.5) - F(q - 0.5)}. */
    public double probability(int symbol) {
        return cdf(symbol + 0.5) - cdf(symbol - 0.5);
    }

    /** The estimated coded size of the layer's symbols: {@code (N / M) sum_i -log2 P(round(t_i))} bits. */
    public double bits() {
        double sum = 0;
        for (int j = 0; j < distinct.length; j++) {
            sum -= countOf[j] * StrictMath.log(prob[j]);
        }
        return sum / LN2 * population / t.length;
    }

    /**
     * {@code d bits() / d t_i} for every sample, in ascending order of t: the kernel's dependence of every
     * {@code P(q)} on {@code t_i}, plus (straight-through) the move of {@code t_i}'s own symbol.
     */
    public double[] gradient() {
        return gradient(true);
    }

    /** {@link #gradient()}, optionally without the straight-through term (what finite differences see). */
    double[] gradient(boolean straightThrough) {
        int m = t.length;
        double scale = -(double) population / m / LN2;
        double[] densityUp = new double[distinct.length];
        double[] densityDown = new double[distinct.length];
        for (int j = 0; j < distinct.length; j++) {
            densityUp[j] = density(distinct[j] + 0.5);
            densityDown[j] = density(distinct[j] - 0.5);
        }
        double[] g = new double[m];
        int j = 0;
        for (int i = 0; i < m; i++) {
            while (distinct[j] != q[i]) {
                j++;
            }
            // straight-through: the sample's own symbol slides with t_i
            double own = straightThrough ? (densityUp[j] - densityDown[j]) / prob[j] : 0;
            // every symbol whose cell edge lies within the kernel window of t_i
            double cells = 0;
            for (int d = Math.max(0, j - 1); d <= Math.min(distinct.length - 1, j + 1); d++) {
                int sym = distinct[d];
                double dp = -(kernel(sym + 0.5 - t[i]) - kernel(sym - 0.5 - t[i])) / m;
                cells += countOf[d] / prob[d] * dp;
            }
            g[i] = scale * (own + cells);
        }
        return g;
    }

    /**
     * {@code {d bits / d step, d bits / d param}} in RMS units, for counters made by {@link #forPoint}.
     *
     * @throws IllegalStateException for counters made from bare symbols
     */
    public double[] parameterGradient() {
        if (dtStep == null) {
            throw new IllegalStateException("made from bare symbols: use forPoint for parameter gradients");
        }
        double[] g = gradient();
        double ds = 0;
        double dp = 0;
        for (int i = 0; i < g.length; i++) {
            ds += g[i] * dtStep[i];
            dp += g[i] * dtParam[i];
        }
        return new double[] {ds, dp};
    }

    /** Number of distinct symbols among the sample. */
    public int distinctSymbols() {
        return distinct.length;
    }

    /**
     * The paper's target term (Eq. 10): {@code ReLU(bits - 32 N / CR_target)}, zero once the layer is at least
     * {@code targetRatio} times smaller than float32.
     */
    public static double targetTerm(double bits, long n, double targetRatio) {
        if (!(targetRatio > 0)) {
            throw new IllegalArgumentException("target ratio " + targetRatio + " is not positive");
        }
        return Math.max(0, bits - 32.0 * n / targetRatio);
    }
}
