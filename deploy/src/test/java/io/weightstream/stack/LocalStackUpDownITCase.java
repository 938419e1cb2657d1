package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The detached stack of {@code weightstream stack up|status|down}, against the real servers. */
class LocalStackUpDownITCase {
    @TempDir
    Path stateDir;

    @AfterEach
    void downAnyway() {
        LocalStack.at(stateDir).down(true);
    }

    @Test
    void upStatusUpAgainDown() throws IOException {
        LocalStack local = LocalStack.at(stateDir);

        UpResult up = local.up(StackOptions.defaults());
        System.out.printf("LocalStackUpDownITCase: `up` took %d ms (both servers ready, topics created)%n",
                up.elapsed().toMillis());
        assertThat(up.servers()).extracting(ServerStatus::note).containsOnly("started");
        assertThat(up.createdTopics()).containsExactlyElementsOf(Topics.ALL);
        StackInfo info = up.stack();
        // detached: in a session of their own, so they outlive the JVM that ran `up` and ignore its Ctrl-C
        for (long pid : new long[] {info.kafkaPid(), info.registryPid()}) {
            ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
            assertThat(h.info().command()).hasValueSatisfying(c -> assertThat(c).endsWith("java"));
            assertThat(sessionId(pid)).isEqualTo(pid).isNotEqualTo(sessionId(ProcessHandle.current().pid()));
        }
        assertThat(new StackState(stateDir).readPid("kafka")).hasValue(info.kafkaPid());
        assertThat(new StackState(stateDir).readPid("registry")).hasValue(info.registryPid());
        Properties props = new StackState(stateDir).readProperties();
        assertThat(props.getProperty("bootstrap.servers")).isEqualTo(info.bootstrapServers());
        assertThat(props.getProperty("registry.url")).isEqualTo(info.registryUrl());

        assertThat(LocalStack.current(stateDir)).contains(info);
        StackStatus status = local.status();
        assertThat(status.isUp()).isTrue();
        assertThat(status.topics()).containsOnlyKeys(Topics.ALL).doesNotContainValue(false);

        UpResult again = local.up(StackOptions.defaults());
        assertThat(again.servers()).extracting(ServerStatus::note).containsOnly("already running");
        assertThat(again.stack()).isEqualTo(info);
        assertThat(again.createdTopics()).isEmpty();

        List<ServerStatus> down = local.down(false);
        assertThat(down).extracting(ServerStatus::note).containsOnly("stopped");
        assertThat(ProcessHandle.of(info.kafkaPid()).filter(ProcessHandle::isAlive)).isEmpty();
        assertThat(ProcessHandle.of(info.registryPid()).filter(ProcessHandle::isAlive)).isEmpty();
        assertThat(Ports.isFree(info.kafkaPort())).isTrue();
        assertThat(Ports.isFree(info.registryPort())).isTrue();
        assertThat(local.current()).isEmpty();
        assertThat(local.status().servers()).allMatch(s -> s.state() == ServerStatus.State.DOWN);

        // a restart keeps the ports (clients' configs stay valid) and the data
        UpResult restart = local.up(StackOptions.defaults());
        assertThat(restart.stack().kafkaPort()).isEqualTo(info.kafkaPort());
        assertThat(restart.stack().registryPort()).isEqualTo(info.registryPort());
        assertThat(restart.createdTopics()).isEmpty();
    }

    /** Field 6 of /proc/PID/stat, the session id (after the command name, which is in parentheses). */
    private static long sessionId(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[3]);
    }

    @Test
    void upReplacesAServerWhoseProcessDied() {
        LocalStack local = LocalStack.at(stateDir);
        StackInfo info = local.up(StackOptions.builder().createTopics(false).build()).stack();
        ProcessHandle registry = ProcessHandle.of(info.registryPid()).orElseThrow();
        registry.destroyForcibly();
        registry.onExit().join();

        assertThat(local.current()).isEmpty();
        assertThat(local.status().servers().get(1).state()).isEqualTo(ServerStatus.State.STALE);

        UpResult up = local.up(StackOptions.builder().createTopics(false).build());
        assertThat(up.servers().get(0).note()).isEqualTo("already running");
        assertThat(up.servers().get(1).note()).startsWith("started").contains("stale pid file");
        assertThat(up.stack().kafkaPid()).isEqualTo(info.kafkaPid());
        assertThat(up.stack().registryPid()).isNotEqualTo(info.registryPid());
        assertThat(local.current()).isEqualTo(Optional.of(up.stack()));
    }
}
