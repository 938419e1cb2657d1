package io.weightstream.stack;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A server of the local stack could not be found, started, reached or stopped. When a server's log explains
 * the failure, {@link #logFile()} names it and the message ends with its last lines.
 *
 * <pre>{@code
 * try (RunningStack stack = LocalStack.start(dir)) {
 *     ...
 * } catch (StackException e) {
 *     e.logFile().ifPresent(log -> System.err.println("see " + log));
 * }
 * }</pre>
 */
public class StackException extends RuntimeException {
    private final Path logFile;

    public StackException(String message) {
        this(message, null, null);
    }

    public StackException(String message, Throwable cause) {
        this(message, null, cause);
    }

    public StackException(String message, Path logFile, Throwable cause) {
        super(message, cause);
        this.logFile = logFile;
    }

    /** The log of the server that failed, when there is one. */
    public Optional<Path> logFile() {
        return Optional.ofNullable(logFile);
    }
}
