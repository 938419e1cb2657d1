package io.weightstream.bench;

import io.weightstream.bench.mnist.MnistDigits;
import io.weightstream.bench.mnist.MnistModelKind;
import io.weightstream.bench.mnist.MnistTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The models of the bench, by name: all-MiniLM-L6-v2 as float32 and as ONNX Runtime's 8-bit variant (both staged by
 * the deploy module under {@code weightstream.stack.home}), and an MLP and a CNN that the bench trains itself with
 * DJL on the real MNIST digits when no checkpoint of the same training is cached.
 *
 * <pre>{@code
 * BenchModel minilm = BenchModels.resolve("minilm", options, log);
 * List<String> ids = BenchModels.defaults(true);   // [all-minilm-l6-v2, mnist-mlp]
 * }</pre>
 */
public final class BenchModels {
    public static final String MINILM = "all-minilm-l6-v2";
    public static final String MINILM_Q = "all-minilm-l6-v2-q";
    public static final String MNIST_MLP = "mnist-mlp";
    public static final String MNIST_CNN = "mnist-cnn";
    /** Every model, in report order. */
    public static final List<String> ALL = List.of(MINILM, MINILM_Q, MNIST_MLP, MNIST_CNN);
    /** Seed of the bench's MNIST training runs. */
    static final int MNIST_SEED = 42;

    private BenchModels() {
    }

    /** The models of a run when none are named: MiniLM and the MLP for quick runs, all four otherwise. */
    public static List<String> defaults(boolean quick) {
        return quick ? List.of(MINILM, MNIST_MLP) : ALL;
    }

    /** The canonical id of a model name or alias ({@code minilm}, {@code minilm-q}, {@code mlp}, {@code cnn}). */
    public static String canonical(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "minilm", MINILM -> MINILM;
            case "minilm-q", MINILM_Q -> MINILM_Q;
            case "mlp", MNIST_MLP -> MNIST_MLP;
            case "cnn", MNIST_CNN -> MNIST_CNN;
            default -> throw new IllegalArgumentException("unknown bench model '" + name + "'; known: "
                    + String.join(", ", ALL) + " (or minilm, minilm-q, mlp, cnn)");
        };
    }

    /**
     * Finds (or, for MNIST, trains) a model.
     *
     * @throws IllegalStateException when a staged model is missing, naming the build step that stages it
     */
    public static BenchModel resolve(String name, BenchOptions options, Consumer<String> log) {
        String id = canonical(name);
        return switch (id) {
            case MINILM -> {
                Path q = staged(options, MINILM_Q);
                yield new BenchModel(MINILM, "sentence-transformers all-MiniLM-L6-v2, float32 ONNX (22.7M parameters)",
                        requireStaged(options, MINILM), BenchModel.Kind.TEXT_EMBEDDING, false,
                        Files.isRegularFile(q) ? q : null);
            }
            case MINILM_Q -> new BenchModel(MINILM_Q, "all-MiniLM-L6-v2 quantized by ONNX Runtime (dynamic int8), as input",
                    requireStaged(options, MINILM_Q), BenchModel.Kind.TEXT_EMBEDDING, true, null);
            case MNIST_MLP -> mnist(MnistModelKind.MLP, options, log);
            case MNIST_CNN -> mnist(MnistModelKind.CNN, options, log);
            default -> throw new IllegalStateException(id);
        };
    }

    private static Path staged(BenchOptions options, String id) {
        return options.stackHome().resolve("models").resolve(id).resolve(id + ".onnx");
    }

    private static Path requireStaged(BenchOptions options, String id) {
        Path p = staged(options, id);
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("model " + id + " is not staged at " + p
                    + " (stage it with: mvn -pl deploy process-resources)");
        }
        return p;
    }

    private static BenchModel mnist(MnistModelKind kind, BenchOptions options, Consumer<String> log) {
        Path ckpt = mnistCheckpoint(kind, options, log);
        String what = kind == MnistModelKind.MLP ? "MLP 784-256-128-10" : "CNN conv5x5(32)-pool-conv5x5(64)-pool-128-10";
        return new BenchModel(kind.modelName(), "MNIST " + what + ", " + String.format(Locale.ROOT, "%,d", kind.parameterCount())
                + " parameters, trained by the bench with DJL for " + options.mnistSteps() + " steps (seed " + MNIST_SEED
                + ")", ckpt, BenchModel.Kind.MNIST, false, null);
    }

    /**
     * The checkpoint {@code <dir>/<model>/step-<steps>.safetensors} from the first cache folder that has it; else
     * trains one into {@link BenchOptions#mnistTrainDir()} (a few hundred steps: under a minute for the MLP here).
     */
    static Path mnistCheckpoint(MnistModelKind kind, BenchOptions options, Consumer<String> log) {
        String file = MnistTrainer.checkpointName(options.mnistSteps());
        for (Path dir : options.mnistCacheDirs()) {
            Path p = dir.resolve(kind.modelName()).resolve(file);
            if (Files.isRegularFile(p)) {
                log.accept("  " + kind.modelName() + ": cached checkpoint " + p);
                return p;
            }
        }
        Path out = options.mnistTrainDir().resolve(kind.modelName());
        log.accept("  " + kind.modelName() + ": training " + options.mnistSteps() + " steps with DJL on the MNIST digits into " + out);
        long t0 = System.nanoTime();
        List<Path> written = MnistTrainer.builder().kind(kind).steps(options.mnistSteps())
                .checkpointEvery(options.mnistSteps()).seed(MNIST_SEED).outputDir(out)
                .onCheckpoint(p -> log.accept(String.format(Locale.ROOT, "  %s: step %d, loss %.4f, held-back accuracy %.4f",
                        kind.modelName(), p.step(), p.trainLoss(), p.heldBackAccuracy())))
                .build().train(MnistDigits.load());
        log.accept(String.format(Locale.ROOT, "  %s: trained in %.1f s", kind.modelName(), (System.nanoTime() - t0) / 1e9));
        return written.get(written.size() - 1);
    }
}
