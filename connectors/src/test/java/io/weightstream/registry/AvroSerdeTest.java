package io.weightstream.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.ReplicaState;
import io.weightstream.schemas.ReplicaStatus;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {
    private final InMemorySchemaRegistry registry = new InMemorySchemaRegistry();

    @Test
    void everyRecordOfTheContractHasSamples() {
        Set<String> sampled = SampleRecords.all().stream().map(r -> r.getClass().getSimpleName())
                .collect(Collectors.toSet());
        assertThat(SampleRecords.contractRecordNames())
                .containsExactlyInAnyOrder("CheckpointManifest", "CompressedLayerChunk", "DeadLetter", "LayerChunk",
                        "ModelVersionCompressed", "ReplicaStatus");
        assertThat(sampled).containsAll(SampleRecords.contractRecordNames());
    }

    @Test
    void everySampleRoundTripsWithTheRegisteredId() {
        for (SpecificRecord sample : SampleRecords.all()) {
            String topic = "weightstream." + sample.getClass().getSimpleName();
            byte[] bytes = roundTripBytes(sample, topic);
            int id = registry.lookup(topic + "-value", sample.getSchema()).orElseThrow().id();
            assertThat(bytes[0]).isZero();
            assertThat(ConfluentWireFormat.schemaId(bytes)).isEqualTo(id);
            assertThat(deserialize(sample.getClass(), topic, bytes)).as(topic).isEqualTo(sample);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private byte[] roundTripBytes(SpecificRecord sample, String topic) {
        return new AvroSerializer(registry, sample.getClass()).serialize(topic, sample);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Object deserialize(Class<?> type, String topic, byte[] bytes) {
        return new AvroDeserializer(registry, type).deserialize(topic, bytes);
    }

    @Test
    void sameSchemaGetsOneIdAndKeysUseTheKeySubject() {
        AvroSerializer<ReplicaStatus> values = new AvroSerializer<>(registry, ReplicaStatus.class);
        AvroSerializer<ReplicaStatus> keys = new AvroSerializer<>(registry, ReplicaStatus.class, true, true);
        byte[] a = values.serialize("weightstream.fleet", SampleRecords.replicaStatus(true));
        byte[] b = values.serialize("weightstream.fleet", SampleRecords.replicaStatus(false));
        byte[] k = keys.serialize("weightstream.fleet", SampleRecords.replicaStatus(false));
        assertThat(ConfluentWireFormat.schemaId(a)).isEqualTo(ConfluentWireFormat.schemaId(b))
                .isEqualTo(ConfluentWireFormat.schemaId(k));
        assertThat(registry.latest("weightstream.fleet-value").version()).isEqualTo(1);
        assertThat(registry.latest("weightstream.fleet-key").schema()).isEqualTo(ReplicaStatus.getClassSchema());
        assertThat(AvroSerializer.subjectName("t", false)).isEqualTo("t-value");
        assertThat(AvroSerializer.subjectName("t", true)).isEqualTo("t-key");
    }

    @Test
    void nullIsATombstoneBothWays() {
        assertThat(new AvroSerializer<>(registry, LayerChunk.class).serialize("t", null)).isNull();
        assertThat(new AvroDeserializer<>(registry, LayerChunk.class).deserialize("t", null)).isNull();
    }

    @Test
    void withoutAutoRegisterTheSchemaMustBeRegistered() {
        AvroSerializer<LayerChunk> serializer = new AvroSerializer<>(registry, LayerChunk.class, false, false);
        LayerChunk chunk = SampleRecords.layerChunk(10);
        assertThatThrownBy(() -> serializer.serialize("weightstream.layers", chunk))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("weightstream.layers-value")
                .hasMessageContaining("avro.auto.register is false");
        int id = registry.register("weightstream.layers-value", LayerChunk.getClassSchema());
        assertThat(ConfluentWireFormat.schemaId(serializer.serialize("weightstream.layers", chunk))).isEqualTo(id);
    }

    /** A record written with an older schema (before latencyMs and message existed) read by today's class. */
    @Test
    void olderWriterSchemaIsReadIntoTheNewerClass() throws IOException {
        Schema current = ReplicaStatus.getClassSchema();
        Schema older = withoutFields(current, "latencyMs", "message");
        String subject = "weightstream.fleet-value";
        int olderId = registry.register(subject, older);
        GenericRecord old = new GenericData.Record(older);
        old.put("model", "m");
        old.put("replica", "r1");
        old.put("state", new GenericData.EnumSymbol(older.getField("state").schema(), "LOADED"));
        old.put("version", "7");
        old.put("servingVersion", null);
        old.put("timestampMs", 42L);
        byte[] bytes = ConfluentWireFormat.frame(olderId, avro(older, old));

        ReplicaStatus read = new AvroDeserializer<>(registry, ReplicaStatus.class).deserialize("weightstream.fleet", bytes);
        assertThat(read.getState()).isEqualTo(ReplicaState.LOADED);
        assertThat(read.getVersion()).isEqualTo("7");
        assertThat(read.getTimestampMs()).isEqualTo(42L);
        assertThat(read.getLatencyMs()).isZero();
        assertThat(read.getMessage()).isNull();
        // and the registry accepts the newer schema under BACKWARD, since the new fields have defaults
        assertThat(registry.register(subject, current)).isNotEqualTo(olderId);
    }

    @Test
    void aWriterSchemaTheClassCannotReadIsARecordFormatException() throws IOException {
        Schema incompatible = new Schema.Parser().parse(ReplicaStatus.getClassSchema().toString()
                .replace("{\"name\":\"timestampMs\",\"type\":\"long\"}", "{\"name\":\"timestampMs\",\"type\":\"string\"}"));
        assertThat(incompatible.getField("timestampMs").schema().getType()).isEqualTo(Schema.Type.STRING);
        int id = registry.register("elsewhere-value", incompatible);
        GenericRecord record = new GenericData.Record(incompatible);
        record.put("model", "m");
        record.put("replica", "r");
        record.put("state", new GenericData.EnumSymbol(incompatible.getField("state").schema(), "LOADED"));
        record.put("latencyMs", 0L);
        record.put("timestampMs", "yesterday");
        byte[] bytes = ConfluentWireFormat.frame(id, avro(incompatible, record));
        assertThatThrownBy(() -> new AvroDeserializer<>(registry, ReplicaStatus.class).deserialize("weightstream.fleet", bytes))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("cannot be read as io.weightstream.schemas.ReplicaStatus")
                .hasMessageContaining("timestampMs")
                .hasMessageContaining("topic weightstream.fleet")
                .satisfies(e -> assertThat(((RecordFormatException) e).offset()).isEqualTo(1));
    }

    @Test
    void anUnknownSchemaIdIsARecordFormatException() {
        byte[] bytes = ConfluentWireFormat.frame(999, new byte[] {2, 'a'});
        assertThatThrownBy(() -> new AvroDeserializer<>(registry, LayerChunk.class).deserialize("weightstream.layers", bytes))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("schema id 999 not found")
                .hasCauseInstanceOf(SchemaRegistryException.class);
    }

    @Test
    void aRecordThatDoesNotMatchItsSchemaCannotBeSerialized() {
        LayerChunk broken = new LayerChunk(); // every required field null
        assertThatThrownBy(() -> new AvroSerializer<>(registry, LayerChunk.class).serialize("weightstream.layers", broken))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot serialize io.weightstream.schemas.LayerChunk for topic weightstream.layers");
    }

    @Test
    void kafkaConfiguresTheSerdesFromOptionKeys() {
        String url = "mem://kafka-" + UUID.randomUUID();
        Map<String, Object> config = new HashMap<>();
        config.put("registry.url", url);
        config.put("avro.value.class", LayerChunk.class.getName());
        config.put("avro.key.class", ReplicaStatus.class);
        config.put("bootstrap.servers", "ignored:9092");
        try (AvroSerializer<SpecificRecord> serializer = new AvroSerializer<>();
             AvroDeserializer<SpecificRecord> values = new AvroDeserializer<>();
             AvroDeserializer<SpecificRecord> keys = new AvroDeserializer<>()) {
            serializer.configure(config, false);
            values.configure(config, false);
            keys.configure(config, true);
            LayerChunk chunk = SampleRecords.layerChunk(100);
            byte[] bytes = serializer.serialize("weightstream.layers", chunk);
            assertThat(values.deserialize("weightstream.layers", bytes)).isEqualTo(chunk);
            assertThat(values.type()).isEqualTo(LayerChunk.class);
            assertThat(keys.type()).isEqualTo(ReplicaStatus.class);
            assertThat(InMemorySchemaRegistry.named(url.substring("mem://".length()))
                    .latest("weightstream.layers-value").id()).isEqualTo(ConfluentWireFormat.schemaId(bytes));
        }
    }

    @Test
    void kafkaConfigurationErrorsNameTheOption() {
        assertThatThrownBy(() -> new AvroDeserializer<>().configure(Map.of("registry.url", "mem://x"), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("avro.value.class is not set");
        assertThatThrownBy(() -> new AvroDeserializer<>().configure(
                Map.of("registry.url", "mem://x", "avro.key.class", "java.lang.String"), true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an Avro SpecificRecord");
        assertThatThrownBy(() -> new AvroDeserializer<>().configure(
                Map.of("registry.url", "mem://x", "avro.value.class", "io.weightstream.schemas.Nope"), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not on the class path");
        assertThatThrownBy(() -> new AvroSerializer<>().configure(Map.of(), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("registry.url is not set");
        assertThatThrownBy(() -> new AvroSerializer<LayerChunk>().serialize("t", SampleRecords.layerChunk(1)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("not configured");
    }

    @Test
    void flinkSchemasSurviveJavaSerializationAndRoundTrip() throws Exception {
        String name = "flink-" + UUID.randomUUID();
        Map<String, String> config = Map.of("registry.url", "mem://" + name);
        var serialization = copy(RegistryAvroSerializationSchema.forValue(LayerChunk.class, "weightstream.layers", config));
        var deserialization = copy(RegistryAvroDeserializationSchema.forType(LayerChunk.class, config));
        serialization.open(null);
        deserialization.open(null);
        List<LayerChunk> read = new ArrayList<>();
        for (int size : new int[] {0, 1, 1000}) {
            LayerChunk chunk = SampleRecords.layerChunk(size);
            read.add(deserialization.deserialize(serialization.serialize(chunk)));
            assertThat(read.get(read.size() - 1)).isEqualTo(chunk);
        }
        assertThat(deserialization.getProducedType().getTypeClass()).isEqualTo(LayerChunk.class);
        assertThat(deserialization.isEndOfStream(read.get(0))).isFalse();
        assertThat(InMemorySchemaRegistry.named(name).latest("weightstream.layers-value").schema())
                .isEqualTo(LayerChunk.getClassSchema());
        var keySchema = RegistryAvroSerializationSchema.forKey(ReplicaStatus.class, "weightstream.fleet", config);
        keySchema.serialize(SampleRecords.replicaStatus(false)); // serialize without open(): opens lazily
        assertThat(InMemorySchemaRegistry.named(name).latest("weightstream.fleet-key").version()).isEqualTo(1);
    }

    /** The type Flink moves the records between operators with: every sample survives it. */
    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void flinkProducedTypeSerializesEverySample() throws IOException {
        for (SpecificRecord sample : SampleRecords.all()) {
            TypeSerializer serializer = RegistryAvroDeserializationSchema
                    .forType((Class) sample.getClass(), Map.of("registry.url", "mem://types"))
                    .getProducedType().createSerializer(new SerializerConfigImpl());
            DataOutputSerializer out = new DataOutputSerializer(1024);
            serializer.serialize(sample, out);
            assertThat(serializer.deserialize(new DataInputDeserializer(out.getSharedBuffer(), 0, out.length())))
                    .isEqualTo(sample);
            assertThat(serializer.copy(sample)).isEqualTo(sample);
        }
    }

    @Test
    void flinkSchemasCheckTheirOptionsWhenBuilt() {
        assertThatThrownBy(() -> RegistryAvroDeserializationSchema.forType(LayerChunk.class, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("registry.url is not set");
        assertThatThrownBy(() -> RegistryAvroSerializationSchema.forValue(LayerChunk.class, "t",
                Map.of("registry.url", "http://r:8081", "registry.timeout.ms", "soon")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("registry.timeout.ms");
        assertThatThrownBy(() -> RegistryAvroSerializationSchema.forValue(LayerChunk.class, " ",
                Map.of("registry.url", "http://r:8081")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topic");
    }

    @SuppressWarnings("unchecked")
    private static <T> T copy(T serializable) throws IOException, ClassNotFoundException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(serializable);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (T) in.readObject();
        }
    }

    static Schema withoutFields(Schema record, String... names) {
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field field : record.getFields()) {
            if (!List.of(names).contains(field.name())) {
                fields.add(new Schema.Field(field, field.schema()));
            }
        }
        return Schema.createRecord(record.getName(), record.getDoc(), record.getNamespace(), false, fields);
    }

    static byte[] avro(Schema schema, GenericRecord record) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return out.toByteArray();
    }
}
