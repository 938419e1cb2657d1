package io.weightstream.codec.l2;

/**
 * One quantizer of the L2 family with absolute parameters: maps magnitudes to levels {@code 0..kmax} and levels
 * to reconstructions. {@link #level} is monotone in the magnitude, so {@code kmax = level(max |w|)} bounds every
 * level of the tensor. For LOG and EXP the level is decided by comparing with thresholds computed once with
 * {@link StrictMath} (the approximate {@code Math.log1p} guess is only a starting point), so the encoder gives the
 * same symbols everywhere. Immutable.
 */
final class Levels {
    final L2Transform transform;
    final double step;
    final double param;
    final int kmax;
    /** r_0..r_kmax. */
    final double[] recon;
    private final double inverse;
    /** LOG, EXP: thresholds[k] = smallest magnitude of level k, for k in 1..kmax + 1 (index 0 unused). */
    private final double[] thresholds;

    private Levels(L2Transform transform, double step, double param, int kmax, double[] thresholds) {
        this.transform = transform;
        this.step = step;
        this.param = param;
        this.kmax = kmax;
        this.inverse = 1 / step;
        this.thresholds = thresholds;
        this.recon = new double[kmax + 1];
        for (int k = 0; k <= kmax; k++) {
            recon[k] = transform.reconstruction(k, step, param);
        }
    }

    /**
     * The quantizer for magnitudes up to {@code maxAbs}, or null if it needs more than
     * {@link L2Transform#MAX_LEVEL} levels (or a reconstruction is not finite).
     *
     * @throws IllegalArgumentException if {@code (step, param)} is not valid for the transform
     */
    static Levels of(L2Transform transform, double step, double param, double maxAbs) {
        String problem = transform.problem(step, param);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        double guess = guess(transform, maxAbs, step, param);
        if (!(guess <= L2Transform.MAX_LEVEL + 1.0)) {
            return null;
        }
        double[] thresholds = null;
        if (transform.hasKnee()) {
            int size = (int) guess + 3;
            thresholds = new double[size];
            for (int k = 1; k < size; k++) {
                thresholds[k] = transform.threshold(k, step, param);
            }
        }
        Levels probe = new Levels(transform, step, param, 0, thresholds);
        int kmax = probe.levelUnbounded(maxAbs);
        if (kmax > L2Transform.MAX_LEVEL) {
            return null;
        }
        Levels levels = new Levels(transform, step, param, kmax, thresholds);
        for (double r : levels.recon) {
            if (!Double.isFinite(r) || !Double.isFinite((float) r)) {
                return null;
            }
        }
        return levels;
    }

    /** The approximate continuous symbol of magnitude a, rounded half up (may be off by one for LOG and EXP). */
    private static double guess(L2Transform t, double a, double s, double p) {
        return switch (t) {
            case JOINT -> a < p || a == 0 ? 0 : Math.floor((a - p) / s) + 1;
            case UNIFORM -> Math.floor(a / s + 0.5);
            case LOG -> Math.floor((p / s) * Math.log1p(a / p) + 0.5);
            case EXP -> Math.floor((p / s) * Math.expm1(a / p) + 0.5);
        };
    }

    /** The level of magnitude {@code a} in {@code [0, maxAbs]}. */
    int level(double a) {
        return switch (transform) {
            case JOINT -> a < param || a == 0 ? 0 : (int) ((a - param) * inverse) + 1;
            case UNIFORM -> (int) (a * inverse + 0.5);
            default -> Math.min(kmax, levelUnbounded(a));
        };
    }

    private int levelUnbounded(double a) {
        switch (transform) {
            case JOINT:
                return a < param || a == 0 ? 0 : (int) ((a - param) * inverse) + 1;
            case UNIFORM:
                return (int) (a * inverse + 0.5);
            default:
                double[] th = thresholds;
                int top = th.length - 1;
                int k = (int) Math.max(0, Math.min(top, guess(transform, a, step, param)));
                while (k < top && a >= th[k + 1]) {
                    k++;
                }
                while (k > 0 && a < th[k]) {
                    k--;
                }
                return k;
        }
    }

    /**
     * The smallest magnitude of each level: {@code bounds[k]} for k in 1..kmax (index 0 unused), for callers that
     * walk sorted magnitudes up the levels instead of computing each one (rate evaluation on profiles). For JOINT
     * and UNIFORM the arithmetic thresholds, which may differ from {@link #level} by one level exactly at a
     * boundary (rounding), which a prediction can afford.
     */
    double[] bounds() {
        double[] b = new double[kmax + 1];
        for (int k = 1; k <= kmax; k++) {
            b[k] = thresholds != null ? thresholds[k] : transform.threshold(k, step, param);
        }
        return b;
    }

    /** Number of symbols, {@code 2 kmax + 1}: symbol {@code q + kmax} for q in [-kmax, kmax]. */
    int alphabet() {
        return 2 * kmax + 1;
    }
}
