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
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import io.weightstream.stack.Topics;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compression job on a local MiniCluster (the environment {@code ./weightstream job} uses) against a real Kafka
 * broker and a real Apicurio Registry: the real all-MiniLM-L6-v2 (90 MB float32 ONNX) published with the
 * {@link CheckpointPublisher}, compressed lossless and with rtn 8-bit, read back read_committed and decoded in pure
 * Java; garbage on the layers topic ends in the dead-letter topic while the job keeps running. Prints the measured
 * end-to-end throughput (publish start to the last compressed record visible to a read_committed consumer).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CompressionJobITCase {
    static final Path MINILM = Path.of(System.getProperty("weightstream.stack.home", "../deploy/target/stack"),
            "models", "all-minilm-l6-v2", "all-minilm-l6-v2.onnx");
    static final Duration WAIT = Duration.ofMinutes(4);

    @TempDir
    static Path work;
    static RunningStack stack;
    static SchemaRegistryClient registry;
    static JobClient job;
    static Configuration options;
    static final List<String> measurements = new ArrayList<>();

    @BeforeAll
    static void startStackAndJob() throws Exception {
        stack = LocalStack.start(work.resolve("stack"));
        registry = SchemaRegistryClient.builder().url(stack.registryUrl()).build();
        options = CompressionJobOptions.parse(Map.of(
                "bootstrap.servers", stack.bootstrapServers(),
                "registry.url", stack.registryUrl(),
                "parallelism", "2",
                "checkpoint.interval", "1 s",
                "checkpoint.dir", work.resolve("checkpoints").toUri().toString(),
                "transactional.id.prefix", "it-compression"));
        job = CompressionJob.kafka(options).executeAsync(CompressionJob.localEnvironment(options));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (job != null) {
                CompressionJobMain.cancel(job, Duration.ofSeconds(30));
            }
        } finally {
            if (stack != null) {
                stack.close();
            }
            if (!measurements.isEmpty()) {
                Path report = Path.of("target", "compression-job-throughput.txt");
                Files.createDirectories(report.getParent());
                Files.write(report, measurements);
            }
        }
    }

    @Test
    @Order(1)
    void garbageOnTheLayersTopicEndsInTheDeadLetterTopicAndTheJobKeepsRunning() throws Exception {
        byte[] garbage = new byte[5000];
        new Random(1).nextBytes(garbage);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(Topics.LAYERS, "minilm/garbage".getBytes(StandardCharsets.UTF_8), garbage)).get();
        }
        DeadLetter d = null;
        try (KafkaConsumer<String, DeadLetter> dlq = consumer(DeadLetter.class, Topics.DLQ)) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (d == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, DeadLetter> r : dlq.poll(Duration.ofMillis(200))) {
                    if ("minilm/garbage".equals(r.key())) {
                        d = r.value();
                    }
                }
            }
        }
        assertThat(d).as("dead letter of the garbage record").isNotNull();
        assertThat(d.getSourceTopic()).isEqualTo(Topics.LAYERS);
        assertThat(d.getStage()).isEqualTo(DeadLetters.DESERIALIZE);
        assertThat(Fixtures.bytes(d.getValue())).isEqualTo(garbage);
        assertThat(d.getReason()).contains("magic");
        assertThat(job.getJobStatus().get()).isEqualTo(JobStatus.RUNNING);
    }

    @Test
    @Order(2)
    void theRealModelIsCompressedLosslessExactlyOnceAndDecodesBitExact() throws Exception {
        Result r = publishAndCollect("v1-lossless", CompressionPolicy.newBuilder().setDefaultMethod("lossless").build());
        for (TensorEntry e : r.manifest.getTensors()) {
            assertThat(r.reconstruction.get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
        }
        assertThat(r.version.getRatio()).isGreaterThan(1.0);
        assertThat(r.version.getMethods()).extracting(m -> m.getMethod()).containsExactly("lossless");
        assertThat(job.getJobStatus().get()).isEqualTo(JobStatus.RUNNING);
    }

    @Test
    @Order(3)
    void theRealModelIsCompressedWithRtn8Bit() throws Exception {
        Result r = publishAndCollect("v2-rtn8", CompressionPolicy.newBuilder().setDefaultMethod("rtn")
                .setDefaultParams(Map.of("bits", "8")).build());
        assertThat(r.version.getRatio()).isGreaterThan(3.0);
        assertThat(r.version.getMethods()).extracting(m -> m.getMethod()).contains("rtn");
        for (TensorEntry e : r.manifest.getTensors()) {
            if (e.getShape().size() <= 1) {
                assertThat(r.reconstruction.get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
            }
        }
    }

    @Test
    @Order(4)
    void theSameModelAgainOnAWarmJob() throws Exception {
        // the first version also pays for the JIT compiling the codecs; this one measures the job warm
        Result r = publishAndCollect("v4-lossless-warm", CompressionPolicy.newBuilder().setDefaultMethod("lossless").build());
        for (TensorEntry e : r.manifest.getTensors()) {
            assertThat(r.reconstruction.get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
        }
    }

    @Test
    @Order(5)
    void aJobStoppedMidVersionResumesFromItsCheckpointAndStillWritesEveryTensorExactlyOnce() throws Exception {
        long t0 = System.currentTimeMillis();
        PublishResult published = publish("v3-restart", CompressionPolicy.newBuilder().setDefaultMethod("rtn")
                .setDefaultParams(Map.of("bits", "4", "group.size", "64")).build());
        long tPublished = System.currentTimeMillis();
        // stop the job once it has committed part of the version
        java.util.Set<String> before = new java.util.HashSet<>();
        try (KafkaConsumer<String, CompressedLayerChunk> compressed = consumer(CompressedLayerChunk.class, Topics.COMPRESSED)) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (before.isEmpty() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, CompressedLayerChunk> rec : compressed.poll(Duration.ofMillis(50))) {
                    if (rec.value().getVersion().equals("v3-restart")) {
                        before.add(rec.value().getTensor());
                    }
                }
            }
        }
        assertThat(before).as("compressed records of v3-restart before the stop").isNotEmpty();
        CompressionJobMain.cancel(job, Duration.ofSeconds(60));
        assertThat(job.getJobExecutionResult()).isCompletedExceptionally(); // cancelled
        assertThat(CompressionJob.latestCheckpoint(CompressionJob.localCheckpointDir(options)))
                .as("the checkpoint kept when the job was cancelled").isPresent();

        job = CompressionJob.kafka(options).executeAsync(CompressionJob.localEnvironment(options));
        measurements.add("v3-restart: the job was cancelled when " + before.size() + " of "
                + published.manifest().getTensors().size() + " tensors had committed records, then resumed");
        Result r = collect("v3-restart", published, t0, tPublished);
        assertThat(r.version.getRatio()).isGreaterThan(5.0);
        assertThat(job.getJobStatus().get()).isEqualTo(JobStatus.RUNNING);
    }

    record Result(CheckpointManifest manifest, ModelVersionCompressed version, Map<String, String> reconstruction) {
    }

    /**
     * Publishes MiniLM as {@code version}, waits for its version record, reads every compressed record of it
     * read_committed, checks that each tensor came exactly once and decodes to the hash the encoder announced;
     * returns the decoded hashes by tensor.
     */
    Result publishAndCollect(String version, CompressionPolicy policy) throws Exception {
        long t0 = System.currentTimeMillis();
        PublishResult published = publish(version, policy);
        return collect(version, published, t0, System.currentTimeMillis());
    }

    static PublishResult publish(String version, CompressionPolicy policy) throws Exception {
        try (CheckpointPublisher publisher = CheckpointPublisher.builder()
                .bootstrapServers(stack.bootstrapServers())
                .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                .transactionalId("it-job-" + version)
                .build();
             Checkpoint ckpt = Checkpoint.open(MINILM)) {
            return publisher.publish(ckpt, "minilm", version, policy, PublishProgress.NONE);
        }
    }

    /** Reads back and checks what the job made of {@code version}; {@code t0}: when publishing began. */
    Result collect(String version, PublishResult published, long t0, long tPublished) throws Exception {
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
                    assertThat(rec.key()).isEqualTo("minilm/" + c.getTensor());
                    assertThat(entries).as("compressed record of an unknown tensor").containsKey(c.getTensor());
                    if (chunks.computeIfAbsent(c.getTensor(), k -> new TreeMap<>()).put(c.getChunkIndex(), c) != null) {
                        duplicates++;
                    }
                    expectedChunks.put(c.getTensor(), c.getChunkCount());
                    tLast = System.currentTimeMillis();
                }
                for (ConsumerRecord<String, ModelVersionCompressed> rec : versionTopic.poll(Duration.ofMillis(10))) {
                    if (rec.value().getVersion().equals(version)) {
                        assertThat(rec.key()).isEqualTo("minilm/" + version);
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

    static <T extends SpecificRecord> KafkaConsumer<String, T> consumer(Class<T> type, String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
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
