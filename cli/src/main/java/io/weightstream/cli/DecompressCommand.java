package io.weightstream.cli;

import io.weightstream.codec.DecodeLimits;
import io.weightstream.compress.ModelMaterializer;
import io.weightstream.compress.WszContainer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code weightstream decompress OUT.wsz -o FILE}: decodes, verifies every hash, rebuilds the model file. */
@Command(name = "decompress", mixinStandardHelpOptions = true,
        description = {"Rebuilds the model file (ONNX or safetensors, like the original) from a .wsz container.",
                "Every tensor is decoded in pure Java and checked against the encoder's reconstruction SHA-256."})
public final class DecompressCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN.wsz", description = "The container.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The model file to write.")
    Path output;

    @Option(names = "--threads", description = "Decoding threads (default: the number of cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Override
    public Integer call() {
        WszContainer.Contents c = WszContainer.read(input);
        ModelMaterializer.Materialized m = new ModelMaterializer(threads, DecodeLimits.DEFAULT)
                .materialize(c.version(), c.chunksByTensor(), output);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("wrote %s: tensors=%d bytes=%d decode_seconds=%.2f decode_mb_per_s=%.1f verified=all%n", output,
                m.tensors(), m.decodedBytes(), m.decodeSeconds(), m.decodeMegabytesPerSecond());
        out.flush();
        return 0;
    }
}
