package io.weightstream.cli;

import io.weightstream.job.CompressionJob;
import io.weightstream.job.CompressionJobMain;
import io.weightstream.job.CompressionJobOptions;
import io.weightstream.stack.FlinkClient;
import io.weightstream.stack.FlinkRest;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.StackException;
import io.weightstream.stack.StackHome;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;
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
 * running local stack unless endpoints are given; with {@code --cluster} it submits the shaded job jar to a Flink
 * session cluster instead (the local stack's, {@code stack up --cluster}, or any at a REST URL) and returns once the
 * job runs there.
 *
 * <pre>{@code
 * ./weightstream job                                   # MiniCluster in this process, until Ctrl-C
 * ./weightstream job --cluster                         # the local stack's cluster; resumes from the last checkpoint
 * ./weightstream job --cluster http://127.0.0.1:8081 --parallelism 4
 * }</pre>
 */
@Command(name = "job", mixinStandardHelpOptions = true,
        description = {"Runs the Flink compression job on an embedded MiniCluster until Ctrl-C,",
                "or with --cluster submits the job jar to a Flink session cluster (detached).",
                "It reads published checkpoints (read_committed), compresses each tensor as the",
                "manifest's policy says and writes weightstream.compressed, weightstream.versions",
                "and weightstream.dlq exactly once. Options: --list-options."})
public final class JobCommand implements Callable<Integer> {
    /** {@code --cluster} without a URL: the local stack's cluster. */
    static final String LOCAL_CLUSTER = "local";

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

    @Option(names = "--cluster", paramLabel = "URL", arity = "0..1", fallbackValue = LOCAL_CLUSTER,
            description = "Submit the job jar to the Flink session cluster whose REST API is at URL (e.g. "
                    + "http://127.0.0.1:8081) instead of running a MiniCluster; without URL: the local stack's cluster "
                    + "(stack up --cluster). Resumes from the newest checkpoint under checkpoint.dir (claim mode) unless "
                    + "--no-resume; refuses when a job of the same name runs there already.")
    String cluster;

    @Option(names = "--jar", paramLabel = "PATH",
            description = "The job jar for --cluster (default: flink-jobs/target/weightstream-flink-jobs-*-job.jar of the checkout).")
    Path jar;

    @Option(names = "--no-resume", description = "With --cluster: start from the consumer group's offsets, not from the newest checkpoint.")
    boolean noResume;

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
        LocalStack local = endpoints.stateDir != null ? LocalStack.at(endpoints.stateDir) : LocalStack.atDefault();
        String restUrl = null;
        if (cluster != null) {
            restUrl = LOCAL_CLUSTER.equals(cluster) ? local.clusterRestUrl().orElseThrow(() -> new StackException(
                    "the local stack in " + local.stateDir() + " has no running Flink cluster; start it with "
                            + "`./weightstream stack up --cluster`, or give the cluster's REST URL")) : cluster;
        }
        boolean localCluster = restUrl != null && local.clusterRestUrl().map(restUrl::equals).orElse(false);
        if (!settings.containsKey(CompressionJobOptions.CHECKPOINT_DIR.key()) && (restUrl == null || localCluster)) {
            // beside the stack's data, so that a restarted job resumes where the stopped one was (a MiniCluster job
            // and a job on the local cluster share it: either resumes from the other's last checkpoint)
            String group = settings.getOrDefault(CompressionJobOptions.GROUP_ID.key(),
                    CompressionJobOptions.GROUP_ID.defaultValue());
            settings.put(CompressionJobOptions.CHECKPOINT_DIR.key(), local.jobCheckpointDir(group).toUri().toString());
        }
        Configuration config = CompressionJobOptions.parse(settings);
        CompressionJobOptions.validate(config);
        if (restUrl != null) {
            return submit(out, restUrl, localCluster ? local.stateDir().resolve("flink").resolve("client") : null, settings, config);
        }

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

    /** {@code --cluster}: submits the job jar with Flink's CliFrontend and waits until every task runs. */
    private int submit(PrintWriter out, String restUrl, Path clientDir, Map<String, String> settings, Configuration config) {
        FlinkRest rest = new FlinkRest(restUrl);
        String name = config.get(CompressionJobOptions.JOB_NAME);
        for (FlinkRest.Job j : rest.jobs()) {
            if (j.name().equals(name) && !TERMINAL.contains(j.state())) {
                // two jobs with one transactional.id.prefix would fence each other's Kafka transactions
                throw new StackException("a job named " + name + " is already " + j.state().toLowerCase(Locale.ROOT) + " on "
                        + restUrl + " (" + j.id() + "); cancel it first (curl -X PATCH '" + rest.url() + "/jobs/" + j.id()
                        + "?mode=cancel'), or give this one another job.name, group.id and transactional.id.prefix");
            }
        }
        Path jobJar = jar != null ? jar : defaultJobJar();
        Optional<Path> from = Optional.empty();
        String dir = config.get(CompressionJobOptions.CHECKPOINT_DIR);
        if (!noResume && dir != null && !dir.isBlank()) {
            from = CompressionJob.latestCheckpoint(URI.create(dir));
        }
        List<String> args = new ArrayList<>();
        settings.forEach((k, v) -> {
            args.add("--" + k);
            args.add(v);
        });
        Path work = clientDir != null ? clientDir : Path.of(System.getProperty("java.io.tmpdir"), "weightstream-flink-client");
        long t0 = System.nanoTime();
        String jobId = new FlinkClient(StackHome.locate(), restUrl, work).run(jobJar, args, from);
        out.println("compression job " + jobId + " submitted to " + rest.url() + " from " + jobJar.getFileName()
                + from.map(c -> ", resuming from " + c).orElse(""));
        if (dir == null || dir.isBlank()) {
            out.println("its checkpoints go to the cluster's execution.checkpointing.dir; give -o checkpoint.dir=URI (a "
                    + "directory every TaskManager reaches) to have the next submission resume from them");
        }
        out.flush();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        FlinkRest.Job job = null;
        while (System.nanoTime() < deadline) {
            job = rest.job(jobId).orElse(null);
            if (job != null && (job.fullyRunning() || TERMINAL.contains(job.state()))) {
                break;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (job == null || !job.fullyRunning()) {
            out.println("compression job " + jobId + " is " + (job == null ? "unknown to the JobManager" : job.state().toLowerCase(Locale.ROOT)
                    + " (" + job.runningTasks() + "/" + job.totalTasks() + " tasks running)") + "; see " + rest.url() + "/jobs/" + jobId
                    + "/exceptions");
            out.flush();
            return 1;
        }
        out.printf(Locale.ROOT, "compression job %s running on %s: %d/%d tasks, parallelism %d, checkpoints every %d ms "
                        + "(%.1f s; `./weightstream stack status` shows it)%n", jobId, rest.url(), job.runningTasks(), job.totalTasks(),
                config.get(CompressionJobOptions.PARALLELISM), config.get(CompressionJobOptions.CHECKPOINT_INTERVAL).toMillis(),
                (System.nanoTime() - t0) / 1e9);
        out.flush();
        return 0;
    }

    private static final List<String> TERMINAL = List.of("FINISHED", "CANCELED", "FAILED");

    /** {@code flink-jobs/target/weightstream-flink-jobs-*-job.jar} of the checkout this runs from. */
    static Path defaultJobJar() {
        String root = System.getProperty(LocalStack.ROOT_PROPERTY);
        Optional<Path> repo = root != null && !root.isBlank() ? StackHome.repositoryRoot(Path.of(root))
                : StackHome.repositoryRoot(Path.of("").toAbsolutePath());
        Path target = repo.orElseThrow(() -> new StackException("cannot find the weightstream checkout; give the job jar with --jar"))
                .resolve("flink-jobs/target");
        try (Stream<Path> files = Files.list(target)) {
            return files.filter(p -> p.getFileName().toString().matches("weightstream-flink-jobs-.*-job\\.jar"))
                    .max(Comparator.comparing(p -> p.getFileName().toString()))
                    .orElseThrow(() -> new StackException("no job jar in " + target + "; build it with `mvn -pl flink-jobs -am package`"));
        } catch (IOException e) {
            throw new StackException("no job jar in " + target + " (" + e.getMessage() + "); build it with `mvn -pl flink-jobs -am package`", e);
        }
    }
}
