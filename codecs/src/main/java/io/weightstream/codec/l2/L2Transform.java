package io.weightstream.codec.l2;

/**
 * The element-wise transforms of the L2 family (paper 003, METHODS.md "L2"): a weight {@code w} becomes the
 * integer symbol {@code q = round(T(w))} and decodes to {@code T^-1(q)}. Every transform is odd
 * ({@code T(-w) = -T(w)}), so it is defined on the magnitude {@code a = |w|} and the symbol takes the sign of
 * {@code w}: the magnitude level {@code k = |q|} and the reconstruction {@code r_k} below.
 *
 * <ul>
 *   <li>{@link #JOINT} (step s, prune threshold e): {@code T(w) = 0.5 w / e} for {@code |w| < e} (prunes to 0),
 *       {@code sign(w) ((|w| - e) / s + 0.5)} otherwise; {@code k = 0} for {@code a < e} (and for {@code a = 0},
 *       so that zeros stay zeros when {@code e = 0}), else
 *       {@code floor((a - e) / s) + 1}; {@code r_k = e + (k - 0.5) s}. Zero bin {@code [-e, e)}, the others
 *       {@code s} wide: joint pruning and quantization.</li>
 *   <li>{@link #UNIFORM} (step s): {@code T(w) = w / s}, {@code k = floor(a / s + 0.5)}, {@code r_k = k s};
 *       the same quantizer as JOINT with {@code e = s / 2}.</li>
 *   <li>{@link #LOG} (step s at zero, knee c): {@code T(w) = sign(w) (c / s) ln(1 + |w| / c)},
 *       {@code r_k = c (exp(k s / c) - 1)}: steps of s near zero growing like {@code s (1 + a / c)}, so the
 *       levels become geometric beyond the knee (logarithmic quantization; fine where weights are dense).</li>
 *   <li>{@link #EXP} (step s at zero, knee c): {@code T(w) = sign(w) (c / s) (exp(|w| / c) - 1)},
 *       {@code r_k = c ln(1 + k s / c)}: steps shrinking like {@code s / (1 + ...)} towards the tails
 *       (exponential quantization). The paper names the logarithmic and exponential forms without defining them;
 *       these definitions are ours.</li>
 * </ul>
 *
 * The second parameter {@code p} of the methods below is {@code e} for JOINT, the knee {@code c} for LOG and EXP,
 * and unused (0) for UNIFORM. Reconstructions are computed in double precision with {@link StrictMath}, so the
 * decoder's table of levels is the same on every machine.
 */
public enum L2Transform {
    /** Joint pruning and quantization: dead zone {@code [-e, e)}, then uniform steps s. */
    JOINT(0),
    /** Uniform quantization with step s (JOINT with e = s / 2). */
    UNIFORM(1),
    /** Logarithmic quantization: step s at zero, levels geometric beyond the knee c. */
    LOG(2),
    /** Exponential quantization: step s at zero, levels denser towards the tails beyond the knee c. */
    EXP(3);

    /** Largest magnitude level: symbols lie in [-32767, 32767], at most 65535 of them. */
    public static final int MAX_LEVEL = 32767;

    private final int code;

    L2Transform(int code) {
        this.code = code;
    }

    /** The transform's byte in the payload. */
    int code() {
        return code;
    }

    static L2Transform ofCode(int code) {
        for (L2Transform t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }

    /** True for the transforms whose second parameter is a knee (LOG, EXP). */
    public boolean hasKnee() {
        return this == LOG || this == EXP;
    }

    /**
     * Why {@code (s, p)} is not a valid parameter pair for this transform, or null: s must be positive and finite;
     * e (JOINT) finite and non-negative; the knee (LOG, EXP) positive and finite.
     */
    public String problem(double s, double p) {
        if (!(s > 0) || !Double.isFinite(s)) {
            return "step " + s + " is not a positive finite number";
        }
        switch (this) {
            case JOINT -> {
                if (!(p >= 0) || !Double.isFinite(p)) {
                    return "prune threshold e " + p + " is not a non-negative finite number";
                }
            }
            case LOG, EXP -> {
                if (!(p > 0) || !Double.isFinite(p)) {
                    return "knee " + p + " is not a positive finite number";
                }
            }
            default -> {
            }
        }
        return null;
    }

    /**
     * The continuous transform {@code T(a)} of a magnitude {@code a >= 0} (not rounded): the paper's {@code T}.
     */
    public double forward(double a, double s, double p) {
        return switch (this) {
            case JOINT -> a == 0 ? 0 : a < p ? 0.5 * a / p : (a - p) / s + 0.5;
            case UNIFORM -> a / s;
            case LOG -> (p / s) * StrictMath.log1p(a / p);
            case EXP -> (p / s) * StrictMath.expm1(a / p);
        };
    }

    /** {@code dT/ds} at magnitude {@code a}: how the continuous symbol moves with the step. */
    public double forwardDerivativeStep(double a, double s, double p) {
        return switch (this) {
            case JOINT -> a < p ? 0 : -(a - p) / (s * s);
            case UNIFORM -> -a / (s * s);
            case LOG, EXP -> -forward(a, s, p) / s;
        };
    }

    /** {@code dT/dp} at magnitude {@code a} (p = e for JOINT, the knee for LOG and EXP; 0 for UNIFORM). */
    public double forwardDerivativeParam(double a, double s, double p) {
        return switch (this) {
            case JOINT -> a < p ? -0.5 * a / (p * p) : -1 / s;
            case UNIFORM -> 0;
            case LOG -> (StrictMath.log1p(a / p) - (a / p) / (1 + a / p)) / s;
            case EXP -> (StrictMath.expm1(a / p) - (a / p) * StrictMath.exp(a / p)) / s;
        };
    }

    /**
     * The reconstruction {@code r_k = T^-1(k)} of magnitude level {@code k >= 0} ({@code r_0 = 0}).
     * Deterministic: plain double arithmetic and {@link StrictMath}.
     */
    public double reconstruction(int k, double s, double p) {
        if (k == 0) {
            return 0;
        }
        return switch (this) {
            case JOINT -> p + (k - 0.5) * s;
            case UNIFORM -> k * s;
            case LOG -> p * StrictMath.expm1(k * s / p);
            case EXP -> p * StrictMath.log1p(k * s / p);
        };
    }

    /**
     * The smallest magnitude that rounds to level {@code k >= 1}: {@code T^-1(k - 0.5)}, where {@link Levels}
     * decides between k - 1 and k for LOG and EXP.
     */
    double threshold(int k, double s, double p) {
        return switch (this) {
            case JOINT -> p + (k - 1) * s;
            case UNIFORM -> (k - 0.5) * s;
            case LOG -> p * StrictMath.expm1((k - 0.5) * s / p);
            case EXP -> p * StrictMath.log1p((k - 0.5) * s / p);
        };
    }
}
