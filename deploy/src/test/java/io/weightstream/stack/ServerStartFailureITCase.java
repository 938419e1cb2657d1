package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server that cannot start is reported at once, with its log, and leaves no process behind. */
class ServerStartFailureITCase {
    @TempDir
    Path dir;

    @Test
    void aBrokerWithABadSettingFailsWithTheEndOfItsLog() {
        StackException e = catchThrowableOfType(StackException.class, () -> KafkaBroker.builder()
                .workDir(dir)
                .config("log.segment.bytes", "not-a-number")
                .readyTimeout(Duration.ofSeconds(60))
                .start());

        assertThat(e.logFile()).hasValue(dir.resolve("kafka.log"));
        // the storage format reads the settings first, so it is the one that fails here
        assertThat(e).hasMessageContaining("see " + dir.resolve("kafka.log"))
                .hasMessageContaining("Invalid value not-a-number for configuration log.segment.bytes");
        assertThat(ProcessHandle.allProcesses().filter(p -> p.info().arguments()
                .map(a -> String.join(" ", a).contains("kafka@" + dir)).orElse(false))).isEmpty();
    }

    @Test
    void aRegistryOnATakenPortFailsWithTheEndOfItsLog() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            StackException e = catchThrowableOfType(StackException.class, () -> ApicurioRegistry.builder()
                    .workDir(dir)
                    .port(taken.getLocalPort())
                    .readyTimeout(Duration.ofSeconds(60))
                    .start());

            assertThat(e.logFile()).hasValue(dir.resolve("registry.log"));
            assertThat(e).hasMessageContaining("registry (pid").hasMessageContaining(Integer.toString(taken.getLocalPort()));
        }
    }
}
