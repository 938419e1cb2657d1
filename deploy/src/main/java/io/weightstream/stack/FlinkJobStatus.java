package io.weightstream.stack;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * A job of the local Flink cluster as {@code stack status} shows it: its state, its tasks and its checkpoints.
 *
 * <pre>{@code
 * for (FlinkJobStatus j : LocalStack.atDefault().status().jobs()) {
 *     System.out.println(j.line(System.currentTimeMillis()));
 *     // "job       running       weightstream-compression  8/8 tasks  42 checkpoints, latest 0.8 s ago  (3f2a...)"
 * }
 * }</pre>
 *
 * @param job         what the JobManager says of the job
 * @param checkpoints its checkpoint counts, for jobs that are not over (empty for finished, cancelled, failed ones)
 */
public record FlinkJobStatus(FlinkRest.Job job, Optional<FlinkRest.Checkpoints> checkpoints) {
    public FlinkJobStatus {
        Objects.requireNonNull(job, "job");
        Objects.requireNonNull(checkpoints, "checkpoints");
    }

    /** One aligned line for the command line; {@code nowMillis} dates the latest checkpoint. */
    public String line(long nowMillis) {
        return line(nowMillis, 9);
    }

    /** {@link #line(long)} with the first column as wide as the servers' names ({@link ServerStatus#line(int)}). */
    public String line(long nowMillis, int nameWidth) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-" + Math.max(3, nameWidth) + "s %-13s %-26s %d/%d tasks", "job",
                job.state().toLowerCase(Locale.ROOT), job.name(), job.runningTasks(), job.totalTasks()));
        checkpoints.ifPresent(c -> {
            b.append(String.format(Locale.ROOT, "  %d checkpoints", c.completed()));
            if (c.latestCompletedId().isPresent() && c.latestCompletedAt() > 0) {
                b.append(String.format(Locale.ROOT, ", latest %.1f s ago",
                        Duration.ofMillis(Math.max(0, nowMillis - c.latestCompletedAt())).toMillis() / 1000.0));
            }
            if (c.restoredId().isPresent()) {
                b.append(", restored from ").append(c.restoredId().getAsLong());
            }
        });
        return b.append("  (").append(job.id()).append(')').toString();
    }
}
