package io.weightstream.stack;

import java.time.Duration;
import java.util.List;

/**
 * What {@code stack up} did.
 *
 * <pre>{@code
 * UpResult up = LocalStack.atDefault().up(StackOptions.defaults());
 * up.servers().forEach(s -> System.out.println(s.line()));
 * System.out.printf("stack up in %.1f s%n", up.elapsed().toMillis() / 1000.0);
 * }</pre>
 *
 * @param stack         the addresses of the running stack
 * @param servers       one entry per server; {@link ServerStatus#note()} says "started" or "already running"
 * @param createdTopics the topics created by this call (none when they existed)
 * @param elapsed       from the call until both servers answered and the topics existed
 */
public record UpResult(StackInfo stack, List<ServerStatus> servers, List<String> createdTopics, Duration elapsed) {
    public UpResult {
        servers = List.copyOf(servers);
        createdTopics = List.copyOf(createdTopics);
    }

    /** Whether this call started at least one server. */
    public boolean startedAny() {
        return servers.stream().anyMatch(s -> s.note().startsWith("started"));
    }
}
