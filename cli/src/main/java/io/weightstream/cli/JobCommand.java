package io.weightstream.cli;

import io.weightstream.job.CompressionJobMain;
import io.weightstream.job.CompressionJobOptions;
import io.weightstream.stack.LocalStack;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code weightstream job}: runs the compression job on an embedded Flink MiniCluster until Ctrl-C, against the
 * running local stack unless endpoints are given. The same job runs on a real cluster from the job jar.
 */
@Command(name = "job", mixinStandardHelpOptions = true,
        description = {"Runs the Flink compression job on an embedded MiniCluster until Ctrl-C.",
                "It reads published checkpoints (read_committed), compresses each tensor as the",
                "manifest's policy says and writes weightstream.compressed, weightstream.versions",
                "and weightstream.dlq exactly once. On a real cluster the same job runs from",
                "flink-jobs/target/*-job.jar (flink run ... --key value). Options: --list-options."})
public final class JobCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Endpoints endpoints;

    @Option(names = "--parallelism", paramLabel = "N", description = "Parallelism of every operator (default: 2).")
    Integer parallelism;

    @Option(names = "--checkpoint-interval", paramLabel = "DURATION",
            description = "Checkpoint interval, e.g. 1s, 500ms (default: 1 s); bounds the added latency.")
    String checkpointInterval;

    @Option(names = "--group-id", paramLabel = "ID", description = "Kafka consumer group (default: weightstream-compression).")
    String groupId;

    @Option(names = {"-o", "--option"}, paramLabel = "KEY=VALUE",
            description = "Any job option, e.g. -o max.tensor.bytes=64mb -o starting.offsets=EARLIEST (repeatable).")
    List<String> options = new ArrayList<>();

    @Option(names = "--list-options", description = "Print the job options with their defaults and exit.")
    boolean listOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (listOptions) {
            out.print(CompressionJobOptions.markdownTable());
            out.flush();
            return 0;
        }
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put(CompressionJobOptions.BOOTSTRAP_SERVERS.key(), endpoints.bootstrapServers());
        settings.put(CompressionJobOptions.REGISTRY_URL.key(), endpoints.registryUrl());
        if (parallelism != null) {
            settings.put(CompressionJobOptions.PARALLELISM.key(), parallelism.toString());
        }
        if (checkpointInterval != null) {
            settings.put(CompressionJobOptions.CHECKPOINT_INTERVAL.key(), checkpointInterval);
        }
        if (groupId != null) {
            settings.put(CompressionJobOptions.GROUP_ID.key(), groupId);
        }
        for (String o : options) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--option expects KEY=VALUE, got '" + o + "'");
            }
            settings.put(o.substring(0, eq).trim(), o.substring(eq + 1).trim());
        }
        if (!settings.containsKey(CompressionJobOptions.CHECKPOINT_DIR.key())) {
            // beside the stack's data, so that a restarted job resumes where the stopped one was
            Path stack = endpoints.stateDir != null ? endpoints.stateDir : LocalStack.defaultStateDir();
            String group = settings.getOrDefault(CompressionJobOptions.GROUP_ID.key(),
                    CompressionJobOptions.GROUP_ID.defaultValue());
            settings.put(CompressionJobOptions.CHECKPOINT_DIR.key(),
                    stack.toAbsolutePath().resolve("flink-checkpoints").resolve(group).toUri().toString());
        }
        Configuration config = CompressionJobOptions.parse(settings);
        CompressionJobOptions.validate(config);

        // Ctrl-C: interrupt the waiting thread, which cancels the job; the hook returns once that is done (the JVM
        // is shutting down, so this thread's own exit would block until every hook has returned)
        Thread main = Thread.currentThread();
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            main.interrupt();
            try {
                stopped.await(40, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "weightstream-job-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        JobStatus status;
        try {
            status = CompressionJobMain.runLocally(config, line -> {
                out.println(line);
                out.flush();
            });
        } finally {
            stopped.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running
            }
        }
        out.println("compression job " + status.name().toLowerCase(Locale.ROOT));
        out.flush();
        return status == JobStatus.FINISHED || status == JobStatus.CANCELED ? 0 : 1;
    }
}
