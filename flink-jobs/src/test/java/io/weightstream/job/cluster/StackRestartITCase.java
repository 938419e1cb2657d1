package io.weightstream.job.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.CompressionJob;
import io.weightstream.job.CompressionRoundTrip;
import io.weightstream.publish.PublishResult;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.FlinkClient;
import io.weightstream.stack.FlinkRest;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.ServerStatus;
import io.weightstream.stack.StackHome;
import io.weightstream.stack.StackInfo;
import io.weightstream.stack.StackOptions;
import io.weightstream.stack.StackStatus;
import io.weightstream.stack.UpResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole detached stack ({@code stack up --cluster}: Kafka, the registry, a JobManager and a TaskManager) stopped
 * with {@code stack down} while a version of the real all-MiniLM-L6-v2 is being compressed, then started again with
 * {@code stack up --cluster} and the job resubmitted from its last retained checkpoint, as {@code weightstream job
 * --cluster} does: nothing published before the restart is lost and nothing is written twice.
 */
class StackRestartITCase {
    @TempDir
    Path stateDir;

    @AfterEach
    void downAnyway() {
        LocalStack.at(stateDir).down(true);
    }

    @Test
    void aVersionInFlightSurvivesStackDownAndUp() throws Exception {
        LocalStack local = LocalStack.at(stateDir);
        StackOptions options = StackOptions.builder().cluster(true).taskManagers(1).build();
        UpResult up = local.up(options);
        assertThat(up.servers()).extracting(ServerStatus::server)
                .containsExactly("kafka", "registry", "jobmanager", "taskmanager-1");
        StackInfo info = up.stack();
        String restUrl = local.clusterRestUrl().orElseThrow();
        String jobId = submit(local, info, restUrl, Optional.empty());
        assertThat(local.status().jobs()).extracting(j -> j.job().id()).contains(jobId);

        CompressionRoundTrip roundTrip = new CompressionRoundTrip(info.bootstrapServers(),
                SchemaRegistryClient.builder().url(info.registryUrl()).build());
        String version = "r1-rtn8";
        Map<TopicPartition, Long> from = roundTrip.compressedEnd();
        long t0 = System.currentTimeMillis();
        PublishResult published = roundTrip.publish(version, CompressionPolicy.newBuilder().setDefaultMethod("rtn")
                .setDefaultParams(Map.of("bits", "8")).build());
        long tPublished = System.currentTimeMillis();
        int tensors = published.manifest().getTensors().size();
        Set<String> before = roundTrip.awaitCommittedTensors(version, 1, CompressionRoundTrip.WAIT, from);
        assertThat(before).isNotEmpty();

        long tDown = System.nanoTime();
        List<ServerStatus> down = local.down(false);
        long downNanos = System.nanoTime() - tDown;
        assertThat(down).extracting(ServerStatus::server).containsExactly("kafka", "registry", "jobmanager", "taskmanager-1");
        assertThat(down).allSatisfy(s -> assertThat(s.note()).isEqualTo("stopped"));
        for (ServerStatus s : down) {
            assertThat(ProcessHandle.of(s.pid()).filter(ProcessHandle::isAlive)).as(s.server()).isEmpty();
        }
        StackStatus stopped = local.status();
        assertThat(stopped.servers()).allSatisfy(s -> assertThat(s.state()).isEqualTo(ServerStatus.State.DOWN));
        assertThat(stopped.isUp()).isFalse();
        Optional<Path> retained = CompressionJob.latestCheckpoint(local.jobCheckpointDir("it-restart").toUri());
        assertThat(retained).as("the checkpoint the stopped job kept").isPresent();

        long tUp = System.nanoTime();
        UpResult again = local.up(options);
        long upNanos = System.nanoTime() - tUp;
        assertThat(again.stack().kafkaPort()).isEqualTo(info.kafkaPort());
        assertThat(again.stack().registryPort()).isEqualTo(info.registryPort());
        assertThat(local.clusterRestUrl()).contains(restUrl);
        long tSubmit = System.nanoTime();
        String resumed = submit(local, again.stack(), restUrl, retained);
        long submitNanos = System.nanoTime() - tSubmit;
        FlinkRest.Checkpoints chk = new FlinkRest(restUrl).checkpoints(resumed);
        assertThat(chk.restoredId()).as("the resubmitted job restored its checkpoint").isPresent();

        CompressionRoundTrip.Result r = roundTrip.collect(version, published, t0, tPublished);
        assertThat(r.version().getTensorCount()).isEqualTo(tensors);
        // and the restarted stack goes on: a new version after the restart
        CompressionRoundTrip.Result next = roundTrip.publishAndCollect("r2-lossless",
                CompressionPolicy.newBuilder().setDefaultMethod("lossless").build());
        for (TensorEntry e : next.manifest().getTensors()) {
            assertThat(next.reconstruction().get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
        }
        assertThat(local.status().isUp()).isTrue();
        String line = String.format(Locale.ROOT, "whole stack restarted with %s in flight (%d of %d tensors committed before"
                        + " `down`): down %.1f s, up %.1f s, resubmitted from %s and all tasks running in %.1f s; 0 missing,"
                        + " 0 duplicate compressed tensors", version, before.size(), tensors, downNanos / 1e9, upNanos / 1e9,
                retained.get().getFileName(), submitNanos / 1e9);
        System.out.println("CLUSTER " + line);
        Path report = Path.of("target", "stack-restart.txt");
        Files.createDirectories(report.getParent());
        Files.write(report, List.of(line));
    }

    /** What {@code weightstream job --cluster} does: the job jar, resumed from {@code from} when present. */
    private static String submit(LocalStack local, StackInfo stack, String restUrl, Optional<Path> from) throws Exception {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("bootstrap.servers", stack.bootstrapServers());
        options.put("registry.url", stack.registryUrl());
        options.put("parallelism", "2");
        options.put("checkpoint.interval", "1 s");
        options.put("checkpoint.dir", local.jobCheckpointDir("it-restart").toUri().toString());
        options.put("group.id", "it-restart");
        options.put("transactional.id.prefix", "it-restart");
        String jobId = new FlinkClient(StackHome.locate(), restUrl, local.stateDir().resolve("flink").resolve("client"))
                .run(ClusterJobs.jobJar(), ClusterJobs.args(options), from);
        ClusterJobs.awaitFullyRunning(new FlinkRest(restUrl), jobId, Duration.ofMinutes(2));
        return jobId;
    }
}
