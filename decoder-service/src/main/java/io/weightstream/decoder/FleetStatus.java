package io.weightstream.decoder;

import io.weightstream.registry.AvroDeserializer;
import io.weightstream.registry.RecordFormatException;
import io.weightstream.registry.SchemaRegistry;
import io.weightstream.schemas.ReplicaState;
import io.weightstream.schemas.ReplicaStatus;
import io.weightstream.stack.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Which replica serves which version: the latest {@link ReplicaStatus} of every (model, replica) on
 * {@code weightstream.fleet}, read from the beginning (read_committed) up to the end offsets at the time of the
 * call. What {@code ./weightstream fleet status} prints.
 *
 * <pre>{@code
 * for (FleetStatus.Replica r : FleetStatus.read(bootstrap, registry, Duration.ofSeconds(30))) {
 *     System.out.println(r.replica() + " serves " + r.model() + "/" + r.servingVersion());
 * }
 * }</pre>
 */
public final class FleetStatus {
    private FleetStatus() {
    }

    /**
     * The latest state of one replica for one model.
     *
     * @param lastEvent      the state of its latest event
     * @param version        the version that event was about
     * @param servingVersion the version it serves after that event ({@code null}: none)
     * @param latencyMs      the event's latency (publish to serving for SWAPPED)
     * @param timestampMs    when the event happened
     * @param events         how many events of this (model, replica) were read
     */
    public record Replica(String model, String replica, ReplicaState lastEvent, String version, String servingVersion,
                          long latencyMs, String message, long timestampMs, int events) {
    }

    /**
     * Reads the fleet topic from the beginning up to its end offsets at the time of the call.
     *
     * @throws IllegalStateException if it cannot catch up within {@code timeout}
     */
    public static List<Replica> read(String bootstrapServers, SchemaRegistry registry, Duration timeout) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "weightstream-fleet-status");
        AvroDeserializer<ReplicaStatus> deserializer = new AvroDeserializer<>(registry, ReplicaStatus.class);
        List<ReplicaStatus> events = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(Topics.FLEET, timeout);
            if (infos == null || infos.isEmpty()) {
                return List.of();
            }
            List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            while (!caughtUp(consumer, end)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read " + Topics.FLEET + " to its end within "
                            + timeout.toSeconds() + " s");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.value() == null) {
                        continue; // a tombstone (the topic is compacted)
                    }
                    try {
                        events.add(deserializer.deserialize(r.topic(), r.value()));
                    } catch (RecordFormatException e) {
                        // a foreign record on the fleet topic says nothing about a replica
                    }
                }
            }
        }
        return latest(events);
    }

    private static boolean caughtUp(KafkaConsumer<?, ?> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /** The latest event per (model, replica), in topic order, sorted by model then replica. */
    public static List<Replica> latest(List<ReplicaStatus> events) {
        Map<String, Replica> byKey = new LinkedHashMap<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (ReplicaStatus s : events) {
            String key = s.getModel() + "\u0000" + s.getReplica();
            int n = counts.merge(key, 1, Integer::sum);
            byKey.put(key, new Replica(s.getModel(), s.getReplica(), s.getState(), s.getVersion(),
                    s.getServingVersion(), s.getLatencyMs(), s.getMessage(), s.getTimestampMs(), n));
        }
        return byKey.values().stream()
                .sorted(Comparator.comparing(Replica::model).thenComparing(Replica::replica))
                .toList();
    }

    /** The replicas that serve {@code version} of {@code model} according to {@code replicas}. */
    public static Set<String> serving(List<Replica> replicas, String model, String version) {
        return replicas.stream().filter(r -> r.model().equals(model) && version.equals(r.servingVersion())
                && r.lastEvent() != ReplicaState.STOPPED).map(Replica::replica).collect(Collectors.toSet());
    }
}
