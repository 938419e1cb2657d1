package io.weightstream.stack;

import java.nio.file.Path;

/**
 * One server of the local stack as {@code stack up}, {@code down} and {@code status} report it.
 *
 * <pre>{@code
 * for (ServerStatus s : LocalStack.at(dir).status().servers()) {
 *     System.out.println(s.line());   // "kafka     up        pid 4711    127.0.0.1:40123  started"
 * }
 * }</pre>
 *
 * @param server  the server's name: {@code kafka}, {@code registry}, {@code jobmanager}, {@code taskmanager-<n>}
 * @param state   what was found
 * @param pid     the process id, or -1 when there is none
 * @param port    the port, or 0 when unknown
 * @param address what clients use: {@code bootstrap.servers} or the registry URL; empty when unknown
 * @param logFile the server's log
 * @param note    what the command did or found ("started", "already running", "stale pid file removed", ...)
 */
public record ServerStatus(String server, State state, long pid, int port, String address, Path logFile, String note) {

    /** What was found for a server. */
    public enum State {
        /** The process is alive and answers on its port. */
        UP,
        /** The process is alive but does not answer (starting, or hung). */
        NOT_ANSWERING,
        /** No process: never started or stopped. */
        DOWN,
        /** A PID file names a process that is gone (or is another program now). */
        STALE;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /** One aligned line for the command line. */
    public String line() {
        return line(9);
    }

    /** One line with the server's name padded to {@code nameWidth}, so that lines of longer names stay aligned. */
    public String line(int nameWidth) {
        return String.format("%-" + Math.max(1, nameWidth) + "s %-13s %-11s %-42s %s", server, state.label(),
                pid > 0 ? "pid " + pid : "-", address.isEmpty() ? "-" : address, note).stripTrailing();
    }
}
