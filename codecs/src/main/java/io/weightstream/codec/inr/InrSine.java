package io.weightstream.codec.inr;

/**
 * A sine and cosine made of double additions and multiplications only, so that they return bit-identical results
 * on every JVM and machine (Java has no fused or reordered floating-point arithmetic), about ten times faster than
 * {@link StrictMath#sin}: the decoder takes one sine per hidden unit per layer per grid point, hundreds of millions
 * for a large layer. Quadrant reduction by pi/2 in three parts (Cody-Waite), then the Taylor polynomials of
 * degree 15/16 on [-pi/4, pi/4]; error below 1e-15 for |x| < 1e5, far below the float32 the network computes in.
 * Larger arguments (never reached by a trained network; a corrupt payload may) fall back to StrictMath.
 */
final class InrSine {
    private static final double TWO_OVER_PI = 0.6366197723675814;
    // pi/2 split so that k * PIO2_1 and k * PIO2_2 are exact for |k| < 2^20 (fdlibm's constants)
    private static final double PIO2_1 = 1.57079632673412561417e+00;
    private static final double PIO2_2 = 6.07710050650619224932e-11;
    private static final double PIO2_3 = 2.02226624879595063154e-21;
    private static final double LARGE = 1e5;

    private static final double S3 = -1.0 / 6;
    private static final double S5 = 1.0 / 120;
    private static final double S7 = -1.0 / 5040;
    private static final double S9 = 1.0 / 362880;
    private static final double S11 = -1.0 / 39916800;
    private static final double S13 = 1.0 / 6227020800.0;
    private static final double S15 = -1.0 / 1307674368000.0;
    private static final double C2 = -1.0 / 2;
    private static final double C4 = 1.0 / 24;
    private static final double C6 = -1.0 / 720;
    private static final double C8 = 1.0 / 40320;
    private static final double C10 = -1.0 / 3628800;
    private static final double C12 = 1.0 / 479001600;
    private static final double C14 = -1.0 / 87178291200.0;
    private static final double C16 = 1.0 / 20922789888000.0;

    private InrSine() {
    }

    static double sin(double x) {
        if (!(Math.abs(x) < LARGE)) {
            return StrictMath.sin(x); // NaN, infinities and huge arguments: rare, still deterministic
        }
        double k = Math.rint(x * TWO_OVER_PI);
        double r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
        int q = (int) k & 3;
        return switch (q) {
            case 0 -> sinPoly(r);
            case 1 -> cosPoly(r);
            case 2 -> -sinPoly(r);
            default -> -cosPoly(r);
        };
    }

    static double cos(double x) {
        if (!(Math.abs(x) < LARGE)) {
            return StrictMath.cos(x);
        }
        double k = Math.rint(x * TWO_OVER_PI);
        double r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
        int q = (int) k & 3;
        return switch (q) {
            case 0 -> cosPoly(r);
            case 1 -> -sinPoly(r);
            case 2 -> -cosPoly(r);
            default -> sinPoly(r);
        };
    }

    /** sin(x) of a float argument, rounded to float. */
    static float sin(float x) {
        return (float) sin((double) x);
    }

    private static double sinPoly(double r) {
        double z = r * r;
        return r + r * z * (S3 + z * (S5 + z * (S7 + z * (S9 + z * (S11 + z * (S13 + z * S15))))));
    }

    private static double cosPoly(double r) {
        double z = r * r;
        return 1.0 + z * (C2 + z * (C4 + z * (C6 + z * (C8 + z * (C10 + z * (C12 + z * (C14 + z * C16)))))));
    }
}
