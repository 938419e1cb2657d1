package io.weightstream.codec.inr;

/**
 * What a {@link InrTrainer} returns: the trained float32 network and how training went.
 *
 * @param weights     the weights and biases in {@link InrArchitecture#parameters()} order, each row-major
 *                    ({@code [in, out]} for weights)
 * @param steps       optimizer steps taken
 * @param trainMillis wall-clock milliseconds of training
 * @param relL2       relative L2 error on the layer (outliers patched) of the network as trained: float, or
 *                    fake-quantized once quantization-aware training began
 * @param device      where it trained, e.g. {@code "cpu()"} or {@code "gpu(0)"}
 * @param stopReason  why training stopped: {@code "target"}, {@code "steps"} or {@code "time"}
 */
public record InrFit(float[][] weights, int steps, long trainMillis, double relL2, String device, String stopReason) {
}
