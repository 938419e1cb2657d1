package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stack up --cluster --taskmanagers 2}, {@code status} and {@code down} against the real servers: every
 * server a detached process recorded by PID, a killed TaskManager seen as stale and started again alone, the cluster
 * left alone by an {@code up} without {@code --cluster}, everything stopped by PID.
 */
class LocalStackClusterITCase {
    @TempDir
    Path stateDir;

    @AfterEach
    void downAnyway() {
        LocalStack.at(stateDir).down(true);
    }

    @Test
    void upWithAClusterStatusKillRestartAndDown() throws Exception {
        LocalStack local = LocalStack.at(stateDir);
        StackOptions cluster = StackOptions.builder().cluster(true).taskManagers(2).createTopics(false).build();
        UpResult up = local.up(cluster);
        System.out.printf("LocalStackClusterITCase: `up --cluster --taskmanagers 2` took %d ms%n", up.elapsed().toMillis());
        assertThat(up.servers()).extracting(ServerStatus::server)
                .containsExactly("kafka", "registry", "jobmanager", "taskmanager-1", "taskmanager-2");
        assertThat(up.servers()).allSatisfy(s -> {
            assertThat(s.state()).isEqualTo(ServerStatus.State.UP);
            assertThat(s.note()).startsWith("started");
        });
        Map<String, ServerStatus> started = byName(up.servers());
        String restUrl = started.get("jobmanager").address();
        assertThat(restUrl).startsWith("http://127.0.0.1:");
        assertThat(local.clusterRestUrl()).contains(restUrl);
        assertThat(started.get("taskmanager-1").note()).contains(FlinkCluster.DEFAULT_SLOTS + " slots");
        Properties props = new StackState(stateDir).readProperties();
        assertThat(props.getProperty("flink.rest.url")).isEqualTo(restUrl);
        assertThat(props.getProperty("cluster.taskmanagers")).isEqualTo("2");
        for (String server : List.of("jobmanager", "taskmanager-1", "taskmanager-2")) {
            assertThat(new StackState(stateDir).readPid(server)).hasValue(started.get(server).pid());
        }
        assertThat(Files.readString(stateDir.resolve("flink/conf/config.yaml"))).contains("rest.port: " + started.get("jobmanager").port());

        StackStatus status = local.status();
        assertThat(status.isUp()).isTrue();
        assertThat(status.servers()).extracting(ServerStatus::state).containsOnly(ServerStatus.State.UP);
        assertThat(byName(status.servers()).get("jobmanager").note()).startsWith("2 task managers");
        assertThat(status.jobs()).isEmpty();

        // kill -9 one TaskManager: status says stale, `up` starts that one alone
        long victim = started.get("taskmanager-2").pid();
        ProcessHandle h = ProcessHandle.of(victim).orElseThrow();
        h.destroyForcibly();
        h.onExit().join();
        StackStatus afterKill = local.status();
        assertThat(afterKill.isUp()).isFalse();
        assertThat(byName(afterKill.servers()).get("taskmanager-2").state()).isEqualTo(ServerStatus.State.STALE);
        UpResult again = local.up(cluster);
        Map<String, ServerStatus> restarted = byName(again.servers());
        assertThat(restarted.get("taskmanager-2").note()).isEqualTo("started (stale pid file replaced), "
                + FlinkCluster.DEFAULT_SLOTS + " slots (" + FlinkCluster.DEFAULT_SLOTS + " free)");
        assertThat(restarted.get("taskmanager-2").pid()).isNotEqualTo(victim);
        for (String server : List.of("kafka", "registry", "jobmanager", "taskmanager-1")) {
            assertThat(restarted.get(server).note()).as(server).startsWith("already running");
            assertThat(restarted.get(server).pid()).isEqualTo(started.get(server).pid());
        }
        assertThat(restarted.get("jobmanager").address()).isEqualTo(restUrl);
        assertThat(new FlinkRest(restUrl).overview().taskManagers()).isEqualTo(2);

        // `up` without --cluster leaves the cluster running and says so
        UpResult plain = local.up(StackOptions.builder().createTopics(false).build());
        assertThat(plain.servers()).extracting(ServerStatus::note).containsOnly("already running");
        assertThat(plain.servers()).hasSize(5);

        List<ServerStatus> down = local.down(false);
        assertThat(down).extracting(ServerStatus::server)
                .containsExactly("kafka", "registry", "jobmanager", "taskmanager-1", "taskmanager-2");
        assertThat(down).extracting(ServerStatus::note).containsOnly("stopped");
        for (ServerStatus s : down) {
            assertThat(ProcessHandle.of(s.pid()).filter(ProcessHandle::isAlive)).as(s.server()).isEmpty();
            assertThat(new StackState(stateDir).hasPidFile(s.server())).isFalse();
        }
        assertThat(local.clusterRestUrl()).isEmpty();
        assertThat(local.status().servers()).extracting(ServerStatus::state).containsOnly(ServerStatus.State.DOWN);

        local.down(true);
        assertThat(stateDir.resolve("flink")).doesNotExist();
    }

    private static Map<String, ServerStatus> byName(List<ServerStatus> servers) {
        return servers.stream().collect(Collectors.toMap(ServerStatus::server, Function.identity()));
    }
}
