package io.weightstream.stack;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Submits a job jar to a Flink session cluster the way {@code flink run --detached} does: Flink's own
 * {@code org.apache.flink.client.cli.CliFrontend} in a separate JVM on the staged {@code lib/}, which runs the jar's
 * main method, builds the job graph and sends it with the jar to the JobManager's REST API. The job runs on the
 * cluster from the shaded jar, exactly as it would from a Flink distribution's {@code bin/flink}. Its checkpoints are
 * retained when it is cancelled or its JobManager stops ({@code RETAIN_ON_CANCELLATION}), so that a later submission
 * can resume from them.
 *
 * <pre>{@code
 * FlinkClient client = new FlinkClient(StackHome.locate(), "http://127.0.0.1:8081", workDir);
 * String jobId = client.run(jobJar, List.of("--bootstrap.servers", "127.0.0.1:9092"), Optional.empty());
 * }</pre>
 */
public final class FlinkClient {
    private static final Pattern SUBMITTED = Pattern.compile("Job has been submitted with JobID ([0-9a-f]{32})");
    private static final Duration SUBMIT_TIMEOUT = Duration.ofMinutes(5);

    private final StackHome home;
    private final URI restUrl;
    private final Path workDir;

    /**
     * @param restUrl the JobManager's REST URL, {@code http://host:port}
     * @param workDir where the client's {@code conf/} and {@code client.log} are written
     */
    public FlinkClient(StackHome home, String restUrl, Path workDir) {
        this.home = Objects.requireNonNull(home, "home");
        this.restUrl = URI.create(new FlinkRest(restUrl).url());
        if (this.restUrl.getPort() < 1) {
            throw new IllegalArgumentException("the Flink REST URL needs a port, e.g. http://127.0.0.1:8081, got '" + restUrl + "'");
        }
        this.workDir = Objects.requireNonNull(workDir, "workDir").toAbsolutePath();
    }

    /** The client's log (Flink's client logs at WARN; its console output is returned or quoted in errors). */
    public Path logFile() {
        return workDir.resolve("client.log");
    }

    /**
     * Runs {@code jobJar}'s main class with {@code args} against the cluster, detached, and returns the job id the
     * JobManager gave it.
     *
     * @param fromCheckpoint a retained checkpoint ({@code .../chk-<n>}) or savepoint to start from; Flink claims it
     *                       (deletes it once a newer checkpoint subsumes it)
     * @throws StackException when the client fails; the message quotes its output
     */
    public String run(Path jobJar, List<String> args, Optional<Path> fromCheckpoint) {
        if (!Files.isRegularFile(jobJar)) {
            throw new StackException("the job jar " + jobJar + " does not exist; build it with `mvn -pl flink-jobs package`");
        }
        home.requireFlink();
        Path conf = workDir.resolve("conf");
        try {
            Files.createDirectories(conf);
            // the client builds the job graph, and a job graph carries its checkpoint settings: the retention must be
            // set here (the cluster's config.yaml does not reach them), else a JobManager that stops (`stack down`)
            // suspends the job and deletes its last checkpoint, and the next submission could not resume
            Files.writeString(conf.resolve("config.yaml"), "# written by io.weightstream.stack.FlinkClient\n"
                    + "rest.address: " + restUrl.getHost() + "\n" + "rest.port: " + restUrl.getPort() + "\n"
                    + "execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION\n", StandardCharsets.UTF_8);
            Files.writeString(conf.resolve("log4j2.properties"), String.join("\n",
                    "rootLogger.level=WARN",
                    "rootLogger.appenderRef.file.ref=file",
                    "appender.file.type=File",
                    "appender.file.name=file",
                    "appender.file.fileName=" + logFile(),
                    "appender.file.append=true",
                    "appender.file.layout.type=PatternLayout",
                    "appender.file.layout.pattern=%d %-5p %c - %m%n",
                    // it looks for a YARN command line that a session cluster does not need
                    "logger.cli.name=org.apache.flink.client.cli.CliFrontend",
                    "logger.cli.level=ERROR",
                    ""), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new StackException("cannot write the Flink client configuration in " + conf + ": " + e.getMessage(), e);
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(ServerProcess.javaBinary());
        cmd.add("-Xmx512m");
        cmd.addAll(FlinkCluster.JvmOptions.opens());
        cmd.addAll(ServerProcess.FAST_START);
        // the job's main runs here (it builds the job graph, and may look at the codecs): DJL from lib/, never a download
        cmd.addAll(FlinkCluster.TASK_MANAGER_PROPERTIES);
        cmd.add("-Dlog4j.configurationFile=" + conf.resolve("log4j2.properties"));
        cmd.add("-cp");
        cmd.add(home.flinkLib() + "/*");
        cmd.add("org.apache.flink.client.cli.CliFrontend");
        cmd.add("run");
        cmd.add("--detached");
        cmd.addAll(List.of("-m", restUrl.getHost() + ":" + restUrl.getPort()));
        fromCheckpoint.ifPresent(c -> cmd.addAll(List.of("--fromSavepoint", c.toUri().toString(), "--claimMode", "claim")));
        cmd.add(jobJar.toAbsolutePath().toString());
        cmd.addAll(args);
        String out = runClient(cmd, conf);
        Matcher m = SUBMITTED.matcher(out);
        if (!m.find()) {
            throw new StackException("`flink run` against " + restUrl + " printed no job id:" + System.lineSeparator() + out.strip());
        }
        return m.group(1);
    }

    private String runClient(List<String> cmd, Path conf) {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true);
        pb.environment().put("FLINK_CONF_DIR", conf.toString());
        pb.environment().put("FLINK_PLUGINS_DIR", home.flinkPlugins().toString());
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] bytes = p.getInputStream().readAllBytes();
            if (!p.waitFor(SUBMIT_TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new StackException("`flink run` against " + restUrl + " took over " + SUBMIT_TIMEOUT.toMinutes() + " min");
            }
            String out = new String(bytes, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                List<String> lines = out.lines().toList();
                throw new StackException("`flink run` against " + restUrl + " failed (exit " + p.exitValue() + "); its output ends with:"
                        + System.lineSeparator() + String.join(System.lineSeparator(), lines.subList(Math.max(0, lines.size() - 40), lines.size()))
                        + System.lineSeparator() + "(client log: " + logFile() + ")", logFile(), null);
            }
            return out;
        } catch (IOException e) {
            throw new StackException("cannot run the Flink client: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while submitting to " + restUrl, e);
        }
    }
}
