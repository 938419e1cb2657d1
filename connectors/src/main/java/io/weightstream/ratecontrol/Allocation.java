package io.weightstream.ratecontrol;

import io.weightstream.policy.Policies;
import io.weightstream.schemas.CompressionPolicy;
import java.util.List;
import java.util.Locale;

/**
 * The result of {@link RateAllocator#allocate}: the policy (one exact rule per compressed layer, everything else
 * kept by the lossless keep method), the per-layer choices, and the model's predicted and verified totals.
 *
 * <pre>{@code
 * Allocation a = RateAllocator.allocate(ckpt, RateTarget.ratio(8), AllocationOptions.defaults());
 * Files.writeString(Path.of("policy.json"), Policies.toJson(a.policy()));
 * System.out.print(a.table());
 * }</pre>
 *
 * @param target           the target
 * @param accounting       which bytes the ratio counts
 * @param policy           the compression policy that realizes the allocation
 * @param layers           the choice for every layer rate control decided (float tensors of rank >= 2), file order
 * @param keptTensors      tensors kept exactly whatever the target (1-D, non-float, non-finite, small)
 * @param keptBytes        their payload bytes
 * @param originalBytes    the ratio's numerator: file bytes (FILE) or tensor bytes (PAYLOADS)
 * @param elements         elements of all tensors (the bits-per-weight denominator)
 * @param budgetBytes      the encoded bytes the target allows
 * @param predictedBytes   encoded bytes predicted for the final allocation (overhead estimate included)
 * @param verifiedBytes    encoded bytes measured by compressing for real, or -1 if not verified
 * @param lambda           the final rate-distortion slope (weighted distortion per byte) shared by the layers
 * @param rounds           allocate-and-verify rounds run
 * @param seconds          wall time
 */
public record Allocation(RateTarget target, AllocationOptions.Accounting accounting, CompressionPolicy policy,
                         List<LayerChoice> layers, int keptTensors, long keptBytes, long originalBytes, long elements,
                         double budgetBytes, double predictedBytes, long verifiedBytes, double lambda, int rounds,
                         double seconds) {

    /** The achieved ratio: verified if the allocation was verified, else predicted. */
    public double ratio() {
        return originalBytes / (double) (verifiedBytes >= 0 ? verifiedBytes : predictedBytes);
    }

    /** The achieved bits per weight (same bytes as {@link #ratio()}). */
    public double bitsPerWeight() {
        return 8.0 * (verifiedBytes >= 0 ? verifiedBytes : predictedBytes) / Math.max(1, elements);
    }

    /** The predicted ratio. */
    public double predictedRatio() {
        return originalBytes / predictedBytes;
    }

    /** How far the achieved size is from the budget, relative: 0.01 = 1 % larger than allowed. */
    public double miss() {
        double bytes = verifiedBytes >= 0 ? verifiedBytes : predictedBytes;
        return bytes / budgetBytes - 1;
    }

    /** The per-layer table and the totals, for humans. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-56s %-8s %-7s %9s %8s %6s %6s %8s %10s %10s %9s%n", "layer", "method",
                "transf", "step", "e/knee", "kmax", "bits", "zeros", "relL2", "relL2*", "weight"));
        for (LayerChoice c : layers) {
            String n = c.alias() != null ? c.alias() : c.name();
            if (n.length() > 56) {
                n = "..." + n.substring(n.length() - 53);
            }
            sb.append(String.format(Locale.ROOT, "%-56s %-8s %-7s %9.4g %8.3g %6d %6.3f %8.4f %10.3e %10.3e %9.3g%n",
                    n, c.method(), c.transform() == null ? "-" : c.transform().name().toLowerCase(Locale.ROOT),
                    c.step(), c.param(), c.kmax(), c.bitsPerWeight(), c.zeroFraction(), c.predictedRelL2(),
                    c.actualRelL2(), c.weight()));
        }
        sb.append(String.format(Locale.ROOT, "target %s (%s accounting): ratio %.4f (predicted %.4f), %.4f bits/weight, "
                        + "%s bytes of %s allowed (%+.2f %%), %d layers rate-controlled, %d tensors kept (%d bytes), "
                        + "lambda %.4g, %d round(s), %.1f s%n",
                target, accounting.name().toLowerCase(Locale.ROOT), ratio(), predictedRatio(), bitsPerWeight(),
                verifiedBytes >= 0 ? Long.toString(verifiedBytes) : String.format(Locale.ROOT, "%.0f", predictedBytes),
                String.format(Locale.ROOT, "%.0f", budgetBytes), 100 * miss(), layers.size(), keptTensors, keptBytes,
                lambda, rounds, seconds));
        return sb.toString();
    }

    /** The policy as JSON ({@code --policy FILE}). */
    public String policyJson() {
        return Policies.toJson(policy);
    }
}
