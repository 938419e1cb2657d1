package io.weightstream.cli;

import io.weightstream.bench.l2.L2Calibration;
import io.weightstream.bench.mnist.MnistDigits;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code weightstream calibrate MODEL -o sensitivity.json}: the optional calibration of {@code l2}'s whole-model rate
 * control. Each layer is perturbed with seeded noise and the drop in output quality on real inputs is measured; the
 * per-layer sensitivities weigh the allocator's distortion ({@code --set sensitivity=FILE}).
 *
 * <pre>{@code
 * ./weightstream calibrate all-minilm-l6-v2.onnx --texts 32 -o sens.json
 * ./weightstream compress all-minilm-l6-v2.onnx --method l2 --set ratio=8 --set sensitivity=sens.json -o m.wsz
 * }</pre>
 *
 * Text models (ONNX with a tokenizer beside them) are calibrated on real paragraphs 64 and up of
 * {@code /usr/share/common-licenses}, never the 64 that {@code eval} uses; the project's MNIST checkpoints
 * (safetensors) on the 8,000 training digits, never the held-back ones.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = {"Measures each layer's sensitivity on real inputs for l2 rate control (--set sensitivity=FILE).",
                "ONNX text models: real paragraphs not used by eval; MNIST safetensors: the training digits.",
                "The last line is 'layers=N file=OUT'."})
public final class CalibrateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "An .onnx text-embedding model or an MNIST .safetensors checkpoint.")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE.json", description = "Where to write the sensitivities.")
    Path output;

    @Option(names = "--texts", defaultValue = "32", description = "Calibration paragraphs for text models (default: ${DEFAULT-VALUE}).")
    int texts;

    @Option(names = "--noise", defaultValue = "0.05",
            description = "Noise added to a layer, relative to its RMS (default: ${DEFAULT-VALUE}).")
    double noise;

    @Option(names = "--quiet", description = "Only the last line.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(model)) {
            throw new IllegalArgumentException(model + ": no such file");
        }
        if (texts < 1 || !(noise > 0 && noise < 1)) {
            throw new IllegalArgumentException("--texts must be >= 1 and --noise in (0, 1)");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintStream log = quiet ? null : new PrintStream(System.err, true);
        List<L2Calibration.LayerSensitivity> layers = model.toString().endsWith(".onnx")
                ? L2Calibration.textModel(model, L2Calibration.calibrationTexts(64, texts), noise, 1, log)
                : L2Calibration.mnist(model, MnistDigits.load().train(), noise, 1, log);
        Map<String, Double> weights = L2Calibration.weights(layers);
        L2Calibration.writeJson(weights, output);
        out.printf("layers=%d file=%s%n", weights.size(), output);
        out.flush();
        return 0;
    }
}
