package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.codec.Codecs;
import io.weightstream.publish.CheckpointPublisher;
import io.weightstream.publish.PublishProgress;
import io.weightstream.publish.PublishResult;
import io.weightstream.registry.AvroDeserializer;
import io.weightstream.registry.AvroSerializer;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.Topics;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * What the job ITCases share, wherever the job runs (MiniCluster or a real cluster): publish the real
 * all-MiniLM-L6-v2 with the {@link CheckpointPublisher}, then read back what the job made of a version from
 * {@code weightstream.compressed} and {@code weightstream.versions} (read_committed) and check it: every tensor exactly
 * once, every chunk's CRC, every decoded tensor's SHA-256 equal to the one the encoder announced, the source hashes
 * equal to the manifest's, one version record with the manifest inside.
 *
 * <pre>{@code
 * CompressionRoundTrip roundTrip = new CompressionRoundTrip(stack.bootstrapServers(), registry);
 * CompressionRoundTrip.Result r = roundTrip.publishAndCollect("v1", policy);   // asserts exactly once and hashes
 * roundTrip.measurements();                                                    // one throughput line per version
 * }</pre>
 */
public final class CompressionRoundTrip {
    /** The real model: 90 MB of float32 in 248 tensors. */
    public static final Path MINILM = Path.of(System.getProperty("weightstream.stack.home", "../deploy/target/stack"),
            "models", "all-minilm-l6-v2", "all-minilm-l6-v2.onnx");
    public static final String MODEL = "minilm";
    public static final Duration WAIT = Duration.ofMinutes(4);

    private final String bootstrapServers;
    private final SchemaRegistryClient registry;
    private final List<String> measurements = Collections.synchronizedList(new ArrayList<>());

    public CompressionRoundTrip(String bootstrapServers, SchemaRegistryClient registry) {
        this.bootstrapServers = bootstrapServers;
        this.registry = registry;
    }

    /** What came back for one version; {@code reconstruction} holds the decoded SHA-256 by tensor. */
    public record Result(CheckpointManifest manifest, ModelVersionCompressed version, Map<String, String> reconstruction) {
    }

    /** One line per collected version: sizes, ratio and the measured times. */
    public List<String> measurements() {
        return List.copyOf(measurements);
    }

    /** Publishes MiniLM as {@code version} and {@link #collect collects} it. */
    public Result publishAndCollect(String version, CompressionPolicy policy) throws Exception {
        long t0 = System.currentTimeMillis();
        PublishResult published = publish(version, policy);
        return collect(version, published, t0, System.currentTimeMillis());
    }

    /** Publishes MiniLM as {@code version} in one transaction (transactional id {@code it-job-<version>}). */
    public PublishResult publish(String version, CompressionPolicy policy) throws Exception {
        try (CheckpointPublisher publisher = CheckpointPublisher.builder()
                .bootstrapServers(bootstrapServers)
                .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                .transactionalId("it-job-" + version)
                .build();
             Checkpoint ckpt = Checkpoint.open(MINILM)) {
            return publisher.publish(ckpt, MODEL, version, policy, PublishProgress.NONE);
        }
    }

    /**
     * The end of {@code weightstream.compressed} now (last stable offsets): take it before publishing a version, so
     * that {@link #awaitCommittedTensors} does not first read every earlier version.
     */
    public Map<TopicPartition, Long> compressedEnd() {
        try (KafkaConsumer<String, CompressedLayerChunk> compressed = consumer(CompressedLayerChunk.class, Topics.COMPRESSED)) {
            return compressed.endOffsets(compressed.assignment());
        }
    }

    /**
     * Waits until compressed records of at least {@code atLeast} tensors of {@code version} are visible
     * (read_committed) and returns those tensors' names; fewer when {@code wait} passes first.
     */
    public Set<String> awaitCommittedTensors(String version, int atLeast, Duration wait) {
        return awaitCommittedTensors(version, atLeast, wait, Map.of());
    }

