package io.weightstream.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.safetensors.SyntheticCheckpoint;
import io.weightstream.registry.AvroDeserializer;
import io.weightstream.registry.AvroSerializer;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import io.weightstream.stack.Topics;
import io.weightstream.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The publisher against a real Kafka broker and a real Apicurio Registry. */
class CheckpointPublisherITCase {
    static final Path MINILM = Path.of(System.getProperty("weightstream.stack.home", "../deploy/target/stack"),
            "models", "all-minilm-l6-v2", "all-minilm-l6-v2.onnx");
    static final CompressionPolicy LOSSLESS = CompressionPolicy.newBuilder().setDefaultMethod("lossless").build();

    @TempDir
    static Path work;
    static RunningStack stack;
    static SchemaRegistryClient registry;

    @BeforeAll
    static void startStack() {
        stack = LocalStack.start(work.resolve("stack"));
        registry = SchemaRegistryClient.builder().url(stack.registryUrl()).build();
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    static CheckpointPublisher publisher(String txId) {
        return CheckpointPublisher.builder()
                .bootstrapServers(stack.bootstrapServers())
                .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                .transactionalId(txId)
                .build();
    }

    @Test
    void realModelRoundTripsBitExactThroughKafka() throws Exception {
        PublishResult r;
        try (CheckpointPublisher p = publisher("it-minilm"); Checkpoint ckpt = Checkpoint.open(MINILM)) {
            r = p.publish(ckpt, "minilm", "v1", LOSSLESS, Attachments.defaultsFor(MINILM), PublishProgress.NONE);
            // the manifest's hashes are the hashes of the file's tensors
            Map<String, String> fileHashes = new java.util.HashMap<>();
            for (CheckpointTensor t : ckpt.tensors()) {
                fileHashes.put(t.name(), sha256(t.data()));
            }
            for (TensorEntry e : r.manifest().getTensors()) {
                assertThat(e.getSha256()).as(e.getName()).isEqualTo(fileHashes.get(e.getName()));
            }
            assertThat(r.tensors()).isEqualTo(ckpt.tensors().size());
        }
        assertThat(r.bytes()).isGreaterThan(85_000_000L);
        assertThat(r.chunks()).isGreaterThanOrEqualTo(r.bytes() / CheckpointPublisher.DEFAULT_CHUNK_BYTES);

        PublishedCheckpoint back = PublishedCheckpoint.read(stack.bootstrapServers(), registry, "minilm", "v1",
                Duration.ofSeconds(60), 1L << 30);
        Path rebuilt = work.resolve("minilm-v1.onnx");
        back.writeFile(rebuilt);
        assertThat(Files.mismatch(rebuilt, MINILM)).isEqualTo(-1L);
        // the tokenizer travels with the version
        assertThat(back.manifest().getAttachments()).singleElement().satisfies(a -> {
            assertThat(a.getName()).isEqualTo(Attachments.TOKENIZER);
            assertThat(a.getData().remaining()).isEqualTo((int) Files.size(MINILM.resolveSibling("all-minilm-l6-v2-tokenizer.json")));
        });
    }

    @Test
    void largeTensorsAreCutIntoRowBlocksAndJoinedBack() throws Exception {
        Path file = work.resolve("big.safetensors");
        SyntheticCheckpoint.write(file, 12L << 20, DType.F32, 7);
        PublishResult r;
        try (CheckpointPublisher p = CheckpointPublisher.builder()
                .bootstrapServers(stack.bootstrapServers())
                .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                .transactionalId("it-parts").chunkBytes(16 << 10).maxTensorBytes(100 << 10).build();
             Checkpoint ckpt = Checkpoint.open(file)) {
            r = p.publish(ckpt, "synthetic", "parts", LOSSLESS, PublishProgress.NONE);
        }
        List<TensorEntry> parts = r.manifest().getTensors().stream().filter(e -> e.getPart() != null).toList();
        assertThat(parts).isNotEmpty();
        assertThat(parts).allSatisfy(e -> {
            assertThat(e.getByteSize()).isLessThanOrEqualTo(100 << 10);
            assertThat(e.getName()).contains("#part");
            assertThat(e.getPart().getParentSha256()).hasSize(64);
        });
        PublishedCheckpoint back = PublishedCheckpoint.read(stack.bootstrapServers(), registry, "synthetic", "parts",
                Duration.ofSeconds(60), 1L << 30);
        Path rebuilt = work.resolve("big-rebuilt.safetensors");
        back.writeFile(rebuilt);
        assertThat(Files.mismatch(rebuilt, file)).isEqualTo(-1L);
    }

    @Test
    void aFailureHalfwayAbortsTheTransactionAndNothingIsVisible() throws Exception {
        Path file = work.resolve("truncated.safetensors");
        SyntheticCheckpoint.write(file, 6L << 20, DType.F32, 11);
        try (CheckpointPublisher p = publisher("it-abort"); Checkpoint ckpt = Checkpoint.open(file)) {
            // the file loses its second half after it was opened: reads fail in the middle of the transaction
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(Files.size(file) / 2);
            }
            assertThatThrownBy(() -> p.publish(ckpt, "aborted", "v1", LOSSLESS, PublishProgress.NONE))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining("aborted/v1")
                    .hasMessageContaining("transaction aborted");
        }
        // chunks were written before the failure (read_uncommitted sees them), but committed readers see none
        assertThat(countChunks("aborted", "read_uncommitted")).isPositive();
        assertThat(countChunks("aborted", "read_committed")).isZero();
        assertThatThrownBy(() -> PublishedCheckpoint.read(stack.bootstrapServers(), registry, "aborted", "v1",
                Duration.ofSeconds(3), 1L << 30)).hasMessageContaining("not found");
    }

