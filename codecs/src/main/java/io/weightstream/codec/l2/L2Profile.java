package io.weightstream.codec.l2;

import java.util.Arrays;

/**
 * What rate control needs to know about one tensor, gathered in one pass, so that any (transform, step,
 * parameter) can be evaluated without touching the tensor again: the magnitudes of each sign in fine bins
 * (count, mean, and the spread within the bin), and a small sample of the values for the paper's
 * {@link DifferentiableCounter}. Tensors of up to {@value #EXACT_LIMIT} elements are profiled exactly (one point
 * per distinct value); larger ones in bins of relative width {@code 2^-mantissaBits} (bins are keyed by the top
 * bits of the float's representation, so they are finer near zero where weights are dense), and each bin's
 * elements are assigned to the level of the bin's mean. The predicted squared error is then exact for the
 * assignment made and the predicted symbol counts are off only for bins straddling a decision threshold
 * (relative width 2^-10 by default: a fraction of a percent of the elements, in both directions), so the predicted
 * rate is within a fraction of a percent of the real one; {@link #evaluate} also adds the frequency table and the
 * coder's fixed bytes.
 *
 * <pre>{@code
 * L2Profile p = L2Profile.of(tensor.toFloats());
 * L2Point a = p.evaluate(L2Transform.JOINT, 0.3, 0.25);       // step and e in units of the RMS
 * L2Point b = p.search(L2Transform.JOINT, 4.0);                 // least error at about 4 bits per weight
 * Map<String, String> params = b.params();                      // for the l2 codec
 * }</pre>
 */
public final class L2Profile {
    /** Default bin resolution: bins {@code 2^-10} of their magnitude wide. */
    public static final int DEFAULT_MANTISSA_BITS = 10;
    /** Tensors up to this many elements are profiled exactly. */
    public static final int EXACT_LIMIT = 1 << 15;
    /** Values kept for the differentiable counter. */
    public static final int SAMPLE_SIZE = 1 << 14;
    /** Magnitudes below {@code maxAbs * 2^-TINY_BINADES} share one bin (they round to 0 at every valid step). */
    private static final int TINY_BINADES = 20;

    private final long count;
    private final double maxAbs;
    private final double sumSquares;
    private final double rms;
    private final Points positive;
    private final Points negative;
    private final float[] sample;

    /** Bins of one sign: mean magnitude, count, and sum of squared deviations from the mean, by magnitude. */
    private record Points(double[] mean, long[] count, double[] spread) {
    }

    private L2Profile(long count, double maxAbs, double sumSquares, Points positive, Points negative, float[] sample) {
        this.count = count;
        this.maxAbs = maxAbs;
        this.sumSquares = sumSquares;
        this.rms = L2Kernels.rms(sumSquares, count);
        this.positive = positive;
        this.negative = negative;
        this.sample = sample;
    }

    /** Profiles {@code values} at the default resolution. */
    public static L2Profile of(float[] values) {
        return of(values, DEFAULT_MANTISSA_BITS);
    }

    /**
     * Profiles {@code values}.
     *
     * @param mantissaBits bin resolution for large tensors, 4..16 (bins {@code 2^-mantissaBits} of their magnitude)
     * @throws IllegalArgumentException if a value is NaN or infinite
     */
    public static L2Profile of(float[] values, int mantissaBits) {
        if (mantissaBits < 4 || mantissaBits > 16) {
            throw new IllegalArgumentException("mantissaBits " + mantissaBits + " not in [4, 16]");
        }
        double[] st = L2Kernels.stats(values);
        if (Double.isNaN(st[0])) {
            throw new IllegalArgumentException("the tensor holds NaN or infinite values");
        }
        int n = values.length;
        float[] sample;
        if (n <= SAMPLE_SIZE) {
            sample = values.clone();
        } else {
            sample = new float[SAMPLE_SIZE];
            for (int i = 0; i < SAMPLE_SIZE; i++) {
                sample[i] = values[(int) ((long) i * n / SAMPLE_SIZE)];
            }
        }
        // sorted: every transform is increasing, so the continuous symbols of a sorted sample come out sorted
        Arrays.sort(sample);
        Points pos;
        Points neg;
        if (n <= EXACT_LIMIT) {
            pos = exact(values, false);
            neg = exact(values, true);
        } else {
            pos = binned(values, false, st[0], mantissaBits);
            neg = binned(values, true, st[0], mantissaBits);
        }
        return new L2Profile(n, st[0], st[1], pos, neg, sample);
    }

