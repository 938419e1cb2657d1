package io.weightstream.job.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.CompressionJob;
import io.weightstream.job.CompressionRoundTrip;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.stack.FlinkCluster;
import io.weightstream.stack.FlinkRest;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import io.weightstream.stack.StackOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU TaskManager profile end to end: a TaskManager that declares the external resource {@code gpu} (our driver
 * plugin; the device index is given, this machine has no GPU) and the job with {@code gpu.resource=true}, whose
 * {@code gpu} slot-sharing group asks for that resource. The operator of the GPU methods lands on the GPU
 * TaskManager, and the real all-MiniLM-L6-v2 still comes out exactly once with every hash right. {@code gpu.methods}
 * is {@code inr} (the GPU method, whose operator is placed) plus {@code rtn}, which takes the same path and stands in
 * for the data: training {@code inr} on 2 CPU cores would take this test's whole budget.
 */
class GpuPlacementITCase {
    @TempDir
    Path work;

    @Test
    void theGpuMethodsOperatorRunsOnTheGpuTaskManager() throws Exception {
        // like the FlinkDeployment of deploy/k8s: the TaskManagers are GPU ones; 2 slots: a default one and the gpu group's
        long t0 = System.nanoTime();
        long[] marks = new long[3];
        try (RunningStack stack = LocalStack.start(work.resolve("stack"), StackOptions.builder().cluster(true)
                .taskManagers(0).gpuTaskManagers(1).gpuIndices(List.of("0")).slots(2).build())) {
            marks[0] = System.nanoTime();
            FlinkCluster flink = stack.flink().orElseThrow();
            FlinkRest rest = flink.rest();
            assertThat(rest.taskManagers()).singleElement().satisfies(tm -> {
                assertThat(tm.id()).isEqualTo("taskmanager-gpu-1");
                // one GPU share per slot (FlinkCluster.taskManagerProperties)
                assertThat(tm.externalResources()).containsEntry(FlinkCluster.GPU_RESOURCE, 2.0);
            });
            Map<String, String> options = new LinkedHashMap<>();
            options.put("bootstrap.servers", stack.bootstrapServers());
            options.put("registry.url", stack.registryUrl());
            options.put("parallelism", "1");
            options.put("checkpoint.interval", "1 s");
            options.put("checkpoint.dir", work.resolve("checkpoints").toUri().toString());
            options.put("gpu.methods", "inr;rtn");   // a Flink list option: ";" separates
            options.put("gpu.resource", "true");
            options.put("transactional.id.prefix", "it-gpu");
            options.put("group.id", "it-gpu");
            String jobId = flink.submit(ClusterJobs.jobJar(), ClusterJobs.args(options), Optional.empty());
            ClusterJobs.awaitFullyRunning(rest, jobId, Duration.ofMinutes(3));
            marks[1] = System.nanoTime();

            List<FlinkRest.Vertex> gpuVertices = rest.vertices(jobId).stream()
                    .filter(v -> v.name().contains("compress (" + CompressionJob.GPU_GROUP + ")")).toList();
            assertThat(gpuVertices).as("the GPU methods' compress operator").hasSize(1);
            assertThat(gpuVertices.get(0).taskManagers()).containsOnly("taskmanager-gpu-1");
            // the inr codec is on the job's class path, so the gpu branch is inr's (CompressionJob.gpuMethods)
            assertThat(rest.vertices(jobId)).extracting(FlinkRest.Vertex::name)
                    .anySatisfy(n -> assertThat(n).contains("gpu methods [inr, rtn]"));

            CompressionRoundTrip roundTrip = new CompressionRoundTrip(stack.bootstrapServers(),
                    SchemaRegistryClient.builder().url(stack.registryUrl()).build());
            CompressionRoundTrip.Result r = roundTrip.publishAndCollect("g1-rtn8", CompressionPolicy.newBuilder()
                    .setDefaultMethod("rtn").setDefaultParams(Map.of("bits", "8")).build());
            assertThat(r.version().getMethods()).extracting(m -> m.getMethod()).contains("rtn");
            assertThat(r.version().getRatio()).isGreaterThan(3.0);
            marks[2] = System.nanoTime();
        }
        System.out.printf(java.util.Locale.ROOT, "CLUSTER gpu placement: stack with a GPU TaskManager up in %.1f s, job running"
                        + " %.1f s later, version round trip %.1f s, stack stopped in %.1f s%n", (marks[0] - t0) / 1e9,
                (marks[1] - marks[0]) / 1e9, (marks[2] - marks[1]) / 1e9, (System.nanoTime() - marks[2]) / 1e9);
    }
}
