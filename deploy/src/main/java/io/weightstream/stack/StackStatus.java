package io.weightstream.stack;

import java.util.List;
import java.util.Map;

/**
 * What {@code stack status} found: each server, and which weightstream topics exist (empty when the broker does
 * not answer).
 *
 * <pre>{@code
 * StackStatus status = LocalStack.atDefault().status();
 * if (!status.isUp()) { ... }
 * }</pre>
 *
 * @param servers one entry per server, in start order
 * @param topics  each of {@link Topics#ALL} with whether it exists; empty when the broker could not be asked
 */
public record StackStatus(List<ServerStatus> servers, Map<String, Boolean> topics) {
    public StackStatus {
        servers = List.copyOf(servers);
        topics = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(topics));
    }

    /** Whether every server is up. */
    public boolean isUp() {
        return servers.stream().allMatch(s -> s.state() == ServerStatus.State.UP);
    }
}
