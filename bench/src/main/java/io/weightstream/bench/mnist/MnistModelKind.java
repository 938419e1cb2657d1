package io.weightstream.bench.mnist;

import io.weightstream.tensor.TensorSpec;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The two MNIST architectures the project trains: {@link MnistMlp} and {@link MnistCnn}. A checkpoint of either
 * holds exactly the F32 tensors of {@link #tensors()} and names its kind in the metadata key {@value #METADATA_KEY}.
 *
 * <pre>{@code
 * MnistModelKind kind = MnistModelKind.of("cnn");
 * kind.tensors();   // conv1.weight F32[32, 1, 5, 5], conv1.bias F32[32], ...
 * }</pre>
 */
public enum MnistModelKind {
    MLP("mlp", MnistMlp.TENSORS),
    CNN("cnn", MnistCnn.TENSORS);

    /** Checkpoint metadata key whose value is {@link #modelName()}. */
    public static final String METADATA_KEY = "model";

    private final String id;
    private final List<TensorSpec> tensors;

    MnistModelKind(String id, List<TensorSpec> tensors) {
        this.id = id;
        this.tensors = tensors;
    }

    /** Short name, as on the command line: {@code mlp} or {@code cnn}. */
    public String id() {
        return id;
    }

    /** The value of the metadata key {@value #METADATA_KEY}: {@code mnist-mlp} or {@code mnist-cnn}. */
    public String modelName() {
        return "mnist-" + id;
    }

    /** The tensors of a checkpoint of this kind, in layer order. */
    public List<TensorSpec> tensors() {
        return tensors;
    }

    /** Number of trainable parameters. */
    public long parameterCount() {
        long n = 0;
        for (TensorSpec s : tensors) {
            n += s.numel();
        }
        return n;
    }

    /** Parses {@code mlp}, {@code cnn} (any case) or the model names {@code mnist-mlp}, {@code mnist-cnn}. */
    public static MnistModelKind of(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (MnistModelKind k : values()) {
            if (k.id.equals(n) || k.modelName().equals(n)) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown MNIST model '" + name + "' (expected mlp or cnn)");
    }

    /**
     * The kind a checkpoint holds, from its tensor names ({@code conv1.weight}: CNN, {@code fc3.weight}: MLP); when
     * the metadata names a kind too, the two must agree.
     *
     * @throws IllegalArgumentException when the names fit neither kind or contradict the metadata
     */
    public static MnistModelKind detect(Collection<String> tensorNames, Map<String, String> metadata) {
        MnistModelKind byNames = tensorNames.contains("conv1.weight") ? CNN
                : tensorNames.contains("fc3.weight") ? MLP : null;
        String named = metadata == null ? null : metadata.get(METADATA_KEY);
        MnistModelKind byMetadata = named == null ? null : of(named);
        if (byNames == null) {
            throw new IllegalArgumentException("not an MNIST model of this project: neither conv1.weight (cnn) nor"
                    + " fc3.weight (mlp) among the tensors " + tensorNames);
        }
        if (byMetadata != null && byMetadata != byNames) {
            throw new IllegalArgumentException("metadata says " + named + " but the tensors are those of "
                    + byNames.modelName());
        }
        return byNames;
    }
}
