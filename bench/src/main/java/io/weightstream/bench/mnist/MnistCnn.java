package io.weightstream.bench.mnist;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.util.List;
import java.util.Map;

/**
 * The CNN: [1, 28, 28] -> conv 5x5, 32 -> ReLU -> max-pool 2 -> conv 5x5, 64 -> ReLU -> max-pool 2 -> flatten
 * 1024 -> linear 128 -> ReLU -> linear 10 logits (184,586 parameters). Sized so that {@code conv2.weight}
 * (200 KB) and {@code fc1.weight} (512 KB) are over the 100 KB the INR codec looks at; {@code conv1.weight}
 * (3.2 KB) cannot sensibly be. No padding, stride 1, as in torch's {@code Conv2d(1, 32, 5)}. Its checkpoint
 * tensors and its pure-Java forward pass ({@link MnistNetwork}) live here, free of DJL types so that evaluating
 * never loads DJL; {@link MnistTorchModel#newBlock} builds the same network in DJL to train.
 *
 * <pre>{@code
 * MnistCnn.TENSORS.get(2);   // conv2.weight F32[64, 32, 5, 5]
 * }</pre>
 */
public final class MnistCnn {
    public static final int KERNEL = 5;
    public static final int FILTERS1 = 32;
    public static final int FILTERS2 = 64;
    public static final int HIDDEN = 128;

    static final int SIDE1 = MnistDigits.SIDE - KERNEL + 1; // 24
    static final int POOLED1 = SIDE1 / 2;                   // 12
    static final int SIDE2 = POOLED1 - KERNEL + 1;          // 8
    static final int POOLED2 = SIDE2 / 2;                   // 4
    static final int FLAT = FILTERS2 * POOLED2 * POOLED2;   // 1024

    /** Tensors of a checkpoint, torch's layout: conv weights [out, in, kh, kw], linear weights [out, in]. */
    public static final List<TensorSpec> TENSORS = List.of(
            new TensorSpec("conv1.weight", DType.F32, FILTERS1, 1, KERNEL, KERNEL),
            new TensorSpec("conv1.bias", DType.F32, FILTERS1),
            new TensorSpec("conv2.weight", DType.F32, FILTERS2, FILTERS1, KERNEL, KERNEL),
            new TensorSpec("conv2.bias", DType.F32, FILTERS2),
            new TensorSpec("fc1.weight", DType.F32, HIDDEN, FLAT),
            new TensorSpec("fc1.bias", DType.F32, HIDDEN),
            new TensorSpec("fc2.weight", DType.F32, MnistDigits.CLASSES, HIDDEN),
            new TensorSpec("fc2.bias", DType.F32, MnistDigits.CLASSES));

    /** Names of the layers with weights, in network order. */
    static final List<String> LAYERS = List.of("conv1", "conv2", "fc1", "fc2");

    private MnistCnn() {
    }

    /** The weights prepared for the pure-Java pass (linear weights transposed to [in, out]). */
    static MnistNetwork.Prepared prepare(Map<String, float[]> w) {
        float[] c1 = w.get("conv1.weight");
        float[] cb1 = w.get("conv1.bias");
        float[] c2 = w.get("conv2.weight");
        float[] cb2 = w.get("conv2.bias");
        float[] fc1 = MnistKernels.transpose(w.get("fc1.weight"), HIDDEN, FLAT);
        float[] b1 = w.get("fc1.bias");
        float[] fc2 = MnistKernels.transpose(w.get("fc2.weight"), MnistDigits.CLASSES, HIDDEN);
        float[] b2 = w.get("fc2.bias");
        return () -> {
            float[] col = new float[Math.max(KERNEL * KERNEL * SIDE1 * SIDE1, FILTERS1 * KERNEL * KERNEL * SIDE2 * SIDE2)];
            float[] a1 = new float[FILTERS1 * SIDE1 * SIDE1];
            float[] p1 = new float[FILTERS1 * POOLED1 * POOLED1];
            float[] a2 = new float[FILTERS2 * SIDE2 * SIDE2];
            float[] p2 = new float[FLAT];
            float[] h = new float[HIDDEN];
            return (pixels, offset, logits) -> {
                MnistKernels.conv2d(pixels, offset, 1, MnistDigits.SIDE, MnistDigits.SIDE, c1, cb1, FILTERS1, KERNEL, col, a1);
                MnistKernels.relu(a1, a1.length);
                MnistKernels.maxPool2(a1, FILTERS1, SIDE1, SIDE1, p1);
                MnistKernels.conv2d(p1, 0, FILTERS1, POOLED1, POOLED1, c2, cb2, FILTERS2, KERNEL, col, a2);
                MnistKernels.relu(a2, a2.length);
                MnistKernels.maxPool2(a2, FILTERS2, SIDE2, SIDE2, p2);
                MnistKernels.linear(fc1, b1, FLAT, HIDDEN, p2, 0, h);
                MnistKernels.relu(h, HIDDEN);
                MnistKernels.linear(fc2, b2, HIDDEN, MnistDigits.CLASSES, h, 0, logits);
            };
        };
    }
}
