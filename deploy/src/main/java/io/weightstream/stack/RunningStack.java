package io.weightstream.stack;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A local stack started for a test: a Kafka broker and a schema registry (and a Flink cluster when asked for),
 * attached to this JVM. {@link #close()} stops them by PID; a JVM shutdown hook stops them too if the test run dies
 * first.
 *
 * <pre>{@code
 * try (RunningStack stack = LocalStack.start(tempDir)) {
 *     producerProps.put("bootstrap.servers", stack.bootstrapServers());
 *     SchemaRegistry registry = new SchemaRegistryClient(stack.registryUrl());
 * }
 * }</pre>
 */
public final class RunningStack implements AutoCloseable {
    private final Path workDir;
    private final KafkaBroker kafka;
    private final ApicurioRegistry registry;
    private final FlinkCluster flink;
    private final List<String> createdTopics;
    private final Duration startTime;
    private volatile boolean closed;

    RunningStack(Path workDir, KafkaBroker kafka, ApicurioRegistry registry, FlinkCluster flink, List<String> createdTopics,
            Duration startTime) {
        this.workDir = workDir;
        this.kafka = kafka;
        this.registry = registry;
        this.flink = flink;
        this.createdTopics = List.copyOf(createdTopics);
        this.startTime = startTime;
    }

    /** {@code 127.0.0.1:<port>} of the broker. */
    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /** The Confluent-compatible REST base URL, {@code http://127.0.0.1:<port>/apis/ccompat/v7}. */
    public String registryUrl() {
        return registry.url();
    }

    public KafkaBroker kafka() {
        return kafka;
    }

    public ApicurioRegistry registry() {
        return registry;
    }

    /** The Flink cluster, when {@link StackOptions#cluster()} asked for one. */
    public java.util.Optional<FlinkCluster> flink() {
        return java.util.Optional.ofNullable(flink);
    }

    public Path workDir() {
        return workDir;
    }

    /** The topics {@link LocalStack#start} created (all of {@link Topics#ALL} unless told not to). */
    public List<String> createdTopics() {
        return createdTopics;
    }

    /** From the first launch until both servers answered and the topics existed. */
    public Duration startTime() {
        return startTime;
    }

    /** Stops the cluster, then both servers in parallel: SIGTERM, then SIGKILL after the grace period. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (flink != null) {
            flink.close();
        }
        ServerProcess.stopAll(List.of(kafka.process(), registry.process()), Duration.ofSeconds(30));
    }
}
