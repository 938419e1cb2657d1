package io.weightstream.codec.l2;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One operating point of the {@code l2} codec on one tensor, as {@link L2Profile#evaluate} predicts it: the
 * transform and its parameters in units of the tensor's RMS (exactly the codec's {@code step}, {@code e} and
 * {@code knee} parameters), the predicted body bytes (the payload without its {@link io.weightstream.codec.PayloadHeader}),
 * the squared error {@code sum (w - w')^2}, the fraction of zeros (pruned weights) and the order-0 entropy.
 *
 * <pre>{@code
 * L2Point p = L2Profile.of(values).evaluate(L2Transform.JOINT, 0.25, 0.2);
 * Map<String, String> settings = p.params();   // {transform=joint, step=0.25, e=0.2}: what the codec takes
 * }</pre>
 *
 * @param transform    the transform
 * @param step         the step s in units of the tensor's RMS
 * @param param        JOINT: the prune threshold e; LOG, EXP: the knee; UNIFORM: 0 (RMS units)
 * @param kmax         the largest magnitude level
 * @param bodyBytes    predicted payload bytes after the header; infinite if the point needs more than 32767 levels
 * @param squaredError predicted {@code sum (w - w')^2} (double precision, before rounding to the dtype)
 * @param zeroFraction fraction of elements decoded as 0
 * @param entropyBits  order-0 entropy of the symbols, bits per element
 */
public record L2Point(L2Transform transform, double step, double param, int kmax, double bodyBytes,
                      double squaredError, double zeroFraction, double entropyBits) {

    /** False for points that need more than 32767 levels (not encodable). */
    public boolean feasible() {
        return Double.isFinite(bodyBytes);
    }

    /** The codec parameters that select this point ({@code transform}, {@code step}, {@code e} or {@code knee}). */
    public Map<String, String> params() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(L2Codec.TRANSFORM.key(), transform.name().toLowerCase(Locale.ROOT));
        m.put(L2Codec.STEP.key(), Double.toString(step));
        if (transform == L2Transform.JOINT) {
            m.put(L2Codec.E.key(), Double.toString(param));
        } else if (transform.hasKnee()) {
            m.put(L2Codec.KNEE.key(), Double.toString(param));
        }
        return m;
    }
}
