package io.weightstream.cli;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.compress.WszContainer;
import io.weightstream.policy.CompressedTensor;
import io.weightstream.schemas.CompressionPolicy;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code weightstream compress FILE --method M [--set k=v] -o OUT.wsz}: offline, the same codecs as the job. */
@Command(name = "compress", mixinStandardHelpOptions = true,
        description = {"Compresses a checkpoint into a .wsz container (offline, the same records as on Kafka).",
                "Prints one row per tensor, then 'ratio=R rel_l2=E' (original file bytes / container bytes; whole-model",
                "relative L2 error over the floating-point tensors)."})
public final class CompressCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "A .safetensors or .onnx file.")
    Path file;

    @Mixin
    PolicyOptions policy;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.wsz", description = "The container to write.")
    Path output;

    @Option(names = "--model", description = "Model name recorded in the container (default: the file name).")
    String model;

    @Option(names = "--threads", description = "Tensors compressed in parallel (default: the number of cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--quiet", description = "Only the last line.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": no such file");
        }
        PrintWriter out = spec.commandLine().getOut();
        String name = model != null ? model : file.getFileName().toString().replaceFirst("\\.[^.]+$", "");
        OfflineCompressor.Result r;
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            if (!quiet) {
                out.printf("%-60s %-9s %12s %12s %8s %10s %9s%n", "tensor", "method", "bytes", "encoded", "ratio", "rel_l2", "cosine");
            }
            CompressionPolicy chosen = policy.policy(ckpt, spec.commandLine().getErr());
            r = new OfflineCompressor(threads).compress(ckpt, name, "offline", chosen, row -> {
                if (!quiet) {
                    CompressedTensor c = row.compressed();
                    String n = row.entry().getAlias() != null ? row.entry().getAlias() : row.entry().getName();
                    out.printf("%-60s %-9s %12d %12d %8.2f %10.2e %9.6f%n", abbreviate(n, 60), c.method(), c.originalBytes(),
                            c.encodedBytes(), c.ratio(), c.metrics().relL2(), c.metrics().cosine());
                    out.flush();
                }
            });
        }
        WszContainer.write(output, r.version(), r.chunks());
        long fileBytes = Files.size(file);
        long containerBytes = Files.size(output);
        out.printf("ratio=%.4f rel_l2=%.6g%n", (double) fileBytes / containerBytes, r.relL2());
        out.flush();
        return 0;
    }

    static String abbreviate(String s, int width) {
        return s.length() <= width ? s : "..." + s.substring(s.length() - width + 3);
    }
}
