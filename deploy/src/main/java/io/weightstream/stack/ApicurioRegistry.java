package io.weightstream.stack;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Apicurio Registry 3.0.9, a real schema registry that serves the Confluent REST API under
 * {@code /apis/ccompat/v7}, run as a separate {@code java} process from the staged Quarkus runner jar. It listens on
 * 127.0.0.1 only. Its storage is H2: in memory by default, or a file under {@link Builder#dataDir} so that schema ids
 * survive a restart (the local stack keeps Kafka's records across restarts, and those records carry schema ids).
 *
 * <p>Nothing needs configuring for the Confluent semantics the project relies on: per-subject compatibility is set
 * with {@code PUT /config/{subject}} ({@code BACKWARD} included), and registering a schema that breaks it answers
 * HTTP 409 (checked by {@code LocalStackITCase}). Unlike Confluent's registry, whose global default is
 * {@code BACKWARD}, Apicurio's global compatibility is {@code NONE}: clients set it per subject.
 *
 * <pre>{@code
 * try (ApicurioRegistry registry = ApicurioRegistry.builder().workDir(dir).start()) {
 *     String url = registry.url();   // "http://127.0.0.1:40124/apis/ccompat/v7"
 * }
 * }</pre>
 */
public final class ApicurioRegistry implements AutoCloseable {
    /** The path of the Confluent-compatible API. */
    public static final String CCOMPAT_PATH = "/apis/ccompat/v7";
    static final String SERVER = "registry";
    static final String DEFAULT_HEAP = "384m";
    private static final int START_ATTEMPTS = 3;

    private final ServerProcess process;
    private final int port;
    private final Duration stopGrace;

    private ApicurioRegistry(ServerProcess process, int port, Duration stopGrace) {
        this.process = process;
        this.port = port;
        this.stopGrace = stopGrace;
    }

    /** A registry this code did not start in this JVM (found by PID for {@code stack up}). */
    static ApicurioRegistry attach(ServerProcess process, int port, Duration stopGrace) {
        return new ApicurioRegistry(process, port, stopGrace);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The Confluent-compatible REST base URL, {@code http://127.0.0.1:<port>/apis/ccompat/v7}. */
    public String url() {
        return url(port);
    }

    static String url(int port) {
        return "http://" + Ports.HOST + ":" + port + CCOMPAT_PATH;
    }

    public int port() {
        return port;
    }

    public ServerProcess process() {
        return process;
    }

    public Path logFile() {
        return process.logFile();
    }

    @Override
    public void close() {
        process.stop(stopGrace);
    }

    /** Whether {@code GET <url>/subjects} answers 200 now. */
    static boolean answers(HttpClient http, int port) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(url(port) + "/subjects"))
                .timeout(Duration.ofSeconds(2)).GET().build();
        try {
            return http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted", e);
        }
    }

    /**
     * Sets compatibility BACKWARD on the value subject of every weightstream topic (DESIGN.md), so a schema change
     * that would break a running consumer is rejected with 409. Apicurio's global default is NONE, unlike
     * Confluent's BACKWARD, hence this step; it is idempotent.
     */
    static void configureSubjects(int port) {
        HttpClient http = httpClient();
        for (String topic : Topics.ALL) {
            String subject = Topics.valueSubject(topic);
            HttpRequest req = HttpRequest.newBuilder(URI.create(url(port) + "/config/" + subject))
                    .timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"compatibility\":\"BACKWARD\"}")).build();
            try {
                HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() != 200) {
                    throw new StackException("setting BACKWARD compatibility on subject " + subject + " at " + url(port)
                            + " answered HTTP " + resp.statusCode() + ": " + resp.body());
                }
            } catch (IOException e) {
                throw new StackException("setting BACKWARD compatibility on subject " + subject + " at " + url(port)
                        + " failed: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StackException("interrupted", e);
            }
        }
    }

    static HttpClient httpClient() {
        return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).version(HttpClient.Version.HTTP_1_1).build();
    }

    /** Waits until {@code GET /subjects} answers 200, or throws a {@link StackException} naming the log. */
    static void awaitReady(ServerProcess process, int port, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        HttpClient http = httpClient();
        while (!answers(http, port)) {
            process.checkAlive();
            if (System.nanoTime() > deadline) {
                throw process.notReady("did not answer GET " + url(port) + "/subjects within "
                        + timeout.toSeconds() + " s", null);
            }
            ServerProcess.sleep(50);
        }
    }

    /** Configures and starts an {@link ApicurioRegistry}; only {@link #workDir} is required. */
    public static final class Builder {
        private StackHome stackHome;
        private Path workDir;
        private Path dataDir;
        private Path logFile;
        private int port;
        private String heap = DEFAULT_HEAP;
        private final Map<String, String> properties = new LinkedHashMap<>();
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

        /** The process's working directory and the default place of its log. Required. */
        public Builder workDir(Path workDir) {
            this.workDir = Objects.requireNonNull(workDir, "workDir").toAbsolutePath();
            return this;
        }

        /** Keep the schemas in an H2 file here ({@code registry.mv.db}); without it they live in memory. */
        public Builder dataDir(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir").toAbsolutePath();
            return this;
        }

        /** stdout and stderr (default {@code <workDir>/registry.log}; a previous one becomes {@code .1}). */
        public Builder logFile(Path logFile) {
            this.logFile = Objects.requireNonNull(logFile, "logFile").toAbsolutePath();
            return this;
        }

        /** HTTP port on 127.0.0.1; 0 (the default) picks a free one. */
        public Builder port(int port) {
            Ports.check("registry port", port);
            this.port = port;
            return this;
        }

        /** Maximum heap, a {@code -Xmx} value (default {@value #DEFAULT_HEAP}). */
        public Builder heap(String heap) {
            if (!heap.matches("\\d+[kKmMgG]?")) {
                throw new IllegalArgumentException("heap must look like 384m or 1g, got '" + heap + "'");
            }
            this.heap = heap;
            return this;
        }

        /** A Quarkus or Apicurio setting, passed as {@code -Dkey=value} (e.g. {@code apicurio.ccompat.legacy-id-mode.enabled}). */
        public Builder property(String key, String value) {
            properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** An extra option for the registry's JVM. */
        public Builder jvmOption(String option) {
            jvmOptions.add(Objects.requireNonNull(option, "option"));
            return this;
        }

        /** How long {@link #start()} waits for the registry to answer (default 120 s). */
        public Builder readyTimeout(Duration readyTimeout) {
            this.readyTimeout = positive(readyTimeout, "readyTimeout");
            return this;
        }

        /** How long {@link ApicurioRegistry#close()} waits after SIGTERM before SIGKILL (default 30 s). */
        public Builder stopGrace(Duration stopGrace) {
            this.stopGrace = positive(stopGrace, "stopGrace");
            return this;
        }

        private static Duration positive(Duration d, String what) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive, got " + d);
            }
            return d;
        }

        /** Runs the registry in a session of its own so that it outlives this JVM (for {@code stack up}). */
        public Builder detached(boolean detached) {
            this.detached = detached;
            return this;
        }

        Builder marker(String marker) {
            this.marker = marker;
            return this;
        }

        Builder onLaunch(ServerProcess.LaunchListener listener) {
            this.launchListener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Starts the registry and waits until {@code GET /subjects} answers 200. */
        public ApicurioRegistry start() {
            if (workDir == null) {
                throw new IllegalStateException("ApicurioRegistry.builder(): workDir(...) is required");
            }
            StackHome home = stackHome != null ? stackHome : StackHome.locate();
            Path log = logFile != null ? logFile : workDir.resolve("registry.log");
            String id = marker != null ? marker : SERVER + "@" + workDir;
            try {
                Files.createDirectories(workDir);
                Files.createDirectories(log.getParent());
                if (dataDir != null) {
                    Files.createDirectories(dataDir);
                }
                ServerProcess.rotate(log);
            } catch (IOException e) {
                throw new StackException("cannot prepare " + workDir + ": " + e.getMessage(), e);
            }
            List<Path> classpath = Stream.concat(Stream.of(home.apicurioJar()),
                    StackHome.jars(home.apicurioJar().resolveSibling("lib")).stream()).toList();
            ClassDataArchive cds = ClassDataArchive.forServer(home, SERVER, classpath);
            for (int attempt = 1; ; attempt++) {
                int p = port != 0 ? port : Ports.free();
                List<String> cmd = new ArrayList<>();
                cmd.add(ServerProcess.javaBinary());
                cmd.add("-Xmx" + heap);
                cmd.addAll(ServerProcess.FAST_START);
                cmd.addAll(cds.serverOptions());
                cmd.add(ServerProcess.markerOption(id));
                cmd.add("-Dquarkus.http.host=" + Ports.HOST);
                cmd.add("-Dquarkus.http.port=" + p);
                if (dataDir != null) {
                    cmd.add("-Dapicurio.datasource.url=jdbc:h2:file:" + dataDir.resolve("registry"));
                }
                properties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
                cmd.addAll(jvmOptions);
                cmd.add("-jar");
                cmd.add(home.apicurioJar().toString());
                ServerProcess process = ServerProcess.launch(SERVER, cmd, workDir, log, detached, cds.pending());
                try {
                    launchListener.launched(process, p, 0);
                    awaitReady(process, p, readyTimeout);
                    return new ApicurioRegistry(process, p, stopGrace);
                } catch (RuntimeException e) {
                    process.stop(Duration.ofSeconds(5));
                    // Quarkus says "Port N seems to be in use by another process"
                    String tail = process.logTail(200);
                    boolean lostPortRace = port == 0 && (tail.contains("to be in use") || tail.contains("already in use"));
                    if (!lostPortRace || attempt == START_ATTEMPTS) {
                        throw e;
                    }
                }
            }
        }
    }
}
