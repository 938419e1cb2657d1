package io.weightstream.stack;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * The Kafka topics of weightstream (DESIGN.md), their names in one place for every module, and their creation.
 *
 * <table>
 *   <caption>topics</caption>
 *   <tr><th>topic</th><th>partitions</th><th>cleanup</th><th>max.message.bytes</th></tr>
 *   <tr><td>{@value #CHECKPOINTS}</td><td>1</td><td>delete</td><td>16 MiB</td></tr>
 *   <tr><td>{@value #LAYERS}</td><td>4 (configurable)</td><td>delete</td><td>16 MiB</td></tr>
 *   <tr><td>{@value #COMPRESSED}</td><td>4 (configurable)</td><td>delete</td><td>16 MiB</td></tr>
 *   <tr><td>{@value #VERSIONS}</td><td>1</td><td>compact</td><td>1 MiB</td></tr>
 *   <tr><td>{@value #FLEET}</td><td>1</td><td>compact</td><td>1 MiB</td></tr>
 *   <tr><td>{@value #DLQ}</td><td>1</td><td>delete (never compacted)</td><td>16 MiB</td></tr>
 * </table>
 * The reasons are in {@code deploy/README.md}.
 *
 * <pre>{@code
 * try (Admin admin = Admin.create(props)) {
 *     List<String> created = Topics.ensure(admin, Topics.specs(), Duration.ofSeconds(30));
 * }
 * producer.send(new ProducerRecord<>(Topics.LAYERS, key, value));
 * registry.register(Topics.valueSubject(Topics.LAYERS), LayerChunk.getClassSchema());
 * }</pre>
 */
public final class Topics {
    /** One {@code CheckpointManifest} per published checkpoint, key {@code model/version}. */
    public static final String CHECKPOINTS = "weightstream.checkpoints";
    /** {@code LayerChunk}s of the published tensors, key {@code model/tensor}. */
    public static final String LAYERS = "weightstream.layers";
    /** {@code CompressedLayerChunk}s written by the compression job, key {@code model/tensor}. */
    public static final String COMPRESSED = "weightstream.compressed";
    /** One {@code ModelVersionCompressed} per fully compressed version, key {@code model/version}. */
    public static final String VERSIONS = "weightstream.versions";
    /** {@code ReplicaStatus} of each decoder replica, key {@code model/replica}. */
    public static final String FLEET = "weightstream.fleet";
    /** {@code DeadLetter}s: bad input with a reason. */
    public static final String DLQ = "weightstream.dlq";
    /** Every topic above, in flow order. */
    public static final List<String> ALL = List.of(CHECKPOINTS, LAYERS, COMPRESSED, VERSIONS, FLEET, DLQ);

    /** {@code max.message.bytes} of the topics that carry tensor bytes (chunks are 1 MiB by default). */
    public static final int CHUNK_TOPIC_MAX_MESSAGE_BYTES = 16 << 20;
    /** {@code max.message.bytes} of the small-record topics. */
    public static final int SMALL_TOPIC_MAX_MESSAGE_BYTES = 1 << 20;
    /** Default partitions of {@link #LAYERS} and {@link #COMPRESSED}: the parallelism the compression job can use. */
    public static final int DEFAULT_CHUNK_PARTITIONS = 4;

    private Topics() {
    }

    /** The schema-registry subject of a topic's values (DESIGN.md: {@code <topic>-value}). */
    public static String valueSubject(String topic) {
        return topic + "-value";
    }

    /** The topics with {@value #DEFAULT_CHUNK_PARTITIONS} partitions for the chunk topics. */
    public static List<TopicSpec> specs() {
        return specs(DEFAULT_CHUNK_PARTITIONS);
    }

    /** The topics with {@code chunkPartitions} partitions for {@link #LAYERS} and {@link #COMPRESSED}. */
    public static List<TopicSpec> specs(int chunkPartitions) {
        if (chunkPartitions < 1) {
            throw new IllegalArgumentException("chunkPartitions must be >= 1, got " + chunkPartitions);
        }
        return List.of(
                new TopicSpec(CHECKPOINTS, 1, chunkTopic()),
                new TopicSpec(LAYERS, chunkPartitions, chunkTopic()),
                new TopicSpec(COMPRESSED, chunkPartitions, chunkTopic()),
                new TopicSpec(VERSIONS, 1, compactedTopic(CHUNK_TOPIC_MAX_MESSAGE_BYTES)),
                new TopicSpec(FLEET, 1, compactedTopic(SMALL_TOPIC_MAX_MESSAGE_BYTES)),
                new TopicSpec(DLQ, 1, chunkTopic()));
    }

    private static Map<String, String> chunkTopic() {
        return Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE,
                TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(CHUNK_TOPIC_MAX_MESSAGE_BYTES));
    }

    private static Map<String, String> compactedTopic(int maxMessageBytes) {
        return Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(maxMessageBytes));
    }

    /**
     * Creates the topics of {@code specs} that do not exist and sets the listed configs on those that do
     * (idempotent; partition counts of existing topics are left alone, since changing them moves keys).
     * Returns the names it created.
     */
    public static List<String> ensure(Admin admin, Collection<TopicSpec> specs, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            Set<String> existing = admin.listTopics().names().get(left(deadline), TimeUnit.MILLISECONDS);
            List<NewTopic> toCreate = new ArrayList<>();
            Map<ConfigResource, Collection<AlterConfigOp>> toAlter = new HashMap<>();
            for (TopicSpec spec : specs) {
                if (existing.contains(spec.name())) {
                    List<AlterConfigOp> ops = new ArrayList<>();
                    spec.configs().forEach((k, v) -> ops.add(new AlterConfigOp(new ConfigEntry(k, v), AlterConfigOp.OpType.SET)));
                    if (!ops.isEmpty()) {
                        toAlter.put(new ConfigResource(ConfigResource.Type.TOPIC, spec.name()), ops);
                    }
                } else {
                    toCreate.add(new NewTopic(spec.name(), Optional.of(spec.partitions()), Optional.empty()).configs(spec.configs()));
                }
            }
            List<String> created = new ArrayList<>();
            if (!toCreate.isEmpty()) {
                var result = admin.createTopics(toCreate).values();
                for (NewTopic t : toCreate) {
                    try {
                        result.get(t.name()).get(left(deadline), TimeUnit.MILLISECONDS);
                        created.add(t.name());
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof TopicExistsException)) {
                            throw e; // a concurrent creator is fine; anything else is not
                        }
                    }
                }
            }
            if (!toAlter.isEmpty()) {
                admin.incrementalAlterConfigs(toAlter).all().get(left(deadline), TimeUnit.MILLISECONDS);
            }
            return created;
        } catch (ExecutionException e) {
            throw new StackException("cannot create the weightstream topics: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new StackException("creating the weightstream topics took over " + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while creating topics", e);
        }
    }

    /** {@link #ensure(Admin, Collection, Duration)} with {@link #specs()} against {@code bootstrapServers}. */
    public static List<String> ensure(String bootstrapServers) {
        return ensure(bootstrapServers, DEFAULT_CHUNK_PARTITIONS);
    }

    /** {@link #ensure(Admin, Collection, Duration)} with {@link #specs(int)} against {@code bootstrapServers}. */
    public static List<String> ensure(String bootstrapServers, int chunkPartitions) {
        try (Admin admin = Admin.create(adminProperties(bootstrapServers))) {
            return ensure(admin, specs(chunkPartitions), Duration.ofSeconds(60));
        }
    }

    /** Which of {@link #ALL} exist on the cluster, in the order of {@link #ALL} (true = present). */
    public static Map<String, Boolean> presence(Admin admin, Duration timeout) {
        try {
            Set<String> names = admin.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            Map<String, Boolean> out = new LinkedHashMap<>();
            ALL.forEach(t -> out.put(t, names.contains(t)));
            return out;
        } catch (ExecutionException | TimeoutException e) {
            throw new StackException("cannot list topics: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while listing topics", e);
        }
    }

    static Properties adminProperties(String bootstrapServers) {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return props;
    }

    private static long left(long deadline) {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    }
}
