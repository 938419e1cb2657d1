package io.weightstream.cli;

import io.weightstream.stack.FlinkJobStatus;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.ServerStatus;
import io.weightstream.stack.StackOptions;
import io.weightstream.stack.StackStatus;
import io.weightstream.stack.UpResult;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code weightstream stack up|down|status}: the local Kafka broker and schema registry, and with {@code --cluster} a
 * Flink session cluster (a JobManager and N TaskManagers), run detached so that they outlive the command, recorded in
 * a state directory.
 *
 * <pre>{@code
 * ./weightstream stack up                 # both servers on free ports (the previous ones when free)
 * ./weightstream stack up --cluster --taskmanagers 2
 * ./weightstream stack status             # servers, topics, and the cluster's task managers and jobs
 * ./weightstream stack down --purge       # stop, and forget topics and schemas
 * }</pre>
 */
@Command(name = "stack", mixinStandardHelpOptions = true,
        description = "Start, stop and inspect the local stack: a Kafka broker (KRaft) and Apicurio Registry on 127.0.0.1, "
                + "and with --cluster a Flink session cluster.",
        subcommands = {StackCommand.Up.class, StackCommand.Down.class, StackCommand.Status.class})
public final class StackCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The state directory option, shared by the subcommands. */
    static final class StateDir {
        @Option(names = "--state-dir", paramLabel = "DIR",
                description = "PID files, stack.properties, logs and data (default: $WEIGHTSTREAM_HOME/stack, else "
                        + "<checkout>/.stack, else ~/.weightstream/stack).")
        Path dir;

        LocalStack stack() {
            return dir != null ? LocalStack.at(dir) : LocalStack.atDefault();
        }
    }

    @Command(name = "up", mixinStandardHelpOptions = true,
            description = "Starts the servers that are not running (detached) and creates the weightstream topics; "
                    + "a running stack is left as it is.")
    static final class Up implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        StateDir stateDir = new StateDir();

        @Option(names = "--kafka-port", paramLabel = "PORT", defaultValue = "0",
                description = "Broker port on 127.0.0.1 (default: the previous one if free, else a free one).")
        int kafkaPort;

        @Option(names = "--registry-port", paramLabel = "PORT", defaultValue = "0",
                description = "Registry HTTP port on 127.0.0.1 (default: the previous one if free, else a free one).")
        int registryPort;

        @Option(names = "--partitions", paramLabel = "N", defaultValue = "4",
                description = "Partitions of weightstream.layers and weightstream.compressed when created (default: ${DEFAULT-VALUE}).")
        int partitions;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "120",
                description = "How long to wait for each server to answer (default: ${DEFAULT-VALUE}).")
        int timeoutSeconds;

        @Option(names = "--cluster",
                description = "Also start a Flink session cluster: a JobManager (REST API on 127.0.0.1) and --taskmanagers "
                        + "TaskManagers, each a process of its own. Submit the job with `weightstream job --cluster`.")
        boolean cluster;

        @Option(names = "--taskmanagers", paramLabel = "N",
                description = "CPU TaskManagers of the cluster (default: 1, or 0 when only --gpu-taskmanagers is given; "
                        + "implies --cluster).")
        Integer taskManagers;

        @Option(names = "--gpu-taskmanagers", paramLabel = "N", defaultValue = "0",
                description = "GPU TaskManagers, declaring Flink's external resource 'gpu' (default: ${DEFAULT-VALUE}; "
                        + "implies --cluster). Run the job with -o gpu.resource=true to place GPU methods on them.")
        int gpuTaskManagers;

        @Option(names = "--gpu-indices", paramLabel = "I,J", split = ",",
                description = "CUDA device indices handed to the GPU TaskManagers in turn (default: each asks nvidia-smi).")
        List<String> gpuIndices = List.of();

        @Option(names = "--slots", paramLabel = "N", defaultValue = "4",
                description = "Task slots per TaskManager (default: ${DEFAULT-VALUE}).")
        int slots;

        @Option(names = "--flink-port", paramLabel = "PORT", defaultValue = "0",
                description = "The JobManager's REST port on 127.0.0.1 (default: the previous one if free, else a free one).")
        int flinkPort;

        @Override
        public Integer call() {
            boolean withCluster = cluster || taskManagers != null || gpuTaskManagers > 0;
            StackOptions options = StackOptions.builder()
                    .kafkaPort(kafkaPort)
                    .registryPort(registryPort)
                    .chunkPartitions(partitions)
                    .readyTimeout(Duration.ofSeconds(timeoutSeconds))
                    .cluster(withCluster)
                    .taskManagers(taskManagers != null ? taskManagers : gpuTaskManagers > 0 && !cluster ? 0 : 1)
                    .gpuTaskManagers(gpuTaskManagers)
                    .gpuIndices(gpuIndices)
                    .slots(slots)
                    .flinkPort(flinkPort)
                    .build();
            UpResult up = stateDir.stack().up(options);
            PrintWriter out = spec.commandLine().getOut();
            printServers(out, up.servers());
            if (!up.createdTopics().isEmpty()) {
                out.println("topics    created " + String.join(", ", up.createdTopics()));
            }
            out.printf("stack up in %.1f s (state: %s)%n", up.elapsed().toMillis() / 1000.0, up.stack().stateDir());
            return 0;
        }
    }

    @Command(name = "down", mixinStandardHelpOptions = true,
            description = "Stops the servers by PID (the Flink cluster first; SIGTERM, then SIGKILL after 30 s) and removes "
                    + "their PID files. A stopped JobManager keeps its jobs' last checkpoints: `weightstream job --cluster` "
                    + "resumes from them.")
    static final class Down implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        StateDir stateDir = new StateDir();

        @Option(names = "--purge", description = "Also delete the data: topics, records, schemas and the jobs' checkpoints (logs stay).")
        boolean purge;

        @Override
        public Integer call() {
            long t0 = System.nanoTime();
            LocalStack stack = stateDir.stack();
            List<ServerStatus> servers = stack.down(purge);
            PrintWriter out = spec.commandLine().getOut();
            printServers(out, servers);
            out.printf("stack down in %.1f s%s (state: %s)%n", (System.nanoTime() - t0) / 1e9,
                    purge ? ", data deleted" : "", stack.stateDir());
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Shows each server (pid, address, up or down), which weightstream topics exist, and the Flink "
                    + "cluster's task managers and jobs. Exit code 0 when all servers are up, 3 otherwise.")
    static final class Status implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        StateDir stateDir = new StateDir();

        @Override
        public Integer call() {
            LocalStack stack = stateDir.stack();
            StackStatus status = stack.status();
            PrintWriter out = spec.commandLine().getOut();
            printServers(out, status.servers());
            Map<String, Boolean> topics = status.topics();
            if (!topics.isEmpty()) {
                List<String> missing = topics.entrySet().stream().filter(e -> !e.getValue()).map(Map.Entry::getKey).toList();
                long present = topics.size() - missing.size();
                out.println("topics    " + present + "/" + topics.size() + " present"
                        + (missing.isEmpty() ? "" : ", missing: " + String.join(", ", missing)));
            }
            long now = System.currentTimeMillis();
            int width = nameWidth(status.servers());
            for (FlinkJobStatus job : status.jobs()) {
                out.println(job.line(now, width));
            }
            out.println("state     " + stack.stateDir());
            return status.isUp() ? 0 : 3;
        }
    }

    private static int nameWidth(List<ServerStatus> servers) {
        return Math.max(9, servers.stream().mapToInt(s -> s.server().length()).max().orElse(0));
    }

    private static void printServers(PrintWriter out, List<ServerStatus> servers) {
        int width = nameWidth(servers);
        for (ServerStatus s : servers) {
            out.println(s.line(width));
        }
        out.flush();
    }
}
