package io.weightstream.registry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka {@link Serializer} of Avro {@link SpecificRecord}s in the Confluent wire format (magic byte, schema id,
 * Avro binary), so any Confluent-compatible consumer can read the topic. The subject is {@code <topic>-value}
 * or {@code <topic>-key} (Confluent's TopicNameStrategy). On the first record of a topic the record's schema is
 * registered under the subject ({@code avro.auto.register=true}, the default) or looked up (false); after that
 * the id comes from a cache and no HTTP call is made. Thread-safe, as a producer shared by threads needs.
 *
 * <pre>{@code
 * // configured by Kafka: the same keys as RegistryOptions / AvroSerdeOptions in the producer properties
 * props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, AvroSerializer.class.getName());
 * props.put("registry.url", "http://localhost:8080/apis/ccompat/v7");
 * // or constructed directly
 * Serializer<LayerChunk> serializer = new AvroSerializer<>(registry, LayerChunk.class);
 * }</pre>
 *
 * @param <T> the record class
 */
public class AvroSerializer<T extends SpecificRecord> implements Serializer<T> {
    private SchemaRegistry registry;
    private boolean isKey;
    private boolean autoRegister;
    private final Map<Schema, SpecificDatumWriter<T>> writers = new ConcurrentHashMap<>();
    private final Map<String, TopicSchema> idsByTopic = new ConcurrentHashMap<>();
    private final Map<Schema, Integer> sizeHints = new ConcurrentHashMap<>();

    /** The id of the schema last written to a topic; compared by identity, as generated classes share one. */
    private record TopicSchema(Schema schema, int id) {}

    /** For Kafka, which instantiates serializers by class name and then calls {@link #configure}. */
    public AvroSerializer() {}

    /** A value serializer that registers schemas on first use. */
    public AvroSerializer(SchemaRegistry registry, Class<T> type) {
        this(registry, type, false, true);
    }

    /**
     * @param type the record class; its schema is the one registered ({@code null}: each record's own schema)
     * @param isKey whether it serializes keys (subject {@code <topic>-key}) or values ({@code <topic>-value})
     * @param autoRegister whether to register the schema, or only look it up
     */
    public AvroSerializer(SchemaRegistry registry, Class<T> type, boolean isKey, boolean autoRegister) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.isKey = isKey;
        this.autoRegister = autoRegister;
        if (type != null) {
            writer(SpecificData.getForClass(type).getSchema(type), type);
        }
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.registry = SchemaRegistry.fromConfig(configs);
        this.isKey = isKey;
        this.autoRegister = AvroSerdeOptions.AUTO_REGISTER.get(configs);
    }

    /** The subject of {@code topic} under Confluent's TopicNameStrategy. */
    public static String subjectName(String topic, boolean isKey) {
        return topic + (isKey ? "-key" : "-value");
    }

    /**
     * @return the framed record, or {@code null} for a {@code null} record (a tombstone)
     * @throws SchemaRegistryException if the schema cannot be registered or is not registered
     * @throws IllegalArgumentException if the record does not match its schema (e.g. a required field is null)
     */
    @Override
    public byte[] serialize(String topic, T record) {
        if (record == null) {
            return null;
        }
        if (registry == null) {
            throw new IllegalStateException("AvroSerializer is not configured: construct it with a registry or"
                    + " let Kafka call configure()");
        }
        Schema schema = record.getSchema();
        int id = schemaId(topic, schema);
        // sized from the last record of this schema: a 1 MiB chunk is then written without regrowing the buffer
        ByteArrayOutputStream out = new ByteArrayOutputStream(sizeHints.getOrDefault(schema, 256));
        out.writeBytes(ConfluentWireFormat.header(id));
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            writer(schema, record.getClass()).write(record, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not throw
        } catch (AvroRuntimeException | NullPointerException | ClassCastException e) {
            throw new IllegalArgumentException("cannot serialize " + schema.getFullName() + " for topic " + topic
                    + ": " + e.getMessage(), e);
        }
        byte[] framed = out.toByteArray();
        sizeHints.put(schema, framed.length + (framed.length >> 6) + 64);
        return framed;
    }

    private int schemaId(String topic, Schema schema) {
        TopicSchema cached = idsByTopic.get(topic);
        if (cached != null && cached.schema == schema) {
            return cached.id;
        }
        String subject = subjectName(topic, isKey);
        int id;
        if (autoRegister) {
            id = registry.register(subject, schema);
        } else {
            id = registry.lookup(subject, schema).orElseThrow(() -> new SchemaRegistryException("schema "
                    + schema.getFullName() + " is not registered under subject '" + subject + "' and "
                    + AvroSerdeOptions.AUTO_REGISTER.key() + " is false: register it first", 404,
                    SchemaRegistryException.SCHEMA_NOT_FOUND, String.valueOf(registry), subject, null)).id();
        }
        idsByTopic.put(topic, new TopicSchema(schema, id));
        return id;
    }

    private SpecificDatumWriter<T> writer(Schema schema, Class<?> type) {
        // the model of the record's own class, so classes of a Flink user-code class loader are found
        return writers.computeIfAbsent(schema, s -> new SpecificDatumWriter<>(s, SpecificData.getForClass(type)));
    }
}
