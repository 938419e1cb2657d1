package io.weightstream.stack;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;

/**
 * The local stack: a Kafka broker (KRaft, single node) and Apicurio Registry, real servers run as separate
 * {@code java} processes on 127.0.0.1, started in parallel.
 *
 * <p>Two ways to run it:
 * <ul>
 *   <li>attached, for tests: {@link #start(Path)} returns a {@link RunningStack}; closing it (or the JVM's exit)
 *       stops both servers;</li>
 *   <li>detached, for the command line: {@link #up} starts servers that outlive the calling JVM and records them
 *       in a state directory (PID files, {@code stack.properties}, logs, data); {@link #down} stops them,
 *       {@link #status} reports them, and {@link #current} gives other code the running stack's addresses.</li>
 * </ul>
 *
 * <pre>{@code
 * try (RunningStack stack = LocalStack.start(tempDir)) {          // a test
 *     String bootstrap = stack.bootstrapServers();
 * }
 *
 * LocalStack local = LocalStack.atDefault();                     // <repo>/.stack or $WEIGHTSTREAM_HOME/stack
 * UpResult up = local.up(StackOptions.defaults());
 * StackInfo stack = local.require();                              // what the publisher, job and demo call
 * local.down(false);
 * }</pre>
 */
public final class LocalStack {
    /** When set, the default state directory is {@code $WEIGHTSTREAM_HOME/stack}. */
    public static final String HOME_ENV = "WEIGHTSTREAM_HOME";
    /** The checkout the {@code weightstream} script runs from. */
    public static final String ROOT_PROPERTY = "weightstream.root";
    /** The servers in start order. A later issue adds the Flink JobManager and TaskManagers here (--cluster). */
    static final List<String> SERVERS = List.of(KafkaBroker.SERVER, ApicurioRegistry.SERVER);
    private static final Duration STOP_GRACE = Duration.ofSeconds(30);

    private final StackState state;
    private final Object propertiesLock = new Object();

    private LocalStack(Path stateDir) {
        this.state = new StackState(stateDir);
    }

    /** The detached stack recorded in {@code stateDir}. */
    public static LocalStack at(Path stateDir) {
        return new LocalStack(stateDir);
    }

    /** The detached stack of {@link #defaultStateDir()}. */
    public static LocalStack atDefault() {
        return at(defaultStateDir());
    }

    /**
     * {@code $WEIGHTSTREAM_HOME/stack} when that variable is set; else {@code .stack} in the weightstream checkout:
     * the one the system property {@code weightstream.root} names (the {@code weightstream} script passes it), the
     * one containing the working directory, or the one whose {@code deploy/target/stack} the system property
     * {@code weightstream.stack.home} names; else {@code ~/.weightstream/stack}.
     */
    public static Path defaultStateDir() {
        String home = System.getenv(HOME_ENV);
        if (home != null && !home.isBlank()) {
            return Path.of(home).toAbsolutePath().resolve("stack");
        }
        String root = System.getProperty(ROOT_PROPERTY);
        Optional<Path> repo = root != null && !root.isBlank()
                ? StackHome.repositoryRoot(Path.of(root))
                : StackHome.repositoryRoot(Path.of("").toAbsolutePath());
        String stackHome = System.getProperty(StackHome.PROPERTY);
        if (repo.isEmpty() && stackHome != null && !stackHome.isBlank()) {
            repo = StackHome.repositoryRoot(Path.of(stackHome));
        }
        return repo.map(r -> r.resolve(".stack"))
                .orElseGet(() -> Path.of(System.getProperty("user.home"), ".weightstream", "stack"));
    }

    /** The running stack of {@code stateDir}, if both servers are alive and answer. */
    public static Optional<StackInfo> current(Path stateDir) {
        return at(stateDir).current();
    }

    public Path stateDir() {
        return state.dir();
    }

    // ---------------------------------------------------------------- attached (tests)

