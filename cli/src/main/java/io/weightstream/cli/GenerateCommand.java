package io.weightstream.cli;

import io.weightstream.checkpoint.safetensors.SyntheticCheckpoint;
import io.weightstream.tensor.DType;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code weightstream generate --size 2G -o big.safetensors}: a synthetic checkpoint for load tests. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Writes a synthetic safetensors checkpoint of a given size (seeded, trained-like weights), for load tests.")
public final class GenerateCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--size", required = true, description = "Total size, e.g. 512M, 2G (powers of 1024).")
    String size;

    @Option(names = "--dtype", defaultValue = "F32", description = "Element type: F32, F16 or BF16 (default: ${DEFAULT-VALUE}).")
    DType dtype;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = {"-o", "--output"}, required = true, description = "The .safetensors file to write.")
    Path output;

    @Override
    public Integer call() {
        long bytes = Sizes.parse(size);
        long t0 = System.nanoTime();
        SyntheticCheckpoint.write(output, bytes, dtype, seed);
        double s = (System.nanoTime() - t0) / 1e9;
        spec.commandLine().getOut().printf("wrote %s: %d bytes in %.1f s%n", output, bytes, s);
        return 0;
    }
}
