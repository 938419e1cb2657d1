package io.weightstream.stack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The servers staged by the build under {@code deploy/target/stack}: the Kafka broker's jars and Apicurio Registry.
 * Found, in this order, through the system property {@code weightstream.stack.home}, the environment variable
 * {@code WEIGHTSTREAM_STACK_HOME}, or {@code deploy/target/stack} of the checkout that contains the working
 * directory.
 *
 * <pre>{@code
 * StackHome home = StackHome.locate();
 * Path libs = home.kafkaLibs();   // .../deploy/target/stack/kafka/libs
 * }</pre>
 */
public final class StackHome {
    public static final String PROPERTY = "weightstream.stack.home";
    public static final String ENV = "WEIGHTSTREAM_STACK_HOME";
    static final String APICURIO_JAR = "apicurio-registry-app-3.0.9-runner.jar";
    private static final String BUILD_HINT = "build it with `mvn -pl deploy process-resources` (from the repository root)";

    private final Path root;

    private StackHome(Path root) {
        this.root = root;
    }

    /** The staged stack found as described in the class comment; throws {@link StackException} when absent. */
    public static StackHome locate() {
        String prop = System.getProperty(PROPERTY);
        if (prop != null && !prop.isBlank()) {
            return of(Path.of(prop), "system property " + PROPERTY);
        }
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            return of(Path.of(env), "environment variable " + ENV);
        }
        Optional<Path> repo = repositoryRoot(Path.of("").toAbsolutePath());
        if (repo.isEmpty()) {
            throw new StackException("cannot find the staged servers: set -D" + PROPERTY + " or " + ENV
                    + " to a deploy/target/stack directory, or run from inside the weightstream checkout; "
                    + BUILD_HINT);
        }
        return of(repo.get().resolve("deploy/target/stack"), "the checkout at " + repo.get());
    }

    /** The staged stack at {@code root}; throws {@link StackException} when its files are missing. */
    public static StackHome of(Path root) {
        return of(root, root.toString());
    }

    private static StackHome of(Path root, String foundThrough) {
        StackHome home = new StackHome(root.toAbsolutePath().normalize());
        List<String> missing = new ArrayList<>();
        if (!Files.isRegularFile(home.kafkaLibs().resolve("kafka_2.13-4.1.0.jar"))) {
            missing.add(home.kafkaLibs() + "/kafka_2.13-4.1.0.jar");
        }
        if (!Files.isRegularFile(home.apicurioJar())) {
            missing.add(home.apicurioJar().toString());
        }
        if (!missing.isEmpty()) {
            throw new StackException("the staged stack (found through " + foundThrough + ") lacks " + String.join(", ", missing)
                    + "; " + BUILD_HINT);
        }
        return home;
    }

    /**
     * The weightstream checkout holding {@code dir}: the nearest directory, {@code dir} or above, that contains
     * {@code deploy/pom.xml}.
     */
    public static Optional<Path> repositoryRoot(Path dir) {
        for (Path d = dir.toAbsolutePath().normalize(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("deploy/pom.xml")) && Files.isRegularFile(d.resolve("pom.xml"))) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    public Path root() {
        return root;
    }

    /** The broker's classpath directory: {@code kafka_2.13}, {@code kafka-clients}, log4j2 and their dependencies. */
    public Path kafkaLibs() {
        return root.resolve("kafka/libs");
    }

    /** Apicurio Registry's Quarkus runner jar (its {@code lib/} sits beside it). */
    public Path apicurioJar() {
        return root.resolve("apicurio").resolve(APICURIO_JAR);
    }

    /**
     * The Flink standalone cluster's {@code lib/}: flink-runtime, flink-clients, flink-streaming-java,
     * flink-connector-base, log4j2 and their dependencies (staged by {@code deploy/flink/pom.xml}).
     */
    public Path flinkLib() {
        return root.resolve("flink/lib");
    }

    /** Flink's plugin directory ({@code FLINK_PLUGINS_DIR}): {@code gpu/} holds the GPU external-resource driver. */
    public Path flinkPlugins() {
        return root.resolve("flink/plugins");
    }

    /** Throws a {@link StackException} saying how to stage Flink when {@link #flinkLib()} lacks flink-runtime. */
    void requireFlink() {
        try (Stream<Path> files = Files.list(flinkLib())) {
            if (files.anyMatch(p -> p.getFileName().toString().startsWith("flink-runtime-"))) {
                return;
            }
        } catch (IOException e) {
            // missing directory: reported below
        }
        throw new StackException("the staged stack at " + root + " has no Flink cluster (" + flinkLib()
                + " lacks flink-runtime); " + BUILD_HINT);
    }

    /** Where the class-data-sharing archives of the servers are kept (see {@code ClassDataArchive}). */
    Path cdsDir() {
        return root.resolve("cds");
    }

    /** The jars of a directory, sorted by name. */
    static List<Path> jars(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new StackException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StackHome h && h.root.equals(root);
    }

    @Override
    public int hashCode() {
        return Objects.hash(root);
    }

    @Override
    public String toString() {
        return root.toString();
    }
}
