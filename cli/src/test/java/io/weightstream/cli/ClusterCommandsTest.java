package io.weightstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster side of {@code stack} and {@code job} without servers: the options exist, and a missing cluster is a
 * clear error. The running cluster is tested in deploy ({@code LocalStackClusterITCase}) and flink-jobs
 * ({@code StackRestartITCase}, which does what {@code job --cluster} does).
 */
class ClusterCommandsTest {
    @TempDir
    Path stateDir;

    @Test
    void stackUpOffersTheClusterOptions() {
        CliTest.Run r = CliTest.run("stack", "up", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("--cluster", "--taskmanagers", "--gpu-taskmanagers", "--gpu-indices", "--slots", "--flink-port");
    }

    @Test
    void jobOffersClusterSubmission() {
        CliTest.Run r = CliTest.run("job", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("--cluster", "--jar", "--no-resume");
    }

    @Test
    void jobOnTheLocalClusterWithoutOneSaysHowToStartIt() {
        // endpoints given, so the missing piece is the cluster alone
        CliTest.Run r = CliTest.run("job", "--cluster", "--state-dir", stateDir.toString(),
                "--bootstrap", "127.0.0.1:9", "--registry", "http://127.0.0.1:9/apis/ccompat/v7");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("no running Flink cluster").contains("stack up --cluster").contains(stateDir.toString());
    }

    @Test
    void statusOfAStackThatIsNotUpExitsWith3() {
        CliTest.Run r = CliTest.run("stack", "status", "--state-dir", stateDir.toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.out()).doesNotContain("job ");
    }
}
