package io.weightstream.cli;

import io.weightstream.serving.ModelComparison;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code weightstream eval ORIGINAL RECONSTRUCTED [--texts FILE] [--max-texts N]}: how close a reconstructed model's
 * outputs are to the original's, on real inputs.
 *
 * <pre>{@code
 * ./weightstream eval models/all-minilm-l6-v2/all-minilm-l6-v2.onnx models/all-minilm-l6-v2-q/all-minilm-l6-v2-q.onnx
 * mode=text-embedding texts=64 source=/usr/share/common-licenses
 * mean_relative_error=0.131581 max_relative_error=0.218694
 * mean_cosine=0.991166 min_cosine=0.976086
 * }</pre>
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Compares an original ONNX model with a reconstructed one on real outputs.",
                "Text-embedding models (input_ids + attention_mask, with <model>-tokenizer.json or tokenizer.json"
                        + " beside either file): cosine of the mean-pooled sentence embeddings of real paragraphs"
                        + " (/usr/share/common-licenses, or --texts).",
                "Other models: cosine and relative L2 error of every output on seeded synthetic inputs.",
                "The last line is 'mean_cosine=X min_cosine=Y'."})
public final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ORIGINAL", description = "The original .onnx model.")
    Path original;

    @Parameters(index = "1", paramLabel = "RECONSTRUCTED", description = "The reconstructed .onnx model.")
    Path reconstructed;

    @Option(names = "--texts", paramLabel = "FILE",
            description = "Texts to embed: one per line, or blank-line separated paragraphs (UTF-8).")
    Path texts;

    @Option(names = "--max-texts", paramLabel = "N", defaultValue = "64",
            description = "Texts to embed (default: ${DEFAULT-VALUE}).")
    int maxTexts;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "16",
            description = "Texts per model run (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--threads", paramLabel = "N",
            description = "ONNX Runtime intra-op threads per model (default: available processors).")
    Integer threads;

    @Option(names = "--raw", description = "Compare raw outputs on synthetic inputs even for a text model.")
    boolean raw;

    @Override
    public Integer call() throws Exception {
        for (Path p : new Path[] {original, reconstructed}) {
            if (!Files.isRegularFile(p)) {
                throw new NoSuchFileException(p + " (no such file)");
            }
        }
        if (texts != null && !Files.isRegularFile(texts)) {
            throw new NoSuchFileException(texts + " (no such texts file)");
        }
        ModelComparison.Options options = ModelComparison.Options.defaults()
                .withMaxTexts(maxTexts)
                .withTextsFile(texts)
                .withBatchSize(batchSize);
        if (threads != null) {
            options = options.withIntraOpThreads(threads);
        }
        if (raw) {
            options = options.withMode(ModelComparison.Mode.RAW_OUTPUTS);
        }
        ModelComparison.Result result = ModelComparison.compare(original, reconstructed, options);
        PrintWriter out = spec.commandLine().getOut();
        for (String line : result.details()) {
            out.println(line);
        }
        out.println(result.toLine());
        out.flush();
        return 0;
    }
}
