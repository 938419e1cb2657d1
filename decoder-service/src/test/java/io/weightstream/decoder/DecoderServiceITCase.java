package io.weightstream.decoder;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.policy.Policies;
import io.weightstream.publish.Attachments;
import io.weightstream.publish.CheckpointPublisher;
import io.weightstream.publish.PublishProgress;
import io.weightstream.publish.PublishResult;
import io.weightstream.registry.AvroDeserializer;
import io.weightstream.registry.AvroSerializer;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.ReplicaState;
import io.weightstream.serving.ModelManager;
import io.weightstream.serving.RealTexts;
import io.weightstream.serving.ServedModel;
import io.weightstream.serving.TextEmbedder;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import io.weightstream.stack.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decoder service on the real stack (Kafka broker + Apicurio Registry) with the real all-MiniLM-L6-v2. The
 * compressed records are made by the code the Flink job runs ({@link OfflineCompressor} + CompressedChunks) and
 * written the way the job writes them: transactionally, chunks to {@code weightstream.compressed}, then the version
 * record to {@code weightstream.versions}, Confluent-framed through the registry.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DecoderServiceITCase {
    static final Path MINILM = Path.of(System.getProperty("weightstream.stack.home", "../deploy/target/stack"),
            "models", "all-minilm-l6-v2", "all-minilm-l6-v2.onnx");
    static final String MODEL = "minilm";
    static final String KILL_MODEL = "minilm-kill";
    static final Duration WAIT = Duration.ofMinutes(3);

    @TempDir
    static Path work;
    static RunningStack stack;
    static SchemaRegistryClient registry;
    static OfflineCompressor.Result rtn8;
    static List<String> texts;
    static float[][] original;
    static DecoderService service;
    static final List<String> timings = new ArrayList<>();

    @BeforeAll
    static void setUp() {
        stack = LocalStack.start(work.resolve("stack"));
        registry = SchemaRegistryClient.builder().url(stack.registryUrl()).build();
        rtn8 = compress(Policies.of("rtn", Map.of("bits", "8")));
        timings.add(String.format(Locale.ROOT, "compress rtn 8-bit (OfflineCompressor, 2 threads): %.0f ms, ratio %.2f",
                rtn8.seconds() * 1000, rtn8.version().getRatio()));
        texts = RealTexts.paragraphs(16);
        try (TextEmbedder e = TextEmbedder.builder().modelPath(MINILM).build()) {
            original = e.embed(texts);
        }
        service = DecoderService.builder()
                .bootstrapServers(stack.bootstrapServers()).registryUrl(stack.registryUrl())
                .replicaId("it").repositoryDir(work.resolve("it/repository")).stagingDir(work.resolve("it/staging"))
                .models(List.of(MODEL)).httpPort(0).adminToken("secret")
                .start();
    }

    @AfterAll
    static void tearDown() throws IOException {
        for (Child c : Child.started) {
            c.process.destroyForcibly(); // a test that failed half-way must not leave replicas running
        }
        if (service != null) {
            service.close();
        }
        if (stack != null) {
            stack.close();
        }
        if (!timings.isEmpty()) {
            String text = String.join("\n", timings) + "\n";
            System.out.println("---- publish -> serving timings ----\n" + text);
            Files.createDirectories(Path.of("target"));
            Files.writeString(Path.of("target", "decoder-timings.txt"), text);
        }
    }

    @Test
    @Order(1)
    void aLossyAndALosslessVersionAreServedWithTheOriginalsEmbeddings() throws Exception {
        // nothing serves, but nothing was ever published either: ready once the topics are read to their end
        await("the replica to be ready", service::ready);
        assertThat(service.models().find(MODEL).flatMap(ModelManager::current)).isEmpty();
        assertThat(httpStatus("/readyz")).isEqualTo(200);
        // the publish step itself, for the itemised times (the Flink job would read these records)
        try (CheckpointPublisher p = CheckpointPublisher.builder().bootstrapServers(stack.bootstrapServers())
                .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                .transactionalId("it-publish").build(); Checkpoint ckpt = Checkpoint.open(MINILM)) {
            PublishResult r = p.publish(ckpt, MODEL, "published", Policies.of("rtn", Map.of("bits", "8")),
                    Attachments.defaultsFor(MINILM), PublishProgress.NONE);
            timings.add(String.format(Locale.ROOT, "publish %.1f MB to %s (one transaction): %.0f ms",
                    r.bytes() / 1e6, Topics.LAYERS, r.seconds() * 1000));
        }

        Versioned v1 = relabel(rtn8, MODEL, "v1", System.currentTimeMillis());
        long produceMs = produce(v1, "it-v1").millis();
        VersionReport served = awaitReport(service, "v1");
        assertThat(served.outcome()).isEqualTo(VersionReport.Outcome.SERVED);
        timings.add("rtn 8-bit: produce+commit " + produceMs + " ms; " + served.toLine());

        ServedModel.Info info = service.models().manager(MODEL).current().orElseThrow();
        assertThat(info.version()).isEqualTo("v1");
        assertThat(info.methods()).containsKeys("rtn", "lossless");
        float[][] embedded = embed(service);
        double minCosine = minCosine(embedded, original);
        assertThat(minCosine).isGreaterThanOrEqualTo(0.999);
        assertThat(minCosine).isLessThan(1.0); // lossy: the served weights are not the original ones
        timings.add(String.format(Locale.ROOT, "rtn 8-bit: min embedding cosine over %d real paragraphs %.5f",
                texts.size(), minCosine));

        assertThat(service.repository().lastGood(MODEL)).hasValue("v1");
        assertThat(fleet("it", MODEL)).satisfies(r -> {
            assertThat(r.lastEvent()).isEqualTo(ReplicaState.SWAPPED);
            assertThat(r.servingVersion()).isEqualTo("v1");
            assertThat(r.latencyMs()).isPositive();
        });
        assertThat(httpStatus("/readyz")).isEqualTo(200);

        OfflineCompressor.Result lossless = compress(Policies.of("lossless", Map.of()));
        timings.add(String.format(Locale.ROOT, "compress lossless (OfflineCompressor, 2 threads): %.0f ms, ratio %.2f",
                lossless.seconds() * 1000, lossless.version().getRatio()));
        Versioned v2 = relabel(lossless, MODEL, "v2", System.currentTimeMillis());
        lossless = null;
        produceMs = produce(v2, "it-v2").millis();
        v2 = null;
        VersionReport served2 = awaitReport(service, "v2");
        assertThat(served2.outcome()).isEqualTo(VersionReport.Outcome.SERVED);
        timings.add("lossless: produce+commit " + produceMs + " ms; " + served2.toLine());
        ServedModel.Info info2 = service.models().manager(MODEL).current().orElseThrow();
        assertThat(info2.version()).isEqualTo("v2");
        assertThat(Files.mismatch(info2.file(), MINILM)).isEqualTo(-1L); // bit-identical file
        float[][] exact = embed(service);
        for (int i = 0; i < exact.length; i++) {
            assertThat(exact[i]).as("text %d", i).containsExactly(original[i]);
        }
    }

    @Test
    @Order(2)
    void anOlderVersionIsKeptNotSwappedAndRollbackIsExplicit() throws Exception {
        ensureServing();
        String serving = service.models().manager(MODEL).current().orElseThrow().version();
        long servingPublished = service.models().manager(MODEL).current().orElseThrow().publishedAtMs();
        // a version published before the one serving, arriving late
        produce(relabel(rtn8, MODEL, "v0-late", servingPublished - 60_000), "it-late");
        VersionReport late = awaitReport(service, "v0-late");
        assertThat(late.outcome()).isEqualTo(VersionReport.Outcome.KEPT);
        assertThat(service.models().manager(MODEL).current().orElseThrow().version()).isEqualTo(serving);
        assertThat(service.keptVersions(MODEL)).extracting(ServedModel.Info::version).contains("v0-late", serving);

        ServedModel.Info rolled = service.activate(MODEL, "v0-late");
        assertThat(rolled.version()).isEqualTo("v0-late");
        assertThat(service.repository().lastGood(MODEL)).hasValue("v0-late");
        assertThat(fleet("it", MODEL)).satisfies(r -> {
            assertThat(r.lastEvent()).isEqualTo(ReplicaState.ROLLED_BACK);
            assertThat(r.servingVersion()).isEqualTo("v0-late");
        });
        assertThat(minCosine(embed(service), original)).isGreaterThanOrEqualTo(0.999);

        ServedModel.Info forward = service.activate(MODEL, serving);
        assertThat(forward.version()).isEqualTo(serving);
        assertThat(fleet("it", MODEL).lastEvent()).isEqualTo(ReplicaState.SWAPPED);
        assertThat(service.repository().lastGood(MODEL)).hasValue(serving);
    }

    @Test
    @Order(3)
    void aCorruptedRecordFailsItsVersionWhileThePreviousKeepsServing() throws Exception {
        ensureServing();
        ServedModel.Info before = service.models().manager(MODEL).current().orElseThrow();
        // a record that is not Avro at all
        long garbageOffset;
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(producerProps(null), new ByteArraySerializer(),
                new ByteArraySerializer())) {
            garbageOffset = p.send(new ProducerRecord<>(Topics.COMPRESSED, (MODEL + "/garbage").getBytes(StandardCharsets.UTF_8),
                    "definitely not a Confluent-framed Avro record".getBytes(StandardCharsets.UTF_8))).get().offset();
        }
        // one byte flipped in one chunk's data, its CRC field left as it was
        Versioned bad = relabel(rtn8, MODEL, "v3-corrupt", System.currentTimeMillis());
        CompressedLayerChunk victim = bad.chunks().stream()
                .max(java.util.Comparator.comparingInt(c -> c.getData().remaining())).orElseThrow();
        byte[] data = TestVersions.bytes(victim.getData());
        data[data.length / 3] ^= 0x01;
        victim.setData(ByteBuffer.wrap(data));
        produce(bad, "it-corrupt");

        VersionReport failed = awaitReport(service, "v3-corrupt");
        assertThat(failed.outcome()).isEqualTo(VersionReport.Outcome.FAILED);
        assertThat(failed.message()).contains("CRC-32C").contains(victim.getTensor());
        assertThat(service.models().manager(MODEL).current().orElseThrow().version()).isEqualTo(before.version());
        assertThat(service.repository().find(MODEL, "v3-corrupt")).isEmpty();
        assertThat(service.repository().lastGood(MODEL)).hasValue(before.version());
        assertThat(minCosine(embed(service), original)).isGreaterThanOrEqualTo(0.999); // still answering
        assertThat(fleet("it", MODEL)).satisfies(r -> {
            assertThat(r.lastEvent()).isEqualTo(ReplicaState.FAILED);
            assertThat(r.version()).isEqualTo("v3-corrupt");
            assertThat(r.servingVersion()).isEqualTo(before.version());
            assertThat(r.message()).contains("CRC-32C");
        });
        List<DeadLetter> dead = deadLetters();
        assertThat(dead).anySatisfy(d -> {
            assertThat(d.getVersion()).isEqualTo("v3-corrupt");
            assertThat(d.getModel()).isEqualTo(MODEL);
            assertThat(d.getSourceTopic()).isEqualTo(Topics.VERSIONS);
            assertThat(d.getStage()).isEqualTo("verify");
            assertThat(d.getReason()).contains("CRC-32C");
        });
        assertThat(dead).anySatisfy(d -> {
            assertThat(d.getSourceTopic()).isEqualTo(Topics.COMPRESSED);
            assertThat(d.getOffset()).isEqualTo(garbageOffset);
            assertThat(d.getStage()).isEqualTo("deserialize");
        });

        // the replica goes on: the next good version is served
        produce(relabel(rtn8, MODEL, "v4", System.currentTimeMillis()), "it-v4");
        assertThat(awaitReport(service, "v4").outcome()).isEqualTo(VersionReport.Outcome.SERVED);
    }

    @Test
    @Order(4)
    void aReplicaKilledDuringAssemblyOrMaterializingResumesAndNeverExposesAPartialModel() throws Exception {
        Path repo = work.resolve("kill/repository");
        Path staging = work.resolve("kill/staging");
        String group = "weightstream-decoder-kill";
        Versioned k1 = relabel(rtn8, KILL_MODEL, "k1", System.currentTimeMillis());
        int half = k1.chunks().size() / 2;
        try (RepositoryWatcher watcher = new RepositoryWatcher(repo.resolve(KILL_MODEL))) {
            Child first = Child.start("kill", repo, staging, work.resolve("kill-1.log"));
            assertThat(first.awaitLine("STARTED", WAIT)).isEqualTo("STARTED serving=none");
            Produced firstHalf = produce(new Versioned(null, k1.chunks().subList(0, half)), "kill-a");
            awaitCommitted(group, firstHalf.lastOffsets());
            first.kill();
            Path stageFile = staging.resolve(KILL_MODEL).resolve("k1" + ChunkStage.STAGE_SUFFIX);
            assertThat(stageFile).exists();

            Child second = Child.start("kill", repo, staging, work.resolve("kill-2.log"));
            assertThat(second.awaitLine("STARTED", WAIT)).isEqualTo("STARTED serving=none");
            produce(new Versioned(k1.version(), k1.chunks().subList(half, k1.chunks().size())), "kill-b");
            assertThat(second.awaitReport("k1")).startsWith("REPORT SERVED k1");
            assertThat(stageFile).doesNotExist();
            assertThat(fleet("kill", KILL_MODEL).servingVersion()).isEqualTo("k1");

            // now a kill while the next version is being materialized (decode, write, load or warm-up)
            Produced k2 = produce(relabel(rtn8, KILL_MODEL, "k2", System.currentTimeMillis()), "kill-c");
            awaitCommitted(group, k2.lastOffsets());
            Thread.sleep(300);
            second.kill();
            Child third = Child.start("kill", repo, staging, work.resolve("kill-3.log"));
            String started = third.awaitLine("STARTED", WAIT);
            assertThat(started).isIn("STARTED serving=k1", "STARTED serving=k2");
            timings.add("kill -9 while k2 was materializing: the restarted replica found " + started
                    + (started.endsWith("k1") ? " (killed before the swap) and served k2 from staging" : ""));
            if (started.endsWith("k1")) {
                assertThat(third.awaitReport("k2")).startsWith("REPORT SERVED k2");
            }
            third.stop();

            // a restart serves the last good version at once, before it consumes anything
            Child fourth = Child.start("kill", repo, staging, work.resolve("kill-4.log"));
            assertThat(fourth.awaitLine("STARTED", WAIT)).isEqualTo("STARTED serving=k2");
            fourth.stop();

            assertThat(watcher.scans()).isGreaterThan(10);
            assertThat(watcher.violations()).isEmpty();
        }
        ModelRepository kept = new ModelRepository(repo, 3);
        assertThat(kept.versions(KILL_MODEL)).extracting(ModelRepository.StoredVersion::version).containsExactly("k1", "k2");
        assertThat(kept.lastGood(KILL_MODEL)).hasValue("k2");
        try (Stream<Path> left = Files.list(repo.resolve(KILL_MODEL))) {
            assertThat(left.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("k1", "k2", "LAST_GOOD");
        }
        // what the killed replica served is the model: its embeddings match the original's
        try (TextEmbedder e = TextEmbedder.builder().modelPath(kept.find(KILL_MODEL, "k2").orElseThrow().modelFile())
                .tokenizerPath(kept.find(KILL_MODEL, "k2").orElseThrow().tokenizer().orElseThrow()).build()) {
            assertThat(minCosine(e.embed(texts), original)).isGreaterThanOrEqualTo(0.999);
        }
    }

    // ---------------------------------------------------------------- helpers

    static OfflineCompressor.Result compress(io.weightstream.schemas.CompressionPolicy policy) {
        try (Checkpoint ckpt = Checkpoint.open(MINILM)) {
            OfflineCompressor.Result r = new OfflineCompressor(2).compress(ckpt, MODEL, "compressed", policy, row -> { });
            r.version().getManifest().setAttachments(new ArrayList<>(Attachments.defaultsFor(MINILM)));
            return r;
        }
    }

    record Versioned(ModelVersionCompressed version, List<CompressedLayerChunk> chunks) {
    }

    record Produced(Map<TopicPartition, Long> lastOffsets, long millis) {
    }

    /** The records of {@code r} as those of {@code model}/{@code version}, published at {@code publishedAtMs}. */
    static Versioned relabel(OfflineCompressor.Result r, String model, String version, long publishedAtMs) {
        List<CompressedLayerChunk> chunks = new ArrayList<>(r.chunks().size());
        for (CompressedLayerChunk c : r.chunks()) {
            CompressedLayerChunk copy = CompressedLayerChunk.newBuilder(c).setModel(model).setVersion(version).build();
            copy.setData(c.getData().duplicate()); // share the payload bytes; only the labels differ
            chunks.add(copy);
        }
        CheckpointManifest m = CheckpointManifest.newBuilder(r.version().getManifest())
                .setModel(model).setVersion(version).setPublishedAtMs(publishedAtMs).build();
        ModelVersionCompressed v = ModelVersionCompressed.newBuilder(r.version()).setModel(model).setVersion(version)
                .setManifest(m).setPublishedAtMs(publishedAtMs).setCompletedAtMs(publishedAtMs).build();
        return new Versioned(v, chunks);
    }

    static Properties producerProps(String transactionalId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 2 << 20);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        if (transactionalId != null) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        return p;
    }

    /**
     * Writes the chunks in one transaction to {@code weightstream.compressed} and then the version record (if any)
     * in a second one to {@code weightstream.versions}: the job's two exactly-once sinks.
     */
    static Produced produce(Versioned v, String transactionalId) throws Exception {
        long t0 = System.nanoTime();
        Map<TopicPartition, Long> last = new HashMap<>();
        Serializer<SpecificRecord> values = new AvroSerializer<>(registry, null, false, true);
        try (KafkaProducer<String, SpecificRecord> p = new KafkaProducer<>(producerProps(transactionalId),
                new StringSerializer(), values)) {
            p.initTransactions();
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            if (!v.chunks().isEmpty()) {
                p.beginTransaction();
                for (CompressedLayerChunk c : v.chunks()) {
                    sent.add(p.send(new ProducerRecord<>(Topics.COMPRESSED, c.getModel() + "/" + c.getTensor(), c)));
                }
                p.commitTransaction();
            }
            if (v.version() != null) {
                p.beginTransaction();
                sent.add(p.send(new ProducerRecord<>(Topics.VERSIONS, v.version().getModel() + "/"
                        + v.version().getVersion(), v.version())));
                p.commitTransaction();
            }
            for (Future<RecordMetadata> f : sent) {
                RecordMetadata md = f.get();
                last.merge(new TopicPartition(md.topic(), md.partition()), md.offset(), Math::max);
            }
        }
        return new Produced(last, Math.round((System.nanoTime() - t0) / 1e6));
    }

    static void awaitCommitted(String group, Map<TopicPartition, Long> lastOffsets) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers()))) {
            await("group " + group + " to commit past " + lastOffsets, () -> {
                try {
                    Map<TopicPartition, OffsetAndMetadata> c = admin.listConsumerGroupOffsets(group)
                            .partitionsToOffsetAndMetadata().get();
                    return lastOffsets.entrySet().stream()
                            .allMatch(e -> c.get(e.getKey()) != null && c.get(e.getKey()).offset() > e.getValue());
                } catch (Exception e) {
                    return false;
                }
            });
        }
    }

    static VersionReport awaitReport(DecoderService s, String version) {
        VersionReport[] found = new VersionReport[1];
        await("a report of " + version, () -> {
            for (VersionReport r : s.reports()) {
                if (r.version().equals(version)) {
                    found[0] = r;
                    return true;
                }
            }
            return false;
        });
        return found[0];
    }

    static void ensureServing() throws Exception {
        Optional<ServedModel.Info> now = service.models().find(MODEL).flatMap(ModelManager::current);
        if (now.isEmpty()) {
            produce(relabel(rtn8, MODEL, "base", System.currentTimeMillis()), "it-base");
            assertThat(awaitReport(service, "base").outcome()).isEqualTo(VersionReport.Outcome.SERVED);
        }
    }

    static float[][] embed(DecoderService s) {
        try (ModelManager.Lease lease = s.models().manager(MODEL).acquire()) {
            return lease.model().embedder().orElseThrow().embed(texts);
        }
    }

    static double minCosine(float[][] a, float[][] b) {
        double min = 1;
        for (int i = 0; i < a.length; i++) {
            min = Math.min(min, TextEmbedder.cosine(a[i], b[i]));
        }
        return min;
    }

    static FleetStatus.Replica fleet(String replica, String model) {
        List<FleetStatus.Replica> all = FleetStatus.read(stack.bootstrapServers(), registry, Duration.ofSeconds(30));
        return all.stream().filter(r -> r.replica().equals(replica) && r.model().equals(model)).findFirst()
                .orElseThrow(() -> new AssertionError("no status of " + replica + "/" + model + " in " + all));
    }

    static List<DeadLetter> deadLetters() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        AvroDeserializer<DeadLetter> d = new AvroDeserializer<>(registry, DeadLetter.class);
        List<DeadLetter> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(Topics.DLQ, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.position(tp) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.add(d.deserialize(r.topic(), r.value()));
                }
            }
        }
        return out;
    }

    static int httpStatus(String path) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + service.httpPort() + path)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode();
    }

    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + WAIT.toSeconds() + " s waiting for " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what);
            }
        }
    }

    /** A decoder replica in a child JVM ({@link DecoderServiceMain}), its output in a log file. */
    static final class Child {
        static final List<Child> started = new CopyOnWriteArrayList<>();
        final Process process;
        final Path log;
        int linesRead;

        private Child(Process process, Path log) {
            this.process = process;
            this.log = log;
        }

        static Child start(String replica, Path repo, Path staging, Path log) throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = List.of(java, "-Xmx1g", "-Dai.djl.offline=true",
                    "-cp", System.getProperty("java.class.path"), DecoderServiceMain.class.getName(),
                    stack.bootstrapServers(), stack.registryUrl(), replica, repo.toString(), staging.toString(),
                    KILL_MODEL);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Child c = new Child(p, log);
            started.add(c);
            return c;
        }

        /** The next line of its output that starts with {@code prefix} (after those returned before). */
        String awaitLine(String prefix, Duration timeout) {
            String[] found = new String[1];
            await(prefix + " in " + log, () -> {
                List<String> lines = lines();
                for (int i = linesRead; i < lines.size(); i++) {
                    if (lines.get(i).startsWith(prefix)) {
                        linesRead = i + 1;
                        found[0] = lines.get(i);
                        return true;
                    }
                }
                if (!process.isAlive()) {
                    throw new AssertionError("the replica exited with " + process.exitValue() + ":\n" + String.join("\n", lines));
                }
                return false;
            });
            return found[0];
        }

        /** The next report line about {@code version} (a RESTORED line at start is about the version restored). */
        String awaitReport(String version) {
            while (true) {
                String line = awaitLine("REPORT ", WAIT);
                String[] words = line.split(" ");
                if (words.length > 2 && words[2].equals(version) && !words[1].equals("RESTORED")) {
                    return line;
                }
            }
        }

        List<String> lines() {
            try {
                return Files.readAllLines(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** SIGKILL: no shutdown hook, no close, no flush. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor();
        }

        /** A clean stop: closing its standard input makes it close the service. */
        void stop() throws Exception {
            process.getOutputStream().close();
            if (!process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the replica did not stop within 60 s: " + lines());
            }
            awaitLine("STOPPED", Duration.ofSeconds(5));
        }
    }

    /**
     * Scans a model's repository directory every few milliseconds while a replica writes into it and records every
     * version directory that is not complete, and every LAST_GOOD that names one.
     */
    static final class RepositoryWatcher implements AutoCloseable {
        private static final ObjectMapper JSON = new ObjectMapper();
        private final Path modelDir;
        private final List<String> violations = new CopyOnWriteArrayList<>();
        private final Thread thread;
        private volatile boolean running = true;
        private volatile int scans;

        RepositoryWatcher(Path modelDir) {
            this.modelDir = modelDir;
            this.thread = new Thread(this::run, "repository-watcher");
            thread.setDaemon(true);
            thread.start();
        }

        private void run() {
            while (running) {
                scan();
                scans++;
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private void scan() {
            if (!Files.isDirectory(modelDir)) {
                return;
            }
            try (Stream<Path> entries = Files.list(modelDir)) {
                for (Path p : entries.toList()) {
                    String name = p.getFileName().toString();
                    if (name.startsWith(".")) {
                        continue; // temp and trash directories are invisible by contract
                    }
                    if (name.equals(ModelRepository.LAST_GOOD)) {
                        String v;
                        try {
                            v = Files.readString(p).strip();
                        } catch (IOException e) {
                            continue; // replaced under us
                        }
                        Optional<String> problem = incomplete(modelDir.resolve(v));
                        problem.ifPresent(pr -> violations.add("LAST_GOOD names " + v + ": " + pr));
                    } else if (Files.isDirectory(p)) {
                        // a directory removed between the listing and now was complete until then (rename away)
                        incomplete(p).filter(pr -> Files.exists(p)).ifPresent(pr -> violations.add(name + ": " + pr));
                    }
                }
            } catch (IOException | UncheckedIOException e) {
                // the directory changed while listed: the next scan sees the new state
            }
        }

        private static Optional<String> incomplete(Path versionDir) {
            if (!Files.exists(versionDir)) {
                return Optional.of("missing");
            }
            try {
                JsonNode v = JSON.readTree(versionDir.resolve(ModelRepository.VERSION_FILE).toFile());
                Path file = versionDir.resolve(v.path("file").asText());
                long size = Files.size(file);
                if (size != v.path("fileBytes").asLong()) {
                    return Optional.of(file + " has " + size + " bytes, version.json says " + v.path("fileBytes"));
                }
                for (JsonNode a : v.path("attachments")) {
                    if (!Files.isRegularFile(versionDir.resolve(a.asText()))) {
                        return Optional.of("attachment " + a.asText() + " missing");
                    }
                }
                return Optional.empty();
            } catch (IOException e) {
                return Optional.of("unreadable: " + e);
            }
        }

        int scans() {
            return scans;
        }

        List<String> violations() {
            return violations;
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(5000);
        }
    }
}
