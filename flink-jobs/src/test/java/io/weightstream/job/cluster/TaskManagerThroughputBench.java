package io.weightstream.job.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.CompressionRoundTrip;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.stack.FlinkCluster;
import io.weightstream.stack.FlinkRest;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A benchmark, not a test: the job on the standalone cluster in three shapes, for {@code deploy/SCALING.md}: 1
 * TaskManager with 1 slot (parallelism 1: the figure per slot), 1 TaskManager with 2 slots and 2 TaskManagers with 1
 * slot each (parallelism 2 both). Each shape compresses the real all-MiniLM-L6-v2 once cold, then
 * {@value #ROUNDS_DEFAULT} times warm with lossless and with rtn 8-bit (medians reported, with the TaskManagers' CPU
 * time per version), and the report ends with the ratios of the shapes. Every version is still checked exactly once
 * with its hashes; nothing asserts a time. Its name matches neither {@code *Test} nor {@code *ITCase}, so no default
 * build runs it (minutes of CPU); run it by name, and read the figures in {@code flink-jobs/target/cluster-throughput.txt}:
 * <pre>{@code
 * mvn -B -o -pl flink-jobs verify -Dit.test=TaskManagerThroughputBench -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false
 * }</pre>
 * ({@code -Dweightstream.cluster.throughput.rounds=N} for N warm rounds per method).
 */
class TaskManagerThroughputBench {
    @TempDir
    static Path work;
    static RunningStack stack;
    static CompressionRoundTrip roundTrip;
    static final List<String> report = new ArrayList<>();

    @BeforeAll
    static void startStack() {
        stack = LocalStack.start(work.resolve("stack"));
        roundTrip = new CompressionRoundTrip(stack.bootstrapServers(),
                SchemaRegistryClient.builder().url(stack.registryUrl()).build());
    }

    @AfterAll
    static void stop() throws Exception {
        if (stack != null) {
            stack.close();
        }
        report.forEach(l -> System.out.println("SCALING " + l));
        Path out = Path.of("target", "cluster-throughput.txt");
        Files.createDirectories(out.getParent());
        Files.write(out, report);
    }

    @Test
    void oneSlotTwoSlotsAndTwoTaskManagers() throws Exception {
        Map<String, Run> one = measure("1 TM x 1 slot, p=1", 1, 1, 1);
        Map<String, Run> oneTwo = measure("1 TM x 2 slots, p=2", 1, 2, 2);
        Map<String, Run> two = measure("2 TMs x 1 slot, p=2", 2, 1, 2);
        for (String what : one.keySet()) {
            report.add(String.format(Locale.ROOT, "ratio %-14s 2 TMs x 1 slot vs 1 TM x 1 slot: %.2fx; vs 1 TM x 2 slots: %.2fx"
                            + " (MB/s of the medians; MB per CPU-second %.2fx and %.2fx)", what,
                    two.get(what).mbPerSecond() / one.get(what).mbPerSecond(),
                    two.get(what).mbPerSecond() / oneTwo.get(what).mbPerSecond(),
                    two.get(what).mbPerCpuSecond() / one.get(what).mbPerCpuSecond(),
                    two.get(what).mbPerCpuSecond() / oneTwo.get(what).mbPerCpuSecond()));
        }
        report.add(String.format(Locale.ROOT, "per slot (1 TM x 1 slot, warm lossless median): %.1f MB/s, %.1f MB per CPU-second",
                one.get("warm lossless").mbPerSecond(), one.get("warm lossless").mbPerCpuSecond()));
    }