    /** {@link #awaitCommittedTensors(String, int, Duration)} reading from {@code from} ({@link #compressedEnd()}). */
    public Set<String> awaitCommittedTensors(String version, int atLeast, Duration wait, Map<TopicPartition, Long> from) {
        Set<String> seen = new HashSet<>();
        try (KafkaConsumer<String, CompressedLayerChunk> compressed = consumer(CompressedLayerChunk.class, Topics.COMPRESSED)) {
            from.forEach(compressed::seek);
            long deadline = System.nanoTime() + wait.toNanos();
            while (seen.size() < atLeast && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, CompressedLayerChunk> rec : compressed.poll(Duration.ofMillis(50))) {
                    if (rec.value().getVersion().equals(version)) {
                        seen.add(rec.value().getTensor());
                    }
                }
            }
        }
        return seen;
    }

    /**
     * The tensors of {@code version} whose compressed records are visible (read_committed) now, reading from
     * {@code from} ({@link #compressedEnd()} before the version was published; empty: from the beginning).
     */
    public Set<String> committedTensors(String version, Map<TopicPartition, Long> from) {
        Set<String> seen = new HashSet<>();
        try (KafkaConsumer<String, CompressedLayerChunk> compressed = consumer(CompressedLayerChunk.class, Topics.COMPRESSED)) {
            from.forEach(compressed::seek);
            // a read_committed consumer's end offsets are the last stable offsets: read up to them
            Map<TopicPartition, Long> end = compressed.endOffsets(compressed.assignment());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (end.entrySet().stream().anyMatch(e -> compressed.position(e.getKey()) < e.getValue())
                    && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, CompressedLayerChunk> rec : compressed.poll(Duration.ofMillis(100))) {
                    if (rec.value().getVersion().equals(version)) {
                        seen.add(rec.value().getTensor());
                    }
                }
            }
        }
        return seen;
    }

    /**
     * Reads back and checks what the job made of {@code version}: waits for its version record and every tensor's
     * records, then a little longer for duplicates; asserts each tensor came exactly once and decodes to the hash the
     * encoder announced. {@code t0}: when publishing began; {@code tPublished}: when it ended.
     */
    public Result collect(String version, PublishResult published, long t0, long tPublished) throws Exception {
        CheckpointManifest manifest = published.manifest();
        Map<String, TensorEntry> entries = new HashMap<>();
        Map<String, Integer> expectedChunks = new HashMap<>();
        manifest.getTensors().forEach(e -> entries.put(e.getName(), e));

        Map<String, Map<Integer, CompressedLayerChunk>> chunks = new TreeMap<>();
        List<ModelVersionCompressed> versions = new ArrayList<>();
        long tLast = 0;
        int duplicates = 0;
        try (KafkaConsumer<String, CompressedLayerChunk> compressed = consumer(CompressedLayerChunk.class, Topics.COMPRESSED);
             KafkaConsumer<String, ModelVersionCompressed> versionTopic = consumer(ModelVersionCompressed.class, Topics.VERSIONS)) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, CompressedLayerChunk> rec : compressed.poll(Duration.ofMillis(100))) {
                    CompressedLayerChunk c = rec.value();
                    if (!c.getVersion().equals(version)) {
                        continue;
                    }
                    assertThat(rec.key()).isEqualTo(MODEL + "/" + c.getTensor());
                    assertThat(entries).as("compressed record of an unknown tensor").containsKey(c.getTensor());
                    if (chunks.computeIfAbsent(c.getTensor(), k -> new TreeMap<>()).put(c.getChunkIndex(), c) != null) {
                        duplicates++;
                    }
                    expectedChunks.put(c.getTensor(), c.getChunkCount());
                    tLast = System.currentTimeMillis();
                }
                for (ConsumerRecord<String, ModelVersionCompressed> rec : versionTopic.poll(Duration.ofMillis(10))) {
                    if (rec.value().getVersion().equals(version)) {
                        assertThat(rec.key()).isEqualTo(MODEL + "/" + version);
                        versions.add(rec.value());
                    }
                }
                if (!versions.isEmpty() && complete(chunks, expectedChunks, entries.size())) {
                    break;
                }
            }
            // a little longer: anything else for this version (a duplicate) would show up now
            long settle = System.nanoTime() + Duration.ofSeconds(3).toNanos();
            while (System.nanoTime() < settle) {
                for (ConsumerRecord<String, CompressedLayerChunk> rec : compressed.poll(Duration.ofMillis(100))) {
                    if (rec.value().getVersion().equals(version)) {
                        duplicates++;
                    }
                }
                for (ConsumerRecord<String, ModelVersionCompressed> rec : versionTopic.poll(Duration.ofMillis(10))) {
                    if (rec.value().getVersion().equals(version)) {
                        versions.add(rec.value());
                    }
                }
            }
        }
        double mb = published.bytes() / 1e6;
        String line = String.format(Locale.ROOT,
                "%s: %d tensors, %.1f MB -> %.1f MB (ratio %.3f); publish %.1f s; publish start -> last compressed record"
                        + " visible (read_committed) %.1f s = %.1f MB/s; job publishedAt -> completedAt %.1f s",
                version, entries.size(), mb, versions.isEmpty() ? 0 : versions.get(0).getEncodedBytes() / 1e6, versions.isEmpty() ? 0 : versions.get(0).getRatio(), (tPublished - t0) / 1e3,
                (tLast - t0) / 1e3, mb / ((tLast - t0) / 1e3), versions.isEmpty() ? 0 : (versions.get(0).getCompletedAtMs() - versions.get(0).getPublishedAtMs()) / 1e3);
        System.out.println("THROUGHPUT " + line);
        measurements.add(line);
        assertThat(versions).as("version records of " + version).hasSize(1);
        assertThat(complete(chunks, expectedChunks, entries.size())).as("every tensor's records").isTrue();
        assertThat(duplicates).as("duplicate compressed records").isZero();
        ModelVersionCompressed v = versions.get(0);
        assertThat(v.getTensorCount()).isEqualTo(entries.size());

        Map<String, String> reconstruction = new HashMap<>();
        long encoded = 0;
        for (Map.Entry<String, Map<Integer, CompressedLayerChunk>> t : chunks.entrySet()) {
            CompressedLayerChunk first = t.getValue().get(0);
            byte[] payload = new byte[Math.toIntExact(first.getEncodedBytes())];
            for (CompressedLayerChunk c : t.getValue().values()) {
                ByteBuffer d = c.getData().duplicate();
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(d.duplicate());
                assertThat((int) crc.getValue()).isEqualTo(c.getCrc32c());
                d.get(payload, Math.toIntExact(c.getOffset()), d.remaining());
            }
            encoded += payload.length;
            String sha = Fixtures.sha256(Codecs.decode(ByteBuffer.wrap(payload)).toBytes());
            assertThat(sha).as(t.getKey()).isEqualTo(first.getReconstructionSha256());
            assertThat(first.getSourceSha256()).isEqualTo(entries.get(t.getKey()).getSha256());
            reconstruction.put(t.getKey(), sha);
        }
        assertThat(encoded).isEqualTo(v.getEncodedBytes());
        assertThat(v.getManifest()).as("the manifest inside the version record").isEqualTo(manifest);

        return new Result(manifest, v, reconstruction);
    }

    static boolean complete(Map<String, Map<Integer, CompressedLayerChunk>> chunks, Map<String, Integer> counts, int tensors) {
        if (chunks.size() != tensors) {
            return false;
        }
        for (Map.Entry<String, Map<Integer, CompressedLayerChunk>> e : chunks.entrySet()) {
            if (e.getValue().size() != counts.get(e.getKey())) {
                return false;
            }
        }
        return true;
    }

    /** A read_committed consumer of every partition of {@code topic}, from the beginning, for 16 MiB records. */
    public <T extends SpecificRecord> KafkaConsumer<String, T> consumer(Class<T> type, String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 16 << 20);
        p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 64 << 20);
        KafkaConsumer<String, T> c = new KafkaConsumer<>(p, new StringDeserializer(), new AvroDeserializer<>(registry, type));
        List<TopicPartition> tps = c.partitionsFor(topic, Duration.ofSeconds(15)).stream()
                .map(pi -> new TopicPartition(topic, pi.partition())).toList();
        c.assign(tps);
        c.seekToBeginning(tps);
        return c;
    }
}
