package io.weightstream.ratecontrol;

import java.util.Map;

/**
 * What whole-model rate control aims at: a compression ratio (original bytes / compressed bytes) or an average
 * number of bits per weight (compressed bits / elements of every tensor), both counted as the
 * {@link AllocationOptions.Accounting} says.
 *
 * <pre>{@code
 * RateTarget.ratio(8);                                  // 8x smaller
 * RateTarget.bitsPerWeight(4);                          // 4 bits per weight on average
 * RateTarget.parse(Map.of("ratio", "10"));              // from --set ratio=10 (or model.bits=B)
 * }</pre>
 *
 * @param kind  ratio or bits per weight
 * @param value the ratio (> 1) or the bits per weight (> 0)
 */
public record RateTarget(Kind kind, double value) {
    /** The setting keys {@link #parse} reads. */
    public static final String RATIO_KEY = "ratio";
    public static final String BITS_KEY = "model.bits";

    /** What {@link #value} is. */
    public enum Kind {
        /** Original bytes / compressed bytes. */
        RATIO,
        /** Compressed bits / elements. */
        BITS_PER_WEIGHT
    }

    public RateTarget {
        java.util.Objects.requireNonNull(kind, "kind");
        if (!Double.isFinite(value) || value <= 0 || (kind == Kind.RATIO && value < 1)) {
            throw new IllegalArgumentException(kind == Kind.RATIO ? "target ratio " + value + " is not a number >= 1"
                    : "target bits per weight " + value + " is not a positive number");
        }
    }

    public static RateTarget ratio(double ratio) {
        return new RateTarget(Kind.RATIO, ratio);
    }

    public static RateTarget bitsPerWeight(double bits) {
        return new RateTarget(Kind.BITS_PER_WEIGHT, bits);
    }

    /**
     * The target in {@code settings}: {@code ratio=R} or {@code model.bits=B} (exactly one of them).
     *
     * @throws IllegalArgumentException if neither or both are set, or the value is not a valid number
     */
    public static RateTarget parse(Map<String, String> settings) {
        String r = settings.get(RATIO_KEY);
        String b = settings.get(BITS_KEY);
        if ((r == null) == (b == null)) {
            throw new IllegalArgumentException("set exactly one of " + RATIO_KEY + "=R (compression ratio) or "
                    + BITS_KEY + "=B (bits per weight)");
        }
        String text = r != null ? r : b;
        double v;
        try {
            v = Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a number");
        }
        return r != null ? ratio(v) : bitsPerWeight(v);
    }

    /** True if {@code settings} ask for whole-model rate control ({@code ratio} or {@code model.bits} is set). */
    public static boolean requested(Map<String, String> settings) {
        return settings.containsKey(RATIO_KEY) || settings.containsKey(BITS_KEY);
    }

    /** The encoded bytes allowed for a model of {@code originalBytes} and {@code elements} elements. */
    public double budgetBytes(double originalBytes, long elements) {
        return kind == Kind.RATIO ? originalBytes / value : value * elements / 8.0;
    }

    @Override
    public String toString() {
        return kind == Kind.RATIO ? "ratio " + value : value + " bits/weight";
    }
}
