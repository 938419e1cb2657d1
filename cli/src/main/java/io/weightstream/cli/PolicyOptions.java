package io.weightstream.cli;

import io.weightstream.policy.Policies;
import io.weightstream.schemas.CompressionPolicy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The compression policy of a command: {@code --method M --set k=v}, {@code --only GLOB} or {@code --policy FILE}. */
final class PolicyOptions {
    @Option(names = "--method", defaultValue = "lossless", description = "Compression method (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A parameter of the method, e.g. --set bits=8 (repeatable).")
    List<String> settings = new ArrayList<>();

    @Option(names = "--only", paramLabel = "GLOB",
            description = "Compress only tensors whose name or alias matches GLOB ('*' also matches '/') with the method; the rest lossless.")
    String only;

    @Option(names = "--policy", paramLabel = "FILE", description = "A JSON policy file (connectors/POLICY.md); overrides --method/--set/--only.")
    Path policyFile;

    CompressionPolicy policy() {
        if (policyFile != null) {
            return Policies.read(policyFile);
        }
        if (only != null) {
            return Policies.only(only, method, Policies.settings(settings));
        }
        return Policies.of(method, Policies.settings(settings));
    }
}
