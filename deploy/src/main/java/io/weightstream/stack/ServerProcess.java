package io.weightstream.stack;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One server of the local stack: a separate {@code java} process known by its PID, writing stdout and stderr to a
 * log file. It is stopped by PID: SIGTERM, a grace period, then SIGKILL.
 *
 * <pre>{@code
 * ServerProcess kafka = broker.process();
 * kafka.pid();                          // 12345
 * kafka.stop(Duration.ofSeconds(30));   // true when it exited within the grace period
 * }</pre>
 */
public final class ServerProcess {
    /** The system property that marks a server's JVM, so a PID reused by another program is not taken for it. */
    static final String MARKER_PROPERTY = "weightstream.stack.server";
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);
    private static final Optional<Path> SETSID = firstExecutable("/usr/bin/setsid", "/bin/setsid");

    private final String name;
    private final ProcessHandle handle;
    private final Path logFile;
    private final Path pendingArchive;

    private ServerProcess(String name, ProcessHandle handle, Path logFile, Path pendingArchive) {
        this.name = name;
        this.handle = handle;
        this.logFile = logFile;
        this.pendingArchive = pendingArchive;
    }

    /**
     * Starts {@code command}, appending its output to {@code logFile}. A detached server runs in a session of its
     * own ({@code setsid}), so it outlives this JVM and ignores the terminal's Ctrl-C and hang-up.
     */
    static ServerProcess launch(String name, List<String> command, Path workingDir, Path logFile, boolean detached,
            Path pendingArchive) {
        return launch(name, command, workingDir, java.util.Map.of(), logFile, detached, pendingArchive);
    }

    /** {@link #launch(String, List, Path, Path, boolean, Path)} with extra environment variables. */
    static ServerProcess launch(String name, List<String> command, Path workingDir, java.util.Map<String, String> env,
            Path logFile, boolean detached, Path pendingArchive) {
        List<String> cmd = new ArrayList<>();
        if (detached && SETSID.isPresent()) {
            // setsid execs the command in place (the child is no process-group leader), so the PID is the JVM's
            cmd.add(SETSID.get().toString());
        }
        cmd.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .directory(workingDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        pb.environment().putAll(env);
        File devNull = new File("/dev/null");
        if (devNull.exists()) {
            pb.redirectInput(ProcessBuilder.Redirect.from(devNull));
        }
        try {
            Process p = pb.start();
            ServerProcess server = new ServerProcess(name, p.toHandle(), logFile, pendingArchive);
            if (!detached) {
                Attached.add(server);
            }
            return server;
        } catch (IOException e) {
            throw new StackException("cannot start " + name + " (" + String.join(" ", command.subList(0, 1)) + "): "
                    + e.getMessage(), logFile, e);
        }
    }

    /**
     * The running server of PID {@code pid}, if that process is alive and was started for {@code marker} (see
     * {@link #markerOption}); empty when the process is gone or is some other program that reused the PID.
     */
    static Optional<ServerProcess> find(String name, long pid, String marker, Path logFile, Path pendingArchive) {
        return ProcessHandle.of(pid)
                .filter(ProcessHandle::isAlive)
                .filter(h -> isMarked(h, marker))
                .map(h -> new ServerProcess(name, h, logFile, pendingArchive));
    }

    /** The JVM option that marks a server's process as {@code marker}. */
    static String markerOption(String marker) {
        return "-D" + MARKER_PROPERTY + "=" + marker;
    }

    private static boolean isMarked(ProcessHandle h, String marker) {
        ProcessHandle.Info info = h.info();
        String option = markerOption(marker);
        Optional<String[]> args = info.arguments();
        if (args.isPresent()) {
            return List.of(args.get()).contains(option);
        }
        // where the OS does not tell the arguments, a live PID is all there is to go by
        return info.commandLine().map(c -> c.contains(option)).orElse(true);
    }

    public String name() {
        return name;
    }

    public long pid() {
        return handle.pid();
    }

    public Path logFile() {
        return logFile;
    }

    public boolean isAlive() {
        return handle.isAlive();
    }

    /** The class-data archive this JVM writes when it exits, if it was started to write one. */
    Optional<Path> pendingArchive() {
        return Optional.ofNullable(pendingArchive);
    }

    /**
     * Stops the server: SIGTERM, up to {@code grace} for it to exit, then SIGKILL. Returns whether it exited
     * within the grace period (a killed server may leave unflushed data behind).
     */
    public boolean stop(Duration grace) {
        signal();
        return awaitExit(grace);
    }

    /**
     * Stops all servers at once (they shut down in parallel), then waits for each; returns, in order, whether each
     * exited within the grace period.
     */
    static List<Boolean> stopAll(List<ServerProcess> servers, Duration grace) {
        servers.forEach(ServerProcess::signal);
        List<Boolean> clean = new ArrayList<>();
        for (ServerProcess s : servers) {
            clean.add(s.awaitExit(grace));
        }
        return clean;
    }

    private void signal() {
        if (handle.isAlive()) {
            handle.destroy();
        }
    }

    private boolean awaitExit(Duration grace) {
        boolean clean = waitFor(grace);
        Attached.remove(this);
        if (!clean) {
            handle.destroyForcibly();
            if (!waitFor(KILL_WAIT)) {
                throw new StackException(name + " (pid " + pid() + ") did not exit after SIGKILL", logFile, null);
            }
        }
        if (pendingArchive != null) {
            ClassDataArchive.finish(pendingArchive, clean);
        }
        return clean;
    }

    private boolean waitFor(Duration timeout) {
        try {
            handle.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return !handle.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !handle.isAlive();
        } catch (ExecutionException e) {
            return !handle.isAlive();
        }
    }

    /**
     * C1-only JIT for the servers: start-up is 25-40 % faster on a 2-core machine (measured, see deploy/README.md),
     * and a local broker or registry spends its life moving bytes, not in hot Java loops.
     */
    static final List<String> FAST_START = List.of("-XX:TieredStopAtLevel=1");

    /** The {@code java} of this JVM: the servers run on the same JDK. */
    static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Keeps the previous log as {@code <log>.1}: a server that died is explained there after a restart. */
    static void rotate(Path log) throws IOException {
        if (Files.isRegularFile(log) && Files.size(log) > 0) {
            Files.move(log, log.resolveSibling(log.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Throws when the server exited during start-up, with the end of its log. */
    void checkAlive() {
        if (!isAlive()) {
            throw notReady("exited during start-up", null);
        }
    }

    /** A start-up failure that names the log and quotes its last lines. */
    StackException notReady(String what, Throwable cause) {
        return new StackException(name + " (pid " + pid() + ") " + what + "; see " + logFile + ", which ends with:"
                + System.lineSeparator() + logTail(25), logFile, cause);
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted", e);
        }
    }

    /** The last {@code lines} lines of the log (at most its last 16 KiB), for error messages. */
    String logTail(int lines) {
        return tail(logFile, lines);
    }

    static String tail(Path file, int lines) {
        if (file == null || !Files.isRegularFile(file)) {
            return "";
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            int n = (int) Math.min(len, 16 * 1024);
            byte[] buf = new byte[n];
            f.seek(len - n);
            f.readFully(buf);
            String[] all = new String(buf, StandardCharsets.UTF_8).split("\r?\n");
            int from = Math.max(0, all.length - lines);
            return String.join(System.lineSeparator(), List.of(all).subList(from, all.length));
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + pid() + ", log " + logFile + ")";
    }

    /**
     * Told of each launch before the wait for readiness, so that a PID file exists even if the JVM that starts the
     * server dies meanwhile ({@code controllerPort} is 0 for servers with one port).
     */
    @FunctionalInterface
    interface LaunchListener {
        LaunchListener NONE = (process, port, controllerPort) -> { };

        void launched(ServerProcess process, int port, int controllerPort);
    }

    /**
     * The servers started attached to this JVM (tests): a shutdown hook stops those still running when the JVM
     * exits, so a test run that crashes or is interrupted does not leave servers behind.
     */
    private static final class Attached {
        private static final Set<ServerProcess> SERVERS = ConcurrentHashMap.newKeySet();

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> stopAll(new ArrayList<>(SERVERS), Duration.ofSeconds(10)),
                    "weightstream-stack-shutdown"));
        }

        static void add(ServerProcess server) {
            SERVERS.add(server);
        }

        static void remove(ServerProcess server) {
            SERVERS.remove(server);
        }
    }

    private static Optional<Path> firstExecutable(String... candidates) {
        for (String c : candidates) {
            Path p = Path.of(c);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
