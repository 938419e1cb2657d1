package io.weightstream.stack;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;

/**
 * A real single-node Kafka 4.1 broker in KRaft mode (broker and controller in one JVM), run as a separate
 * {@code java} process from the jars staged in {@code deploy/target/stack/kafka/libs}. It listens on 127.0.0.1 only,
 * keeps its data under a work directory, accepts records up to {@link #MAX_MESSAGE_BYTES}, and is configured for
 * one node (replication factor 1 and min ISR 1 for every internal topic, so transactions and consumer groups work).
 *
 * <pre>{@code
 * try (KafkaBroker broker = KafkaBroker.builder().workDir(dir).start()) {   // blocks until the broker answers
 *     String bootstrap = broker.bootstrapServers();                          // "127.0.0.1:40123"
 * }                                                                          // SIGTERM, then SIGKILL after 30 s
 * }</pre>
 */
public final class KafkaBroker implements AutoCloseable {
    /** Largest record batch the broker accepts ({@code message.max.bytes}, {@code replica.fetch.max.bytes}). */
    public static final int MAX_MESSAGE_BYTES = 64 << 20;
    static final String SERVER = "kafka";
    static final String DEFAULT_HEAP = "768m";
    private static final int START_ATTEMPTS = 3;

    private final ServerProcess process;
    private final int port;
    private final int controllerPort;
    private final Duration stopGrace;

    private KafkaBroker(ServerProcess process, int port, int controllerPort, Duration stopGrace) {
        this.process = process;
        this.port = port;
        this.controllerPort = controllerPort;
        this.stopGrace = stopGrace;
    }

    /** A broker this code did not start in this JVM (found by PID for {@code stack up}). */
    static KafkaBroker attach(ServerProcess process, int port, int controllerPort, Duration stopGrace) {
        return new KafkaBroker(process, port, controllerPort, stopGrace);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** {@code 127.0.0.1:<port>}, the value for the clients' {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return Ports.HOST + ":" + port;
    }

    public int port() {
        return port;
    }

    public int controllerPort() {
        return controllerPort;
    }

    public ServerProcess process() {
        return process;
    }

    public Path logFile() {
        return process.logFile();
    }

    /** Stops the broker (SIGTERM, a grace period, then SIGKILL). */
    @Override
    public void close() {
        process.stop(stopGrace);
    }