    /** Starts a stack attached to this JVM with its files under {@code workDir}, and the topics; see {@link RunningStack}. */
    public static RunningStack start(Path workDir) {
        return start(workDir, StackOptions.defaults());
    }

    public static RunningStack start(Path workDir, StackOptions options) {
        StackHome home = StackHome.locate();
        StackState files = new StackState(workDir);
        long t0 = System.nanoTime();
        Started started = startBoth(
                () -> kafkaBuilder(home, files, options).port(options.kafkaPort()).start(),
                () -> registryBuilder(home, files, options).port(options.registryPort()).start(),
                options, true, true);
        return new RunningStack(files.dir(), started.kafka, started.registry, started.createdTopics,
                Duration.ofNanos(System.nanoTime() - t0));
    }

    // ---------------------------------------------------------------- detached (command line)

    /**
     * Starts whichever server of this state directory is not running, detached, waits until both answer and
     * creates the topics. A server already running is left alone (and reported so); a stale PID file is replaced.
     * Ports: those of {@code options}, else the ones of the previous run when free, else free ones.
     */
    public UpResult up(StackOptions options) {
        long t0 = System.nanoTime();
        StackHome home = StackHome.locate();
        try (Closeable lock = state.lock()) {
            Properties props = state.readProperties();
            Map<String, String> notes = new LinkedHashMap<>();
            Map<String, ServerProcess> found = new LinkedHashMap<>();
            for (String server : SERVERS) {
                Optional<ServerProcess> running = state.running(server);
                if (running.isPresent()) {
                    int requested = server.equals(KafkaBroker.SERVER) ? options.kafkaPort() : options.registryPort();
                    int port = state.port(props, server + ".port");
                    if (requested != 0 && requested != port) {
                        throw new StackException(server + " already runs (pid " + running.get().pid() + ") on port " + port
                                + ", not " + requested + "; run `stack down` first to change its port");
                    }
                    found.put(server, running.get());
                    notes.put(server, "already running");
                } else {
                    if (state.hasPidFile(server)) {
                        state.deletePid(server);
                        notes.put(server, "started (stale pid file replaced)");
                    } else {
                        notes.put(server, "started");
                    }
                    checkRequestedPortFree(server, server.equals(KafkaBroker.SERVER) ? options.kafkaPort() : options.registryPort());
                }
            }
            Callable<KafkaBroker> kafka = found.containsKey(KafkaBroker.SERVER)
                    ? awaitKafka(found.get(KafkaBroker.SERVER), props, options)
                    : () -> kafkaBuilder(home, state, options)
                            .detached(true)
                            .port(portFor(options.kafkaPort(), state.port(props, "kafka.port")))
                            .controllerPort(portFor(0, state.port(props, "kafka.controller.port")))
                            .onLaunch((process, port, controllerPort) -> recordLaunch(props, process, port, controllerPort))
                            .start();
            Callable<ApicurioRegistry> registry = found.containsKey(ApicurioRegistry.SERVER)
                    ? awaitRegistry(found.get(ApicurioRegistry.SERVER), props, options)
                    : () -> registryBuilder(home, state, options)
                            .detached(true)
                            .port(portFor(options.registryPort(), state.port(props, "registry.port")))
                            .onLaunch((process, port, controllerPort) -> recordLaunch(props, process, port, 0))
                            .start();
            Started started;
            try {
                started = startBoth(kafka, registry, options, !found.containsKey(KafkaBroker.SERVER),
                        !found.containsKey(ApicurioRegistry.SERVER));
            } catch (RuntimeException e) {
                for (String server : SERVERS) {
                    if (!found.containsKey(server) && state.running(server).isEmpty()) {
                        state.deletePid(server); // the failed start stopped its server
                    }
                }
                synchronized (propertiesLock) {
                    state.writeProperties(props);
                }
                throw e;
            }
            if (found.size() < SERVERS.size()) {
                synchronized (propertiesLock) {
                    props.setProperty("started.at", Instant.now().toString());
                    state.writeProperties(props);
                }
            }
            StackInfo info = info(started.kafka.port(), started.registry.port(), started.kafka.process().pid(),
                    started.registry.process().pid());
            List<ServerStatus> servers = List.of(
                    new ServerStatus(KafkaBroker.SERVER, ServerStatus.State.UP, info.kafkaPid(), info.kafkaPort(),
                            info.bootstrapServers(), state.logFile(KafkaBroker.SERVER), notes.get(KafkaBroker.SERVER)),
                    new ServerStatus(ApicurioRegistry.SERVER, ServerStatus.State.UP, info.registryPid(), info.registryPort(),
                            info.registryUrl(), state.logFile(ApicurioRegistry.SERVER), notes.get(ApicurioRegistry.SERVER)));
            return new UpResult(info, servers, started.createdTopics, Duration.ofNanos(System.nanoTime() - t0));
        } catch (IOException e) {
            throw new StackException("cannot release the lock of " + state.dir() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Stops this state directory's servers by PID (SIGTERM, 30 s, SIGKILL) and removes their PID files. With
     * {@code purge}, also deletes their data (topics and schemas) and {@code stack.properties}; logs stay.
     */
    public List<ServerStatus> down(boolean purge) {
        try (Closeable lock = state.lock()) {
            Properties props;
            boolean ownFormat = true;
            try {
                props = state.readProperties();
            } catch (StackException e) {
                // a stack.properties this code cannot read must not keep its servers from being stopped by PID
                props = new Properties();
                ownFormat = false;
            }
            List<ServerProcess> toStop = new ArrayList<>();
            Map<String, ServerStatus> out = new LinkedHashMap<>();
            for (String server : SERVERS) {
                Path log = state.logFile(server);
                int port = state.port(props, server + ".port");
                long pid = state.readPid(server).orElse(-1);
                Optional<ServerProcess> running = state.running(server);
                if (running.isPresent()) {
                    toStop.add(running.get());
                } else if (state.hasPidFile(server)) {
                    out.put(server, new ServerStatus(server, ServerStatus.State.STALE, pid, port, "", log,
                            "was not running (stale pid file removed)"));
                } else {
                    out.put(server, new ServerStatus(server, ServerStatus.State.DOWN, -1, port, "", log, "was not running"));
                }
            }
            List<Boolean> clean = ServerProcess.stopAll(toStop, STOP_GRACE);
            for (int i = 0; i < toStop.size(); i++) {
                ServerProcess p = toStop.get(i);
                out.put(p.name(), new ServerStatus(p.name(), ServerStatus.State.DOWN, p.pid(), state.port(props, p.name() + ".port"),
                        "", p.logFile(), clean.get(i) ? "stopped" : "killed after " + STOP_GRACE.toSeconds() + " s"));
            }
            for (String server : SERVERS) {
                state.deletePid(server);
                props.remove(server + ".cds.pending");
            }
            if (purge) {
                for (String server : SERVERS) {
                    deleteTree(state.workDir(server));
                }
                Files.deleteIfExists(state.propertiesFile());
            } else if (ownFormat && Files.exists(state.propertiesFile())) {
                state.writeProperties(props);
            }
            List<ServerStatus> result = new ArrayList<>();
            SERVERS.forEach(s -> result.add(out.get(s)));
            return result;
        } catch (IOException e) {
            throw new StackException("cannot clean up " + state.dir() + ": " + e.getMessage(), e);
        }
    }

    /** Each server's state (PID alive, port answering) and, when the broker answers, which topics exist. */
    public StackStatus status() {
        Properties props = state.readProperties();
        List<ServerStatus> servers = new ArrayList<>();
        for (String server : SERVERS) {
            Path log = state.logFile(server);
            int port = state.port(props, server + ".port");
            String address = port == 0 ? "" : server.equals(KafkaBroker.SERVER) ? Ports.HOST + ":" + port : ApicurioRegistry.url(port);
            long pid = state.readPid(server).orElse(-1);
            Optional<ServerProcess> running = state.running(server);
            if (running.isPresent()) {
                boolean answers = server.equals(KafkaBroker.SERVER)
                        ? Ports.answers(port, 1000)
                        : ApicurioRegistry.answers(ApicurioRegistry.httpClient(), port);
                servers.add(new ServerStatus(server, answers ? ServerStatus.State.UP : ServerStatus.State.NOT_ANSWERING,
                        pid, port, address, log, answers ? "" : "process alive but port " + port + " does not answer; see " + log));
            } else if (state.hasPidFile(server)) {
                servers.add(new ServerStatus(server, ServerStatus.State.STALE, pid, port, address, log,
                        pid > 0 ? "process " + pid + " is gone (stale pid file); see " + log : "unreadable pid file"));
            } else {
                servers.add(new ServerStatus(server, ServerStatus.State.DOWN, -1, port, "", log, "not running"));
            }
        }
        Map<String, Boolean> topics = Map.of();
        if (servers.get(0).state() == ServerStatus.State.UP) {
            try (Admin admin = Admin.create(Topics.adminProperties(servers.get(0).address()))) {
                topics = Topics.presence(admin, Duration.ofSeconds(10));
            } catch (StackException e) {
                topics = Map.of();
            }
        }
        return new StackStatus(servers, topics);
    }

    /** The running stack's addresses, if both servers are alive (this stack's processes) and answer on their ports. */
    public Optional<StackInfo> current() {
        Properties props = state.readProperties();
        Optional<ServerProcess> kafka = state.running(KafkaBroker.SERVER);
        Optional<ServerProcess> registry = state.running(ApicurioRegistry.SERVER);
        int kafkaPort = state.port(props, "kafka.port");
        int registryPort = state.port(props, "registry.port");
        if (kafka.isEmpty() || registry.isEmpty() || !Ports.answers(kafkaPort, 1000) || !Ports.answers(registryPort, 1000)) {
            return Optional.empty();
        }
        return Optional.of(info(kafkaPort, registryPort, kafka.get().pid(), registry.get().pid()));
    }

    /** {@link #current()}, or a {@link StackException} that says how to start the stack. */
    public StackInfo require() {
        return current().orElseThrow(() -> new StackException("no local stack is running in " + state.dir()
                + "; start it with `./weightstream stack up`" + (state.dir().equals(defaultStateDir()) ? "" : " --state-dir " + state.dir())));
    }

    // ---------------------------------------------------------------- internals

    private StackInfo info(int kafkaPort, int registryPort, long kafkaPid, long registryPid) {
        return new StackInfo(Ports.HOST + ":" + kafkaPort, ApicurioRegistry.url(registryPort), kafkaPort, registryPort,
                kafkaPid, registryPid, state.dir());
    }

    private void recordLaunch(Properties props, ServerProcess process, int port, int controllerPort) {
        String server = process.name();
        synchronized (propertiesLock) {
            state.writePid(server, process.pid());
            props.setProperty(server + ".port", Integer.toString(port));
            if (server.equals(KafkaBroker.SERVER)) {
                props.setProperty("kafka.controller.port", Integer.toString(controllerPort));
                props.setProperty("bootstrap.servers", Ports.HOST + ":" + port);
            } else {
                props.setProperty("registry.url", ApicurioRegistry.url(port));
            }
            process.pendingArchive().ifPresentOrElse(
                    p -> props.setProperty(server + ".cds.pending", p.toString()),
                    () -> props.remove(server + ".cds.pending"));
            state.writeProperties(props);
        }
    }

    private static int portFor(int requested, int previous) {
        if (requested != 0) {
            return requested;
        }
        return previous != 0 && Ports.isFree(previous) ? previous : 0;
    }

    private static void checkRequestedPortFree(String server, int port) {
        if (port != 0 && !Ports.isFree(port)) {
            throw new StackException(server + " port " + port + " on " + Ports.HOST + " is in use by another program");
        }
    }

    private Callable<KafkaBroker> awaitKafka(ServerProcess process, Properties props, StackOptions options) {
        int port = state.port(props, "kafka.port");
        int controllerPort = state.port(props, "kafka.controller.port");
        return () -> {
            KafkaBroker.awaitReady(process, port, options.readyTimeout());
            return KafkaBroker.attach(process, port, controllerPort, STOP_GRACE);
        };
    }

    private Callable<ApicurioRegistry> awaitRegistry(ServerProcess process, Properties props, StackOptions options) {
        int port = state.port(props, "registry.port");
        return () -> {
            ApicurioRegistry.awaitReady(process, port, options.readyTimeout());
            return ApicurioRegistry.attach(process, port, STOP_GRACE);
        };
    }

    private static KafkaBroker.Builder kafkaBuilder(StackHome home, StackState files, StackOptions options) {
        return KafkaBroker.builder()
                .stackHome(home)
                .workDir(files.workDir(KafkaBroker.SERVER))
                .logFile(files.logFile(KafkaBroker.SERVER))
                .marker(files.marker(KafkaBroker.SERVER))
                .readyTimeout(options.readyTimeout())
                .stopGrace(STOP_GRACE);
    }

    private static ApicurioRegistry.Builder registryBuilder(StackHome home, StackState files, StackOptions options) {
        Path workDir = files.workDir(ApicurioRegistry.SERVER);
        return ApicurioRegistry.builder()
                .stackHome(home)
                .workDir(workDir)
                .dataDir(workDir.resolve("data"))
                .logFile(files.logFile(ApicurioRegistry.SERVER))
                .marker(files.marker(ApicurioRegistry.SERVER))
                .readyTimeout(options.readyTimeout())
                .stopGrace(STOP_GRACE);
    }

    private record Started(KafkaBroker kafka, ApicurioRegistry registry, List<String> createdTopics) {
    }

    /**
     * Runs both starts in parallel, then creates the topics as soon as the broker answers; if anything fails, stops
     * the servers this call started ({@code newKafka}, {@code newRegistry}) and throws the first failure.
     */
    private static Started startBoth(Callable<KafkaBroker> kafkaStart, Callable<ApicurioRegistry> registryStart,
            StackOptions options, boolean newKafka, boolean newRegistry) {
        ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "weightstream-stack-start");
            t.setDaemon(true);
            return t;
        });
        try {
            Future<KafkaBroker> kafka = pool.submit(kafkaStart);
            Future<ApicurioRegistry> registry = pool.submit(registryStart);
            KafkaBroker k = null;
            ApicurioRegistry r = null;
            RuntimeException failure = null;
            try {
                k = kafka.get();
            } catch (ExecutionException e) {
                failure = unwrap(e);
            }
            List<String> created = List.of();
            if (k != null && options.createTopics()) {
                try {
                    created = Topics.ensure(k.bootstrapServers(), options.chunkPartitions());
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            try {
                r = registry.get();
                if (options.createTopics()) {
                    ApicurioRegistry.configureSubjects(r.port());
                }
            } catch (ExecutionException e) {
                RuntimeException f = unwrap(e);
                if (failure == null) {
                    failure = f;
                } else {
                    failure.addSuppressed(f);
                }
            }
            if (failure != null) {
                List<ServerProcess> started = new ArrayList<>();
                if (k != null && newKafka) {
                    started.add(k.process());
                }
                if (r != null && newRegistry) {
                    started.add(r.process());
                }
                ServerProcess.stopAll(started, Duration.ofSeconds(10));
                throw failure;
            }
            return new Started(k, r, created);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while starting the stack", e);
        } finally {
            pool.shutdownNow();
        }
    }

    private static RuntimeException unwrap(ExecutionException e) {
        Throwable c = e.getCause();
        if (c instanceof RuntimeException re) {
            return re;
        }
        return new StackException(String.valueOf(c.getMessage()), c);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
