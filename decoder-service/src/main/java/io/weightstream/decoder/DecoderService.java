package io.weightstream.decoder;

import io.weightstream.concurrent.Futures;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.compress.CompressedModelException;
import io.weightstream.compress.ModelMaterializer;
import io.weightstream.registry.AvroDeserializer;
import io.weightstream.registry.RecordFormatException;
import io.weightstream.registry.SchemaRegistry;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.registry.SchemaRegistryException;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.ReplicaState;
import io.weightstream.serving.HttpApi;
import io.weightstream.serving.ModelManager;
import io.weightstream.serving.ServedModel;
import io.weightstream.serving.ServingMetrics;
import io.weightstream.serving.ServingModels;
import io.weightstream.serving.VersionActivator;
import io.weightstream.stack.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One decoder replica: consumes {@code weightstream.compressed} and {@code weightstream.versions}
 * (read_committed, its own consumer group), stages every record durably before committing its offset, and when a
 * version is complete materializes it (join, decode, verify, rebuild the file), stores it in the versioned
 * repository atomically, loads it into ONNX Runtime, warms it up and swaps it in; it reports each step on
 * {@code weightstream.fleet} and every bad input on {@code weightstream.dlq}, and serves the HTTP API.
 *
 * <p><b>Guarantees.</b> A record's offset is committed only after the record is fsynced in the {@link ChunkStage}
 * (or its dead letter is acknowledged), so a crash at any point loses nothing. A version is swapped in only after
 * every tensor passed its CRC, SHA-256, dtype and shape checks, the rebuilt file was renamed into the repository
 * and the model loaded and answered the warm-up probes; a version that fails any of that is never served, the
 * previous one keeps serving, and the failure goes to the fleet topic (FAILED) and the dead-letter topic.
 * {@code LAST_GOOD} moves only after a successful swap; a restart serves it before consuming anything.
 *
 * <p><b>Which version serves.</b> The newest by publish time ({@code publishedAtMs}). A version that completes
 * after a newer one is already serving is materialized, checked and kept (for rollback) but not swapped in; if
 * {@code keep} newer versions are kept already it is dropped as superseded. Going back is explicit:
 * {@link #activate} (the admin API), reported as ROLLED_BACK.
 *
 * <p><b>Threads.</b> One consumer thread polls, stages, syncs and commits; one materializing thread decodes
 * ({@code decode.threads} in parallel), writes, loads, warms up and swaps, one version at a time, so polling goes on
 * while a version is being built (no max.poll.interval.ms trouble). Activation requests run on the materializing
 * thread too.
 *
 * <pre>{@code
 * try (DecoderService decoder = DecoderService.builder()
 *         .bootstrapServers("127.0.0.1:9092").registryUrl("http://127.0.0.1:8080/apis/ccompat/v7")
 *         .replicaId("r1").repositoryDir(Path.of("replica-r1/repository"))
 *         .httpPort(8090)
 *         .start()) {
 *     decoder.models().manager("all-minilm-l6-v2").current();   // what serves now
 * }
 * }</pre>
 */
public final class DecoderService implements VersionActivator, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DecoderService.class);
    private static final Pattern REPLICA_ID = Pattern.compile("[A-Za-z0-9._-]{1,100}");
    /** Largest record the consumer must be able to fetch: the versions topic holds records up to 16 MiB. */
    static final int MAX_RECORD_BYTES = Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES;
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(200);
    private static final long RETRY_BACKOFF_MS = 1000;

    private record Key(String model, String version) {
        @Override
        public String toString() {
            return model + "/" + version;
        }
    }

    private final Builder settings;
    private final String replica;
    private final ModelRepository repository;
    private final ChunkStage stage;
    private final ServingModels models = new ServingModels();
    private final ServingMetrics metrics = new ServingMetrics();
    private final SchemaRegistry registry;
    private final ReplicaReporter reporter;
    private final ModelMaterializer materializer;
    private final VersionLoader loader;
    private final AvroDeserializer<CompressedLayerChunk> chunks;
    private final AvroDeserializer<ModelVersionCompressed> versions;
    private final ExecutorService materializing;
    private final Set<Key> queued = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final List<VersionReport> reports = new CopyOnWriteArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread consumerThread;
    private volatile KafkaConsumer<byte[], byte[]> consumer;
    private volatile boolean caughtUp;
    private volatile boolean anythingPublished;
    private HttpApi http;

    private DecoderService(Builder b) {
        this.settings = b;
        this.replica = b.replicaId;
        this.registry = b.registry != null ? b.registry : SchemaRegistryClient.builder().url(b.registryUrl).build();
        this.repository = new ModelRepository(b.repositoryDir, b.keepVersions);
        this.stage = ChunkStage.open(b.stagingDir(), b.stagingBudgetBytes);
        this.materializer = new ModelMaterializer(b.decodeThreads, DecodeLimits.DEFAULT);
        this.loader = new VersionLoader(b.inferenceThreads, b.warmUpTexts != null ? b.warmUpTexts
                : VersionLoader.defaultWarmUpTexts(b.warmUpTextCount));
        this.chunks = new AvroDeserializer<>(registry, CompressedLayerChunk.class);
        this.versions = new AvroDeserializer<>(registry, ModelVersionCompressed.class);
        this.reporter = new ReplicaReporter(b.bootstrapServers, registry, replica);
        this.materializing = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "weightstream-decoder-" + replica + "-versions");
            t.setDaemon(true);
            return t;
        });
        this.consumerThread = new Thread(this::consume, "weightstream-decoder-" + replica + "-consumer");
        this.consumerThread.setDaemon(true);
    }

    public static Builder builder() {
        return new Builder();
    }

    private DecoderService startAll() {
        try {
            anythingPublished = !stage.versions().isEmpty();
            for (String model : repository.models()) {
                if (!settings.serves(model)) {
                    continue;
                }
                anythingPublished |= !repository.versions(model).isEmpty();
                onMaterializingThread(() -> {
                    restore(model);
                    return null;
                });
            }
            if (settings.httpPort >= 0) {
                http = HttpApi.start(settings.httpHost, settings.httpPort, models, this, metrics,
                        settings.adminToken, this::ready);
            }
            for (ChunkStage.RecoveryNote note : stage.recoveryNotes()) {
                LOG.info("staging recovery: {} at byte {}: {}", note.file(), note.offset(), note.what());
            }
            Set<String> stagedModels = new HashSet<>();
            for (ChunkStage.StagedVersion v : stage.versions()) {
                stagedModels.add(v.model());
                if (v.damage().isPresent()) {
                    materializing.submit(() -> failDamaged(v));
                }
            }
            // what a previous run left incomplete may have been overtaken by keep newer versions meanwhile
            stagedModels.forEach(m -> materializing.submit(() -> supersede(m)));
            LOG.info("replica {} started: serving {}, {} version(s) staged ({} bytes), repository {}, staging {}",
                    replica, servingSummary(), stage.versions().size(), stage.usedBytes(), repository.dir(), stage.dir());
            submitComplete(System.currentTimeMillis());
            consumerThread.start();
            return this;
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- public API

    /** The models this replica serves (what the HTTP API answers from). */
    public ServingModels models() {
        return models;
    }

    public ServingMetrics metrics() {
        return metrics;
    }

    public ModelRepository repository() {
        return repository;
    }

    public ChunkStage stage() {
        return stage;
    }

    public String replicaId() {
        return replica;
    }

    /** The HTTP API's port, or -1 when it is off. */
    public int httpPort() {
        return http == null ? -1 : http.port();
    }

    /** What became of each version handled since start, in order (with the itemised times). */
    public List<VersionReport> reports() {
        return List.copyOf(reports);
    }

    /** Whether the consumer has read up to the end offsets it saw when it was first assigned its partitions. */
    public boolean caughtUp() {
        return caughtUp;
    }

    /** Ready for traffic: a model is serving, or the topics were read to their end and nothing was ever published. */
    public boolean ready() {
        for (String m : models.models()) {
            if (models.find(m).flatMap(ModelManager::current).isPresent()) {
                return true;
            }
        }
        return caughtUp && !anythingPublished && queued.isEmpty();
    }

    @Override
    public ServedModel.Info activate(String model, String version) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(version, "version");
        if (!settings.serves(model)) {
            throw new NoSuchElementException("model '" + model + "' is not served by replica " + replica);
        }
        return onMaterializingThread(() -> activateNow(model, version));
    }

    @Override
    public List<ServedModel.Info> keptVersions(String model) {
        Optional<ServedModel.Info> serving = current(model);
        List<ServedModel.Info> out = new ArrayList<>();
        for (ModelRepository.StoredVersion v : repository.versions(model)) {
            ServedModel.Info info = v.info();
            if (serving.isPresent() && serving.get().version().equals(v.version())) {
                info = serving.get();
            }
            out.add(info);
        }
        return out;
    }

    /** Stops consuming, lets the version being built finish (up to 60 s), reports STOPPED and closes everything. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        running.set(false);
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (consumerThread.isAlive()) {
            try {
                consumerThread.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        materializing.shutdown();
        try {
            if (!materializing.awaitTermination(60, TimeUnit.SECONDS)) {
                materializing.shutdownNow();
            }
        } catch (InterruptedException e) {
            materializing.shutdownNow();
            Thread.currentThread().interrupt();
        }
        for (String m : models.models()) {
            current(m).ifPresent(info -> reporter.status(m, ReplicaState.STOPPED, info.version(), null, 0,
                    "replica " + replica + " stopped"));
        }
        if (http != null) {
            http.close();
        }
        models.close();
        try {
            reporter.flush();
        } catch (RuntimeException e) {
            LOG.warn("replica {}: final status events not written: {}", replica, e.getMessage());
        }
        reporter.close();
        stage.close();
        LOG.info("replica {} stopped", replica);
    }

    // ---------------------------------------------------------------- consumer thread

    private void consume() {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(settings.consumerProperties(),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer = c;
            if (!running.get()) {
                return;
            }
            Map<TopicPartition, Long> endAtStart = new HashMap<>();
            c.subscribe(List.of(Topics.COMPRESSED, Topics.VERSIONS), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    // every batch is committed before the next poll: nothing to do
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    if (!caughtUp && !partitions.isEmpty()) {
                        endAtStart.putAll(c.endOffsets(partitions));
                    }
                }
            });
            while (running.get()) {
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = c.poll(POLL_TIMEOUT);
                } catch (WakeupException e) {
                    break;
                } catch (FencedInstanceIdException e) {
                    LOG.error("replica {}: another process consumes as this replica (group.instance.id {}); this"
                            + " one stops consuming and keeps serving what it serves", replica,
                            settings.consumerProperties().get(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG));
                    break;
                } catch (RuntimeException e) {
                    LOG.error("replica {}: poll failed, retrying: {}", replica, e.toString());
                    sleep(RETRY_BACKOFF_MS);
                    continue;
                }
                if (!records.isEmpty()) {
                    handle(c, records);
                }
                if (!caughtUp && !endAtStart.isEmpty() && reached(c, endAtStart)) {
                    caughtUp = true;
                    LOG.info("replica {} caught up with {} and {}", replica, Topics.COMPRESSED, Topics.VERSIONS);
                }
                submitComplete(System.currentTimeMillis());
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException | Error e) {
            LOG.error("replica {}: the consumer thread died: {}", replica, e.toString(), e);
        } finally {
            consumer = null;
        }
    }

    private static boolean reached(KafkaConsumer<?, ?> c, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (c.assignment().contains(e.getKey()) && c.position(e.getKey(), Duration.ofSeconds(5)) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Stages every record of the batch, fsyncs, waits for the dead letters, then commits. Records of a partition
     * after one that needs a retry (the registry is unreachable) are not processed: the partition is rewound to it.
     */
    private void handle(KafkaConsumer<byte[], byte[]> c, ConsumerRecords<byte[], byte[]> records) {
        Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
        Map<TopicPartition, Long> firstOffsets = new HashMap<>();
        boolean retry = false;
        try {
            for (TopicPartition tp : records.partitions()) {
                List<ConsumerRecord<byte[], byte[]>> rs = records.records(tp);
                firstOffsets.put(tp, rs.get(0).offset());
                for (ConsumerRecord<byte[], byte[]> r : rs) {
                    try {
                        process(r);
                    } catch (SchemaRegistryException e) {
                        LOG.warn("replica {}: schema registry unavailable at {}-{}@{}, retrying: {}", replica,
                                r.topic(), r.partition(), r.offset(), e.getMessage());
                        c.seek(tp, r.offset());
                        retry = true;
                        break;
                    }
                    commits.put(tp, new OffsetAndMetadata(r.offset() + 1));
                }
            }
            stage.sync();
            reporter.flush();
            if (!commits.isEmpty()) {
                c.commitSync(commits);
            }
        } catch (WakeupException e) {
            throw e;
        } catch (RuntimeException e) {
            // nothing of this batch is committed: read it again (staging it twice is harmless, see ChunkStage)
            LOG.error("replica {}: cannot stage or commit a batch, it will be read again: {}", replica, e.toString(), e);
            firstOffsets.forEach(c::seek);
            retry = true;
        }
        if (retry) {
            sleep(RETRY_BACKOFF_MS);
        }
    }

    private void process(ConsumerRecord<byte[], byte[]> r) {
        if (r.value() == null) {
            return; // a tombstone on the compacted versions topic
        }
        String model = null;
        String version = null;
        try {
            if (r.topic().equals(Topics.COMPRESSED)) {
                CompressedLayerChunk chunk = chunks.deserialize(r.topic(), r.value());
                model = chunk.getModel();
                version = chunk.getVersion();
                if (settings.serves(model)) {
                    anythingPublished = true;
                    stage.append(chunk, r.partition(), r.offset());
                }
            } else if (r.topic().equals(Topics.VERSIONS)) {
                ModelVersionCompressed v = versions.deserialize(r.topic(), r.value());
                model = v.getModel();
                version = v.getVersion();
                if (settings.serves(model)) {
                    anythingPublished = true;
                    stage.append(v, r.partition(), r.offset());
                }
            }
        } catch (RecordFormatException e) {
            deadLetter(r, "deserialize", e.getMessage(), e, null, null);
        } catch (StageFullException e) {
            deadLetter(r, "stage", e.getMessage(), e, model, version);
            Key key = new Key(model, version);
            if (queued.add(key)) {
                materializing.submit(() -> {
                    try {
                        failVersion(key.model(), key.version(), "stage", key + " cannot be staged: " + e.getMessage(),
                                e, r.topic(), r.partition(), r.offset(), -1);
                    } finally {
                        queued.remove(key);
                    }
                });
            }
        } catch (IllegalArgumentException e) {
            // a record that deserializes but cannot be staged (an empty or over-long name, an oversized record)
            deadLetter(r, "stage", e.getMessage(), e, model, version);
        }
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> r, String stageName, String reason, Throwable e,
                            String model, String version) {
        LOG.warn("replica {}: {}-{}@{} goes to {}: {}", replica, r.topic(), r.partition(), r.offset(), Topics.DLQ, reason);
        reporter.deadLetter(r.topic(), r.partition(), r.offset(), r.key(), r.value(), stageName, reason, e, model, version);
    }

    /** Queues every complete version not queued yet. */
    private void submitComplete(long completeAtMs) {
        for (ChunkStage.StagedVersion v : stage.completeVersions()) {
            Key key = new Key(v.model(), v.version());
            if (running.get() && queued.add(key)) {
                long queuedAt = System.nanoTime();
                materializing.submit(() -> {
                    try {
                        materialize(key, completeAtMs, queuedAt);
                    } catch (RuntimeException e) {
                        // unexpected (a disk error, a bug): fail the version rather than retry it forever
                        LOG.error("replica {}: {} could not be handled", replica, key, e);
                        try {
                            failVersion(key.model(), key.version(), "decoder", key + ": " + describe(e), e,
                                    Topics.VERSIONS, -1, -1, -1);
                        } catch (RuntimeException again) {
                            LOG.error("replica {}: cannot even fail {}: {}", replica, key, again.toString());
                        }
                    } finally {
                        queued.remove(key);
                    }
                });
            }
        }
    }

    // ---------------------------------------------------------------- materializing thread

    private void materialize(Key key, long completeAtMs, long queuedAtNanos) {
        String model = key.model();
        String version = key.version();
        Optional<ChunkStage.StagedVersion> staged = stage.version(model, version);
        if (staged.isEmpty()) {
            return; // finished meanwhile (superseded at start): nothing to do
        }
        long firstStagedAt = staged.get().createdAtMs();
        long t0 = System.nanoTime();
        long queueMs = ms(t0 - queuedAtNanos);
        ChunkStage.Contents contents;
        try {
            contents = stage.read(model, version);
        } catch (StageFormatException e) {
            failVersion(model, version, "stage", key + ": its staged records are damaged: " + e.getMessage(), e,
                    Topics.VERSIONS, -1, -1, -1);
            return;
        }
        long t1 = System.nanoTime();
        ModelVersionCompressed record = contents.version();
        long publishedAt = record.getPublishedAtMs();
        long toCompressed = record.getCompletedAtMs() > 0 ? record.getCompletedAtMs() - publishedAt : -1;
        long toStaged = record.getCompletedAtMs() > 0 ? firstStagedAt - record.getCompletedAtMs() : -1;
        long stagingMs = completeAtMs - firstStagedAt;
        Optional<ServedModel.Info> serving = current(model);
        boolean older = serving.isPresent() && publishedAt < serving.get().publishedAtMs();
        Optional<ModelRepository.StoredVersion> existing = repository.find(model, version);
        if (existing.isPresent() && serving.isPresent() && serving.get().version().equals(version)) {
            stage.finish(model, version); // delivered again after it was swapped in: nothing to do
            return;
        }
        if (existing.isEmpty() && older && repository.wouldBePruned(model, publishedAt)) {
            stage.finish(model, version);
            report(new VersionReport(model, version, VersionReport.Outcome.SUPERSEDED, repository.keep()
                    + " newer versions are kept already", publishedAt, toCompressed, toStaged, stagingMs, queueMs, ms(t1 - t0),
                    -1, -1, -1, -1, -1, -1, record.getEncodedBytes(), 0));
            return;
        }
        ModelRepository.StoredVersion stored;
        ModelMaterializer.Materialized[] made = new ModelMaterializer.Materialized[1];
        long decodeMs = -1;
        long writeMs = -1;
        long t2;
        if (existing.isPresent()) {
            // stored by an earlier run that stopped before it finished the staging: the checks passed then
            stored = existing.get();
            t2 = System.nanoTime();
        } else {
            try {
                stored = repository.store(record, file ->
                        made[0] = materializer.materialize(record, contents.chunksByTensor(), file));
            } catch (CompressedModelException e) {
                failVersion(model, version, "verify", e.getMessage(), e, Topics.VERSIONS, contents.versionPartition(),
                        contents.versionOffset(), publishedAt);
                return;
            } catch (RuntimeException e) {
                failVersion(model, version, "write", key + ": cannot rebuild or store the model file: " + describe(e), e,
                        Topics.VERSIONS, contents.versionPartition(), contents.versionOffset(), publishedAt);
                return;
            }
            t2 = System.nanoTime();
            decodeMs = Math.round(made[0].decodeSeconds() * 1000);
            writeMs = ms(t2 - t1) - decodeMs;
            metrics.decoded(made[0].decodedBytes(), made[0].decodeSeconds());
        }
        VersionLoader.Loaded loaded;
        try {
            loaded = loader.load(stored);
        } catch (RuntimeException e) {
            boolean protectedVersion = serving.map(s -> s.version().equals(version)).orElse(false)
                    || repository.lastGood(model).map(version::equals).orElse(false);
            if (!protectedVersion) {
                repository.remove(model, version);
            }
            failVersion(model, version, "load", key + ": does not load or warm up: " + describe(e), e, Topics.VERSIONS,
                    contents.versionPartition(), contents.versionOffset(), publishedAt);
            return;
        }
        long t3 = System.nanoTime();
        long loadMs = Math.round(loaded.loadSeconds() * 1000);
        long warmMs = Math.round(loaded.warmUpSeconds() * 1000);
        reporter.status(model, ReplicaState.LOADED, version, serving.map(ServedModel.Info::version).orElse(null),
                ms(t3 - t0), "materialized, loaded and warmed up in " + ms(t3 - t0) + " ms");
        long decodedBytes = made[0] != null ? made[0].decodedBytes() : 0;
        if (older) {
            loaded.model().close();
            stage.finish(model, version);
            String why = "kept for rollback, not swapped in: published before " + serving.get().version()
                    + ", which serves";
            report(new VersionReport(model, version, VersionReport.Outcome.KEPT, why, publishedAt, toCompressed,
                    toStaged, stagingMs, queueMs, ms(t1 - t0), decodeMs, writeMs, loadMs, warmMs, -1, -1, record.getEncodedBytes(),
                    decodedBytes));
            supersede(model);
            return;
        }
        ServedModel.Info info;
        long t4 = System.nanoTime();
        try {
            info = models.swap(loaded.model());
        } catch (RuntimeException e) {
            loaded.model().close();
            failVersion(model, version, "swap", key + ": cannot be swapped in: " + describe(e), e, Topics.VERSIONS,
                    contents.versionPartition(), contents.versionOffset(), publishedAt);
            return;
        }
        long t5 = System.nanoTime();
        repository.setLastGood(model, version);
        long publishToServing = info.servingSinceMs() - publishedAt;
        metrics.swapped(model, (t5 - t4) / 1e9);
        reporter.status(model, ReplicaState.SWAPPED, version, version, publishToServing,
                "serving" + serving.map(s -> " instead of " + s.version()).orElse(""));
        prune(model);
        stage.finish(model, version);
        report(new VersionReport(model, version, VersionReport.Outcome.SERVED, null, publishedAt, toCompressed,
                toStaged, stagingMs, queueMs, ms(t1 - t0), decodeMs, writeMs, loadMs, warmMs, ms(t5 - t4), publishToServing,
                record.getEncodedBytes(), decodedBytes));
        supersede(model);
    }

    /** Serves LAST_GOOD of {@code model} (or, if it fails, the newest kept version that loads) at start. */
    private void restore(String model) {
        Optional<String> lastGood = repository.lastGood(model);
        if (lastGood.isEmpty()) {
            return;
        }
        List<String> candidates = new ArrayList<>();
        candidates.add(lastGood.get());
        List<ModelRepository.StoredVersion> kept = new ArrayList<>(repository.versions(model));
        java.util.Collections.reverse(kept);
        kept.stream().map(ModelRepository.StoredVersion::version).filter(v -> !v.equals(lastGood.get()))
                .forEach(candidates::add);
        for (String version : candidates) {
            Optional<ModelRepository.StoredVersion> stored = repository.find(model, version);
            if (stored.isEmpty()) {
                continue;
            }
            long t0 = System.nanoTime();
            try {
                VersionLoader.Loaded loaded = loader.load(stored.get());
                long t1 = System.nanoTime();
                models.swap(loaded.model());
                long t2 = System.nanoTime();
                if (!version.equals(lastGood.get())) {
                    repository.setLastGood(model, version);
                }
                reporter.status(model, ReplicaState.LOADED, version, version, ms(t2 - t0),
                        "restored at start from " + (version.equals(lastGood.get()) ? "LAST_GOOD" : "the repository"));
                report(new VersionReport(model, version, VersionReport.Outcome.RESTORED, null,
                        stored.get().publishedAtMs(), -1, -1, -1, -1, -1, -1, -1,
                        Math.round(loaded.loadSeconds() * 1000), Math.round(loaded.warmUpSeconds() * 1000),
                        ms(t2 - t1), -1, stored.get().encodedBytes(), 0));
                return;
            } catch (RuntimeException e) {
                String reason = model + "/" + version + " (kept in " + repository.dir() + ") does not load at start: "
                        + describe(e);
                LOG.error("replica {}: {}", replica, reason);
                reporter.status(model, ReplicaState.FAILED, version, null, 0, reason);
                metrics.swapFailed(model, reason);
            }
        }
    }

    private ServedModel.Info activateNow(String model, String version) {
        ModelRepository.StoredVersion stored = repository.find(model, version).orElseThrow(() ->
                new NoSuchElementException(model + "/" + version + " is not kept by replica " + replica
                        + "; kept: " + repository.versions(model).stream().map(ModelRepository.StoredVersion::version).toList()));
        Optional<ServedModel.Info> serving = current(model);
        if (serving.isPresent() && serving.get().version().equals(version)) {
            return serving.get();
        }
        long t0 = System.nanoTime();
        VersionLoader.Loaded loaded;
        try {
            loaded = loader.load(stored);
        } catch (RuntimeException e) {
            String reason = model + "/" + version + " does not load or warm up: " + describe(e);
            reporter.status(model, ReplicaState.FAILED, version, serving.map(ServedModel.Info::version).orElse(null), 0,
                    reason);
            metrics.swapFailed(model, reason);
            throw new IllegalStateException(reason + "; " + serving.map(s -> s.version() + " keeps serving")
                    .orElse("nothing serves"), e);
        }
        long t1 = System.nanoTime();
        ServedModel.Info info = models.swap(loaded.model());
        long t2 = System.nanoTime();
        repository.setLastGood(model, version);
        metrics.swapped(model, (t2 - t1) / 1e9);
        boolean older = serving.isPresent() && stored.publishedAtMs() < serving.get().publishedAtMs();
        reporter.status(model, older ? ReplicaState.ROLLED_BACK : ReplicaState.SWAPPED, version, version, ms(t2 - t0),
                (older ? "rolled back from " : "activated instead of ") + serving.map(ServedModel.Info::version).orElse("nothing")
                        + " on request (load+warm-up+swap " + ms(t2 - t0) + " ms)");
        report(new VersionReport(model, version, VersionReport.Outcome.ACTIVATED, older ? "rollback" : "roll-forward",
                stored.publishedAtMs(), -1, -1, -1, -1, -1, -1, -1, Math.round(loaded.loadSeconds() * 1000),
                Math.round(loaded.warmUpSeconds() * 1000), ms(t2 - t1), -1, stored.encodedBytes(), 0));
        try {
            reporter.flush();
        } catch (RuntimeException e) {
            LOG.warn("replica {}: status of the activation not written: {}", replica, e.getMessage());
        }
        return info;
    }

    /**
     * The version is never served: FAILED on the fleet topic, a dead letter naming it and the reason, a metric; its
     * staged records are dropped (later ones of it too).
     */
    private void failVersion(String model, String version, String stageName, String reason, Throwable e, String topic,
                             int partition, long offset, long publishedAt) {
        Optional<ServedModel.Info> serving = current(model);
        String full = reason + "; " + serving.map(s -> s.version() + " keeps serving").orElse("nothing serves");
        LOG.error("replica {}: {}/{} FAILED at {}: {}", replica, model, version, stageName, full);
        reporter.status(model, ReplicaState.FAILED, version, serving.map(ServedModel.Info::version).orElse(null), 0,
                full);
        reporter.deadLetter(topic, partition, offset, (model + "/" + version).getBytes(StandardCharsets.UTF_8), null,
                stageName, reason, e, model, version);
        metrics.swapFailed(model, reason);
        try {
            reporter.flush();
        } catch (RuntimeException ex) {
            LOG.error("replica {}: the failure of {}/{} could not be reported: {}", replica, model, version, ex.getMessage());
        }
        stage.finish(model, version);
        report(new VersionReport(model, version, VersionReport.Outcome.FAILED, full, publishedAt, -1, -1, -1, -1, -1,
                -1, -1, -1, -1, -1, -1, 0, 0));
    }

    private void failDamaged(ChunkStage.StagedVersion v) {
        failVersion(v.model(), v.version(), "stage", v.model() + "/" + v.version()
                + ": staged records are damaged, records of it may be lost: " + v.damage().orElse(""), null,
                Topics.COMPRESSED, -1, -1, v.publishedAtMs());
    }

    /** Keeps the newest {@code keep} versions, never the serving one nor LAST_GOOD. */
    private void prune(String model) {
        Set<String> protect = new HashSet<>();
        current(model).ifPresent(i -> protect.add(i.version()));
        List<String> removed = repository.prune(model, protect);
        if (!removed.isEmpty()) {
            LOG.info("replica {}: {} keeps {} version(s); removed {}", replica, model, repository.keep(), removed);
        }
    }

    /**
     * Drops the staged versions of {@code model} that could no longer be kept if they completed: {@code keep} newer
     * versions are in the repository already. Without a version record, a version's age is when its first record
     * was staged (it was published before that).
     */
    private void supersede(String model) {
        for (ChunkStage.StagedVersion v : stage.versions()) {
            if (!v.model().equals(model) || queued.contains(new Key(v.model(), v.version()))) {
                continue;
            }
            long age = v.hasVersionRecord() ? v.publishedAtMs() : v.createdAtMs();
            if (repository.wouldBePruned(model, age)) {
                stage.finish(v.model(), v.version());
                report(new VersionReport(v.model(), v.version(), VersionReport.Outcome.SUPERSEDED,
                        "incomplete (" + v + ") and " + repository.keep() + " newer versions are kept", v.publishedAtMs(),
                        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0));
            }
        }
    }

    private void report(VersionReport r) {
        try {
            reporter.flush(); // the fleet topic says what happened before anyone is told here
        } catch (RuntimeException e) {
            LOG.warn("replica {}: status events of {}/{} not written: {}", replica, r.model(), r.version(), e.getMessage());
        }
        reports.add(r);
        if (r.outcome() == VersionReport.Outcome.FAILED) {
            return; // logged as an error already
        }
        LOG.info("replica {}: {}", replica, r.toLine());
    }

    private Optional<ServedModel.Info> current(String model) {
        return models.find(model).flatMap(ModelManager::current);
    }

    private String servingSummary() {
        List<String> s = new ArrayList<>();
        for (String m : models.models()) {
            current(m).ifPresent(i -> s.add(m + "/" + i.version()));
        }
        return s.isEmpty() ? "nothing" : String.join(", ", s);
    }

    private <T> T onMaterializingThread(java.util.concurrent.Callable<T> task) {
        Future<T> f;
        try {
            f = materializing.submit(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new IllegalStateException("replica " + replica + " is shutting down", e);
        }
        return Futures.join(f, "waiting for the materializing thread");
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
            if (!sb.toString().contains(m)) {
                if (sb.length() > 0) {
                    sb.append(": ");
                }
                sb.append(m);
            }
        }
        return sb.toString();
    }

    private static long ms(long nanos) {
        return Math.round(nanos / 1e6);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- builder

    /**
     * Settings of a {@link DecoderService}; {@link #start()} checks them, restores LAST_GOOD and starts consuming.
     * The keys, defaults and descriptions are in {@link DecoderServiceOptions}.
     */
    public static final class Builder {
        private String bootstrapServers;
        private String registryUrl;
        private SchemaRegistry registry;
        private String replicaId;
        private String groupId;
        private Path repositoryDir;
        private Path stagingDir;
        private long stagingBudgetBytes = DecoderServiceOptions.STAGING_BUDGET_BYTES.defaultValue();
        private int keepVersions = DecoderServiceOptions.KEEP_VERSIONS.defaultValue();
        private int decodeThreads = DecoderServiceOptions.DECODE_THREADS.defaultValue();
        private int inferenceThreads = DecoderServiceOptions.INFERENCE_THREADS.defaultValue();
        private Set<String> modelFilter = Set.of();
        private int warmUpTextCount = DecoderServiceOptions.WARM_UP_TEXTS.defaultValue();
        private List<String> warmUpTexts;
        private String adminToken;
        private String httpHost = DecoderServiceOptions.HTTP_HOST.defaultValue();
        private int httpPort = DecoderServiceOptions.HTTP_PORT.defaultValue();
        private final Properties extraConsumerConfig = new Properties();

        private Builder() {
        }

        /** Sets every option present in {@code config} (keys of {@link DecoderServiceOptions}). */
        public Builder configure(Map<String, ?> config) {
            Set<String> known = new HashSet<>();
            DecoderServiceOptions.all().forEach(o -> known.add(o.key()));
            for (String k : config.keySet()) {
                if (!known.contains(k)) {
                    throw new IllegalArgumentException("unknown decoder option '" + k + "'; known: " + known);
                }
            }
            if (config.containsKey(DecoderServiceOptions.BOOTSTRAP_SERVERS.key())) {
                bootstrapServers(DecoderServiceOptions.BOOTSTRAP_SERVERS.get(config));
            }
            if (config.containsKey(DecoderServiceOptions.REGISTRY_URL.key())) {
                registryUrl(DecoderServiceOptions.REGISTRY_URL.get(config));
            }
            if (config.containsKey(DecoderServiceOptions.REPLICA_ID.key())) {
                replicaId(DecoderServiceOptions.REPLICA_ID.get(config));
            }
            if (config.containsKey(DecoderServiceOptions.GROUP_ID.key())) {
                groupId(DecoderServiceOptions.GROUP_ID.get(config));
            }
            if (config.containsKey(DecoderServiceOptions.REPOSITORY_DIR.key())) {
                repositoryDir(Path.of(DecoderServiceOptions.REPOSITORY_DIR.get(config)));
            }
            if (config.containsKey(DecoderServiceOptions.STAGING_DIR.key())) {
                stagingDir(Path.of(DecoderServiceOptions.STAGING_DIR.get(config)));
            }
            stagingBudgetBytes(DecoderServiceOptions.STAGING_BUDGET_BYTES.get(config));
            keepVersions(DecoderServiceOptions.KEEP_VERSIONS.get(config));
            decodeThreads(DecoderServiceOptions.DECODE_THREADS.get(config));
            inferenceThreads(DecoderServiceOptions.INFERENCE_THREADS.get(config));
            String m = DecoderServiceOptions.MODELS.get(config);
            models(Arrays.stream(m.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList());
            warmUpTextCount(DecoderServiceOptions.WARM_UP_TEXTS.get(config));
            if (config.containsKey(DecoderServiceOptions.ADMIN_TOKEN.key())) {
                adminToken(DecoderServiceOptions.ADMIN_TOKEN.get(config));
            }
            httpHost(DecoderServiceOptions.HTTP_HOST.get(config));
            httpPort(DecoderServiceOptions.HTTP_PORT.get(config));
            return this;
        }

        public Builder bootstrapServers(String servers) {
            this.bootstrapServers = servers;
            return this;
        }

        public Builder registryUrl(String url) {
            this.registryUrl = url;
            return this;
        }

        /** A registry client to use instead of {@link #registryUrl}. */
        public Builder registry(SchemaRegistry client) {
            this.registry = client;
            return this;
        }

        public Builder replicaId(String id) {
            this.replicaId = id;
            return this;
        }

        /** Default {@code weightstream-decoder-<replica>}. */
        public Builder groupId(String id) {
            this.groupId = id;
            return this;
        }

        public Builder repositoryDir(Path dir) {
            this.repositoryDir = dir;
            return this;
        }

        /** Default {@code <repository>/../staging}. */
        public Builder stagingDir(Path dir) {
            this.stagingDir = dir;
            return this;
        }

        public Builder stagingBudgetBytes(long bytes) {
            this.stagingBudgetBytes = bytes;
            return this;
        }

        public Builder keepVersions(int keep) {
            this.keepVersions = keep;
            return this;
        }

        public Builder decodeThreads(int threads) {
            this.decodeThreads = threads;
            return this;
        }

        public Builder inferenceThreads(int threads) {
            this.inferenceThreads = threads;
            return this;
        }

        /** The models this replica serves; empty (the default): all. */
        public Builder models(Collection<String> names) {
            this.modelFilter = Set.copyOf(new LinkedHashSet<>(names));
            return this;
        }

        /** How many real paragraphs a text model embeds in its warm-up (default 8). */
        public Builder warmUpTextCount(int count) {
            this.warmUpTextCount = count;
            return this;
        }

        /** The warm-up texts themselves, instead of {@link #warmUpTextCount} real paragraphs. */
        public Builder warmUpTexts(List<String> texts) {
            this.warmUpTexts = List.copyOf(texts);
            return this;
        }

        /** Bearer token of the admin routes; unset: they are refused. */
        public Builder adminToken(String token) {
            this.adminToken = token;
            return this;
        }

        public Builder httpHost(String host) {
            this.httpHost = host;
            return this;
        }

        /** 0: any free port; -1: no HTTP API. */
        public Builder httpPort(int port) {
            this.httpPort = port;
            return this;
        }

        /** A Kafka consumer property set after (over) the service's own. */
        public Builder consumerConfig(String key, Object value) {
            extraConsumerConfig.put(key, value);
            return this;
        }

        /**
         * Checks the settings, opens the repository and staging area, serves LAST_GOOD of each model, starts the
         * HTTP API and the consumer.
         *
         * @throws IllegalArgumentException naming every setting that is missing or wrong
         */
        public DecoderService start() {
            List<String> problems = new ArrayList<>();
            if (bootstrapServers == null || bootstrapServers.isBlank()) {
                problems.add(DecoderServiceOptions.BOOTSTRAP_SERVERS.key() + " is not set");
            }
            if (registry == null && (registryUrl == null || registryUrl.isBlank())) {
                problems.add(DecoderServiceOptions.REGISTRY_URL.key() + " is not set");
            }
            if (replicaId == null || !REPLICA_ID.matcher(replicaId).matches()) {
                problems.add(DecoderServiceOptions.REPLICA_ID.key() + " must be 1-100 letters, digits, '.', '_' or"
                        + " '-', was " + (replicaId == null ? "not set" : "'" + replicaId + "'"));
            }
            if (repositoryDir == null) {
                problems.add(DecoderServiceOptions.REPOSITORY_DIR.key() + " is not set");
            }
            if (keepVersions < 1) {
                problems.add(DecoderServiceOptions.KEEP_VERSIONS.key() + " must be at least 1, was " + keepVersions);
            }
            if (decodeThreads < 1) {
                problems.add(DecoderServiceOptions.DECODE_THREADS.key() + " must be at least 1, was " + decodeThreads);
            }
            if (inferenceThreads < 1) {
                problems.add(DecoderServiceOptions.INFERENCE_THREADS.key() + " must be at least 1, was " + inferenceThreads);
            }
            if (stagingBudgetBytes < (1 << 20)) {
                problems.add(DecoderServiceOptions.STAGING_BUDGET_BYTES.key() + " must be at least 1 MiB, was "
                        + stagingBudgetBytes);
            }
            if (warmUpTexts == null && warmUpTextCount < 1) {
                problems.add(DecoderServiceOptions.WARM_UP_TEXTS.key() + " must be at least 1, was " + warmUpTextCount);
            }
            if (warmUpTexts != null && warmUpTexts.isEmpty()) {
                problems.add("warmUpTexts must not be empty");
            }
            if (httpPort < -1 || httpPort > 65535) {
                problems.add(DecoderServiceOptions.HTTP_PORT.key() + " must be in [-1, 65535], was " + httpPort);
            }
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException("cannot start the decoder service: " + String.join("; ", problems));
            }
            return new DecoderService(this).startAll();
        }

        Path stagingDir() {
            return stagingDir != null ? stagingDir : repositoryDir.toAbsolutePath().resolveSibling("staging");
        }

        boolean serves(String model) {
            return modelFilter.isEmpty() || modelFilter.contains(model);
        }

        Properties consumerProperties() {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
            p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId != null ? groupId : "weightstream-decoder-" + replicaId);
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, "weightstream-decoder-" + replicaId);
            // static membership: a replica restarted after a crash takes its partitions back at once instead of
            // waiting session.timeout.ms for the dead instance to be evicted; a second process with the same
            // replica id fences the first
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "weightstream-decoder-" + replicaId);
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            // a record may be as large as the topics allow; a fetch holds a few of them
            p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, MAX_RECORD_BYTES + (1 << 20));
            p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 4 * (MAX_RECORD_BYTES + (1 << 20)));
            p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 64);
            p.putAll(extraConsumerConfig);
            return p;
        }
    }
}
