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
 * {@code java} processes on 127.0.0.1, started in parallel; with {@link StackOptions#cluster()} also a Flink session
 * cluster of a JobManager and N TaskManagers ({@link FlinkCluster}), each a process of its own.
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
    /** The servers every stack has, in start order; the Flink servers of a cluster come after them. */
    static final List<String> SERVERS = List.of(KafkaBroker.SERVER, ApicurioRegistry.SERVER);
    /** The cluster's own files under the state directory: conf/, checkpoints/, tmp/. */
    static final String FLINK_DIR = "flink";
    /** Where {@code weightstream job} keeps its checkpoints by default (per consumer group); purged with the data. */
    static final String JOB_CHECKPOINTS_DIR = "flink-checkpoints";
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

    /**
     * {@link #start(Path)} with options; with {@link StackOptions#cluster()} the Flink cluster starts too (in
     * {@code workDir/flink}, in parallel with the broker and the registry) and {@link RunningStack#flink()} has it.
     */
    public static RunningStack start(Path workDir, StackOptions options) {
        StackHome home = StackHome.locate();
        if (options.cluster()) {
            home.requireFlink();
        }
        StackState files = new StackState(workDir);
        long t0 = System.nanoTime();
        ExecutorService pool = daemonPool(1);
        Future<FlinkCluster> flink = options.cluster()
                ? pool.submit(() -> FlinkCluster.builder().stackHome(home).workDir(files.workDir(FLINK_DIR))
                        .restPort(options.flinkPort()).taskManagers(options.taskManagers())
                        .gpuTaskManagers(options.gpuTaskManagers()).gpuIndices(options.gpuIndices()).slots(options.slots())
                        .readyTimeout(options.readyTimeout()).start())
                : null;
        try {
            Started started;
            try {
                started = startBoth(
                        () -> kafkaBuilder(home, files, options).port(options.kafkaPort()).start(),
                        () -> registryBuilder(home, files, options).port(options.registryPort()).start(),
                        options, true, true);
            } catch (RuntimeException e) {
                if (flink != null) {
                    try {
                        flink.get().close();
                    } catch (ExecutionException | RuntimeException f) {
                        e.addSuppressed(f);
                    }
                }
                throw e;
            }
            FlinkCluster cluster = null;
            if (flink != null) {
                try {
                    cluster = flink.get();
                } catch (ExecutionException e) {
                    ServerProcess.stopAll(List.of(started.kafka.process(), started.registry.process()), Duration.ofSeconds(10));
                    throw unwrap(e);
                }
            }
            return new RunningStack(files.dir(), started.kafka, started.registry, cluster, started.createdTopics,
                    Duration.ofNanos(System.nanoTime() - t0));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while starting the stack", e);
        } finally {
            pool.shutdown();
        }
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
        if (options.cluster()) {
            home.requireFlink();
        }
        ExecutorService flinkPool = daemonPool(1);
        try (Closeable lock = state.lock()) {
            Properties props = state.readProperties();
            // the cluster starts beside the broker and the registry: `up` starts no job, so nothing in it waits on Kafka
            Future<FlinkUp> flink = flinkPool.submit(() -> options.cluster() ? upFlink(home, options, props) : runningFlink(props));
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
                try {
                    undoFlink(awaitFlink(flink));
                } catch (RuntimeException f) {
                    e.addSuppressed(f);
                }
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
            FlinkUp flinkUp;
            try {
                flinkUp = awaitFlink(flink);
            } catch (RuntimeException e) {
                synchronized (propertiesLock) {
                    state.writeProperties(props);
                }
                throw new StackException(e.getMessage() + System.lineSeparator() + "(the Flink cluster did not start; Kafka and the"
                        + " registry run: see `stack status`, stop them with `stack down`)", e);
            }
            synchronized (propertiesLock) {
                if (found.size() < SERVERS.size() || !flinkUp.started().isEmpty()) {
                    props.setProperty("started.at", Instant.now().toString());
                }
                state.writeProperties(props);
            }
            StackInfo info = info(started.kafka.port(), started.registry.port(), started.kafka.process().pid(),
                    started.registry.process().pid());
            List<ServerStatus> servers = List.of(
                    new ServerStatus(KafkaBroker.SERVER, ServerStatus.State.UP, info.kafkaPid(), info.kafkaPort(),
                            info.bootstrapServers(), state.logFile(KafkaBroker.SERVER), notes.get(KafkaBroker.SERVER)),
                    new ServerStatus(ApicurioRegistry.SERVER, ServerStatus.State.UP, info.registryPid(), info.registryPort(),
                            info.registryUrl(), state.logFile(ApicurioRegistry.SERVER), notes.get(ApicurioRegistry.SERVER)));
            List<ServerStatus> all = new ArrayList<>(servers);
            all.addAll(flinkUp.servers());
            return new UpResult(info, all, started.createdTopics, Duration.ofNanos(System.nanoTime() - t0));
        } catch (IOException e) {
            throw new StackException("cannot release the lock of " + state.dir() + ": " + e.getMessage(), e);
        } finally {
            flinkPool.shutdown();
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
            List<String> flink = flinkServers(props);
            List<String> all = new ArrayList<>(SERVERS);
            all.addAll(flink);
            List<ServerProcess> toStop = new ArrayList<>();
            Map<String, ServerStatus> out = new LinkedHashMap<>();
            for (String server : all) {
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
            // the cluster first: its jobs must not see Kafka go away (they would fail and restart for nothing); a
            // stopped JobManager suspends its jobs and keeps their last checkpoints for the next submission
            List<ServerProcess> flinkProcesses = toStop.stream().filter(p -> flink.contains(p.name())).toList();
            List<ServerProcess> coreProcesses = toStop.stream().filter(p -> !flink.contains(p.name())).toList();
            List<ServerProcess> ordered = new ArrayList<>(flinkProcesses);
            ordered.addAll(coreProcesses);
            List<Boolean> clean = new ArrayList<>(ServerProcess.stopAll(flinkProcesses, STOP_GRACE));
            clean.addAll(ServerProcess.stopAll(coreProcesses, STOP_GRACE));
            for (int i = 0; i < ordered.size(); i++) {
                ServerProcess p = ordered.get(i);
                out.put(p.name(), new ServerStatus(p.name(), ServerStatus.State.DOWN, p.pid(), state.port(props, p.name() + ".port"),
                        "", p.logFile(), clean.get(i) ? "stopped" : "killed after " + STOP_GRACE.toSeconds() + " s"));
            }
            for (String server : all) {
                state.deletePid(server);
                props.remove(server + ".cds.pending");
            }
            if (purge) {
                for (String server : SERVERS) {
                    deleteTree(state.workDir(server));
                }
                // the jobs' checkpoints hold Kafka offsets of the records just deleted: they go too
                deleteTree(state.workDir(FLINK_DIR));
                deleteTree(state.workDir(JOB_CHECKPOINTS_DIR));
                Files.deleteIfExists(state.propertiesFile());
            } else if (ownFormat && Files.exists(state.propertiesFile())) {
                state.writeProperties(props);
            }
            List<ServerStatus> result = new ArrayList<>();
            all.forEach(s -> result.add(out.get(s)));
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
        List<FlinkJobStatus> jobs = new ArrayList<>();
        servers.addAll(flinkStatus(props, jobs));
        return new StackStatus(servers, topics, jobs);
    }

    /**
     * The REST URL of this stack's Flink JobManager ({@code http://127.0.0.1:<port>}), if it runs (this stack's
     * process) and answers.
     */
    public Optional<String> clusterRestUrl() {
        Properties props = state.readProperties();
        int port = state.port(props, FlinkCluster.JOB_MANAGER + ".port");
        if (state.running(FlinkCluster.JOB_MANAGER).isEmpty() || port == 0
                || !new FlinkRest(FlinkCluster.restUrl(port)).answers()) {
            return Optional.empty();
        }
        return Optional.of(FlinkCluster.restUrl(port));
    }

    /** The directory where {@code weightstream job} keeps the checkpoints of consumer group {@code groupId} by default. */
    public Path jobCheckpointDir(String groupId) {
        return state.workDir(JOB_CHECKPOINTS_DIR).resolve(groupId);
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


    // ---------------------------------------------------------------- the Flink cluster

    /** What {@link #up} did to the cluster: one status per Flink server, and the processes it started. */
    private record FlinkUp(List<ServerStatus> servers, List<ServerProcess> started) {
    }

    private FlinkCluster.Settings flinkSettings(StackHome home, StackOptions options, int restPort, int rpcPort) {
        return new FlinkCluster.Settings(home, state.workDir(FLINK_DIR), state::logFile, state::marker, restPort, rpcPort,
                options.slots(), FlinkCluster.DEFAULT_JOB_MANAGER_MEMORY, FlinkCluster.DEFAULT_TASK_MANAGER_MEMORY,
                FlinkCluster.DEFAULT_GPU_TASK_MANAGER_MEMORY, options.gpuIndices(), true, options.readyTimeout());
    }

    /**
     * Starts the JobManager unless it runs, then the TaskManagers of {@code options} that do not run (in parallel),
     * and waits until every one registered. Running ones are left alone; stale PID files are replaced.
     */
    private FlinkUp upFlink(StackHome home, StackOptions options, Properties props) {
        List<ServerStatus> out = new ArrayList<>();
        List<ServerProcess> started = new ArrayList<>();
        try {
            String jm = FlinkCluster.JOB_MANAGER;
            Optional<ServerProcess> runningJm = state.running(jm);
            FlinkCluster.Settings settings;
            ServerProcess jobManager;
            String jmNote;
            if (runningJm.isPresent()) {
                int rest = state.port(props, jm + ".port");
                if (options.flinkPort() != 0 && options.flinkPort() != rest) {
                    throw new StackException("the Flink JobManager already runs (pid " + runningJm.get().pid() + ") with REST port "
                            + rest + ", not " + options.flinkPort() + "; run `stack down` first to change its port");
                }
                settings = flinkSettings(home, options, rest, state.port(props, jm + ".rpc.port"));
                FlinkCluster.awaitJobManager(runningJm.get(), rest, options.readyTimeout());
                jobManager = runningJm.get();
                jmNote = "already running";
            } else {
                jmNote = staleNote(jm);
                checkRequestedPortFree(jm, options.flinkPort());
                FlinkCluster.Settings wanted = flinkSettings(home, options, portFor(options.flinkPort(), state.port(props, jm + ".port")),
                        portFor(0, state.port(props, jm + ".rpc.port")));
                FlinkCluster.Started s = FlinkCluster.startJobManager(wanted, (process, rest, rpc) -> {
                    started.add(process);
                    synchronized (propertiesLock) {
                        state.writePid(jm, process.pid());
                        props.setProperty(jm + ".port", Integer.toString(rest));
                        props.setProperty(jm + ".rpc.port", Integer.toString(rpc));
                        props.setProperty("flink.rest.url", FlinkCluster.restUrl(rest));
                        state.writeProperties(props);
                    }
                });
                settings = s.settings();
                jobManager = s.jobManager();
            }
            out.add(new ServerStatus(jm, ServerStatus.State.UP, jobManager.pid(), settings.restPort(),
                    FlinkCluster.restUrl(settings.restPort()), state.logFile(jm), jmNote));

            Map<String, ServerProcess> all = new LinkedHashMap<>();
            Map<String, String> notes = new LinkedHashMap<>();
            List<String> toStart = new ArrayList<>();
            for (String tm : FlinkCluster.taskManagerNames(options.taskManagers(), options.gpuTaskManagers())) {
                Optional<ServerProcess> running = state.running(tm);
                if (running.isPresent()) {
                    all.put(tm, running.get());
                    notes.put(tm, "already running");
                } else {
                    notes.put(tm, staleNote(tm));
                    toStart.add(tm);
                }
            }
            Map<String, ServerProcess> launched = FlinkCluster.launchTaskManagers(settings, toStart);
            started.addAll(launched.values());
            synchronized (propertiesLock) {
                launched.forEach((name, p) -> state.writePid(name, p.pid()));
                props.setProperty("cluster.taskmanagers", Integer.toString(options.taskManagers()));
                props.setProperty("cluster.gpu.taskmanagers", Integer.toString(options.gpuTaskManagers()));
                state.writeProperties(props);
            }
            all.putAll(launched);
            FlinkCluster.awaitTaskManagers(settings, all);
            Map<String, FlinkRest.TaskManager> registered = registeredTaskManagers(settings.restPort());
            for (Map.Entry<String, ServerProcess> e : all.entrySet()) {
                out.add(new ServerStatus(e.getKey(), ServerStatus.State.UP, e.getValue().pid(), 0, "", state.logFile(e.getKey()),
                        notes.get(e.getKey()) + describe(registered.get(e.getKey()))));
            }
            return new FlinkUp(out, started);
        } catch (RuntimeException e) {
            undoFlink(new FlinkUp(out, started));
            throw e;
        }
    }

    /** Without {@code --cluster}: the Flink servers that run are reported and left alone; none runs: the stack has no cluster. */
    private FlinkUp runningFlink(Properties props) {
        List<ServerStatus> out = new ArrayList<>();
        for (String server : flinkServers(props)) {
            state.running(server).ifPresent(p -> out.add(new ServerStatus(server, ServerStatus.State.UP, p.pid(),
                    state.port(props, server + ".port"), server.equals(FlinkCluster.JOB_MANAGER)
                            ? FlinkCluster.restUrl(state.port(props, server + ".port")) : "", p.logFile(), "already running")));
        }
        if (out.isEmpty()) {
            synchronized (propertiesLock) {
                props.remove("cluster.taskmanagers");
                props.remove("cluster.gpu.taskmanagers");
            }
        }
        return new FlinkUp(out, List.of());
    }

    private FlinkUp awaitFlink(Future<FlinkUp> flink) {
        try {
            return flink.get();
        } catch (ExecutionException e) {
            throw unwrap(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while starting the Flink cluster", e);
        }
    }

    /** Stops the Flink processes {@code up} started and removes their PID files. */
    private void undoFlink(FlinkUp up) {
        ServerProcess.stopAll(up.started(), Duration.ofSeconds(10));
        for (ServerProcess p : up.started()) {
            state.deletePid(p.name());
        }
    }

    private String staleNote(String server) {
        if (state.hasPidFile(server)) {
            state.deletePid(server);
            return "started (stale pid file replaced)";
        }
        return "started";
    }

    /**
     * The Flink servers of this state directory: the JobManager and the TaskManagers that {@code up --cluster} asked
     * for (stack.properties), plus any with a PID file.
     */
    List<String> flinkServers(Properties props) {
        java.util.Set<String> tms = new java.util.TreeSet<>(LocalStack::compareServers);
        boolean cluster = props.containsKey("cluster.taskmanagers") || state.hasPidFile(FlinkCluster.JOB_MANAGER);
        if (cluster) {
            tms.addAll(FlinkCluster.taskManagerNames(state.port(props, "cluster.taskmanagers"),
                    state.port(props, "cluster.gpu.taskmanagers")));
        }
        try (java.util.stream.Stream<Path> files = Files.list(state.dir())) {
            files.map(p -> p.getFileName().toString())
                    .filter(f -> f.startsWith(FlinkCluster.TASK_MANAGER_PREFIX) && f.endsWith(".pid"))
                    .forEach(f -> tms.add(f.substring(0, f.length() - ".pid".length())));
        } catch (IOException e) {
            // no state directory yet: no servers
        }
        if (!cluster && tms.isEmpty()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        out.add(FlinkCluster.JOB_MANAGER);
        out.addAll(tms);
        return out;
    }

    /** taskmanager-2 before taskmanager-10, CPU ones before GPU ones. */
    private static int compareServers(String a, String b) {
        boolean ga = a.startsWith(FlinkCluster.GPU_TASK_MANAGER_PREFIX);
        boolean gb = b.startsWith(FlinkCluster.GPU_TASK_MANAGER_PREFIX);
        if (ga != gb) {
            return ga ? 1 : -1;
        }
        String na = a.replaceAll("\\D", "");
        String nb = b.replaceAll("\\D", "");
        if (!na.isEmpty() && !nb.isEmpty() && na.length() < 10 && nb.length() < 10) {
            return Integer.compare(Integer.parseInt(na), Integer.parseInt(nb));
        }
        return a.compareTo(b);
    }

    /** The status of each Flink server and, when the JobManager answers, the cluster's jobs (added to {@code jobs}). */
    private List<ServerStatus> flinkStatus(Properties props, List<FlinkJobStatus> jobs) {
        List<ServerStatus> out = new ArrayList<>();
        List<String> names = flinkServers(props);
        if (names.isEmpty()) {
            return out;
        }
        int restPort = state.port(props, FlinkCluster.JOB_MANAGER + ".port");
        String restUrl = restPort == 0 ? "" : FlinkCluster.restUrl(restPort);
        FlinkRest rest = restPort == 0 ? null : new FlinkRest(restUrl);
        boolean jmUp = false;
        Map<String, FlinkRest.TaskManager> registered = Map.of();
        for (String server : names) {
            Path log = state.logFile(server);
            long pid = state.readPid(server).orElse(-1);
            boolean isJm = server.equals(FlinkCluster.JOB_MANAGER);
            Optional<ServerProcess> running = state.running(server);
            if (running.isPresent()) {
                if (isJm) {
                    jmUp = rest != null && rest.answers();
                    if (jmUp) {
                        registered = registeredTaskManagers(restPort);
                        FlinkRest.Overview o = rest.overview();
                        out.add(new ServerStatus(server, ServerStatus.State.UP, pid, restPort, restUrl, log, String.format(
                                java.util.Locale.ROOT, "%d task managers, %d slots (%d free), %d jobs running", o.taskManagers(),
                                o.slotsTotal(), o.slotsAvailable(), o.jobsRunning())));
                    } else {
                        out.add(new ServerStatus(server, ServerStatus.State.NOT_ANSWERING, pid, restPort, restUrl, log,
                                "process alive but " + restUrl + " does not answer; see " + log));
                    }
                } else if (registered.containsKey(server)) {
                    out.add(new ServerStatus(server, ServerStatus.State.UP, pid, 0, "", log,
                            "registered" + describe(registered.get(server))));
                } else {
                    out.add(new ServerStatus(server, ServerStatus.State.NOT_ANSWERING, pid, 0, "", log, jmUp
                            ? "process alive but not registered at the JobManager; see " + log
                            : "process alive; the JobManager does not answer"));
                }
            } else if (state.hasPidFile(server)) {
                out.add(new ServerStatus(server, ServerStatus.State.STALE, pid, isJm ? restPort : 0, isJm ? restUrl : "", log,
                        pid > 0 ? "process " + pid + " is gone (stale pid file); see " + log : "unreadable pid file"));
            } else {
                out.add(new ServerStatus(server, ServerStatus.State.DOWN, -1, isJm ? restPort : 0, "", log, "not running"));
            }
        }
        if (jmUp) {
            try {
                List<FlinkRest.Job> all = rest.jobs();
                for (FlinkRest.Job j : all.subList(0, Math.min(all.size(), 10))) {
                    boolean over = switch (j.state()) {
                        case "FINISHED", "CANCELED", "FAILED" -> true;
                        default -> false;
                    };
                    jobs.add(new FlinkJobStatus(j, over ? Optional.empty() : Optional.of(rest.checkpoints(j.id()))));
                }
            } catch (StackException e) {
                // the JobManager went away meanwhile: its status line says so next time
            }
        }
        return out;
    }

    private static Map<String, FlinkRest.TaskManager> registeredTaskManagers(int restPort) {
        Map<String, FlinkRest.TaskManager> out = new LinkedHashMap<>();
        try {
            new FlinkRest(FlinkCluster.restUrl(restPort)).taskManagers().forEach(tm -> out.put(tm.id(), tm));
        } catch (StackException e) {
            // not answering: none registered
        }
        return out;
    }

    private static String describe(FlinkRest.TaskManager tm) {
        if (tm == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(", ").append(tm.slots()).append(tm.slots() == 1 ? " slot" : " slots")
                .append(" (").append(tm.freeSlots()).append(" free)");
        tm.externalResources().forEach((k, v) -> b.append(", ").append(k).append(' ').append(v % 1 == 0 ? Long.toString(v.longValue()) : v));
        return b.toString();
    }

    private static ExecutorService daemonPool(int threads) {
        return Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "weightstream-stack-flink");
            t.setDaemon(true);
            return t;
        });
    }

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
