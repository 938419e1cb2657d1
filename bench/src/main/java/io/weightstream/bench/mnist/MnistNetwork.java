package io.weightstream.bench.mnist;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.safetensors.SafetensorsCheckpoint;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The weights of an MNIST model ({@link MnistModelKind}) and its forward pass in pure Java: no native engine, so
 * benches, tests and the decoder side can score a checkpoint, or a reconstruction of one, anywhere.
 * Any floating-point dtype is accepted (widened to float); shapes must be exactly those of the kind.
 *
 * <pre>{@code
 * MnistNetwork net = MnistNetwork.load(Path.of("ckpt/step-1000.safetensors"));
 * int digit = net.predict(heldBack.image(0));
 * }</pre>
 */
public final class MnistNetwork {
    /** Weights prepared once; each {@link #newPass()} has its own scratch. */
    interface Prepared {
        Pass newPass();
    }

    /** One single-threaded forward pass: the 10 logits of the 784 pixels at {@code offset}. */
    interface Pass {
        void logits(float[] pixels, int offset, float[] logits);
    }

    /** Digits per parallel task: enough to amortize a pass's scratch. */
    private static final int CHUNK = 100;

    private final MnistModelKind kind;
    private final Prepared prepared;

    private MnistNetwork(MnistModelKind kind, Map<String, float[]> weights) {
        this.kind = kind;
        this.prepared = switch (kind) {
            case MLP -> MnistMlp.prepare(weights);
            case CNN -> MnistCnn.prepare(weights);
        };
    }

    /**
     * Reads a checkpoint (safetensors, or any format {@link Checkpoint#open} reads) of either kind.
     *
     * @throws CheckpointFormatException when the file is not a checkpoint or not one of an MNIST model of this project
     */
    public static MnistNetwork load(Path checkpoint) {
        try (Checkpoint ckpt = Checkpoint.open(checkpoint)) {
            List<Tensor> tensors = new ArrayList<>();
            for (CheckpointTensor t : ckpt.tensors()) {
                tensors.add(t.tensor());
            }
            Map<String, String> metadata = ckpt instanceof SafetensorsCheckpoint s ? s.metadata() : Map.of();
            try {
                return of(tensors, metadata);
            } catch (IllegalArgumentException e) {
                throw new CheckpointFormatException(checkpoint, 0, e.getMessage(), e);
            }
        }
    }

    /**
     * A network from tensors named as in a checkpoint (e.g. decoded from compressed layers); extra tensors are an error.
     *
     * @param metadata may be empty; when it names a kind, the tensors must be that kind's
     * @throws IllegalArgumentException when a tensor is missing, extra, of another shape or not floating point
     */
    public static MnistNetwork of(List<Tensor> tensors, Map<String, String> metadata) {
        Map<String, Tensor> byName = new HashMap<>();
        for (Tensor t : tensors) {
            if (byName.put(t.name(), t) != null) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' appears twice");
            }
        }
        MnistModelKind kind = MnistModelKind.detect(byName.keySet(), metadata);
        Map<String, float[]> weights = new HashMap<>();
        for (TensorSpec expected : kind.tensors()) {
            Tensor t = byName.get(expected.name());
            if (t == null) {
                throw new IllegalArgumentException(kind.modelName() + ": tensor '" + expected.name() + "' is missing");
            }
            if (!Arrays.equals(t.spec().shape(), expected.shape())) {
                throw new IllegalArgumentException(kind.modelName() + ": tensor '" + expected.name() + "' has shape "
                        + Arrays.toString(t.spec().shape()) + ", expected " + Arrays.toString(expected.shape()));
            }
            if (!t.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException(kind.modelName() + ": tensor '" + expected.name() + "' is "
                        + t.dtype() + ", not floating point");
            }
            weights.put(expected.name(), t.toFloats());
        }
        if (byName.size() != weights.size()) {
            List<String> extra = new ArrayList<>(byName.keySet());
            extra.removeAll(weights.keySet());
            throw new IllegalArgumentException(kind.modelName() + ": unexpected tensors " + extra);
        }
        return new MnistNetwork(kind, weights);
    }

    public MnistModelKind kind() {
        return kind;
    }

    /**
     * The 10 logits of one digit.
     *
     * @param image 784 pixels, row-major
     */
    public float[] logits(float[] image) {
        if (image.length != MnistDigits.PIXELS) {
            throw new IllegalArgumentException(image.length + " pixels, expected " + MnistDigits.PIXELS);
        }
        float[] out = new float[MnistDigits.CLASSES];
        prepared.newPass().logits(image, 0, out);
        return out;
    }

    /**
     * The logits of every digit of {@code digits}: {@code [digits.size()][10]}. Runs chunks of digits on the
     * common fork-join pool; each digit's logits do not depend on the chunking.
     */
    public float[][] logits(DigitSet digits) {
        float[] pixels = digits.pixels();
        float[][] out = new float[digits.size()][MnistDigits.CLASSES];
        int chunks = (out.length + CHUNK - 1) / CHUNK;
        IntStream.range(0, chunks).parallel().forEach(c -> {
            Pass pass = prepared.newPass();
            for (int i = c * CHUNK, end = Math.min(out.length, i + CHUNK); i < end; i++) {
                pass.logits(pixels, i * MnistDigits.PIXELS, out[i]);
            }
        });
        return out;
    }

    /** The predicted digit (top-1; the lowest on ties) of one image of 784 pixels. */
    public int predict(float[] image) {
        return MnistKernels.argmax(logits(image), MnistDigits.CLASSES);
    }

    @Override
    public String toString() {
        return "MnistNetwork(" + kind.modelName() + ")";
    }
}
