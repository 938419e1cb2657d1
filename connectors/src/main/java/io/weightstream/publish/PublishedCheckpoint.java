package io.weightstream.publish;

import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointWriter;
import io.weightstream.registry.AvroDeserializer;
import io.weightstream.registry.SchemaRegistry;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.Topics;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.zip.CRC32C;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A checkpoint read back from Kafka exactly as published (committed data only), every chunk's CRC-32C and every
 * tensor's SHA-256 checked against the manifest; row-block parts are put back together. It holds the tensors in
 * memory (bounded by {@code maxBytes}), so it is meant for verification and for the demo, not for serving.
 *
 * <pre>{@code
 * PublishedCheckpoint p = PublishedCheckpoint.read(bootstrap, registry, "minilm", "v1", Duration.ofSeconds(30), 1L << 32);
 * p.writeFile(Path.of("minilm-v1.onnx"));   // bit-identical to the published file
 * }</pre>
 */
public final class PublishedCheckpoint {
    private final CheckpointManifest manifest;
    private final Map<String, ByteBuffer> tensors; // whole tensors by name, parts joined

    private PublishedCheckpoint(CheckpointManifest manifest, Map<String, ByteBuffer> tensors) {
        this.manifest = manifest;
        this.tensors = tensors;
    }

    public CheckpointManifest manifest() {
        return manifest;
    }

    /** Whole tensors by name (row-block parts joined), little-endian. */
    public Map<String, ByteBuffer> tensors() {
        return tensors;
    }

    /** Rebuilds the checkpoint file from the manifest's skeleton and the tensors. */
    public void writeFile(Path out) {
        CheckpointFormat format = CheckpointFormat.valueOf(manifest.getSourceFormat().name());
        CheckpointWriter.write(format, bytes(manifest.getSkeleton()), name -> {
            ByteBuffer b = tensors.get(name);
            return b == null ? null : b.duplicate();
        }, out);
    }

