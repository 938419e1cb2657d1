package io.weightstream.publish;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.schemas.Attachment;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.DType;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.ProducerSignature;
import io.weightstream.schemas.SourceFormat;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.schemas.TensorPart;
import io.weightstream.stack.Topics;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Publishes a checkpoint to Kafka: its tensors cut into {@link LayerChunk}s of at most {@code chunkBytes} on
 * {@code weightstream.layers}, then its {@link CheckpointManifest} on {@code weightstream.checkpoints}, all in ONE
 * Kafka transaction (idempotent, acks=all): consumers reading committed data see the whole checkpoint or none of it.
 *
 * <p>Memory stays bounded whatever the checkpoint size: tensors are read range by range with positional reads into
 * one reusable chunk buffer (nothing is memory-mapped), hashed on the way, and the producer's buffer is bounded.
 * Tensors larger than {@code maxTensorBytes} are published as row-block parts ({@code name#part<i>}) that the
 * job compresses independently and the decoder puts back together.
 *
 * <pre>{@code
 * try (CheckpointPublisher publisher = CheckpointPublisher.builder()
 *         .bootstrapServers("127.0.0.1:9092")
 *         .valueSerializer(new AvroSerializer(registryClient))
 *         .build();
 *      Checkpoint ckpt = Checkpoint.open(Path.of("model.onnx"))) {
 *     PublishResult r = publisher.publish(ckpt, "minilm", "v1", policy, PublishProgress.NONE);
 * }
 * }</pre>
 */
public final class CheckpointPublisher implements AutoCloseable {
    /** Default payload bytes of one LayerChunk. */
    public static final int DEFAULT_CHUNK_BYTES = 1 << 20;
    /** Default size over which a tensor is cut into row blocks. */
    public static final long DEFAULT_MAX_TENSOR_BYTES = 256L << 20;
    /** The largest record the publisher sends (the manifest carries the model skeleton). */
    public static final int MAX_REQUEST_BYTES = 16 << 20;

    private final KafkaProducer<String, SpecificRecord> producer;
    private final String bootstrapServers;
    private final String transactionalId;
    private final int chunkBytes;
    private final long maxTensorBytes;
    private final String layersTopic;
    private final String checkpointsTopic;

    private CheckpointPublisher(Builder b) {
        this.bootstrapServers = b.bootstrapServers;
        this.transactionalId = b.transactionalId;
        this.chunkBytes = b.chunkBytes;
        this.maxTensorBytes = b.maxTensorBytes;
        this.layersTopic = b.layersTopic;
        this.checkpointsTopic = b.checkpointsTopic;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrapServers);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, b.transactionalId);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, MAX_REQUEST_BYTES);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Math.max(chunkBytes + 4096, 16384));
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, b.bufferMemory);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none"); // weights barely compress; the codecs do that
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) b.connectTimeout.toMillis());
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 600_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 300_000);
        p.putAll(b.extraProducerConfig);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), b.valueSerializer);
        try {
            producer.initTransactions();
        } catch (TimeoutException e) {
            producer.close(Duration.ZERO);
            throw new PublishException("Kafka broker at " + bootstrapServers + " did not answer within "
                    + b.connectTimeout.toSeconds() + " s (is the stack up? ./weightstream stack status)", e);
        } catch (KafkaException e) {
            producer.close(Duration.ZERO);
            throw new PublishException("cannot start a Kafka transaction on " + bootstrapServers + ": " + e.getMessage(), e);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Publishes {@code checkpoint} as {@code model}/{@code version} in one transaction.
     *
     * @throws PublishException when anything fails; the transaction is aborted and nothing is visible
     */
    public PublishResult publish(Checkpoint checkpoint, String model, String version, CompressionPolicy policy,
                                 PublishProgress progress) {
        return publish(checkpoint, model, version, policy, List.of(), progress);
    }

    /**
     * Publishes {@code checkpoint} with {@code attachments} (e.g. its tokenizer, {@link Attachments}) in the manifest.
     *
     * @throws PublishException when anything fails; the transaction is aborted and nothing is visible
     */
    public PublishResult publish(Checkpoint checkpoint, String model, String version, CompressionPolicy policy,
                                 List<Attachment> attachments, PublishProgress progress) {
        Attachments.check(attachments);
        requireName(model, "model");
        requireName(version, "version");
        Objects.requireNonNull(policy, "policy");
        long started = System.nanoTime();
        long publishedAt = System.currentTimeMillis();
        long total = 0;
        for (CheckpointTensor t : checkpoint.tensors()) {
            total += t.byteSize();
        }
        AtomicReference<Exception> sendFailure = new AtomicReference<>();
        ByteBuffer chunk = ByteBuffer.allocate(chunkBytes);
        List<TensorEntry> entries = new ArrayList<>();
        long chunks = 0;
        long done = 0;
        try {
            producer.beginTransaction();
            for (CheckpointTensor src : checkpoint.tensors()) {
                List<RowBlocks.Block> parts = RowBlocks.of(src.spec(), maxTensorBytes);
                MessageDigest parentDigest = parts.size() > 1 ? sha256() : null;
                List<TensorEntry> partEntries = new ArrayList<>();
                for (RowBlocks.Block part : parts) {
                    MessageDigest digest = sha256();
                    int chunkCount = (int) Math.max(1, (part.bytes() + chunkBytes - 1) / chunkBytes);
                    for (int i = 0; i < chunkCount; i++) {
                        long offset = (long) i * chunkBytes;
                        chunk.clear();
                        chunk.limit((int) Math.min(chunkBytes, part.bytes() - offset));
                        src.read(part.offset() + offset, chunk);
                        chunk.flip();
                        digest.update(chunk.duplicate());
                        if (parentDigest != null) {
                            parentDigest.update(chunk.duplicate());
                        }
                        CRC32C crc = new CRC32C();
                        crc.update(chunk.duplicate());
                        LayerChunk record = LayerChunk.newBuilder()
                                .setModel(model).setVersion(version).setTensor(part.name())
                                .setChunkIndex(i).setChunkCount(chunkCount).setOffset(offset)
                                .setTensorBytes(part.bytes()).setCrc32c((int) crc.getValue())
                                .setData(chunk)
                                .build();
                        // KafkaProducer serializes in send(), so the chunk buffer can be reused right after
                        producer.send(new ProducerRecord<>(layersTopic, model + "/" + part.name(), record), (md, e) -> {
                            if (e != null) {
                                sendFailure.compareAndSet(null, e);
                            }
                        });
                        chunks++;
                        done += chunk.limit();
                        progress.update(done, total, part.name());
                        Exception failed = sendFailure.get();
                        if (failed != null) {
                            throw failed;
                        }
                    }
                    partEntries.add(entryOf(src, part, digest, chunkCount));
                }
                if (parentDigest != null) {
                    String parentSha = HexFormat.of().formatHex(parentDigest.digest());
                    for (TensorEntry e : partEntries) {
                        e.getPart().setParentSha256(parentSha);
                    }
                }
                entries.addAll(partEntries);
            }
            CheckpointManifest manifest = CheckpointManifest.newBuilder()
                    .setModel(model).setVersion(version)
                    .setSourceFormat(SourceFormat.valueOf(checkpoint.format().name()))
                    .setSourceFileName(checkpoint.path().getFileName().toString())
                    .setSourceFileBytes(checkpoint.fileBytes())
                    .setPublishedAtMs(publishedAt)
                    .setChunkBytes(chunkBytes)
                    .setTensors(entries)
                    .setPolicy(policy)
                    .setSkeleton(ByteBuffer.wrap(checkpoint.skeleton()))
                    .setAttachments(new ArrayList<>(attachments))
                    .setProducer(ProducerSignature.newBuilder()
                            .setProducerId(transactionalId)
                            .setHost(hostName())
                            .setTool("weightstream " + version())
                            .build())
                    .build();
            producer.send(new ProducerRecord<>(checkpointsTopic, model + "/" + version, manifest), (md, e) -> {
                if (e != null) {
                    sendFailure.compareAndSet(null, e);
                }
            });
            producer.commitTransaction();
            Exception failed = sendFailure.get();
            if (failed != null) {
                throw failed; // cannot happen after a successful commit, kept as a guard
            }
            return new PublishResult(manifest, entries.size(), chunks, done, (System.nanoTime() - started) / 1e9);
        } catch (Exception e) {
            abortQuietly(e);
            throw new PublishException("publishing " + model + "/" + version + " from " + checkpoint.path()
                    + " to " + bootstrapServers + " failed, transaction aborted (nothing was published): "
                    + describe(e), e);
        }
    }

    private void abortQuietly(Exception cause) {
        try {
            producer.abortTransaction();
        } catch (RuntimeException abortFailure) {
            cause.addSuppressed(abortFailure);
        }
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !sb.toString().contains(t.getMessage())) {
                if (sb.length() > 0) {
                    sb.append(": ");
                }
                sb.append(t.getMessage());
            }
        }
        return sb.length() > 0 ? sb.toString() : e.getClass().getSimpleName();
    }

    private static TensorEntry entryOf(CheckpointTensor src, RowBlocks.Block part, MessageDigest digest, int chunkCount) {
        TensorEntry.Builder e = TensorEntry.newBuilder()
                .setName(part.name())
                .setAlias(src.alias())
                .setDtype(DType.valueOf(src.spec().dtype().name()))
                .setShape(toList(part.shape()))
                .setByteSize(part.bytes())
                .setSha256(HexFormat.of().formatHex(digest.digest()))
                .setChunkCount(chunkCount);
        if (part.isPart()) {
            e.setPart(TensorPart.newBuilder()
                    .setParent(src.name()).setIndex(part.index()).setCount(part.count()).setRowStart(part.rowStart())
                    .setParentShape(toList(src.spec().shape()))
                    .setParentSha256("") // filled once the whole tensor is hashed
                    .build());
        }
        return e.build();
    }

    private static List<Long> toList(long[] shape) {
        return Arrays.stream(shape).boxed().toList();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void requireName(String s, String what) {
        if (s == null || s.isBlank() || s.contains("/") || s.length() > 200) {
            throw new IllegalArgumentException(what + " must be a non-empty name without '/', at most 200 characters: '" + s + "'");
        }
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "unknown";
        }
    }

    static String version() {
        String v = CheckpointPublisher.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(10));
    }

    /** Builds a {@link CheckpointPublisher}; {@link #build()} says what is missing or wrong. */
    public static final class Builder {
        private String bootstrapServers;
        private Serializer<SpecificRecord> valueSerializer;
        private String transactionalId = "weightstream-publisher";
        private int chunkBytes = DEFAULT_CHUNK_BYTES;
        private long maxTensorBytes = DEFAULT_MAX_TENSOR_BYTES;
        private long bufferMemory = 64L << 20;
        private Duration connectTimeout = Duration.ofSeconds(15);
        private String layersTopic = Topics.LAYERS;
        private String checkpointsTopic = Topics.CHECKPOINTS;
        private final Properties extraProducerConfig = new Properties();

        private Builder() {
        }

        public Builder bootstrapServers(String servers) {
            this.bootstrapServers = servers;
            return this;
        }

        /** The Avro serializer of record values (Confluent wire format through the schema registry). */
        public Builder valueSerializer(Serializer<SpecificRecord> serializer) {
            this.valueSerializer = serializer;
            return this;
        }

        /** Kafka transactional id: one per concurrent publisher; a second publisher with the same id fences the first. */
        public Builder transactionalId(String id) {
            this.transactionalId = id;
            return this;
        }

        public Builder chunkBytes(int bytes) {
            this.chunkBytes = bytes;
            return this;
        }

        public Builder maxTensorBytes(long bytes) {
            this.maxTensorBytes = bytes;
            return this;
        }

        public Builder bufferMemory(long bytes) {
            this.bufferMemory = bytes;
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        public Builder topics(String layers, String checkpoints) {
            this.layersTopic = layers;
            this.checkpointsTopic = checkpoints;
            return this;
        }

        public Builder producerConfig(String key, Object value) {
            extraProducerConfig.put(key, value);
            return this;
        }

        public CheckpointPublisher build() {
            List<String> problems = new ArrayList<>();
            if (bootstrapServers == null || bootstrapServers.isBlank()) {
                problems.add("bootstrapServers is not set");
            }
            if (valueSerializer == null) {
                problems.add("valueSerializer is not set");
            }
            if (chunkBytes < 1024 || chunkBytes > MAX_REQUEST_BYTES / 2) {
                problems.add("chunkBytes must be in [1 KiB, " + (MAX_REQUEST_BYTES / 2) + "], was " + chunkBytes);
            }
            if (maxTensorBytes < chunkBytes) {
                problems.add("maxTensorBytes (" + maxTensorBytes + ") must be at least chunkBytes (" + chunkBytes + ")");
            }
            if (bufferMemory < 4L * chunkBytes) {
                problems.add("bufferMemory must hold at least 4 chunks");
            }
            if (transactionalId == null || transactionalId.isBlank()) {
                problems.add("transactionalId is empty");
            }
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException("CheckpointPublisher: " + String.join("; ", problems));
            }
            return new CheckpointPublisher(this);
        }
    }
}
