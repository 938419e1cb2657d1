package io.weightstream.bench;

import java.util.function.Supplier;

/**
 * Best-of-n timing within a budget: machines here are shared and noisy, so the fastest pass is the best estimate
 * of what the code costs. At least one pass always runs.
 */
final class Timing {
    private Timing() {
    }

    /**
     * Runs {@code pass} up to {@code maxPasses} times, stopping early once {@code budgetSeconds} went into it, and
     * returns the smallest value of each component (each pass returns seconds, e.g. {encode, decode}).
     */
    static double[] best(int maxPasses, double budgetSeconds, Supplier<double[]> pass) {
        long t0 = System.nanoTime();
        double[] best = null;
        for (int i = 0; i < maxPasses; i++) {
            double[] r = pass.get();
            if (best == null) {
                best = r.clone();
            } else {
                for (int k = 0; k < r.length; k++) {
                    best[k] = Math.min(best[k], r[k]);
                }
            }
            if ((System.nanoTime() - t0) / 1e9 >= budgetSeconds) {
                break;
            }
        }
        return best;
    }

    /** Megabytes (10^6 bytes) per second, NaN for a zero or missing time. */
    static double mbps(long bytes, double seconds) {
        return seconds > 0 ? bytes / 1e6 / seconds : Double.NaN;
    }
}
