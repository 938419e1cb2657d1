package io.weightstream.cli;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.publish.Attachments;
import io.weightstream.publish.CheckpointPublisher;
import io.weightstream.publish.CheckpointWatcher;
import io.weightstream.publish.PublishResult;
import io.weightstream.registry.AvroSerializer;
import io.weightstream.schemas.Attachment;
import io.weightstream.schemas.CompressionPolicy;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.avro.specific.SpecificRecord;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code weightstream publish FILE --model NAME ...}: one checkpoint, one Kafka transaction. */
@Command(name = "publish",
        description = {"Publishes a checkpoint (safetensors or ONNX) to Kafka in one transaction.",
                "The manifest and all layer chunks are written in ONE Kafka transaction, so consumers see all of it or",
                "nothing. With --watch DIR, publishes each new checkpoint that appears in DIR once it is complete."})
public final class PublishCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Endpoints endpoints;

    // no mixinStandardHelpOptions: --version is the model version here
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "The checkpoint to publish.")
    Path file;

    @Option(names = "--watch", paramLabel = "DIR", description = "Watch DIR and publish each new complete checkpoint.")
    Path watchDir;

    @Option(names = "--model", required = true, description = "Model name (no '/').")
    String model;

    @Option(names = "--version", description = "Version (default: the UTC time, yyyyMMdd'T'HHmmss'Z'; with --watch: see --version-naming).")
    String version;

    @Option(names = "--version-naming", defaultValue = "FILE_NAME",
            description = "With --watch: FILE_NAME (file name without extension) or COUNTER (1, 2, ...). Default: ${DEFAULT-VALUE}.")
    CheckpointWatcher.VersionNaming versionNaming;

    @Mixin
    PolicyOptions policyOptions;

    @Option(names = "--chunk-bytes", defaultValue = "1M", description = "Maximum payload of one layer chunk (default: ${DEFAULT-VALUE}).")
    String chunkBytes;

    @Option(names = "--max-tensor-bytes", defaultValue = "256M",
            description = "Tensors larger than this are cut into row blocks (default: ${DEFAULT-VALUE}).")
    String maxTensorBytes;

    @Option(names = "--transactional-id", description = "Kafka transactional id (default: weightstream-publisher-<model>).")
    String transactionalId;

    @Option(names = "--poll-ms", defaultValue = "1000", description = "With --watch: poll interval (default: ${DEFAULT-VALUE}).")
    long pollMs;

    @Option(names = "--settle-ms", defaultValue = "2000",
            description = "With --watch: a file must be unchanged this long before it is published (default: ${DEFAULT-VALUE}).")
    long settleMs;

    @Option(names = "--once", description = "With --watch: scan once and exit.")
    boolean once;

    @Option(names = "--attach", paramLabel = "FILE",
            description = "A small file that travels with the version (repeatable). Default: the model's tokenizer (m-tokenizer.json or tokenizer.json beside it).")
    List<Path> attach = new ArrayList<>();

    @Option(names = "--no-attach", description = "Attach nothing, not even the tokenizer found beside the model.")
    boolean noAttach;

    @Option(names = "--no-progress", description = "Do not draw the progress bar.")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        if ((file == null) == (watchDir == null)) {
            throw new IllegalArgumentException("give either FILE or --watch DIR");
        }
        if (file != null && !Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": no such file");
        }
        // with l2 rate control the policy depends on each checkpoint (null: chosen per file)
        CompressionPolicy policy = policyOptions.perCheckpoint() ? null : policyOptions.policy();
        String bootstrap = endpoints.bootstrapServers();
        AvroSerializer<SpecificRecord> serializer = new AvroSerializer<>(endpoints.registryClient(), null, false, true);
        PrintWriter out = spec.commandLine().getOut();
        try (CheckpointPublisher publisher = CheckpointPublisher.builder()
                .bootstrapServers(bootstrap)
                .valueSerializer(serializer)
                .transactionalId(transactionalId != null ? transactionalId : "weightstream-publisher-" + model)
                .chunkBytes(Math.toIntExact(Sizes.parse(chunkBytes)))
                .maxTensorBytes(Sizes.parse(maxTensorBytes))
                .build()) {
            if (file != null) {
                publishOne(publisher, file, version != null ? version : defaultVersion(), policy, out);
                return 0;
            }
            CheckpointWatcher watcher = new CheckpointWatcher(watchDir, Duration.ofMillis(settleMs), versionNaming,
                    (f, v) -> publishOne(publisher, f, v, policy, out));
            out.println("watching " + watchDir + " for new checkpoints (Ctrl-C to stop)");
            out.flush();
            if (once) {
                watcher.poll();
            } else {
                watcher.run(Duration.ofMillis(pollMs), () -> true);
            }
        }
        return 0;
    }

    private void publishOne(CheckpointPublisher publisher, Path f, String v, CompressionPolicy policy, PrintWriter out) {
        ProgressBar bar = new ProgressBar("publish " + model + "/" + v, !noProgress);
        PublishResult r;
        try (Checkpoint ckpt = Checkpoint.open(f)) {
            CompressionPolicy p = policy != null ? policy : policyOptions.policy(ckpt, spec.commandLine().getErr());
            r = publisher.publish(ckpt, model, v, p, attachments(f), bar::update);
        } finally {
            bar.finish();
        }
        out.printf("published %s/%s from %s: tensors=%d chunks=%d bytes=%d seconds=%.2f mb_per_s=%.1f%n",
                model, v, f.getFileName(), r.tensors(), r.chunks(), r.bytes(), r.seconds(), r.megabytesPerSecond());
        out.flush();
    }

    private List<Attachment> attachments(Path modelFile) {
        if (noAttach) {
            return List.of();
        }
        if (attach.isEmpty()) {
            return Attachments.defaultsFor(modelFile);
        }
        List<Attachment> out = new ArrayList<>();
        for (Path a : attach) {
            out.add(Attachments.of(a.getFileName().toString(), a));
        }
        return out;
    }

    static String defaultVersion() {
        return ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"));
    }
}
