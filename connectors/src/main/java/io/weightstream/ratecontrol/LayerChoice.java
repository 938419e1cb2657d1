package io.weightstream.ratecontrol;

import io.weightstream.codec.l2.L2Transform;
import java.util.Map;

/**
 * The rate allocator's decision for one layer (a tensor, or a row block of a large one): the method and
 * parameters that go into its policy rule, with what was predicted and, after verification, measured.
 *
 * @param name           tensor (or row block) name, the rule's exact pattern
 * @param alias          readable alias, or null
 * @param elements       number of weights
 * @param originalBytes  bytes in the checkpoint
 * @param method         {@code l2}, or the keep method when coding the layer exactly was the better deal
 * @param params         the codec parameters of the rule ({@code transform}, {@code step}, {@code e} / {@code knee})
 * @param transform      the transform, or null for the keep method
 * @param step           the step in units of the layer's RMS (0 for the keep method)
 * @param param          the prune threshold e (JOINT) or the knee (LOG, EXP) in RMS units; 0 otherwise
 * @param kmax           the largest magnitude level
 * @param predictedBytes payload bytes the profile predicted
 * @param actualBytes    payload bytes measured by the verification, or -1
 * @param predictedRelL2 relative L2 error the profile predicted
 * @param actualRelL2    relative L2 error measured by the verification, or NaN
 * @param zeroFraction   fraction of weights decoded as 0 (pruned)
 * @param weight         the factor on this layer's distortion (distortion normalization times sensitivity)
 * @param slope          the layer's marginal return at its point: distortion saved per extra byte, weighted
 */
public record LayerChoice(String name, String alias, long elements, long originalBytes, String method,
                          Map<String, String> params, L2Transform transform, double step, double param, int kmax,
                          double predictedBytes, long actualBytes, double predictedRelL2, double actualRelL2,
                          double zeroFraction, double weight, double slope) {

    /** Bits per weight of the payload (measured if verified, else predicted). */
    public double bitsPerWeight() {
        double bytes = actualBytes >= 0 ? actualBytes : predictedBytes;
        return elements == 0 ? 0 : 8 * bytes / elements;
    }

    /** A copy with the verification's measurements. */
    LayerChoice verified(long bytes, double relL2) {
        return new LayerChoice(name, alias, elements, originalBytes, method, params, transform, step, param, kmax,
                predictedBytes, bytes, predictedRelL2, relL2, zeroFraction, weight, slope);
    }
}
