package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.publish.CheckpointPublisher;
import io.weightstream.publish.PublishResult;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import io.weightstream.stack.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
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
    static final Duration WAIT = CompressionRoundTrip.WAIT;

    @TempDir
    static Path work;
    static RunningStack stack;
    static SchemaRegistryClient registry;
    static JobClient job;
    static Configuration options;
    static CompressionRoundTrip roundTrip;
    static final List<String> measurements = new ArrayList<>();

    @BeforeAll
    static void startStackAndJob() throws Exception {
        stack = LocalStack.start(work.resolve("stack"));
        registry = SchemaRegistryClient.builder().url(stack.registryUrl()).build();
        roundTrip = new CompressionRoundTrip(stack.bootstrapServers(), registry);
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
            if (roundTrip != null) {
                measurements.addAll(roundTrip.measurements());
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
        CompressionRoundTrip.Result r = publishAndCollect("v1-lossless", CompressionPolicy.newBuilder().setDefaultMethod("lossless").build());
        for (TensorEntry e : r.manifest().getTensors()) {
            assertThat(r.reconstruction().get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
        }
        assertThat(r.version().getRatio()).isGreaterThan(1.0);
        assertThat(r.version().getMethods()).extracting(m -> m.getMethod()).containsExactly("lossless");
        assertThat(job.getJobStatus().get()).isEqualTo(JobStatus.RUNNING);
    }

    @Test
    @Order(3)
    void theRealModelIsCompressedWithRtn8Bit() throws Exception {
        CompressionRoundTrip.Result r = publishAndCollect("v2-rtn8", CompressionPolicy.newBuilder().setDefaultMethod("rtn")
                .setDefaultParams(Map.of("bits", "8")).build());
        assertThat(r.version().getRatio()).isGreaterThan(3.0);
        assertThat(r.version().getMethods()).extracting(m -> m.getMethod()).contains("rtn");
        for (TensorEntry e : r.manifest().getTensors()) {
            if (e.getShape().size() <= 1) {
                assertThat(r.reconstruction().get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
            }
        }
    }

    @Test
    @Order(4)
    void theSameModelAgainOnAWarmJob() throws Exception {
        // the first version also pays for the JIT compiling the codecs; this one measures the job warm
        CompressionRoundTrip.Result r = publishAndCollect("v4-lossless-warm", CompressionPolicy.newBuilder().setDefaultMethod("lossless").build());
        for (TensorEntry e : r.manifest().getTensors()) {
            assertThat(r.reconstruction().get(e.getName())).as(e.getName()).isEqualTo(e.getSha256());
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
        CompressionRoundTrip.Result r = collect("v3-restart", published, t0, tPublished);
        assertThat(r.version().getRatio()).isGreaterThan(5.0);
        assertThat(job.getJobStatus().get()).isEqualTo(JobStatus.RUNNING);
    }

    /** Publishes MiniLM as {@code version} and checks what the job made of it ({@link CompressionRoundTrip#collect}). */
    CompressionRoundTrip.Result publishAndCollect(String version, CompressionPolicy policy) throws Exception {
        return roundTrip.publishAndCollect(version, policy);
    }

    static PublishResult publish(String version, CompressionPolicy policy) throws Exception {
        return roundTrip.publish(version, policy);
    }

    CompressionRoundTrip.Result collect(String version, PublishResult published, long t0, long tPublished) throws Exception {
        return roundTrip.collect(version, published, t0, tPublished);
    }

    static <T extends SpecificRecord> KafkaConsumer<String, T> consumer(Class<T> type, String topic) {
        return roundTrip.consumer(type, topic);
    }
}
