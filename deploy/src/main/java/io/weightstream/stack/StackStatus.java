package io.weightstream.stack;

import java.util.List;
import java.util.Map;

/**
 * What {@code stack status} found: each server (the Flink JobManager and TaskManagers too when the stack has a
 * cluster), which weightstream topics exist (empty when the broker does not answer) and the cluster's jobs.
 *
 * <pre>{@code
 * StackStatus status = LocalStack.atDefault().status();
 * if (!status.isUp()) { ... }
 * }</pre>
 *
 * @param servers one entry per server, in start order
 * @param topics  each of {@link Topics#ALL} with whether it exists; empty when the broker could not be asked
 * @param jobs    the Flink cluster's jobs, newest first; empty without a cluster or when the JobManager is down
 */
public record StackStatus(List<ServerStatus> servers, Map<String, Boolean> topics, List<FlinkJobStatus> jobs) {
    public StackStatus {
        servers = List.copyOf(servers);
        topics = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(topics));
        jobs = List.copyOf(jobs);
    }

    /** A stack without a Flink cluster. */
    public StackStatus(List<ServerStatus> servers, Map<String, Boolean> topics) {
        this(servers, topics, List.of());
    }

    /** Whether every server is up. */
    public boolean isUp() {
        return servers.stream().allMatch(s -> s.state() == ServerStatus.State.UP);
    }
}
