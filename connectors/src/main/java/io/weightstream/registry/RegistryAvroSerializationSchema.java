package io.weightstream.registry;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;

/**
 * Flink {@link SerializationSchema} that writes Avro {@link SpecificRecord}s in the Confluent wire format,
 * registering the schema under {@code <topic>-value} (or {@code -key}): an {@link AvroSerializer} built in
 * {@link #open} from the options map, because a schema is serialized and shipped to the task managers and an
 * HTTP client is not serializable. For a {@code KafkaSink}, whose record serializer needs the topic anyway.
 *
 * <pre>{@code
 * KafkaRecordSerializationSchema.builder()
 *         .setTopic("weightstream.compressed")
 *         .setValueSerializationSchema(RegistryAvroSerializationSchema.forValue(
 *                 CompressedLayerChunk.class, "weightstream.compressed", registryConfig))
 *         .build();
 * }</pre>
 *
 * @param <T> the record class
 */
public final class RegistryAvroSerializationSchema<T extends SpecificRecord> implements SerializationSchema<T> {
    private static final long serialVersionUID = 1L;

    private final Class<T> type;
    private final String topic;
    private final boolean isKey;
    private final HashMap<String, String> config;
    private transient AvroSerializer<T> serializer;

    private RegistryAvroSerializationSchema(Class<T> type, String topic, boolean isKey, Map<String, String> config) {
        this.type = Objects.requireNonNull(type, "type");
        if (topic == null || topic.isBlank()) {
            throw new IllegalArgumentException("topic must not be blank: it names the subject <topic>-value");
        }
        this.topic = topic;
        this.isKey = isKey;
        this.config = new HashMap<>(Objects.requireNonNull(config, "config"));
        if (!RegistryOptions.URL.isSet(this.config)) {
            throw new IllegalArgumentException(RegistryOptions.URL.key() + " is not set in the registry config");
        }
        RegistryOptions.validate(this.config, RegistryOptions.all());
        RegistryOptions.validate(this.config, AvroSerdeOptions.all());
    }

    /** Serializes values of {@code topic}; {@code config} holds {@link RegistryOptions}/{@link AvroSerdeOptions} keys. */
    public static <T extends SpecificRecord> RegistryAvroSerializationSchema<T> forValue(
            Class<T> type, String topic, Map<String, String> config) {
        return new RegistryAvroSerializationSchema<>(type, topic, false, config);
    }

    /** Serializes keys of {@code topic} (subject {@code <topic>-key}). */
    public static <T extends SpecificRecord> RegistryAvroSerializationSchema<T> forKey(
            Class<T> type, String topic, Map<String, String> config) {
        return new RegistryAvroSerializationSchema<>(type, topic, true, config);
    }

    @Override
    public void open(InitializationContext context) {
        serializer = new AvroSerializer<>(SchemaRegistry.fromConfig(config), type, isKey,
                AvroSerdeOptions.AUTO_REGISTER.get(config));
    }

    @Override
    public byte[] serialize(T element) {
        if (serializer == null) {
            open(null); // callers that skip open(), e.g. a serializer used outside a Flink task
        }
        return serializer.serialize(topic, element);
    }
}
