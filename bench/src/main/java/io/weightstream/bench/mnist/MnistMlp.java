package io.weightstream.bench.mnist;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.util.List;
import java.util.Map;

/**
 * The MLP: 784 pixels -> linear 256 -> ReLU -> linear 128 -> ReLU -> linear 10 logits (235,146 parameters).
 * {@code fc1.weight} (784 KB) and {@code fc2.weight} (128 KB) are the layers over 100 KB that the INR codec
 * compresses. Its checkpoint tensors and its pure-Java forward pass ({@link MnistNetwork}) live here, free of DJL
 * types so that evaluating never loads DJL; {@link MnistTorchModel#newBlock} builds the same network in DJL to train.
 *
 * <pre>{@code
 * MnistMlp.TENSORS.get(0);   // fc1.weight F32[256, 784]
 * }</pre>
 */
public final class MnistMlp {
    public static final int HIDDEN1 = 256;
    public static final int HIDDEN2 = 128;

    /** Tensors of a checkpoint, torch's layout: weights [out, in]. */
    public static final List<TensorSpec> TENSORS = List.of(
            new TensorSpec("fc1.weight", DType.F32, HIDDEN1, MnistDigits.PIXELS),
            new TensorSpec("fc1.bias", DType.F32, HIDDEN1),
            new TensorSpec("fc2.weight", DType.F32, HIDDEN2, HIDDEN1),
            new TensorSpec("fc2.bias", DType.F32, HIDDEN2),
            new TensorSpec("fc3.weight", DType.F32, MnistDigits.CLASSES, HIDDEN2),
            new TensorSpec("fc3.bias", DType.F32, MnistDigits.CLASSES));

    /** Names of the layers with weights, in network order. */
    static final List<String> LAYERS = List.of("fc1", "fc2", "fc3");

    private MnistMlp() {
    }

    /** The weights prepared for the pure-Java pass (linear weights transposed to [in, out]). */
    static MnistNetwork.Prepared prepare(Map<String, float[]> w) {
        float[] fc1 = MnistKernels.transpose(w.get("fc1.weight"), HIDDEN1, MnistDigits.PIXELS);
        float[] fc2 = MnistKernels.transpose(w.get("fc2.weight"), HIDDEN2, HIDDEN1);
        float[] fc3 = MnistKernels.transpose(w.get("fc3.weight"), MnistDigits.CLASSES, HIDDEN2);
        float[] b1 = w.get("fc1.bias");
        float[] b2 = w.get("fc2.bias");
        float[] b3 = w.get("fc3.bias");
        return () -> {
            float[] h1 = new float[HIDDEN1];
            float[] h2 = new float[HIDDEN2];
            return (pixels, offset, logits) -> {
                MnistKernels.linear(fc1, b1, MnistDigits.PIXELS, HIDDEN1, pixels, offset, h1);
                MnistKernels.relu(h1, HIDDEN1);
                MnistKernels.linear(fc2, b2, HIDDEN1, HIDDEN2, h1, 0, h2);
                MnistKernels.relu(h2, HIDDEN2);
                MnistKernels.linear(fc3, b3, HIDDEN2, MnistDigits.CLASSES, h2, 0, logits);
            };
        };
    }
}
