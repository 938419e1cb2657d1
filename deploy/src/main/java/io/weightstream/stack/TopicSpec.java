package io.weightstream.stack;

import java.util.Map;
import java.util.Objects;

/**
 * A topic to create: name, partition count and topic-level configs. The replication factor is the broker's
 * {@code default.replication.factor} (1 on the local stack, the cluster's choice elsewhere).
 *
 * <pre>{@code
 * TopicSpec spec = new TopicSpec("weightstream.layers", 4, Map.of("max.message.bytes", "16777216"));
 * }</pre>
 */
public record TopicSpec(String name, int partitions, Map<String, String> configs) {
    public TopicSpec {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("topic name is blank");
        }
        if (partitions < 1) {
            throw new IllegalArgumentException("topic " + name + ": partitions must be >= 1, got " + partitions);
        }
        configs = Map.copyOf(Objects.requireNonNull(configs, "configs"));
    }

    /** The same topic with {@code partitions} partitions. */
    public TopicSpec withPartitions(int partitions) {
        return new TopicSpec(name, partitions, configs);
    }
}