    @Test
    void unreachableBrokerIsAClearError() throws Exception {
        int closedPort = freePort();
        assertThatThrownBy(() -> CheckpointPublisher.builder()
                .bootstrapServers("127.0.0.1:" + closedPort)
                .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                .connectTimeout(Duration.ofSeconds(3))
                .build())
                .isInstanceOf(PublishException.class)
                .hasMessageContaining("127.0.0.1:" + closedPort);
    }

    @Test
    void unreachableRegistryAbortsWithTheEndpointNamed() throws Exception {
        int closedPort = freePort();
        SchemaRegistryClient dead = SchemaRegistryClient.builder().url("http://127.0.0.1:" + closedPort)
                .timeout(Duration.ofSeconds(2)).build();
        Path file = work.resolve("small.safetensors");
        SyntheticCheckpoint.write(file, 1L << 20, DType.F32, 3);
        try (CheckpointPublisher p = CheckpointPublisher.builder()
                .bootstrapServers(stack.bootstrapServers())
                .valueSerializer(new AvroSerializer<SpecificRecord>(dead, null, false, true))
                .transactionalId("it-dead-registry").build();
             Checkpoint ckpt = Checkpoint.open(file)) {
            assertThatThrownBy(() -> p.publish(ckpt, "noregistry", "v1", LOSSLESS, PublishProgress.NONE))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining("127.0.0.1:" + closedPort);
        }
        assertThat(countChunks("noregistry", "read_uncommitted")).isZero();
    }

    @Test
    void watchPublishesEachCompleteCheckpointOnce() throws Exception {
        Path dir = Files.createDirectories(work.resolve("trainer"));
        SyntheticCheckpoint.write(dir.resolve("step-100.safetensors"), 1L << 20, DType.F32, 100);
        SyntheticCheckpoint.write(dir.resolve("step-200.safetensors"), 1L << 20, DType.F32, 200);
        try (CheckpointPublisher p = publisher("it-watch")) {
            CheckpointWatcher w = new CheckpointWatcher(dir, Duration.ZERO, CheckpointWatcher.VersionNaming.FILE_NAME,
                    (f, v) -> {
                        try (Checkpoint ckpt = Checkpoint.open(f)) {
                            p.publish(ckpt, "trainer", v, LOSSLESS, PublishProgress.NONE);
                        }
                    });
            assertThat(w.poll()).isEmpty(); // first sight: not settled yet
            assertThat(w.poll()).hasSize(2);
            assertThat(w.poll()).isEmpty(); // never twice
            // a restarted watcher reads the ledger and publishes nothing again
            CheckpointWatcher again = new CheckpointWatcher(dir, Duration.ZERO, CheckpointWatcher.VersionNaming.FILE_NAME,
                    (f, v) -> { throw new AssertionError("published twice: " + f); });
            again.poll();
            assertThat(again.poll()).isEmpty();
        }
        for (String v : List.of("step-100", "step-200")) {
            PublishedCheckpoint back = PublishedCheckpoint.read(stack.bootstrapServers(), registry, "trainer", v,
                    Duration.ofSeconds(30), 1L << 30);
            assertThat(back.manifest().getVersion()).isEqualTo(v);
        }
    }

    static long countChunks(String model, String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES);
        long n = 0;
        try (KafkaConsumer<String, LayerChunk> c = new KafkaConsumer<>(p, new StringDeserializer(),
                new AvroDeserializer<>(registry, LayerChunk.class))) {
            List<TopicPartition> tps = c.partitionsFor(Topics.LAYERS).stream()
                    .map(pi -> new TopicPartition(Topics.LAYERS, pi.partition())).toList();
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, LayerChunk> r : c.poll(Duration.ofMillis(200))) {
                    if (r.key().startsWith(model + "/")) {
                        n++;
                    }
                }
                boolean atEnd = tps.stream().allMatch(tp -> c.position(tp) >= end.get(tp));
                if (atEnd) {
                    break;
                }
            }
        }
        return n;
    }

    static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String sha256(ByteBuffer b) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(b.duplicate());
        return HexFormat.of().formatHex(md.digest());
    }
}
