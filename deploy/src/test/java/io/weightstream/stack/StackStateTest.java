package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PID files and {@code stack.properties} of a detached stack, with real (small) processes instead of servers. */
class StackStateTest {
    @TempDir
    Path dir;

    private Process sleeper;

    @AfterEach
    void killSleeper() {
        if (sleeper != null) {
            sleeper.destroyForcibly();
        }
    }

    @Test
    void aPidFileOfAProcessThatExitedIsStale() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        StackState state = new StackState(dir);
        state.writePid("kafka", p.pid());

        assertThat(state.readPid("kafka")).hasValue(p.pid());
        assertThat(state.running("kafka")).isEmpty();

        StackStatus status = LocalStack.at(dir).status();
        assertThat(status.servers().get(0).state()).isEqualTo(ServerStatus.State.STALE);
        assertThat(status.servers().get(0).note()).contains("stale pid file");
        assertThat(status.servers().get(1).state()).isEqualTo(ServerStatus.State.DOWN);
        assertThat(status.isUp()).isFalse();
        assertThat(status.topics()).isEmpty();
    }

    @Test
    void aLiveProcessThatIsNotThisStacksServerIsStaleToo() {
        // a reused PID: this test JVM is alive but carries no marker of the stack
        StackState state = new StackState(dir);
        state.writePid("registry", ProcessHandle.current().pid());

        assertThat(state.running("registry")).isEmpty();
        assertThat(LocalStack.at(dir).status().servers().get(1).state()).isEqualTo(ServerStatus.State.STALE);
        assertThat(LocalStack.at(dir).current()).isEmpty();
    }

    @Test
    void aLiveMarkedProcessIsRunningButNotAnsweringWithoutItsPort() throws Exception {
        StackState state = new StackState(dir);
        sleeper = markedSleeper(state.marker("kafka"));
        state.writePid("kafka", sleeper.pid());
        Properties props = new Properties();
        props.setProperty("kafka.port", Integer.toString(Ports.free()));
        state.writeProperties(props);

        assertThat(state.running("kafka")).hasValueSatisfying(s -> assertThat(s.pid()).isEqualTo(sleeper.pid()));
        assertThat(state.running("registry")).isEmpty();
        // marked for another state directory: not ours
        assertThat(new StackState(dir.resolve("other")).marker("kafka")).isNotEqualTo(state.marker("kafka"));

        ServerStatus kafka = LocalStack.at(dir).status().servers().get(0);
        assertThat(kafka.state()).isEqualTo(ServerStatus.State.NOT_ANSWERING);
        assertThat(kafka.pid()).isEqualTo(sleeper.pid());
    }

    @Test
    void downStopsTheMarkedProcessByPidAndRemovesEveryPidFile() throws Exception {
        StackState state = new StackState(dir);
        sleeper = markedSleeper(state.marker("kafka"));
        state.writePid("kafka", sleeper.pid());
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor(10, TimeUnit.SECONDS);
        state.writePid("registry", gone.pid());
        state.writeProperties(new Properties());

        List<ServerStatus> down = LocalStack.at(dir).down(false);

        assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(down.get(0).note()).isEqualTo("stopped");
        assertThat(down.get(1).state()).isEqualTo(ServerStatus.State.STALE);
        assertThat(down.get(1).note()).contains("stale pid file removed");
        assertThat(state.pidFile("kafka")).doesNotExist();
        assertThat(state.pidFile("registry")).doesNotExist();
        assertThat(state.propertiesFile()).exists(); // kept: the next `up` reuses the ports
        assertThat(LocalStack.at(dir).status().servers()).allMatch(s -> s.state() == ServerStatus.State.DOWN);
    }

    @Test
    void downPurgeDeletesDataAndPropertiesButKeepsLogs() throws Exception {
        StackState state = new StackState(dir);
        Files.createDirectories(state.workDir("kafka").resolve("data"));
        Files.writeString(state.workDir("kafka").resolve("data/meta.properties"), "x");
        Files.createDirectories(state.workDir("registry").resolve("data"));
        Files.writeString(state.logFile("kafka"), "log");
        state.writeProperties(new Properties());

        LocalStack.at(dir).down(true);

        assertThat(state.workDir("kafka")).doesNotExist();
        assertThat(state.workDir("registry")).doesNotExist();
        assertThat(state.propertiesFile()).doesNotExist();
        assertThat(state.logFile("kafka")).hasContent("log");
    }

    @Test
    void anUnreadablePidFileIsReportedAndReplaced() throws IOException {
        StackState state = new StackState(dir);
        Files.writeString(state.pidFile("kafka"), "not a pid\n");

        assertThat(state.readPid("kafka")).isEmpty();
        assertThat(state.hasPidFile("kafka")).isTrue();
        ServerStatus kafka = LocalStack.at(dir).status().servers().get(0);
        assertThat(kafka.state()).isEqualTo(ServerStatus.State.STALE);
        assertThat(kafka.note()).contains("unreadable pid file");

        state.writePid("kafka", 4242);
        assertThat(state.readPid("kafka")).hasValue(4242);
    }

    @Test
    void stackPropertiesRoundTripWithTheirFormatVersion() throws IOException {
        StackState state = new StackState(dir);
        Properties props = new Properties();
        props.setProperty("kafka.port", "40123");
        props.setProperty("registry.url", "http://127.0.0.1:40124/apis/ccompat/v7");
        props.setProperty("kafka.cds.pending", "C:\\odd\\path");
        state.writeProperties(props);

        Properties read = state.readProperties();
        assertThat(read.getProperty("format.version")).isEqualTo("1");
        assertThat(read.getProperty("kafka.port")).isEqualTo("40123");
        assertThat(read.getProperty("registry.url")).isEqualTo("http://127.0.0.1:40124/apis/ccompat/v7");
        assertThat(read.getProperty("kafka.cds.pending")).isEqualTo("C:\\odd\\path");
        assertThat(state.port(read, "kafka.port")).isEqualTo(40123);
        assertThat(state.port(read, "registry.port")).isZero();
    }

    @Test
    void stackPropertiesOfAnotherFormatVersionAreRefused() throws IOException {
        StackState state = new StackState(dir);
        Files.writeString(state.propertiesFile(), "format.version=99\nkafka.port=1\n");

        assertThatThrownBy(state::readProperties).isInstanceOf(StackException.class)
                .hasMessageContaining("format.version 99");
    }

    @Test
    void downStopsServersEvenWhenStackPropertiesAreOfAnotherVersion() throws Exception {
        StackState state = new StackState(dir);
        sleeper = markedSleeper(state.marker("registry"));
        state.writePid("registry", sleeper.pid());
        Files.writeString(state.propertiesFile(), "format.version=99\n");

        List<ServerStatus> down = LocalStack.at(dir).down(false);

        assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(down.get(1).note()).isEqualTo("stopped");
        assertThat(state.propertiesFile()).hasContent("format.version=99"); // not rewritten in a format it did not write
    }

    @Test
    void noStateMeansNothingIsRunning() {
        assertThat(LocalStack.at(dir).current()).isEmpty();
        assertThatThrownBy(() -> LocalStack.at(dir).require()).isInstanceOf(StackException.class)
                .hasMessageContaining("stack up");
        assertThat(LocalStack.at(dir).down(false)).extracting(ServerStatus::note).containsOnly("was not running");
    }

    @Test
    void aProcessThatExitsOnSigtermStopsCleanly() throws Exception {
        sleeper = markedSleeper("test@" + dir);
        ServerProcess p = ServerProcess.find("test", sleeper.pid(), "test@" + dir, dir.resolve("x.log"), null).orElseThrow();
        assertThat(p.stop(Duration.ofSeconds(10))).isTrue();
        assertThat(p.isAlive()).isFalse();
    }

    /** A shell that waits, with the stack's marker among its arguments as a server JVM has it among its options. */
    private static Process markedSleeper(String marker) throws IOException {
        // "; exit" keeps the shell from exec-ing sleep, which would drop the marker from the command line
        return new ProcessBuilder("sh", "-c", "sleep 60; exit 0", ServerProcess.markerOption(marker)).start();
    }
}
