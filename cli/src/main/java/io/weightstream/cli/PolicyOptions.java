package io.weightstream.cli;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.codec.l2.L2Codec;
import io.weightstream.policy.Policies;
import io.weightstream.ratecontrol.Allocation;
import io.weightstream.ratecontrol.RateAllocator;
import io.weightstream.ratecontrol.RateTarget;
import io.weightstream.schemas.CompressionPolicy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The compression policy of a command: {@code --method M --set k=v}, {@code --only GLOB} or {@code --policy FILE}.
 * {@code --method l2 --set ratio=R} (or {@code model.bits=B}) is whole-model rate control: the policy then depends on
 * the checkpoint ({@link RateAllocator} writes one rule per layer), so commands ask for it per file.
 */
final class PolicyOptions {
    @Option(names = "--method", defaultValue = "lossless", description = "Compression method (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A parameter of the method, e.g. --set bits=8 (repeatable).")
    List<String> settings = new ArrayList<>();

    @Option(names = "--only", paramLabel = "GLOB",
            description = "Compress only tensors whose name or alias matches GLOB ('*' also matches '/') with the method; the rest "
                    + "lossless. Repeatable: a tensor matching any of the globs.")
    List<String> only = new ArrayList<>();

    @Option(names = "--policy", paramLabel = "FILE", description = "A JSON policy file (connectors/POLICY.md); overrides --method/--set/--only.")
    Path policyFile;

    /** True if the policy depends on the checkpoint (whole-model rate control of {@code l2}). */
    boolean perCheckpoint() {
        return policyFile == null && L2Codec.NAME.equals(method) && RateTarget.requested(Policies.settings(settings));
    }

    /**
     * The policy for {@code ckpt}: with whole-model rate control the allocation runs here (its per-layer table goes
     * to {@code log}); otherwise the same as {@link #policy()}.
     */
    CompressionPolicy policy(Checkpoint ckpt, PrintWriter log) {
        if (!perCheckpoint()) {
            return policy();
        }
        if (!only.isEmpty()) {
            throw new IllegalArgumentException("--only cannot be combined with a whole-model target of l2 (ratio / "
                    + "model.bits): the allocator chooses every layer; use --policy FILE for a hand-made split");
        }
        Map<String, String> s = Policies.settings(settings);
        Allocation a = RateAllocator.allocate(ckpt, s);
        log.print(a.table());
        log.printf("l2 rate control: target %s, allocated ratio %.4f (%.3f bits/weight)%n", a.target(), a.ratio(),
                a.bitsPerWeight());
        log.flush();
        return a.policy();
    }

    /** The policy when it does not depend on the checkpoint. */
    CompressionPolicy policy() {
        if (perCheckpoint()) {
            throw new IllegalStateException("whole-model rate control needs the checkpoint");
        }
        if (policyFile != null) {
            return Policies.read(policyFile);
        }
        if (!only.isEmpty()) {
            return Policies.only(only, method, Policies.settings(settings));
        }
        return Policies.of(method, Policies.settings(settings));
    }
}
