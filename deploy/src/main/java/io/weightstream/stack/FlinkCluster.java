package io.weightstream.stack;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A Flink 2.2 standalone session cluster of real processes on 127.0.0.1: one JobManager
 * ({@code StandaloneSessionClusterEntrypoint}) and N TaskManagers ({@code TaskManagerRunner}), each a separate
 * {@code java} process on the {@code lib/} staged from Maven Central in {@code deploy/target/stack/flink/lib} (there is
 * no flink-dist there). Memory settings come from Flink's own {@code BashJavaUtils}, as its shell scripts do.
 * Checkpoints go to {@code <workDir>/checkpoints} (a {@code file://} directory, which every TaskManager of one machine
 * shares) and are kept when a job is cancelled, so a resubmitted job resumes from them.
 *
 * <p>GPU TaskManagers ({@link Builder#gpuTaskManagers}) declare the external resource {@value #GPU_RESOURCE}
 * (Flink's external resource framework, with the driver in {@code plugins/gpu}); the compression job's
 * {@code gpu} slot-sharing group requests it with {@code gpu.resource=true}, so its operator lands on them.
 *
 * <pre>{@code
 * try (FlinkCluster flink = FlinkCluster.builder().workDir(dir).taskManagers(2).start()) {   // all registered
 *     String jobId = flink.submit(jobJar, List.of("--bootstrap.servers", bootstrap, ...), Optional.empty());
 *     flink.rest().job(jobId);                       // state, tasks running
 *     flink.taskManager("taskmanager-1").pid();      // kill -9 it to test failover
 * }                                                  // stops every process by PID
 * }</pre>
 */
public final class FlinkCluster implements AutoCloseable {
    /** The JobManager's server name (PID file, log, status line). */
    public static final String JOB_MANAGER = "jobmanager";
    /** TaskManagers are named (and their Flink resource ids are) {@code taskmanager-<n>} and {@code taskmanager-gpu-<n>}. */
    public static final String TASK_MANAGER_PREFIX = "taskmanager-";
    public static final String GPU_TASK_MANAGER_PREFIX = "taskmanager-gpu-";
    /** The external resource a GPU TaskManager declares (the compression job's slot-sharing group of the same name asks for it). */
    public static final String GPU_RESOURCE = "gpu";
    static final String GPU_DRIVER_FACTORY = "io.weightstream.flink.gpu.GpuDriverFactory";
    public static final String DEFAULT_JOB_MANAGER_MEMORY = "1024m";
    public static final String DEFAULT_TASK_MANAGER_MEMORY = "1600m";
    /**
     * Room for a default slot (2 slots: half the TaskManager) and the job's {@code gpu} group, which asks for 1 CPU
     * core and 1 GiB of task heap besides the GPU: 4096m gives about 2.7 GiB of task heap.
     */
    public static final String DEFAULT_GPU_TASK_MANAGER_MEMORY = "4096m";
    /**
     * Slots per TaskManager: the compression job of parallelism 2 takes 4 when its {@code gpu} slot-sharing group
     * exists (the {@code inr} codec is on the class path), so one TaskManager runs it, and one of two that survives a
     * failure takes it over whole.
     */
    public static final int DEFAULT_SLOTS = 4;
    private static final int START_ATTEMPTS = 3;
    /**
     * System properties of every TaskManager JVM: DJL (in {@code lib/}, for the {@code inr} codec) never downloads an
     * engine; it loads the PyTorch native library staged in {@code lib/}.
     */
    static final List<String> TASK_MANAGER_PROPERTIES = List.of("-Dai.djl.offline=true");
    /**
     * Environment of every TaskManager: one OpenMP thread per PyTorch operation. On a machine of few cores PyTorch's
     * default (a thread per core, per task) makes parallel slots fight over the cores: 10x slower here (DESIGN.md).
     */
    static final Map<String, String> TASK_MANAGER_ENV = Map.of("OMP_NUM_THREADS", "1");

    private final Settings settings;
    private final ServerProcess jobManager;
    private final Map<String, ServerProcess> taskManagers;
    private final Duration stopGrace;
    private volatile boolean closed;

    private FlinkCluster(Settings settings, ServerProcess jobManager, Map<String, ServerProcess> taskManagers, Duration stopGrace) {
        this.settings = settings;
        this.jobManager = jobManager;
        this.taskManagers = Collections.synchronizedMap(new LinkedHashMap<>(taskManagers));
        this.stopGrace = stopGrace;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** {@code http://127.0.0.1:<port>}: the REST API (jobs, TaskManagers, checkpoints) and job submission. */
    public String restUrl() {
        return restUrl(settings.restPort);
    }

    static String restUrl(int port) {
        return "http://" + Ports.HOST + ":" + port;
    }

    public int restPort() {
        return settings.restPort;
    }

    public FlinkRest rest() {
        return new FlinkRest(restUrl());
    }

    public ServerProcess jobManager() {
        return jobManager;
    }

    /** The TaskManager processes started by this object, by name, in start order (killed ones included). */
    public Map<String, ServerProcess> taskManagers() {
        synchronized (taskManagers) {
            return Map.copyOf(taskManagers);
        }
    }

    /** The TaskManager process named {@code name} ({@code taskmanager-1}, ...); throws if there is none. */
    public ServerProcess taskManager(String name) {
        ServerProcess p = taskManagers.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no TaskManager " + name + "; there are " + taskManagers.keySet());
        }
        return p;
    }

    /** The cluster's default checkpoint directory ({@code execution.checkpointing.dir}). */
    public Path checkpointDir() {
        return settings.checkpointDir();
    }

    /** The directory with {@code config.yaml}, as a Flink client's {@code FLINK_CONF_DIR}. */
    public Path confDir() {
        return settings.confDir();
    }

    /**
     * Submits a job jar with Flink's {@code CliFrontend run --detached} (see {@link FlinkClient}) and returns the job id
     * once the JobManager accepted it.
     *
     * @param fromCheckpoint a retained checkpoint or savepoint to resume from (claim mode), or empty
     */
    public String submit(Path jobJar, List<String> args, Optional<Path> fromCheckpoint) {
        return new FlinkClient(settings.home, restUrl(), settings.dir.resolve("client")).run(jobJar, args, fromCheckpoint);
    }

    /** Stops every process of the cluster by PID (SIGTERM, grace period, SIGKILL). Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<ServerProcess> all = new ArrayList<>();
        synchronized (taskManagers) {
            all.addAll(taskManagers.values());
        }
        all.add(jobManager);
        ServerProcess.stopAll(all, stopGrace);
    }

    // ---------------------------------------------------------------- start-up, shared with LocalStack

    /**
     * Where and how the cluster's processes run.
     *
     * @param dir        the cluster's own files: {@code conf/}, {@code checkpoints/}, {@code tmp/}
     * @param logFile    the log file of a server name
     * @param marker     the process marker of a server name ({@link ServerProcess#markerOption})
     * @param gpuIndices the GPU device indices handed to the GPU TaskManagers in turn; empty: each probes with nvidia-smi
     */
    record Settings(StackHome home, Path dir, Function<String, Path> logFile, Function<String, String> marker,
                    int restPort, int rpcPort, int slots, String jobManagerMemory, String taskManagerMemory,
                    String gpuTaskManagerMemory, List<String> gpuIndices, boolean detached, Duration readyTimeout) {
        Path confDir() {
            return dir.resolve("conf");
        }

        Path checkpointDir() {
            return dir.resolve("checkpoints");
        }

        Settings withPorts(int rest, int rpc) {
            return new Settings(home, dir, logFile, marker, rest, rpc, slots, jobManagerMemory, taskManagerMemory,
                    gpuTaskManagerMemory, gpuIndices, detached, readyTimeout);
        }

        Map<String, String> environment() {
            // the GPU driver is a plugin (FLINK_PLUGINS_DIR); FLINK_CONF_DIR for code that looks it up
            return Map.of("FLINK_PLUGINS_DIR", home.flinkPlugins().toString(), "FLINK_CONF_DIR", confDir().toString());
        }

        Map<String, String> taskManagerEnvironment() {
            Map<String, String> env = new LinkedHashMap<>(environment());
            env.putAll(TASK_MANAGER_ENV);
            return env;
        }
    }

    /**
     * The cluster's {@code config.yaml} (rewritten at each start of the JobManager): everything on 127.0.0.1, file
     * checkpoints under {@code dir} kept on cancellation, heap state, heartbeats short enough that a killed
     * TaskManager is noticed in seconds, slots spread over the TaskManagers.
     */
    static Map<String, String> config(Settings s) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("jobmanager.rpc.address", Ports.HOST);
        c.put("jobmanager.rpc.port", Integer.toString(s.rpcPort));
        c.put("jobmanager.bind-host", Ports.HOST);
        c.put("rest.address", Ports.HOST);
        c.put("rest.bind-address", Ports.HOST);
        c.put("rest.port", Integer.toString(s.restPort));
        c.put("taskmanager.host", Ports.HOST);
        c.put("taskmanager.bind-host", Ports.HOST);
        c.put("jobmanager.memory.process.size", s.jobManagerMemory);
        c.put("taskmanager.memory.process.size", s.taskManagerMemory);
        // keyed state is on the heap (HashMapStateBackend): managed memory would only take heap away from the tasks
        c.put("taskmanager.memory.managed.size", "64m");
        c.put("taskmanager.numberOfTaskSlots", Integer.toString(s.slots));
        // the tasks of a job go to as many TaskManagers as possible, so adding TaskManagers adds CPUs to a job
        c.put("taskmanager.load-balance.mode", "SLOTS");
        c.put("state.backend.type", "hashmap");
        c.put("execution.checkpointing.dir", fileUri(s.checkpointDir()));
        c.put("execution.checkpointing.savepoint-dir", fileUri(s.dir.resolve("savepoints")));
        c.put("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
        // a dead TaskManager's RPC fails at once (connection refused): 2 misses of a 2 s heartbeat mark it lost,
        // long before the 50 s default timeout; the timeout stays generous for GC pauses on a busy 2-core machine
        c.put("heartbeat.interval", "2000");
        c.put("heartbeat.timeout", "30000");
        // Flink's default with checkpoints is exponential-delay up to 1 min between attempts, reset only after an hour
        // of calm: a few quick failures after losing a TaskManager (attempts scheduled onto its slots before the
        // JobManager drops it) would leave the job idle for a minute. Attempts stay unlimited, backoff at most 10 s.
        c.put("restart-strategy.type", "exponential-delay");
        c.put("restart-strategy.exponential-delay.initial-backoff", "1 s");
        c.put("restart-strategy.exponential-delay.max-backoff", "10 s");
        c.put("restart-strategy.exponential-delay.reset-backoff-threshold", "2 min");
        c.put("io.tmp.dirs", s.dir.resolve("tmp").toString());
        c.put("blob.storage.directory", s.dir.resolve("tmp").toString());
        c.put("web.tmpdir", s.dir.resolve("tmp").toString());
        return c;
    }

    /** {@code file:///...} without the trailing slash {@link Path#toUri()} adds to existing directories. */
    static String fileUri(Path dir) {
        String uri = dir.toAbsolutePath().normalize().toUri().toString();
        return uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
    }

    /** Log4j 2 for the servers: INFO to stdout (the server's log file); Kafka's clients in the tasks at WARN. */
    private static final String SERVER_LOG4J = String.join("\n",
            "# written by io.weightstream.stack.FlinkCluster",
            // log4j's own hook would stop logging before Flink's shutdown hooks ran: the shutdown would go unlogged
            "shutdownHook=disable",
            "rootLogger.level=INFO",
            "rootLogger.appenderRef.out.ref=out",
            "appender.out.type=Console",
            "appender.out.name=out",
            "appender.out.layout.type=PatternLayout",
            "appender.out.layout.pattern=%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n",
            "logger.kafka.name=org.apache.kafka",
            "logger.kafka.level=WARN",
            "logger.pekko.name=org.apache.pekko",
            "logger.pekko.level=WARN",
            "");

    static void writeConfig(Settings s) {
        StringBuilder yaml = new StringBuilder("# written by io.weightstream.stack.FlinkCluster at each start of the JobManager\n");
        config(s).forEach((k, v) -> yaml.append(k).append(": ").append(yamlScalar(v)).append('\n'));
        try {
            Files.createDirectories(s.confDir());
            Files.createDirectories(s.checkpointDir());
            Files.createDirectories(s.dir.resolve("tmp"));
            Files.writeString(s.confDir().resolve("config.yaml"), yaml, StandardCharsets.UTF_8);
            Files.writeString(s.confDir().resolve("log4j2.properties"), SERVER_LOG4J, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new StackException("cannot write the Flink configuration in " + s.confDir() + ": " + e.getMessage(), e);
        }
    }

    private static String yamlScalar(String v) {
        return v.matches("[A-Za-z0-9_./:@-]*") && !v.isEmpty() ? v : "'" + v.replace("'", "''") + "'";
    }

    /** What {@code BashJavaUtils GET_JM_RESOURCE_PARAMS|GET_TM_RESOURCE_PARAMS} prints: JVM options and dynamic properties. */
    record ResourceParams(List<String> jvmOptions, List<String> dynamicProperties) {
        static ResourceParams compute(Settings s, boolean gpu) {
            return run(s, "GET_TM_RESOURCE_PARAMS", taskManagerProperties(s, gpu, 0));
        }

        static ResourceParams jobManager(Settings s) {
            return run(s, "GET_JM_RESOURCE_PARAMS", List.of());
        }

        private static ResourceParams run(Settings s, String what, List<String> dynamic) {
            List<String> cmd = new ArrayList<>();
            cmd.add(ServerProcess.javaBinary());
            cmd.addAll(ServerProcess.FAST_START);
            cmd.add("-Dlog4j2.level=WARN");
            cmd.add("-cp");
            cmd.add(s.home.flinkLib() + "/*");
            cmd.add("org.apache.flink.runtime.util.bash.BashJavaUtils");
            cmd.add(what);
            cmd.add("--configDir");
            cmd.add(s.confDir().toString());
            cmd.addAll(dynamic);
            String out = runTool(cmd, s.dir, Duration.ofSeconds(60), "BashJavaUtils " + what);
            List<String> results = out.lines().filter(l -> l.startsWith("BASH_JAVA_UTILS_EXEC_RESULT:"))
                    .map(l -> l.substring("BASH_JAVA_UTILS_EXEC_RESULT:".length()).trim()).toList();
            if (results.size() < 2) {
                throw new StackException("BashJavaUtils " + what + " printed no resource parameters:" + System.lineSeparator() + out);
            }
            // "-Xmx.. -Xms.." and "-D key=value -D key=value": no value holds a space (sizes in bytes, names)
            return new ResourceParams(List.of(results.get(results.size() - 2).split("\\s+")),
                    List.of(results.get(results.size() - 1).split("\\s+")));
        }
    }

    /**
     * The dynamic properties of one TaskManager: memory, and for a GPU one the external resource and its driver. The
     * amount is one GPU share per slot: Flink gives each default slot (a slot-sharing group without resource
     * requirements) its fraction of every resource of the TaskManager, extended ones included, so with an amount of 1
     * and 2 slots one default slot would leave half a GPU and the job's {@code gpu} group, which asks for a whole
     * one, could never be placed.
     */
    static List<String> taskManagerProperties(Settings s, boolean gpu, int gpuOrdinal) {
        List<String> d = new ArrayList<>();
        if (!gpu) {
            return d;
        }
        d.addAll(List.of("-D", "taskmanager.memory.process.size=" + s.gpuTaskManagerMemory));
        d.addAll(List.of("-D", "external-resources=" + GPU_RESOURCE));
        d.addAll(List.of("-D", "external-resource." + GPU_RESOURCE + ".amount=" + s.slots));
        d.addAll(List.of("-D", "external-resource." + GPU_RESOURCE + ".driver-factory.class=" + GPU_DRIVER_FACTORY));
        if (!s.gpuIndices.isEmpty()) {
            String index = s.gpuIndices.get(Math.floorMod(gpuOrdinal, s.gpuIndices.size()));
            d.addAll(List.of("-D", "external-resource." + GPU_RESOURCE + ".param.indices=" + index));
        }
        return d;
    }

    static String runTool(List<String> cmd, Path workDir, Duration timeout, String what) {
        try {
            Files.createDirectories(workDir);
            Process p = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readAllBytes();
            }
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new StackException(what + " took over " + timeout.toSeconds() + " s");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new StackException(what + " failed (exit " + p.exitValue() + "):" + System.lineSeparator() + tail(text, 30));
            }
            return text;
        } catch (IOException e) {
            throw new StackException("cannot run " + what + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while running " + what, e);
        }
    }

    private static String tail(String text, int lines) {
        List<String> all = text.lines().toList();
        return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private static List<String> javaCommand(Settings s, String server, ResourceParams params, boolean fastStart) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ServerProcess.javaBinary());
        cmd.addAll(params.jvmOptions());
        cmd.addAll(JvmOptions.opens());
        if (fastStart) {
            cmd.addAll(ServerProcess.FAST_START);
        }
        cmd.add("-Djava.awt.headless=true");
        cmd.add("-Dlog.file=" + s.logFile.apply(server));
        cmd.add("-Dlog4j.configurationFile=" + s.confDir().resolve("log4j2.properties"));
        cmd.add(ServerProcess.markerOption(s.marker.apply(server)));
        cmd.add("-cp");
        cmd.add(s.home.flinkLib() + "/*");
        return cmd;
    }

    /** Launches the JobManager (does not wait); the configuration must be written. */
    static ServerProcess launchJobManager(Settings s, ResourceParams params) {
        // C1 only: the JobManager coordinates (RPC, checkpoints), it runs no hot loops; it starts faster
        List<String> cmd = javaCommand(s, JOB_MANAGER, params, true);
        cmd.add("org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint");
        cmd.addAll(List.of("--configDir", s.confDir().toString(), "--executionMode", "cluster"));
        cmd.addAll(params.dynamicProperties());
        Path log = s.logFile.apply(JOB_MANAGER);
        rotate(log);
        return ServerProcess.launch(JOB_MANAGER, cmd, s.dir, s.environment(), log, s.detached, null);
    }

    /** Launches TaskManager {@code name} with the parameters of its profile (does not wait). */
    static ServerProcess launchTaskManager(Settings s, String name, ResourceParams params) {
        boolean gpu = name.startsWith(GPU_TASK_MANAGER_PREFIX);
        // full JIT: the codecs run here
        List<String> cmd = javaCommand(s, name, params, false);
        cmd.addAll(TASK_MANAGER_PROPERTIES);
        cmd.add("org.apache.flink.runtime.taskexecutor.TaskManagerRunner");
        cmd.addAll(List.of("--configDir", s.confDir().toString()));
        cmd.addAll(params.dynamicProperties());
        int ordinal = gpu ? Integer.parseInt(name.substring(GPU_TASK_MANAGER_PREFIX.length())) - 1 : 0;
        cmd.addAll(taskManagerProperties(s, gpu, ordinal));
        // the resource id names the TaskManager in the REST API, so its PID and its registration can be matched
        cmd.addAll(List.of("-D", "taskmanager.resource-id=" + name));
        Path log = s.logFile.apply(name);
        rotate(log);
        return ServerProcess.launch(name, cmd, s.dir, s.taskManagerEnvironment(), log, s.detached, null);
    }

    private static void rotate(Path log) {
        try {
            Files.createDirectories(log.getParent());
            ServerProcess.rotate(log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until the JobManager's REST API answers, or throws naming its log. */
    static void awaitJobManager(ServerProcess process, int restPort, Duration timeout) {
        FlinkRest rest = new FlinkRest(restUrl(restPort));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!(Ports.answers(restPort, 200) && rest.answers())) {
            process.checkAlive();
            if (System.nanoTime() > deadline) {
                throw process.notReady("did not answer GET " + rest.url() + "/overview within " + timeout.toSeconds() + " s", null);
            }
            ServerProcess.sleep(100);
        }
    }

    /**
     * Waits until every TaskManager of {@code processes} (by name) registered at the JobManager and reported its
     * slots (a TaskManager is listed a moment before its slot report arrives, with 0 slots).
     */
    static void awaitTaskManagers(Settings s, Map<String, ServerProcess> processes) {
        FlinkRest rest = new FlinkRest(restUrl(s.restPort));
        long deadline = System.nanoTime() + s.readyTimeout.toNanos();
        while (true) {
            Set<String> registered = rest.taskManagers().stream().filter(tm -> tm.slots() > 0)
                    .map(FlinkRest.TaskManager::id).collect(Collectors.toSet());
            if (registered.containsAll(processes.keySet())) {
                return;
            }
            for (Map.Entry<String, ServerProcess> e : processes.entrySet()) {
                if (!registered.contains(e.getKey())) {
                    e.getValue().checkAlive();
                    if (System.nanoTime() > deadline) {
                        throw e.getValue().notReady("did not register at the JobManager " + rest.url() + " within "
                                + s.readyTimeout.toSeconds() + " s", null);
                    }
                }
            }
            ServerProcess.sleep(100);
        }
    }

    /**
     * Starts the JobManager on {@code s}'s ports (0 = free ones, picked again when another process takes one
     * first), waits for its REST API, and returns the settings with the ports it got.
     */
    static Started startJobManager(Settings s, ServerProcess.LaunchListener listener) {
        for (int attempt = 1; ; attempt++) {
            int rest = s.restPort != 0 ? s.restPort : Ports.free();
            int rpc = s.rpcPort != 0 ? s.rpcPort : Ports.free();
            while (rpc == rest) {
                rpc = Ports.free();
            }
            Settings withPorts = s.withPorts(rest, rpc);
            writeConfig(withPorts);
            ResourceParams params = ResourceParams.jobManager(withPorts);
            ServerProcess process = launchJobManager(withPorts, params);
            try {
                listener.launched(process, rest, rpc);
                awaitJobManager(process, rest, s.readyTimeout);
                return new Started(withPorts, process);
            } catch (RuntimeException e) {
                process.stop(Duration.ofSeconds(5));
                String tail = process.logTail(300);
                boolean lostPortRace = (s.restPort == 0 || s.rpcPort == 0)
                        && (tail.contains("Address already in use") || tail.contains("BindException"));
                if (!lostPortRace || attempt == START_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    record Started(Settings settings, ServerProcess jobManager) {
    }

    /** The names of {@code cpu} CPU and {@code gpu} GPU TaskManagers: taskmanager-1.., taskmanager-gpu-1... */
    static List<String> taskManagerNames(int cpu, int gpu) {
        List<String> names = new ArrayList<>();
        for (int i = 1; i <= cpu; i++) {
            names.add(TASK_MANAGER_PREFIX + i);
        }
        for (int i = 1; i <= gpu; i++) {
            names.add(GPU_TASK_MANAGER_PREFIX + i);
        }
        return names;
    }

    /** Configures and starts a {@link FlinkCluster} attached to this JVM; only {@link #workDir} is required. */
    public static final class Builder {
        private StackHome stackHome;
        private Path workDir;
        private int restPort;
        private int rpcPort;
        private int taskManagers = 1;
        private int gpuTaskManagers;
        private List<String> gpuIndices = List.of();
        private int slots = DEFAULT_SLOTS;
        private String jobManagerMemory = DEFAULT_JOB_MANAGER_MEMORY;
        private String taskManagerMemory = DEFAULT_TASK_MANAGER_MEMORY;
        private String gpuTaskManagerMemory = DEFAULT_GPU_TASK_MANAGER_MEMORY;
        private Duration readyTimeout = Duration.ofSeconds(120);
        private Duration stopGrace = Duration.ofSeconds(30);

        private Builder() {
        }

        /** The staged stack (default: {@link StackHome#locate()}). */
        public Builder stackHome(StackHome stackHome) {
            this.stackHome = Objects.requireNonNull(stackHome, "stackHome");
            return this;
        }

        /** Holds {@code conf/}, {@code checkpoints/}, {@code tmp/} and the logs. Required. */
        public Builder workDir(Path workDir) {
            this.workDir = Objects.requireNonNull(workDir, "workDir").toAbsolutePath().normalize();
            return this;
        }

        /** REST port on 127.0.0.1; 0 (the default) picks a free one. */
        public Builder restPort(int restPort) {
            Ports.check("Flink REST port", restPort);
            this.restPort = restPort;
            return this;
        }

        /** JobManager RPC port on 127.0.0.1; 0 (the default) picks a free one. */
        public Builder rpcPort(int rpcPort) {
            Ports.check("Flink RPC port", rpcPort);
            this.rpcPort = rpcPort;
            return this;
        }

        /** CPU TaskManagers (default 1). */
        public Builder taskManagers(int taskManagers) {
            this.taskManagers = taskManagers;
            return this;
        }

        /** GPU TaskManagers, declaring the external resource {@value #GPU_RESOURCE} (default 0). */
        public Builder gpuTaskManagers(int gpuTaskManagers) {
            this.gpuTaskManagers = gpuTaskManagers;
            return this;
        }

        /** GPU device indices given to the GPU TaskManagers in turn; empty (the default): each asks nvidia-smi. */
        public Builder gpuIndices(List<String> gpuIndices) {
            this.gpuIndices = List.copyOf(gpuIndices);
            return this;
        }

        /** Task slots per TaskManager (default {@value #DEFAULT_SLOTS}). */
        public Builder slots(int slots) {
            this.slots = slots;
            return this;
        }

        /** {@code jobmanager.memory.process.size} (default {@value #DEFAULT_JOB_MANAGER_MEMORY}). */
        public Builder jobManagerMemory(String size) {
            this.jobManagerMemory = memory(size);
            return this;
        }

        /** {@code taskmanager.memory.process.size} of CPU TaskManagers (default {@value #DEFAULT_TASK_MANAGER_MEMORY}). */
        public Builder taskManagerMemory(String size) {
            this.taskManagerMemory = memory(size);
            return this;
        }

        /** {@code taskmanager.memory.process.size} of GPU TaskManagers (default {@value #DEFAULT_GPU_TASK_MANAGER_MEMORY}). */
        public Builder gpuTaskManagerMemory(String size) {
            this.gpuTaskManagerMemory = memory(size);
            return this;
        }

        /** How long to wait for the JobManager to answer and for each TaskManager to register (default 120 s). */
        public Builder readyTimeout(Duration readyTimeout) {
            if (readyTimeout == null || readyTimeout.isNegative() || readyTimeout.isZero()) {
                throw new IllegalArgumentException("readyTimeout must be positive, got " + readyTimeout);
            }
            this.readyTimeout = readyTimeout;
            return this;
        }

        /** How long {@link #close()} waits after SIGTERM before SIGKILL (default 30 s). */
        public Builder stopGrace(Duration stopGrace) {
            if (stopGrace == null || stopGrace.isNegative() || stopGrace.isZero()) {
                throw new IllegalArgumentException("stopGrace must be positive, got " + stopGrace);
            }
            this.stopGrace = stopGrace;
            return this;
        }

        static String memory(String size) {
            if (size == null || !size.matches("\\d+[kKmMgG]")) {
                throw new IllegalArgumentException("a memory size looks like 1600m or 2g, got '" + size + "'");
            }
            return size;
        }

        static void checkCounts(int taskManagers, int gpuTaskManagers, int slots) {
            if (taskManagers < 0 || gpuTaskManagers < 0 || taskManagers + gpuTaskManagers < 1) {
                throw new IllegalArgumentException("a Flink cluster needs at least one TaskManager, got " + taskManagers
                        + " CPU and " + gpuTaskManagers + " GPU TaskManagers");
            }
            if (taskManagers + gpuTaskManagers > 64) {
                throw new IllegalArgumentException("at most 64 TaskManagers on one machine, got " + (taskManagers + gpuTaskManagers));
            }
            if (slots < 1 || slots > 64) {
                throw new IllegalArgumentException("slots per TaskManager must be 1..64, got " + slots);
            }
        }

        /**
         * Starts the JobManager, then the TaskManagers in parallel, and returns once every TaskManager registered.
         * On failure every process started here is stopped.
         */
        public FlinkCluster start() {
            if (workDir == null) {
                throw new IllegalStateException("FlinkCluster.builder(): workDir(...) is required");
            }
            checkCounts(taskManagers, gpuTaskManagers, slots);
            StackHome home = stackHome != null ? stackHome : StackHome.locate();
            home.requireFlink();
            Path dir = workDir;
            Settings s = new Settings(home, dir, name -> dir.resolve(name + ".log"), name -> name + "@" + dir, restPort, rpcPort,
                    slots, jobManagerMemory, taskManagerMemory, gpuTaskManagerMemory, gpuIndices, false, readyTimeout);
            Started started = startJobManager(s, ServerProcess.LaunchListener.NONE);
            Map<String, ServerProcess> tms = new LinkedHashMap<>();
            try {
                tms.putAll(launchTaskManagers(started.settings(), taskManagerNames(taskManagers, gpuTaskManagers)));
                awaitTaskManagers(started.settings(), tms);
                return new FlinkCluster(started.settings(), started.jobManager(), tms, stopGrace);
            } catch (RuntimeException e) {
                List<ServerProcess> all = new ArrayList<>(tms.values());
                all.add(started.jobManager());
                ServerProcess.stopAll(all, Duration.ofSeconds(10));
                throw e;
            }
        }
    }

    /** Launches the named TaskManagers (one BashJavaUtils run per profile), without waiting for them. */
    static Map<String, ServerProcess> launchTaskManagers(Settings s, List<String> names) {
        Map<String, ServerProcess> out = new LinkedHashMap<>();
        ResourceParams cpu = null;
        ResourceParams gpu = null;
        try {
            for (String name : names) {
                boolean isGpu = name.startsWith(GPU_TASK_MANAGER_PREFIX);
                if (isGpu && gpu == null) {
                    gpu = ResourceParams.compute(s, true);
                } else if (!isGpu && cpu == null) {
                    cpu = ResourceParams.compute(s, false);
                }
                out.put(name, launchTaskManager(s, name, isGpu ? gpu : cpu));
            }
            return out;
        } catch (RuntimeException e) {
            ServerProcess.stopAll(new ArrayList<>(out.values()), Duration.ofSeconds(10));
            throw e;
        }
    }

    /** The Flink version of the staged lib/ and the JVM options every Flink JVM needs, from the build. */
    static final class JvmOptions {
        private static final Properties PROPS = load();

        private JvmOptions() {
        }

        /** The {@code --add-opens} list of the root pom ({@code jvm.opens}): Flink needs it on JDK 17. */
        static List<String> opens() {
            return List.of(PROPS.getProperty("jvm.opens").trim().split("\\s+"));
        }

        static String flinkVersion() {
            return PROPS.getProperty("flink.version");
        }

        private static Properties load() {
            Properties p = new Properties();
            try (InputStream in = FlinkCluster.class.getResourceAsStream("flink.properties")) {
                if (in == null) {
                    throw new IllegalStateException("flink.properties is missing from the deploy jar");
                }
                p.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return p;
        }
    }
}
