package io.weightstream.stack;

import java.time.Duration;
import java.util.Objects;

/**
 * How to start the local stack: ports (0 = a free one), partitions of the chunk topics, how long to wait.
 *
 * <pre>{@code
 * StackOptions options = StackOptions.builder().kafkaPort(9092).registryPort(8081).build();
 * LocalStack.at(stateDir).up(options);
 * }</pre>
 */
public final class StackOptions {
    private final int kafkaPort;
    private final int registryPort;
    private final int chunkPartitions;
    private final Duration readyTimeout;
    private final boolean createTopics;

    private StackOptions(Builder b) {
        this.kafkaPort = b.kafkaPort;
        this.registryPort = b.registryPort;
        this.chunkPartitions = b.chunkPartitions;
        this.readyTimeout = b.readyTimeout;
        this.createTopics = b.createTopics;
    }

    public static StackOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The broker's client port; 0 = the previous one if free, else any free port. */
    public int kafkaPort() {
        return kafkaPort;
    }

    /** The registry's HTTP port; 0 = the previous one if free, else any free port. */
    public int registryPort() {
        return registryPort;
    }

    /** Partitions of {@link Topics#LAYERS} and {@link Topics#COMPRESSED} when they are created. */
    public int chunkPartitions() {
        return chunkPartitions;
    }

    /** How long to wait for each server to answer. */
    public Duration readyTimeout() {
        return readyTimeout;
    }

    /** Whether to create the topics of {@link Topics} once the broker answers. */
    public boolean createTopics() {
        return createTopics;
    }

    /** Fluent setters; {@link #build()} checks the values. */
    public static final class Builder {
        private int kafkaPort;
        private int registryPort;
        private int chunkPartitions = Topics.DEFAULT_CHUNK_PARTITIONS;
        private Duration readyTimeout = Duration.ofSeconds(120);
        private boolean createTopics = true;

        private Builder() {
        }

        public Builder kafkaPort(int kafkaPort) {
            this.kafkaPort = kafkaPort;
            return this;
        }

        public Builder registryPort(int registryPort) {
            this.registryPort = registryPort;
            return this;
        }

        public Builder chunkPartitions(int chunkPartitions) {
            this.chunkPartitions = chunkPartitions;
            return this;
        }

        public Builder readyTimeout(Duration readyTimeout) {
            this.readyTimeout = Objects.requireNonNull(readyTimeout, "readyTimeout");
            return this;
        }

        public Builder createTopics(boolean createTopics) {
            this.createTopics = createTopics;
            return this;
        }

        public StackOptions build() {
            Ports.check("kafka port", kafkaPort);
            Ports.check("registry port", registryPort);
            if (kafkaPort != 0 && kafkaPort == registryPort) {
                throw new IllegalArgumentException("kafka port and registry port are both " + kafkaPort);
            }
            if (chunkPartitions < 1) {
                throw new IllegalArgumentException("chunkPartitions must be >= 1, got " + chunkPartitions);
            }
            if (readyTimeout.isNegative() || readyTimeout.isZero()) {
                throw new IllegalArgumentException("readyTimeout must be positive, got " + readyTimeout);
            }
            return new StackOptions(this);
        }
    }
}
