package io.weightstream.decoder;

import io.weightstream.registry.AvroSerializer;
import io.weightstream.registry.SchemaRegistry;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.ReplicaState;
import io.weightstream.schemas.ReplicaStatus;
import io.weightstream.stack.Topics;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a replica tells the rest of the system: {@link ReplicaStatus} events on {@code weightstream.fleet} (key
 * {@code model/replica}) and {@link DeadLetter}s on {@code weightstream.dlq}. One idempotent producer; sends are
 * asynchronous and {@link #flush()} waits for them and reports the first failure, so the consumer commits the
 * offset of a dead-lettered record only once the dead letter is stored.
 */
final class ReplicaReporter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicaReporter.class);
    /** Largest value kept in a dead letter (the Flink job's limit too). */
    static final int MAX_DEAD_LETTER_VALUE_BYTES = 1 << 20;

    private final KafkaProducer<byte[], SpecificRecord> producer;
    private final String replica;
    private final AtomicReference<Exception> failure = new AtomicReference<>();

    ReplicaReporter(String bootstrapServers, SchemaRegistry registry, String replica) {
        this.replica = replica;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "weightstream-decoder-" + replica + "-reports");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 << 20);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
        this.producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new AvroSerializer<SpecificRecord>(registry, null, false, true));
    }

    /** Sends one status event of this replica about {@code model}. */
    void status(String model, ReplicaState state, String version, String servingVersion, long latencyMs, String message) {
        ReplicaStatus s = ReplicaStatus.newBuilder().setModel(model).setReplica(replica).setState(state)
                .setVersion(version).setServingVersion(servingVersion).setLatencyMs(latencyMs)
                .setMessage(message).setTimestampMs(System.currentTimeMillis()).build();
        send(Topics.FLEET, (model + "/" + replica).getBytes(StandardCharsets.UTF_8), s);
    }

    /** A record that could not be used. */
    void deadLetter(String topic, int partition, long offset, byte[] key, byte[] value, String stage, String reason,
                    Throwable error, String model, String version) {
        DeadLetter d = DeadLetter.newBuilder()
                .setSourceTopic(topic).setPartition(partition).setOffset(offset)
                .setKey(key == null ? null : ByteBuffer.wrap(key.clone()))
                .setValue(value == null ? null
                        : ByteBuffer.wrap(Arrays.copyOf(value, Math.min(value.length, MAX_DEAD_LETTER_VALUE_BYTES))))
                .setValueBytes(value == null ? 0 : value.length)
                .setStage(stage).setReason(reason == null ? "(no reason given)" : reason)
                .setErrorClass(error == null ? null : error.getClass().getName())
                .setModel(model).setVersion(version)
                .setTimestampMs(System.currentTimeMillis()).build();
        send(Topics.DLQ, key, d);
    }

    private void send(String topic, byte[] key, SpecificRecord value) {
        try {
            producer.send(new ProducerRecord<>(topic, key, value), (md, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                    LOG.error("cannot write to {}: {}", topic, e.toString());
                }
            });
        } catch (RuntimeException e) {
            failure.compareAndSet(null, e);
            LOG.error("cannot write to {}: {}", topic, e.toString());
        }
    }

    /**
     * Waits until everything sent is acknowledged.
     *
     * @throws IllegalStateException if a send failed since the last flush
     */
    void flush() {
        producer.flush();
        Exception e = failure.getAndSet(null);
        if (e != null) {
            throw new IllegalStateException("a status or dead letter could not be written: " + e, e);
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(10));
    }
}