    private static Points exact(float[] values, boolean negativeSign) {
        float[] a = new float[values.length];
        int m = 0;
        for (float w : values) {
            if ((w < 0) == negativeSign) {
                a[m++] = Math.abs(w);
            }
        }
        Arrays.sort(a, 0, m);
        double[] mean = new double[m];
        long[] cnt = new long[m];
        int k = -1;
        for (int i = 0; i < m; i++) {
            if (k >= 0 && mean[k] == a[i]) {
                cnt[k]++;
            } else {
                mean[++k] = a[i];
                cnt[k] = 1;
            }
        }
        return new Points(Arrays.copyOf(mean, k + 1), Arrays.copyOf(cnt, k + 1), new double[k + 1]);
    }

    private static Points binned(float[] values, boolean negativeSign, double maxAbs, int mantissaBits) {
        int shift = 23 - mantissaBits;
        float floor = (float) Math.scalb(maxAbs, -TINY_BINADES);
        int keyFloor = Float.floatToRawIntBits(floor) >>> shift;
        int keyMax = Float.floatToRawIntBits((float) maxAbs) >>> shift;
        int size = keyMax - keyFloor + 2;
        long[] cnt = new long[size];
        double[] s1 = new double[size];
        double[] s2 = new double[size];
        for (float w : values) {
            if ((w < 0) != negativeSign) {
                continue;
            }
            float a = Math.abs(w);
            int idx = a < floor ? 0 : (Float.floatToRawIntBits(a) >>> shift) - keyFloor + 1;
            cnt[idx]++;
            s1[idx] += a;
            s2[idx] += (double) a * a;
        }
        int m = 0;
        for (long c : cnt) {
            if (c != 0) {
                m++;
            }
        }
        double[] mean = new double[m];
        long[] count = new long[m];
        double[] spread = new double[m];
        int j = 0;
        for (int i = 0; i < size; i++) {
            if (cnt[i] != 0) {
                mean[j] = s1[i] / cnt[i];
                count[j] = cnt[i];
                spread[j] = Math.max(0, s2[i] - s1[i] * mean[j]);
                j++;
            }
        }
        return new Points(mean, count, spread);
    }

    public long count() {
        return count;
    }

    public double maxAbs() {
        return maxAbs;
    }

    /** {@code sum w^2}: the squared error of coding every weight as 0. */
    public double sumSquares() {
        return sumSquares;
    }

    /** Root mean square about zero: the unit of the codec's {@code step}, {@code e} and {@code knee}. */
    public double rms() {
        return rms;
    }

    /** Number of points (bins or distinct values) the evaluation walks. */
    public int points() {
        return positive.mean.length + negative.mean.length;
    }

    /**
     * An evenly strided sample of the values (all of them for small tensors), sorted ascending, for the
     * differentiable counter.
     */
    public float[] sample() {
        return sample.clone();
    }

    /** The absolute step and second parameter of a point given in RMS units (see {@link L2Codec}). */
    double[] absolute(L2Transform t, double step, double param) {
        double unit = rms > 0 ? rms : 1;
        double s = step * unit;
        double p = switch (t) {
            case UNIFORM -> 0;
            default -> param * unit;
        };
        return new double[] {s, p};
    }

