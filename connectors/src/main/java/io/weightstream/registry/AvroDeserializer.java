package io.weightstream.registry;

import java.io.IOException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Kafka {@link Deserializer} of Confluent-framed Avro records into a {@link SpecificRecord} class. The writer's
 * schema is fetched by the id in the record (once per id, then cached) and resolved to the reader class's
 * schema with Avro schema resolution, so records written with an older, compatible schema are read by a
 * newer reader (new fields get their defaults).
 *
 * <p>Bad input never costs more memory than its own size: lengths and counts are checked against the bytes
 * that are left before anything is allocated (Avro's own {@code BinaryDecoder} allocates what a length
 * declares, up to the JVM-wide limits {@code org.apache.avro.limits.bytes.maxLength},
 * {@code ...string.maxLength} and {@code ...collectionItems.maxLength}, about 2 GiB by default; those
 * properties are honoured here too when set lower). It throws {@link RecordFormatException}, with the byte offset,
 * for a wrong magic byte, a short or truncated record, impossible lengths, trailing bytes, a schema id the
 * registry does not know, or a writer schema that cannot be read as the reader's class;
 * {@link SchemaRegistryException} only when the registry fails (unreachable, not authorized), which is worth
 * a retry rather than a dead letter.
 *
 * <pre>{@code
 * props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, AvroDeserializer.class.getName());
 * props.put("registry.url", "http://localhost:8080/apis/ccompat/v7");
 * props.put("avro.value.class", LayerChunk.class.getName());
 * // or constructed directly
 * Deserializer<LayerChunk> deserializer = new AvroDeserializer<>(registry, LayerChunk.class);
 * }</pre>
 *
 * @param <T> the record class read into
 */
public class AvroDeserializer<T extends SpecificRecord> implements Deserializer<T> {
    private SchemaRegistry registry;
    private Class<T> type;
    private Schema readerSchema;
    private SpecificData model;
    private final Map<Integer, SpecificDatumReader<T>> readers = new ConcurrentHashMap<>();

    /** For Kafka, which instantiates deserializers by class name and then calls {@link #configure}. */
    public AvroDeserializer() {}

    public AvroDeserializer(SchemaRegistry registry, Class<T> type) {
        this.registry = Objects.requireNonNull(registry, "registry");
        setType(Objects.requireNonNull(type, "type"));
    }

    /**
     * Reads the registry options and {@code avro.value.class} (or {@code avro.key.class}) from {@code configs}.
     *
     * @throws IllegalArgumentException if an option is missing or wrong
     */
    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        RegistryOption<String> classOption = isKey ? AvroSerdeOptions.KEY_CLASS : AvroSerdeOptions.VALUE_CLASS;
        Object configured = configs.get(classOption.key());
        if (configured == null || configured.toString().isBlank()) {
            throw new IllegalArgumentException(classOption.key() + " is not set: name the Avro SpecificRecord"
                    + " class to read into, e.g. io.weightstream.schemas.LayerChunk");
        }
        setType(configured instanceof Class<?> c ? c : loadClass(classOption.key(), configured.toString().trim()));
        this.registry = SchemaRegistry.fromConfig(configs);
    }

    private static Class<?> loadClass(String option, String name) {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        try {
            return Class.forName(name, true, loader != null ? loader : AvroDeserializer.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException(option + " names class " + name + ", which is not on the class path", e);
        }
    }

    @SuppressWarnings("unchecked")
    private void setType(Class<?> type) {
        if (!SpecificRecord.class.isAssignableFrom(type)) {
            throw new IllegalArgumentException(type.getName() + " is not an Avro SpecificRecord class");
        }
        this.type = (Class<T>) type;
        this.model = SpecificData.getForClass(type);
        this.readerSchema = model.getSchema(type);
    }

    /** The class records are read into. */
    public Class<T> type() {
        return type;
    }

    @Override
    public T deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        if (registry == null) {
            throw new IllegalStateException("AvroDeserializer is not configured: construct it with a registry"
                    + " or let Kafka call configure()");
        }
        int id;
        try {
            id = ConfluentWireFormat.schemaId(data);
        } catch (RecordFormatException e) {
            throw withContext(e, topic, -1);
        }
        SpecificDatumReader<T> reader = reader(id, topic);
        BoundedDecoder in = new BoundedDecoder(data, ConfluentWireFormat.HEADER_BYTES,
                data.length - ConfluentWireFormat.HEADER_BYTES);
        T record;
        try {
            record = reader.read(null, in);
            in.requireEnd();
        } catch (RecordFormatException e) {
            throw withContext(e, topic, id);
        } catch (IOException | RuntimeException e) {
            // Avro's own checks (enum or union index out of range, ...) on input the decoder could not judge
            throw withContext(new RecordFormatException(in.position(), "invalid Avro data: " + e, e), topic, id);
        }
        if (!type.isInstance(record)) {
            throw new IllegalStateException("Avro read a " + record.getClass().getName() + ", not a " + type.getName()
                    + ": the record class is not visible to Avro's class loader");
        }
        return record;
    }

    private SpecificDatumReader<T> reader(int id, String topic) {
        SpecificDatumReader<T> reader = readers.get(id);
        if (reader != null) {
            return reader;
        }
        Schema writer;
        try {
            writer = registry.schemaById(id);
        } catch (SchemaRegistryException e) {
            if (e.errorCode() == SchemaRegistryException.SCHEMA_NOT_FOUND) {
                throw withContext(new RecordFormatException(1, e.getMessage(), e), topic, id);
            }
            throw e;
        }
        SchemaPairCompatibility compatibility = SchemaCompatibility.checkReaderWriterCompatibility(readerSchema, writer);
        if (compatibility.getType() != SchemaCompatibilityType.COMPATIBLE) {
            String why = String.join("; ", Incompatibilities.describe(compatibility));
            throw withContext(new RecordFormatException(1, "writer schema " + writer.getFullName()
                    + " cannot be read as " + type.getName() + ": " + why), topic, id);
        }
        reader = new SpecificDatumReader<>(writer, readerSchema, model);
        readers.put(id, reader);
        return reader;
    }

    private RecordFormatException withContext(RecordFormatException e, String topic, int id) {
        String context = " (" + (topic != null ? "topic " + topic + ", " : "") + (id >= 0 ? "schema id " + id + ", " : "")
                + "reading " + type.getName() + ")";
        return new RecordFormatException(e.offset(), e.reason() + context, e.getCause());
    }
}
