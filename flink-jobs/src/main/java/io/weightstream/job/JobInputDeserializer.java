package io.weightstream.job;

import io.weightstream.registry.AvroDeserializer;
import io.weightstream.registry.RegistryOptions;
import io.weightstream.registry.SchemaRegistry;
import io.weightstream.registry.SchemaRegistryException;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.LayerChunk;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the records of the job's one source: a {@link CheckpointManifest} from the checkpoints topic, a
 * {@link LayerChunk} from the layers topic. It never throws: a record that is not a well-formed record of its
 * topic's type (garbage bytes, a tombstone, an unreadable schema, a record of an unexpected topic) becomes a
 * {@link JobInput#deadLetter} carrying its topic, partition, offset, key, value (cut to 1 MiB) and the reason.
 * A schema registry that does not answer is retried with backoff for {@value #REGISTRY_RETRIES} attempts (it is
 * not the record's fault), then the record goes to the dead-letter topic too.
 *
 * <pre>{@code
 * KafkaSource.<JobInput>builder()
 *         .setTopics(Topics.CHECKPOINTS, Topics.LAYERS)
 *         .setDeserializer(new JobInputDeserializer(registryConfig, Topics.CHECKPOINTS, Topics.LAYERS))
 * }</pre>
 */
public final class JobInputDeserializer implements KafkaRecordDeserializationSchema<JobInput> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(JobInputDeserializer.class);
    static final int REGISTRY_RETRIES = 6;

    private final HashMap<String, String> registryConfig;
    private final String checkpointsTopic;
    private final String layersTopic;
    private transient AvroDeserializer<CheckpointManifest> manifests;
    private transient AvroDeserializer<LayerChunk> chunks;

    public JobInputDeserializer(Map<String, String> registryConfig, String checkpointsTopic, String layersTopic) {
        this.registryConfig = new HashMap<>(Objects.requireNonNull(registryConfig, "registryConfig"));
        if (!RegistryOptions.URL.isSet(this.registryConfig)) {
            throw new IllegalArgumentException(RegistryOptions.URL.key() + " is not set in the registry config");
        }
        this.checkpointsTopic = Objects.requireNonNull(checkpointsTopic, "checkpointsTopic");
        this.layersTopic = Objects.requireNonNull(layersTopic, "layersTopic");
    }

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
        SchemaRegistry registry = SchemaRegistry.fromConfig(registryConfig);
        manifests = new AvroDeserializer<>(registry, CheckpointManifest.class);
        chunks = new AvroDeserializer<>(registry, LayerChunk.class);
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<JobInput> out) {
        out.collect(read(record));
    }

    /** The record as a {@link JobInput}; never throws for bad input. */
    JobInput read(ConsumerRecord<byte[], byte[]> record) {
        if (manifests == null) {
            open(null);
        }
        String topic = record.topic();
        byte[] value = record.value();
        if (value == null) {
            return deadLetter(record, "record has no value (a tombstone)", null);
        }
        for (int attempt = 1; ; attempt++) {
            try {
                if (checkpointsTopic.equals(topic)) {
                    return JobInput.manifest(manifests.deserialize(topic, value), topic, record.partition(), record.offset());
                }
                if (layersTopic.equals(topic)) {
                    return JobInput.chunk(chunks.deserialize(topic, value), topic, record.partition(), record.offset());
                }
                return deadLetter(record, "record of topic '" + topic + "', which the job does not read", null);
            } catch (SchemaRegistryException e) {
                // the registry failed (not "unknown id", which is a RecordFormatException): not the record's fault
                if (attempt >= REGISTRY_RETRIES) {
                    return deadLetter(record, "schema registry unavailable after " + attempt + " attempts: "
                            + DeadLetters.describe(e), e);
                }
                long backoffMs = 500L << (attempt - 1);
                LOG.warn("schema registry failed reading {}-{}@{} (attempt {}), retrying in {} ms: {}", topic,
                        record.partition(), record.offset(), attempt, backoffMs, e.getMessage());
                if (!sleep(backoffMs)) {
                    return deadLetter(record, "interrupted while retrying the schema registry: " + e.getMessage(), e);
                }
            } catch (RuntimeException e) {
                // RecordFormatException (with the byte offset) and anything else Avro throws on bad bytes
                return deadLetter(record, DeadLetters.describe(e), e);
            }
        }
    }

    private static boolean sleep(long ms) {
        try {
            Thread.sleep(ms);
            return true;
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static JobInput deadLetter(ConsumerRecord<byte[], byte[]> r, String reason, Throwable error) {
        return JobInput.deadLetter(DeadLetters.forRecord(r.topic(), r.partition(), r.offset(), r.key(), r.value(),
                DeadLetters.DESERIALIZE, reason, error, System.currentTimeMillis()));
    }

    @Override
    public TypeInformation<JobInput> getProducedType() {
        return TypeInformation.of(JobInput.class);
    }
}