    /**
     * Reads {@code model}/{@code version} from the beginning of the checkpoints and layers topics, read_committed.
     *
     * @param maxBytes refuse a checkpoint whose tensors add up to more than this, before allocating
     * @throws IllegalStateException if the version is not found within {@code timeout}, or a check fails
     */
    public static PublishedCheckpoint read(String bootstrapServers, SchemaRegistry registry, String model, String version,
                                           Duration timeout, long maxBytes) {
        long deadline = System.nanoTime() + timeout.toNanos();
        CheckpointManifest manifest = null;
        Map<String, List<LayerChunk>> chunks = new HashMap<>();
        String keyPrefix = model + "/";
        try (KafkaConsumer<String, CheckpointManifest> manifests = consumer(bootstrapServers, registry, CheckpointManifest.class);
             KafkaConsumer<String, LayerChunk> layers = consumer(bootstrapServers, registry, LayerChunk.class)) {
            assignAll(manifests, Topics.CHECKPOINTS);
            assignAll(layers, Topics.LAYERS);
            long buffered = 0;
            while (true) {
                for (ConsumerRecord<String, CheckpointManifest> r : manifests.poll(Duration.ofMillis(100))) {
                    CheckpointManifest m = r.value();
                    if (m.getModel().equals(model) && m.getVersion().equals(version)) {
                        manifest = m;
                        long total = 0;
                        for (TensorEntry e : m.getTensors()) {
                            total += e.getByteSize();
                        }
                        if (total > maxBytes) {
                            throw new IllegalStateException(model + "/" + version + " has " + total
                                    + " tensor bytes, more than the limit of " + maxBytes);
                        }
                    }
                }
                for (ConsumerRecord<String, LayerChunk> r : layers.poll(Duration.ofMillis(100))) {
                    LayerChunk c = r.value();
                    if (r.key() != null && r.key().startsWith(keyPrefix) && c.getModel().equals(model) && c.getVersion().equals(version)) {
                        buffered += c.getData().remaining();
                        if (buffered > maxBytes) {
                            throw new IllegalStateException(model + "/" + version + ": more chunk bytes than the limit of " + maxBytes);
                        }
                        chunks.computeIfAbsent(c.getTensor(), k -> new ArrayList<>()).add(c);
                    }
                }
                if (manifest != null && complete(manifest, chunks)) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(model + "/" + version + " not found complete on " + bootstrapServers
                            + " within " + timeout.toSeconds() + " s (manifest " + (manifest == null ? "missing" : "found")
                            + ", tensors with chunks: " + chunks.size() + ")");
                }
            }
        }
        return new PublishedCheckpoint(manifest, assemble(manifest, chunks));
    }

    private static boolean complete(CheckpointManifest m, Map<String, List<LayerChunk>> chunks) {
        for (TensorEntry e : m.getTensors()) {
            List<LayerChunk> got = chunks.get(e.getName());
            if (got == null || got.size() < e.getChunkCount()) {
                return false;
            }
        }
        return true;
    }

    private static Map<String, ByteBuffer> assemble(CheckpointManifest m, Map<String, List<LayerChunk>> chunks) {
        Map<String, ByteBuffer> whole = new LinkedHashMap<>();
        Map<String, List<ByteBuffer>> parts = new LinkedHashMap<>();
        for (TensorEntry e : m.getTensors()) {
            byte[] data = new byte[Math.toIntExact(e.getByteSize())];
            boolean[] seen = new boolean[e.getChunkCount()];
            for (LayerChunk c : chunks.get(e.getName())) {
                int i = c.getChunkIndex();
                if (i < 0 || i >= seen.length || c.getChunkCount() != e.getChunkCount() || c.getTensorBytes() != e.getByteSize()) {
                    throw new IllegalStateException("chunk " + i + " of " + e.getName() + " disagrees with the manifest");
                }
                if (seen[i]) {
                    continue; // a duplicate chunk; the first is kept (CRC-checked below)
                }
                ByteBuffer d = c.getData().duplicate();
                CRC32C crc = new CRC32C();
                crc.update(d.duplicate());
                if ((int) crc.getValue() != c.getCrc32c()) {
                    throw new IllegalStateException("chunk " + i + " of " + e.getName() + ": CRC-32C mismatch");
                }
                if (c.getOffset() < 0 || c.getOffset() + d.remaining() > data.length) {
                    throw new IllegalStateException("chunk " + i + " of " + e.getName() + " lies outside the tensor");
                }
                d.get(data, (int) c.getOffset(), d.remaining());
                seen[i] = true;
            }
            String sha = sha256(data);
            if (!sha.equals(e.getSha256())) {
                throw new IllegalStateException("tensor " + e.getName() + ": SHA-256 " + sha + " != manifest " + e.getSha256());
            }
            if (e.getPart() == null) {
                whole.put(e.getName(), ByteBuffer.wrap(data));
            } else {
                parts.computeIfAbsent(e.getPart().getParent(), k -> new ArrayList<>()).add(ByteBuffer.wrap(data));
                if (e.getPart().getIndex() == e.getPart().getCount() - 1) {
                    List<ByteBuffer> ps = parts.get(e.getPart().getParent());
                    int size = ps.stream().mapToInt(ByteBuffer::remaining).sum();
                    ByteBuffer joined = ByteBuffer.allocate(size);
                    ps.forEach(p -> joined.put(p.duplicate()));
                    joined.flip();
                    String parentSha = sha256(joined.array());
                    if (!parentSha.equals(e.getPart().getParentSha256())) {
                        throw new IllegalStateException("tensor " + e.getPart().getParent() + ": SHA-256 of the joined parts "
                                + parentSha + " != manifest " + e.getPart().getParentSha256());
                    }
                    whole.put(e.getPart().getParent(), joined);
                }
            }
        }
        return whole;
    }

    private static <T extends SpecificRecord> KafkaConsumer<String, T> consumer(String bootstrap, SchemaRegistry registry, Class<T> type) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES);
        p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 64 << 20);
        return new KafkaConsumer<>(p, new StringDeserializer(), new AvroDeserializer<>(registry, type));
    }

    private static void assignAll(KafkaConsumer<?, ?> consumer, String topic) {
        List<TopicPartition> tps = consumer.partitionsFor(topic, Duration.ofSeconds(15)).stream()
                .map(pi -> new TopicPartition(topic, pi.partition())).toList();
        consumer.assign(tps);
        consumer.seekToBeginning(tps);
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }
}
