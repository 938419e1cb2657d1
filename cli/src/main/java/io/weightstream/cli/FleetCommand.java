package io.weightstream.cli;

import io.weightstream.decoder.FleetStatus;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code weightstream fleet status}: which replica serves which version, from {@code weightstream.fleet}.
 *
 * <pre>{@code
 * ./weightstream fleet status
 * REPLICA  MODEL             SERVING  LAST EVENT  VERSION  LATENCY  AGE   MESSAGE
 * r1       all-minilm-l6-v2  v2       SWAPPED     v2       3.2 s    12 s  serving instead of v1
 * }</pre>
 */
@Command(name = "fleet", mixinStandardHelpOptions = true,
        description = "The serving fleet: which replica serves which version.",
        subcommands = {FleetCommand.Status.class})
public final class FleetCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Reads weightstream.fleet from the beginning (read_committed) and prints the latest state of "
                    + "each (model, replica): the version it serves, its last event with that event's version, latency "
                    + "and age. Exits when it has caught up.")
    static final class Status implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Endpoints endpoints;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
                description = "How long to try to read the topic to its end (default: ${DEFAULT-VALUE}).")
        int timeoutSeconds;

        @Override
        public Integer call() {
            List<FleetStatus.Replica> replicas = FleetStatus.read(endpoints.bootstrapServers(),
                    endpoints.registryClient(), Duration.ofSeconds(timeoutSeconds));
            PrintWriter out = spec.commandLine().getOut();
            if (replicas.isEmpty()) {
                out.println("no replica has reported yet (start one with ./weightstream serve --replica ID)");
                out.flush();
                return 0;
            }
            print(out, replicas, System.currentTimeMillis());
            return 0;
        }
    }

    static void print(PrintWriter out, List<FleetStatus.Replica> replicas, long nowMs) {
        String[] head = {"REPLICA", "MODEL", "SERVING", "LAST EVENT", "VERSION", "LATENCY", "AGE", "MESSAGE"};
        String[][] rows = new String[replicas.size()][];
        for (int i = 0; i < rows.length; i++) {
            FleetStatus.Replica r = replicas.get(i);
            rows[i] = new String[] {r.replica(), r.model(), r.servingVersion() == null ? "-" : r.servingVersion(),
                    r.lastEvent().name(), r.version() == null ? "-" : r.version(),
                    r.latencyMs() > 0 ? duration(r.latencyMs()) : "-", duration(Math.max(0, nowMs - r.timestampMs())),
                    r.message() == null ? "" : r.message()};
        }
        int[] width = new int[head.length];
        for (int c = 0; c < head.length - 1; c++) {
            width[c] = head[c].length();
            for (String[] row : rows) {
                width[c] = Math.max(width[c], row[c].length());
            }
        }
        StringBuilder fmt = new StringBuilder();
        for (int c = 0; c < head.length - 1; c++) {
            fmt.append("%-").append(width[c]).append("s  ");
        }
        fmt.append("%s%n");
        out.printf(fmt.toString(), (Object[]) head);
        for (String[] row : rows) {
            out.printf(fmt.toString(), (Object[]) row);
        }
        out.flush();
    }

    static String duration(long ms) {
        if (ms < 1000) {
            return ms + " ms";
        }
        if (ms < 60_000) {
            return String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
        }
        if (ms < 3_600_000) {
            return (ms / 60_000) + " min";
        }
        if (ms < 86_400_000) {
            return (ms / 3_600_000) + " h";
        }
        return (ms / 86_400_000) + " d";
    }
}