    /**
     * Waits until the broker on 127.0.0.1:{@code port} answers a cluster description (one node), or throws a
     * {@link StackException} naming {@code process}'s log when it exits or {@code timeout} passes.
     */
    static void awaitReady(ServerProcess process, int port, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        // plain TCP first: cheap to repeat, while the Admin client would back off between attempts
        while (!Ports.answers(port, 200)) {
            process.checkAlive();
            if (System.nanoTime() > deadline) {
                throw process.notReady("did not open port " + port + " within " + timeout.toSeconds() + " s", null);
            }
            ServerProcess.sleep(50);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, Ports.HOST + ":" + port);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "200");
        try (Admin admin = Admin.create(props)) {
            while (true) {
                long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
                try {
                    if (!admin.describeCluster().nodes().get(Math.min(left, 5000), TimeUnit.MILLISECONDS).isEmpty()) {
                        return;
                    }
                } catch (ExecutionException | TimeoutException e) {
                    if (System.nanoTime() > deadline) {
                        throw process.notReady("did not answer describeCluster within " + timeout.toSeconds() + " s", e);
                    }
                }
                process.checkAlive();
                ServerProcess.sleep(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while waiting for " + process, process.logFile(), e);
        }
    }

    /** Configures and starts a {@link KafkaBroker}; only {@link #workDir} is required. */
    public static final class Builder {
        private StackHome stackHome;
        private Path workDir;
        private Path logFile;
        private int port;
        private int controllerPort;
        private String heap = DEFAULT_HEAP;
        private final Map<String, String> overrides = new LinkedHashMap<>();
        private final List<String> jvmOptions = new ArrayList<>();
        private Duration readyTimeout = Duration.ofSeconds(120);
        private Duration stopGrace = Duration.ofSeconds(30);
        private boolean detached;
        private String marker;
        private ServerProcess.LaunchListener launchListener = ServerProcess.LaunchListener.NONE;

        private Builder() {
        }

        /** The staged servers (default: {@link StackHome#locate()}). */
        public Builder stackHome(StackHome stackHome) {
            this.stackHome = Objects.requireNonNull(stackHome, "stackHome");
            return this;
        }

        /** Holds {@code data/} (the log dirs), {@code server.properties} and {@code log4j2.properties}. Required. */
        public Builder workDir(Path workDir) {
            this.workDir = Objects.requireNonNull(workDir, "workDir").toAbsolutePath();
            return this;
        }

        /** The broker's stdout and stderr (default {@code <workDir>/kafka.log}; a previous one becomes {@code .1}). */
        public Builder logFile(Path logFile) {
            this.logFile = Objects.requireNonNull(logFile, "logFile").toAbsolutePath();
            return this;
        }

        /** Client port on 127.0.0.1; 0 (the default) picks a free one. */
        public Builder port(int port) {
            Ports.check("kafka port", port);
            this.port = port;
            return this;
        }

        /** KRaft controller port on 127.0.0.1; 0 (the default) picks a free one. */
        public Builder controllerPort(int controllerPort) {
            Ports.check("kafka controller port", controllerPort);
            this.controllerPort = controllerPort;
            return this;
        }

        /** Maximum heap, a {@code -Xmx} value (default {@value #DEFAULT_HEAP}). */
        public Builder heap(String heap) {
            if (!heap.matches("\\d+[kKmMgG]?")) {
                throw new IllegalArgumentException("heap must look like 768m or 2g, got '" + heap + "'");
            }
            this.heap = heap;
            return this;
        }

        /** A broker setting that replaces or adds to the defaults of {@link #serverProperties}. */
        public Builder config(String key, String value) {
            overrides.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** An extra option for the broker's JVM. */
        public Builder jvmOption(String option) {
            jvmOptions.add(Objects.requireNonNull(option, "option"));
            return this;
        }

        /** How long {@link #start()} waits for the broker to answer (default 120 s). */
        public Builder readyTimeout(Duration readyTimeout) {
            this.readyTimeout = positive(readyTimeout, "readyTimeout");
            return this;
        }

        /** How long {@link KafkaBroker#close()} waits after SIGTERM before SIGKILL (default 30 s). */
        public Builder stopGrace(Duration stopGrace) {
            this.stopGrace = positive(stopGrace, "stopGrace");
            return this;
        }

        /** Runs the broker in a session of its own so that it outlives this JVM (for {@code stack up}). */
        public Builder detached(boolean detached) {
            this.detached = detached;
            return this;
        }

        /** Identifies the broker's process in PID checks (default {@code kafka@<workDir>}). */
        Builder marker(String marker) {
            this.marker = marker;
            return this;
        }

        Builder onLaunch(ServerProcess.LaunchListener listener) {
            this.launchListener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Formats the storage on first use ({@code kafka.tools.StorageTool format}), starts {@code kafka.Kafka} and
         * waits until it answers. Ports picked here that another process takes first are picked again.
         */
        public KafkaBroker start() {
            if (workDir == null) {
                throw new IllegalStateException("KafkaBroker.builder(): workDir(...) is required");
            }
            StackHome home = stackHome != null ? stackHome : StackHome.locate();
            Path log = logFile != null ? logFile : workDir.resolve("kafka.log");
            String id = marker != null ? marker : SERVER + "@" + workDir;
            Path dataDir = workDir.resolve("data");
            try {
                Files.createDirectories(dataDir);
                Files.createDirectories(log.getParent());
                ServerProcess.rotate(log);
                Files.writeString(workDir.resolve("log4j2.properties"), LOG4J2, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new StackException("cannot prepare " + workDir + ": " + e.getMessage(), e);
            }
            List<Path> classpath = StackHome.jars(home.kafkaLibs());
            ClassDataArchive cds = ClassDataArchive.forServer(home, SERVER, classpath);
            for (int attempt = 1; ; attempt++) {
                int p = port != 0 ? port : Ports.free();
                int cp = controllerPort != 0 ? controllerPort : Ports.free();
                while (cp == p) {
                    cp = Ports.free();
                }
                Path config = writeServerProperties(p, cp, dataDir);
                if (!Files.exists(dataDir.resolve("meta.properties"))) {
                    format(home, cds, config, log);
                }
                List<String> cmd = new ArrayList<>();
                cmd.add(ServerProcess.javaBinary());
                cmd.add("-Xmx" + heap);
                cmd.addAll(ServerProcess.FAST_START);
                cmd.addAll(cds.serverOptions());
                cmd.add("-Djava.awt.headless=true");
                cmd.add("-Dlog4j2.configurationFile=" + workDir.resolve("log4j2.properties"));
                cmd.add(ServerProcess.markerOption(id));
                cmd.addAll(jvmOptions);
                cmd.add("-cp");
                cmd.add(home.kafkaLibs() + "/*");
                cmd.add("kafka.Kafka");
                cmd.add(config.toString());
                ServerProcess process = ServerProcess.launch(SERVER, cmd, workDir, log, detached, cds.pending());
                try {
                    launchListener.launched(process, p, cp);
                    awaitReady(process, p, readyTimeout);
                    return new KafkaBroker(process, p, cp, stopGrace);
                } catch (RuntimeException e) {
                    process.stop(Duration.ofSeconds(5));
                    boolean lostPortRace = (port == 0 || controllerPort == 0)
                            && process.logTail(200).contains("Address already in use");
                    if (!lostPortRace || attempt == START_ATTEMPTS) {
                        throw e;
                    }
                }
            }
        }

        private Path writeServerProperties(int p, int cp, Path dataDir) {
            Map<String, String> props = serverProperties(p, cp, dataDir);
            props.putAll(overrides);
            Path file = workDir.resolve("server.properties");
            try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                w.write("# written by io.weightstream.stack.KafkaBroker at each start\n");
                for (Map.Entry<String, String> e : props.entrySet()) {
                    w.write(e.getKey() + "=" + e.getValue() + "\n");
                }
            } catch (IOException e) {
                throw new StackException("cannot write " + file + ": " + e.getMessage(), e);
            }
            return file;
        }

        private void format(StackHome home, ClassDataArchive cds, Path config, Path log) {
            List<String> cmd = new ArrayList<>();
            cmd.add(ServerProcess.javaBinary());
            cmd.addAll(ServerProcess.FAST_START);
            cmd.addAll(cds.helperOptions());
            cmd.add("-Dlog4j2.configurationFile=" + workDir.resolve("log4j2.properties"));
            cmd.add("-cp");
            cmd.add(home.kafkaLibs() + "/*");
            cmd.add("kafka.tools.StorageTool");
            cmd.addAll(List.of("format", "-t", Uuid.randomUuid().toString(), "-c", config.toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            try {
                Process p = pb.start();
                p.getOutputStream().close();
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new StackException("formatting the Kafka storage took over 60 s; see " + log, log, null);
                }
                if (p.exitValue() != 0) {
                    throw new StackException("formatting the Kafka storage in " + workDir + " failed (exit " + p.exitValue()
                            + "); see " + log + ", which ends with:" + System.lineSeparator() + ServerProcess.tail(log, 15),
                            log, null);
                }
            } catch (IOException e) {
                throw new StackException("cannot run kafka.tools.StorageTool: " + e.getMessage(), log, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StackException("interrupted while formatting the Kafka storage", log, e);
            }
        }
    }

    /**
     * The broker settings of the local stack (before {@link Builder#config} overrides). One node: every internal
     * topic has replication factor 1; large records: {@link #MAX_MESSAGE_BYTES}.
     */
    static Map<String, String> serverProperties(int port, int controllerPort, Path dataDir) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@" + Ports.HOST + ":" + controllerPort);
        p.put("listeners", "PLAINTEXT://" + Ports.HOST + ":" + port + ",CONTROLLER://" + Ports.HOST + ":" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://" + Ports.HOST + ":" + port);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", dataDir.toString());
        p.put("num.partitions", "1");
        p.put("default.replication.factor", "1");
        p.put("min.insync.replicas", "1");
        p.put("offsets.topic.replication.factor", "1");
        // 4 instead of 50: a first consumer group or transaction need not create 50 partitions on a laptop
        p.put("offsets.topic.num.partitions", "4");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "4");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("message.max.bytes", Integer.toString(MAX_MESSAGE_BYTES));
        p.put("replica.fetch.max.bytes", Integer.toString(MAX_MESSAGE_BYTES));
        p.put("transaction.max.timeout.ms", "900000");
        // consumers in tests and demos join at once instead of after 3 s
        p.put("group.initial.rebalance.delay.ms", "0");
        // the cleaner's 128 MiB default dedupe buffer would take a sixth of the small heap
        p.put("log.cleaner.dedupe.buffer.size", Integer.toString(16 << 20));
        return p;
    }

    private static final String LOG4J2 = String.join("\n",
            "# written by io.weightstream.stack.KafkaBroker: everything at INFO to stdout, which goes to the log file",
            "rootLogger.level=INFO",
            "rootLogger.appenderRef.out.ref=out",
            "appender.out.type=Console",
            "appender.out.name=out",
            "appender.out.layout.type=PatternLayout",
            "appender.out.layout.pattern=[%d] %p %m (%c)%n",
            "logger.kafka.name=kafka",
            "logger.kafka.level=INFO",
            "logger.state.name=state.change.logger",
            "logger.state.level=WARN",
            "");

    private static Duration positive(Duration d, String what) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, got " + d);
        }
        return d;
    }
}
