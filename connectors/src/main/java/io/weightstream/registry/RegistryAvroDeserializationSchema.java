package io.weightstream.registry;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.GenericTypeInfo;

/**
 * Flink {@link DeserializationSchema} that reads Confluent-framed Avro records into a {@link SpecificRecord}
 * class: an {@link AvroDeserializer} built in {@link #open} from the options map (an HTTP client is not
 * serializable). Bad records throw {@link RecordFormatException}; a job that must not fail on them wraps this
 * schema and sends them to the dead-letter topic.
 *
 * <pre>{@code
 * KafkaSource.<LayerChunk>builder()
 *         .setTopics("weightstream.layers")
 *         .setValueOnlyDeserializer(RegistryAvroDeserializationSchema.forType(LayerChunk.class, registryConfig))
 *         .build();
 * }</pre>
 *
 * @param <T> the record class read into
 */
public final class RegistryAvroDeserializationSchema<T extends SpecificRecord> implements DeserializationSchema<T> {
    private static final long serialVersionUID = 1L;

    private final Class<T> type;
    private final HashMap<String, String> config;
    private transient AvroDeserializer<T> deserializer;

    private RegistryAvroDeserializationSchema(Class<T> type, Map<String, String> config) {
        this.type = Objects.requireNonNull(type, "type");
        this.config = new HashMap<>(Objects.requireNonNull(config, "config"));
        if (!RegistryOptions.URL.isSet(this.config)) {
            throw new IllegalArgumentException(RegistryOptions.URL.key() + " is not set in the registry config");
        }
        RegistryOptions.validate(this.config, RegistryOptions.all());
    }

    /** Reads into {@code type}; {@code config} holds {@link RegistryOptions} keys. */
    public static <T extends SpecificRecord> RegistryAvroDeserializationSchema<T> forType(
            Class<T> type, Map<String, String> config) {
        return new RegistryAvroDeserializationSchema<>(type, config);
    }

    @Override
    public void open(InitializationContext context) {
        deserializer = new AvroDeserializer<>(SchemaRegistry.fromConfig(config), type);
    }

    /** @throws RecordFormatException if {@code message} is not a well-formed record of a readable schema */
    @Override
    public T deserialize(byte[] message) {
        if (deserializer == null) {
            open(null);
        }
        return deserializer.deserialize(null, message);
    }

    @Override
    public boolean isEndOfStream(T nextElement) {
        return false;
    }

    /**
     * Flink's Avro type (its own Avro serializer) when {@code flink-avro} is on the class path, else a generic
     * type that Flink serializes with Kryo, which handles the generated classes (tested for every record).
     */
    @Override
    public TypeInformation<T> getProducedType() {
        try {
            return TypeInformation.of(type);
        } catch (RuntimeException noFlinkAvro) {
            return new GenericTypeInfo<>(type);
        }
    }
}
