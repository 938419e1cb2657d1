package io.weightstream.job.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.stack.FlinkRest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The job jar and its arguments for the cluster ITCases, and waiting for a job on the cluster. */
final class ClusterJobs {
    private ClusterJobs() {
    }

    /** The shaded job jar of this module ({@code mvn verify} builds it in {@code package}, before the ITCases). */
    static Path jobJar() throws IOException {
        Path target = Path.of("target");
        try (Stream<Path> files = Files.list(target)) {
            return files.filter(p -> p.getFileName().toString().matches("weightstream-flink-jobs-.*-job\\.jar"))
                    .max(Comparator.comparing(p -> p.getFileName().toString()))
                    .orElseThrow(() -> new IllegalStateException("no job jar in " + target.toAbsolutePath()
                            + "; run the ITCases with `mvn verify` (the shade plugin builds it in package)"));
        }
    }

    /** {@code --key value} arguments of {@code CompressionJobMain}. */
    static List<String> args(Map<String, String> options) {
        List<String> args = new ArrayList<>();
        options.forEach((k, v) -> {
            args.add("--" + k);
            args.add(v);
        });
        return args;
    }

    /** Waits until the job and every one of its tasks run; returns the job as last seen. */
    static FlinkRest.Job awaitFullyRunning(FlinkRest rest, String jobId, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        FlinkRest.Job job = null;
        while (System.nanoTime() < deadline) {
            job = rest.job(jobId).orElse(null);
            if (job != null && job.fullyRunning()) {
                return job;
            }
            assertThat(job == null ? "" : job.state()).as("job " + jobId).isNotIn("FAILED", "CANCELED", "FINISHED");
            Thread.sleep(100);
        }
        throw new AssertionError("job " + jobId + " did not run all its tasks within " + timeout.toSeconds() + " s: " + job);
    }
}
