package io.weightstream.bench;

/**
 * The error of one tensor of one row: what the per-layer heat strip and {@code layers.csv} show.
 *
 * <pre>{@code
 * report.layers().stream().filter(LayerError::isWeightMatrix)
 *         .max(Comparator.comparingDouble(LayerError::relL2));   // the worst weight matrix of the run
 * }</pre>
 *
 * @param model         model id
 * @param method        method of the row
 * @param setting       setting of the row
 * @param tensor        tensor name in the checkpoint
 * @param label         a short layer name for plots ({@code L0.q}, {@code fc1})
 * @param dtype         the tensor's dtype
 * @param shape         the tensor's shape, {@code 384x1536}
 * @param elements      element count
 * @param originalBytes the tensor's bytes
 * @param encodedBytes  its payload's bytes
 * @param codec         the codec that encoded it (a policy keeps 1-D and integer tensors lossless)
 * @param relL2         ||w - w'|| / ||w||
 * @param cosine        cosine of w and w'
 */
public record LayerError(String model, String method, String setting, String tensor, String label, String dtype,
                         String shape, long elements, long originalBytes, long encodedBytes, String codec, double relL2,
                         double cosine) {
    /** Whether the heat strip shows this tensor: floating point, at least 2-D (the tensors the methods change). */
    public boolean isWeightMatrix() {
        return shape.contains("x") && (dtype.startsWith("F") || dtype.equals("BF16"));
    }
}
