package io.weightstream.stack;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How to start the local stack: ports (0 = a free one), partitions of the chunk topics, how long to wait, and
 * whether to start a Flink session cluster beside the broker and the registry ({@code stack up --cluster}).
 *
 * <pre>{@code
 * StackOptions options = StackOptions.builder().kafkaPort(9092).registryPort(8081).build();
 * LocalStack.at(stateDir).up(options);
 * LocalStack.at(stateDir).up(StackOptions.builder().cluster(true).taskManagers(2).build());
 * }</pre>
 */
public final class StackOptions {
    private final int kafkaPort;
    private final int registryPort;
    private final int chunkPartitions;
    private final Duration readyTimeout;
    private final boolean createTopics;
    private final boolean cluster;
    private final int taskManagers;
    private final int gpuTaskManagers;
    private final List<String> gpuIndices;
    private final int slots;
    private final int flinkPort;

    private StackOptions(Builder b) {
        this.kafkaPort = b.kafkaPort;
        this.registryPort = b.registryPort;
        this.chunkPartitions = b.chunkPartitions;
        this.readyTimeout = b.readyTimeout;
        this.createTopics = b.createTopics;
        this.cluster = b.cluster;
        this.taskManagers = b.taskManagers;
        this.gpuTaskManagers = b.gpuTaskManagers;
        this.gpuIndices = List.copyOf(b.gpuIndices);
        this.slots = b.slots;
        this.flinkPort = b.flinkPort;
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

    /** Whether to start a Flink session cluster (a JobManager and {@link #taskManagers()} TaskManagers) too. */
    public boolean cluster() {
        return cluster;
    }

    /** CPU TaskManagers of the cluster ({@code taskmanager-1..N}). */
    public int taskManagers() {
        return taskManagers;
    }

    /** GPU TaskManagers of the cluster ({@code taskmanager-gpu-1..M}), declaring the external resource {@code gpu}. */
    public int gpuTaskManagers() {
        return gpuTaskManagers;
    }

    /** GPU device indices handed to the GPU TaskManagers in turn; empty: each asks nvidia-smi. */
    public List<String> gpuIndices() {
        return gpuIndices;
    }

    /** Task slots per TaskManager. */
    public int slots() {
        return slots;
    }

    /** The JobManager's REST port; 0 = the previous one if free, else any free port. */
    public int flinkPort() {
        return flinkPort;
    }

    /** Fluent setters; {@link #build()} checks the values. */
    public static final class Builder {
        private int kafkaPort;
        private int registryPort;
        private int chunkPartitions = Topics.DEFAULT_CHUNK_PARTITIONS;
        private Duration readyTimeout = Duration.ofSeconds(120);
        private boolean createTopics = true;
        private boolean cluster;
        private int taskManagers = 1;
        private int gpuTaskManagers;
        private List<String> gpuIndices = List.of();
        private int slots = FlinkCluster.DEFAULT_SLOTS;
        private int flinkPort;

        private Builder() {
        }

        /** Also start a Flink session cluster (default false). */
        public Builder cluster(boolean cluster) {
            this.cluster = cluster;
            return this;
        }

        /** CPU TaskManagers when {@link #cluster} (default 1). */
        public Builder taskManagers(int taskManagers) {
            this.taskManagers = taskManagers;
            return this;
        }

        /** GPU TaskManagers when {@link #cluster} (default 0). */
        public Builder gpuTaskManagers(int gpuTaskManagers) {
            this.gpuTaskManagers = gpuTaskManagers;
            return this;
        }

        /** GPU device indices for the GPU TaskManagers, e.g. {@code ["0", "1"]} (default: nvidia-smi decides). */
        public Builder gpuIndices(List<String> gpuIndices) {
            this.gpuIndices = List.copyOf(Objects.requireNonNull(gpuIndices, "gpuIndices"));
            return this;
        }

        /** Task slots per TaskManager (default {@value FlinkCluster#DEFAULT_SLOTS}). */
        public Builder slots(int slots) {
            this.slots = slots;
            return this;
        }

        /** The JobManager's REST port (default 0: the previous one if free, else a free one). */
        public Builder flinkPort(int flinkPort) {
            this.flinkPort = flinkPort;
            return this;
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
            Ports.check("Flink REST port", flinkPort);
            if (flinkPort != 0 && (flinkPort == kafkaPort || flinkPort == registryPort)) {
                throw new IllegalArgumentException("the Flink REST port " + flinkPort + " is also the Kafka or the registry port");
            }
            FlinkCluster.Builder.checkCounts(taskManagers, gpuTaskManagers, slots);
            for (String index : gpuIndices) {
                if (!index.strip().matches("\\d+")) {
                    throw new IllegalArgumentException("a GPU index is a number like 0, got '" + index + "'");
                }
            }
            return new StackOptions(this);
        }
    }
}
