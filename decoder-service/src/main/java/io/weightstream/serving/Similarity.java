package io.weightstream.serving;

/** Cosine similarity and relative L2 error of two vectors, accumulated in double. */
final class Similarity {
    private Similarity() {
    }

    /** Cosine of the angle between {@code a} and {@code b}; 1 when both are all zeros, 0 when only one is. */
    static double cosine(float[] a, float[] b) {
        checkLengths(a.length, b.length);
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return cosine(dot, na, nb);
    }

    static double cosine(double[] a, double[] b) {
        checkLengths(a.length, b.length);
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return cosine(dot, na, nb);
    }

    /** {@code ||b - a|| / ||a||}: the error of {@code b} relative to the reference {@code a}. */
    static double relativeError(float[] a, float[] b) {
        checkLengths(a.length, b.length);
        double diff = 0;
        double ref = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) b[i] - a[i];
            diff += d * d;
            ref += (double) a[i] * a[i];
        }
        return relative(diff, ref);
    }

    static double relativeError(double[] a, double[] b) {
        checkLengths(a.length, b.length);
        double diff = 0;
        double ref = 0;
        for (int i = 0; i < a.length; i++) {
            double d = b[i] - a[i];
            diff += d * d;
            ref += a[i] * a[i];
        }
        return relative(diff, ref);
    }

    private static double cosine(double dot, double na, double nb) {
        if (na == 0 && nb == 0) {
            return 1.0;
        }
        if (na == 0 || nb == 0) {
            return 0.0;
        }
        // rounding can push |cos| a hair past 1 for identical vectors
        return Math.max(-1.0, Math.min(1.0, dot / Math.sqrt(na * nb)));
    }

    private static double relative(double diffSquared, double refSquared) {
        if (refSquared == 0) {
            return diffSquared == 0 ? 0.0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(diffSquared / refSquared);
    }

    private static void checkLengths(int a, int b) {
        if (a != b) {
            throw new IllegalArgumentException("vectors differ in length: " + a + " vs " + b);
        }
    }
}