    /**
     * Predicts the codec's result at one operating point (parameters in RMS units, as the codec takes them).
     *
     * @param param JOINT: prune threshold e; LOG, EXP: knee; UNIFORM: ignored
     * @return the point; {@link L2Point#feasible()} is false if it needs more than 32767 levels
     * @throws IllegalArgumentException for a non-positive step, a negative e or a non-positive knee
     */
    public L2Point evaluate(L2Transform t, double step, double param) {
        double[] abs = absolute(t, step, param);
        double p = t == L2Transform.UNIFORM ? 0 : param;
        Levels levels = Levels.of(t, abs[0], abs[1], maxAbs);
        if (levels == null) {
            return new L2Point(t, step, p, L2Transform.MAX_LEVEL + 1, Double.POSITIVE_INFINITY, Double.NaN, Double.NaN,
                    Double.NaN);
        }
        int kmax = levels.kmax;
        int[] counts = new int[levels.alphabet()];
        double[] bounds = levels.bounds();
        double sse = accumulate(positive, levels, bounds, counts, kmax, 1)
                + accumulate(negative, levels, bounds, counts, kmax, -1);
        double entropy = 0;
        for (int c : counts) {
            if (c != 0) {
                double f = (double) c / count;
                entropy -= c * StrictMath.log(f);
            }
        }
        entropy = count == 0 ? 0 : entropy / StrictMath.log(2) / count;
        double body = fixedBodyBytes(kmax, 1) + (count == 0 ? 0 : SymbolStreams.estimateBytes(counts, counts.length));
        double zeros = count == 0 ? 0 : (double) counts[kmax] / count;
        return new L2Point(t, step, p, kmax, body, sse, zeros, entropy);
    }

    private static double accumulate(Points pts, Levels levels, double[] bounds, int[] counts, int kmax, int sign) {
        double sse = 0;
        double[] mean = pts.mean;
        long[] cnt = pts.count;
        double[] spread = pts.spread;
        double[] recon = levels.recon;
        int k = 0;
        for (int i = 0; i < mean.length; i++) {
            double a = mean[i];
            // magnitudes ascend: walk up the levels instead of computing each one (no division or logarithm)
            if (a > 0) {
                while (k < kmax && a >= bounds[k + 1]) {
                    k++;
                }
            }
            counts[kmax + sign * k] += (int) cnt[i];
            double d = a - recon[k];
            sse += spread[i] + cnt[i] * d * d;
        }
        return sse;
    }

    /** Bytes of the body before the symbol streams: transform, step, parameter, kmax, group count. */
    static int fixedBodyBytes(int kmax, int groups) {
        return 1 + 8 + 8 + varintSize(kmax) + varintSize(groups);
    }

    private static int varintSize(long v) {
        return io.weightstream.codec.PayloadWriter.varintSize(v);
    }

    /**
     * The point of {@code transform} with the least squared error whose predicted payload body is at most
     * {@code bitsPerWeight * N / 8} bytes (or, if none is, the smallest one): for JOINT over prune thresholds of
     * 0.5 to 2 steps, for LOG and EXP over knees of 0.5 to 4 RMS, each with a bisection on the step.
     */
    public L2Point search(L2Transform transform, double bitsPerWeight) {
        double target = bitsPerWeight * count / 8.0;
        double[] shapes = switch (transform) {
            case JOINT -> new double[] {0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.7, 2.0};
            case UNIFORM -> new double[] {0};
            case LOG, EXP -> new double[] {0.5, 1, 2, 4};
        };
        L2Point best = null;
        L2Point smallest = null;
        for (double shape : shapes) {
            L2Point p = bisect(transform, shape, target);
            if (p.bodyBytes() <= target && (best == null || p.squaredError() < best.squaredError())) {
                best = p;
            }
            if (smallest == null || p.bodyBytes() < smallest.bodyBytes()) {
                smallest = p;
            }
        }
        return best != null ? best : smallest;
    }

    /** The smallest step (2^-16..2^6 RMS) of one shape whose predicted body fits {@code target} bytes. */
    private L2Point bisect(L2Transform t, double shape, double target) {
        double lo = -16;
        double hi = 6;
        L2Point fit = at(t, shape, hi);
        if (!(fit.bodyBytes() <= target)) {
            return fit;
        }
        for (int i = 0; i < 30 && hi - lo > 1e-3; i++) {
            double mid = 0.5 * (lo + hi);
            L2Point p = at(t, shape, mid);
            if (p.bodyBytes() <= target) {
                hi = mid;
                fit = p;
            } else {
                lo = mid;
            }
        }
        return fit;
    }

    private L2Point at(L2Transform t, double shape, double log2Step) {
        double step = StrictMath.pow(2, log2Step);
        double param = switch (t) {
            case JOINT -> shape * step;
            case UNIFORM -> 0;
            case LOG, EXP -> shape;
        };
        return evaluate(t, step, param);
    }
}