    /** The shape's warm medians by method. */
    private Map<String, Run> measure(String shape, int taskManagers, int slots, int parallelism) throws Exception {
        String tag = "t" + taskManagers + "x" + slots;
        try (FlinkCluster flink = FlinkCluster.builder().workDir(work.resolve("flink-" + tag)).taskManagers(taskManagers)
                .slots(slots).start()) {
            Map<String, String> options = new LinkedHashMap<>();
            options.put("bootstrap.servers", stack.bootstrapServers());
            options.put("registry.url", stack.registryUrl());
            options.put("parallelism", Integer.toString(parallelism));
            options.put("checkpoint.interval", "1 s");
            options.put("checkpoint.dir", work.resolve("checkpoints-" + tag).toUri().toString());
            options.put("group.id", "it-throughput-" + tag);
            options.put("transactional.id.prefix", "it-throughput-" + tag);
            // only versions published from now on: each shape reads its own
            options.put("starting.offsets", "LATEST");
            // lossless and rtn never take the GPU branch: without it every subtask of the job shares one slot per
            // parallel instance, so a slot is a slot (with it, each instance takes a second, idle slot)
            options.put("gpu.methods", "");
            String jobId = flink.submit(ClusterJobs.jobJar(), ClusterJobs.args(options), Optional.empty());
            FlinkRest.Job job = ClusterJobs.awaitFullyRunning(flink.rest(), jobId, Duration.ofMinutes(2));
            assertThat(job.fullyRunning()).isTrue();
            assertThat(flink.rest().vertices(jobId)).noneMatch(v -> v.name().contains("compress (gpu)"));
            List<ProcessHandle> tms = flink.taskManagers().values().stream()
                    .map(p -> ProcessHandle.of(p.pid()).orElseThrow()).toList();
            CompressionPolicy lossless = CompressionPolicy.newBuilder().setDefaultMethod("lossless").build();
            CompressionPolicy rtn8 = CompressionPolicy.newBuilder().setDefaultMethod("rtn").setDefaultParams(Map.of("bits", "8")).build();
            report.add(run(shape, "cold lossless", tag + "-cold", lossless, tms).line());
            List<Run> warmLossless = new ArrayList<>();
            List<Run> warmRtn = new ArrayList<>();
            for (int i = 0; i < ROUNDS; i++) {
                warmLossless.add(run(shape, "warm lossless", tag + "-lossless-" + i, lossless, tms));
                warmRtn.add(run(shape, "warm rtn 8-bit", tag + "-rtn8-" + i, rtn8, tms));
            }
            Map<String, Run> medians = new LinkedHashMap<>();
            medians.put("warm lossless", median(warmLossless));
            medians.put("warm rtn 8-bit", median(warmRtn));
            medians.values().forEach(m -> report.add(m.line() + "  (median of " + ROUNDS + ")"));
            return medians;
        }
    }

    static final int ROUNDS_DEFAULT = 3;
    static final int ROUNDS = Integer.getInteger("weightstream.cluster.throughput.rounds", ROUNDS_DEFAULT);

    /**
     * One version: {@code jobSeconds} from the end of the publish (the job sees nothing of a version before its
     * transaction commits) to the version record; {@code cpuSeconds} the TaskManagers' CPU time meanwhile.
     */
    record Run(String shape, String what, double mb, double jobSeconds, double cpuSeconds, double load) {
        double mbPerSecond() {
            return mb / jobSeconds;
        }

        double mbPerCpuSecond() {
            return mb / cpuSeconds;
        }

        String line() {
            return String.format(Locale.ROOT, "%-22s %-14s %.1f MB in %.2f s = %5.1f MB/s; TaskManager CPU %.2f s = %5.1f MB"
                    + " per CPU-second (load average %.1f)", shape, what, mb, jobSeconds, mbPerSecond(), cpuSeconds,
                    mbPerCpuSecond(), load);
        }
    }

    private static Run run(String shape, String what, String version, CompressionPolicy policy, List<ProcessHandle> tms)
            throws Exception {
        long t0 = System.currentTimeMillis();
        io.weightstream.publish.PublishResult published = roundTrip.publish(version, policy);
        long tPublished = System.currentTimeMillis();
        double cpu0 = cpuSeconds(tms);
        ModelVersionCompressed v = roundTrip.collect(version, published, t0, tPublished).version();
        // the TaskManagers' CPU up to now includes the 3 s settle of collect, when the job idles (a few ms per checkpoint)
        double cpu = cpuSeconds(tms) - cpu0;
        return new Run(shape, what, v.getOriginalBytes() / 1e6, (v.getCompletedAtMs() - tPublished) / 1e3, cpu,
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    private static double cpuSeconds(List<ProcessHandle> tms) {
        return tms.stream().mapToDouble(h -> h.info().totalCpuDuration().map(d -> d.toNanos() / 1e9).orElse(0.0)).sum();
    }

    private static Run median(List<Run> runs) {
        List<Run> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(Run::jobSeconds));
        return sorted.get(sorted.size() / 2);
    }
}
