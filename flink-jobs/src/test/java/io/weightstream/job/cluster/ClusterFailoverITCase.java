package io.weightstream.job.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.CompressionRoundTrip;
import io.weightstream.publish.PublishResult;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.FlinkCluster;
import io.weightstream.stack.FlinkRest;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import io.weightstream.stack.ServerProcess;
import io.weightstream.stack.StackOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job jar on a real Flink standalone cluster: Kafka and the registry ({@link LocalStack#start}), a JobManager and
 * two TaskManagers, each a separate process, the shaded job jar submitted with Flink's CliFrontend. First the real
 * all-MiniLM-L6-v2 is compressed; then, while the next version of it is being compressed, one TaskManager that runs
 * the job's tasks is killed with SIGKILL (kill -9). The job restarts from its last Flink checkpoint on the remaining
 * TaskManager, and {@code weightstream.compressed} (read_committed) ends with every tensor exactly once and every
 * hash right. Prints the recovery time: from the kill until every task runs again, and until the first checkpoint
 * after the restore.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterFailoverITCase {
    @TempDir
    static Path work;
    static RunningStack stack;
    static FlinkCluster flink;
    static CompressionRoundTrip roundTrip;
    static String jobId;
    static final List<String> measurements = new ArrayList<>();

    @BeforeAll
    static void startStackClusterAndJob() throws Exception {
        long t0 = System.nanoTime();
        // the broker, the registry and the cluster start in parallel; 4 slots per TaskManager: after one is killed,
        // the other has room for the whole job (parallelism 2, twice when its gpu slot-sharing group exists)
        stack = LocalStack.start(work.resolve("stack"), StackOptions.builder().cluster(true).taskManagers(2).slots(4).build());
        flink = stack.flink().orElseThrow();
        long tUp = System.nanoTime();
        SchemaRegistryClient registry = SchemaRegistryClient.builder().url(stack.registryUrl()).build();
        roundTrip = new CompressionRoundTrip(stack.bootstrapServers(), registry);
        Map<String, String> options = new LinkedHashMap<>();
        options.put("bootstrap.servers", stack.bootstrapServers());
        options.put("registry.url", stack.registryUrl());
        options.put("parallelism", "2");
        options.put("checkpoint.interval", "1 s");
        options.put("checkpoint.dir", work.resolve("checkpoints").toUri().toString());
        options.put("transactional.id.prefix", "it-cluster");
        options.put("group.id", "it-cluster");
        jobId = flink.submit(ClusterJobs.jobJar(), ClusterJobs.args(options), Optional.empty());
        ClusterJobs.awaitFullyRunning(flink.rest(), jobId, Duration.ofMinutes(2));
        measurements.add(String.format(Locale.ROOT, "stack + JobManager + 2 TaskManagers up in %.1f s; job submitted and all"
                + " tasks running %.1f s later", (tUp - t0) / 1e9, (System.nanoTime() - tUp) / 1e9));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (stack != null) {
                stack.close();
            }
            // the servers' logs outlive the temporary directory, for a failure's post-mortem
            Path logs = Path.of("target", "cluster-failover-logs");
            Files.createDirectories(logs);
            try (var files = Files.list(work.resolve("stack"))) {
                for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".log")).toList()) {
                    Files.copy(f, logs.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } finally {
            if (roundTrip != null) {
                measurements.addAll(roundTrip.measurements());
            }
            measurements.forEach(m -> System.out.println("CLUSTER " + m));
            Path report = Path.of("target", "cluster-failover.txt");
            Files.createDirectories(report.getParent());
            Files.write(report, measurements);
        }
    }

    @Test
    @Order(1)
    void theJobJarOnTheClusterCompressesTheRealModelExactlyOnceWithTasksOnBothTaskManagers() throws Exception {
        CompressionRoundTrip.Result r = roundTrip.publishAndCollect("c1-lossless",
                CompressionPolicy.newBuilder().setDefaultMethod("lossless").build());
        for (TensorEntry e : r.manifest().getTensors()) {
            assertThat(r.reconstruction().get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
        }
        // the job's tasks are spread over both TaskManagers (taskmanager.load-balance.mode SLOTS)
        Set<String> used = new java.util.TreeSet<>();
        flink.rest().vertices(jobId).forEach(v -> used.addAll(v.taskManagers()));
        assertThat(used).containsExactlyInAnyOrder("taskmanager-1", "taskmanager-2");
        assertThat(flink.rest().job(jobId).orElseThrow().state()).isEqualTo("RUNNING");
    }

    @Test
    @Order(2)
    void aTaskManagerKilledMidVersionLosesNothingAndDuplicatesNothing() throws Exception {
        FlinkRest rest = flink.rest();
        long restartsBefore = rest.restarts(jobId);
        String version = "c2-rtn4";
        Map<TopicPartition, Long> from = roundTrip.compressedEnd();
        long t0 = System.currentTimeMillis();
        PublishResult published = roundTrip.publish(version, CompressionPolicy.newBuilder().setDefaultMethod("rtn")
                .setDefaultParams(Map.of("bits", "4", "group.size", "64")).build());
        long tPublished = System.currentTimeMillis();
        int tensors = published.manifest().getTensors().size();

        // kill as soon as the first compressed records of the version are committed: the job is mid-version
        Set<String> committed = roundTrip.awaitCommittedTensors(version, 1, CompressionRoundTrip.WAIT, from);
        assertThat(committed).as("compressed records before the kill").isNotEmpty();
        String victim = victim(rest);
        ServerProcess tm = flink.taskManager(victim);
        ProcessHandle handle = ProcessHandle.of(tm.pid()).orElseThrow();
        long tKill = System.nanoTime();
        handle.destroyForcibly(); // SIGKILL, as kill -9: no shutdown hook, no goodbye to the JobManager
        handle.onExit().join();
        int committedAtKill = roundTrip.committedTensors(version, from).size();

        // recovery: the job restarted (numRestarts grew) and every task runs again on the remaining TaskManager
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline && !(rest.restarts(jobId) > restartsBefore
                && rest.job(jobId).map(FlinkRest.Job::fullyRunning).orElse(false))) {
            Thread.sleep(100);
        }
        long tRunning = System.nanoTime();
        assertThat(rest.restarts(jobId)).as("restarts of the job after the kill; %s", diagnosis(rest)).isGreaterThan(restartsBefore);
        // a second restart may follow the first one (the dying TaskManager's slots offered again): wait it out too
        while (System.nanoTime() < deadline && !rest.job(jobId).map(FlinkRest.Job::fullyRunning).orElse(false)) {
            Thread.sleep(100);
        }
        assertThat(rest.job(jobId).orElseThrow().fullyRunning()).as("every task runs again; %s", diagnosis(rest)).isTrue();
        // ... from its Flink checkpoint, and it checkpoints again
        FlinkRest.Checkpoints chk = rest.checkpoints(jobId);
        while (System.nanoTime() < deadline && (chk.restoredId().isEmpty() || chk.latestCompletedId().isEmpty()
                || chk.latestCompletedId().getAsLong() <= chk.restoredId().getAsLong())) {
            Thread.sleep(100);
            chk = rest.checkpoints(jobId);
        }
        long tCheckpoint = System.nanoTime();
        assertThat(chk.restoredId()).as("the checkpoint the job restarted from").isPresent();
        assertThat(chk.latestCompletedId().getAsLong()).as("a checkpoint after the restore").isGreaterThan(chk.restoredId().getAsLong());
        // the JobManager has let the dead TaskManager go (its RPC fails at once; no waiting for a heartbeat timeout)
        List<String> registered = rest.taskManagers().stream().map(FlinkRest.TaskManager::id).toList();
        while (System.nanoTime() < deadline && registered.contains(victim)) {
            Thread.sleep(100);
            registered = rest.taskManagers().stream().map(FlinkRest.TaskManager::id).toList();
        }
        assertThat(registered).as("TaskManagers after the kill").doesNotContain(victim).hasSize(1);

        CompressionRoundTrip.Result r = roundTrip.collect(version, published, t0, tPublished);
        assertThat(r.version().getRatio()).isGreaterThan(5.0);
        assertThat(committedAtKill).as("tensors committed when %s was killed (of %d)", victim, tensors).isLessThan(tensors);
        measurements.add(String.format(Locale.ROOT, "%s killed (SIGKILL) when %d of %d tensors of %s were committed; every task"
                        + " RUNNING again after %.1f s (restart %d, from checkpoint %d); first checkpoint after the restore %.1f s"
                        + " after the kill; in the end 0 missing, 0 duplicate compressed tensors, every hash right",
                victim, committedAtKill, tensors, version, (tRunning - tKill) / 1e9, rest.restarts(jobId),
                chk.restoredId().getAsLong(), (tCheckpoint - tKill) / 1e9));
    }

    /** What the JobManager says when the job does not recover: job, TaskManagers, the latest exceptions. */
    private static String diagnosis(FlinkRest rest) {
        StringBuilder b = new StringBuilder();
        try {
            b.append("job ").append(rest.job(jobId).orElse(null)).append(", restarts ").append(rest.restarts(jobId))
                    .append(", task managers ").append(rest.taskManagers());
            java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest
                    .newBuilder(java.net.URI.create(rest.url() + "/jobs/" + jobId + "/exceptions?maxExceptions=3")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            String body = r.body();
            b.append(", exceptions ").append(body, 0, Math.min(body.length(), 3000));
        } catch (Exception e) {
            b.append(" (").append(e).append(')');
        }
        return b.toString();
    }

    /** The TaskManager that runs the most subtasks of the compress stage (any one of them would do). */
    private static String victim(FlinkRest rest) {
        Map<String, Integer> subtasks = new TreeMap<>();
        for (FlinkRest.Vertex v : rest.vertices(jobId)) {
            if (v.name().contains("compress")) {
                v.taskManagers().forEach(tm -> subtasks.merge(tm, 1, Integer::sum));
            }
        }
        assertThat(subtasks).as("TaskManagers of the compress stage").isNotEmpty();
        return subtasks.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
    }
}
