package io.weightstream.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.ReplicaState;
import io.weightstream.schemas.ReplicaStatus;
import io.weightstream.stack.ApicurioRegistry;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client and the serdes against a real Apicurio Registry 3.0.9 serving the Confluent API
 * ({@code /apis/ccompat/v7}), started from the staged runner jar by the deploy module's launcher.
 */
class SchemaRegistryITCase {
    @TempDir
    static Path workDir;
    private static ApicurioRegistry apicurio;
    private static String url;

    @BeforeAll
    static void startRegistry() {
        apicurio = ApicurioRegistry.builder().workDir(workDir).start();
        url = apicurio.url();
    }

    @AfterAll
    static void stopRegistry() {
        if (apicurio != null) {
            apicurio.close();
        }
    }

    private static SchemaRegistryClient client() {
        return SchemaRegistryClient.builder().url(url).build();
    }

    private static String subject(String name) {
        return name + "-" + UUID.randomUUID() + "-value";
    }

    @Test
    void registerReadBackByIdAndLookUp() {
        String subject = subject("layers");
        Schema schema = LayerChunk.getClassSchema();
        int id = client().register(subject, schema);

        SchemaRegistryClient fresh = client(); // no cache: everything comes from the registry
        assertThat(fresh.schemaById(id)).isEqualTo(schema);
        RegisteredSchema found = fresh.lookup(subject, schema).orElseThrow();
        assertThat(found.id()).isEqualTo(id);
        assertThat(found.version()).isEqualTo(1);
        assertThat(found.subject()).isEqualTo(subject);
        RegisteredSchema latest = fresh.latest(subject);
        assertThat(latest.id()).isEqualTo(id);
        assertThat(latest.version()).isEqualTo(1);
        assertThat(latest.schema()).isEqualTo(schema);
        assertThat(fresh.lookup(subject, ReplicaStatus.getClassSchema())).isEmpty();
        assertThat(fresh.lookup(subject("never-registered"), schema)).isEmpty();
        // registering again is idempotent, also from another client
        assertThat(fresh.register(subject, schema)).isEqualTo(id);
    }

    @Test
    void afterTheFirstCallTheCachesAnswerWithoutHttp() {
        String subject = subject("cache");
        SchemaRegistryClient client = client();
        int id = client.register(subject, LayerChunk.getClassSchema());
        assertThat(client.requestCount()).isEqualTo(1);
        for (int i = 0; i < 100; i++) {
            assertThat(client.register(subject, LayerChunk.getClassSchema())).isEqualTo(id);
            assertThat(client.schemaById(id)).isEqualTo(LayerChunk.getClassSchema());
        }
        assertThat(client.requestCount()).isEqualTo(1);

        SchemaRegistryClient reader = client();
        reader.schemaById(id);
        reader.schemaById(id);
        assertThat(reader.lookup(subject, LayerChunk.getClassSchema())).isPresent();
        assertThat(reader.lookup(subject, LayerChunk.getClassSchema())).isPresent();
        assertThat(reader.requestCount()).isEqualTo(2); // one GET by id, one lookup

        // the serdes on the hot path: one registration, one fetch by id, then nothing
        SchemaRegistryClient producerSide = client();
        SchemaRegistryClient consumerSide = client();
        AvroSerializer<LayerChunk> serializer = new AvroSerializer<>(producerSide, LayerChunk.class);
        AvroDeserializer<LayerChunk> deserializer = new AvroDeserializer<>(consumerSide, LayerChunk.class);
        String topic = subject.substring(0, subject.length() - "-value".length());
        for (int i = 0; i < 200; i++) {
            LayerChunk chunk = SampleRecords.layerChunk(i);
            assertThat(deserializer.deserialize(topic, serializer.serialize(topic, chunk))).isEqualTo(chunk);
        }
        assertThat(producerSide.requestCount()).isEqualTo(1);
        assertThat(consumerSide.requestCount()).isEqualTo(1);
    }

    @Test
    void backwardCompatibilityRejectsANewRequiredFieldWith409() {
        String subject = subject("fleet");
        SchemaRegistryClient client = client();
        client.setCompatibility(subject, CompatibilityLevel.BACKWARD);
        assertThat(client.compatibility(subject)).isEqualTo(CompatibilityLevel.BACKWARD);
        int v1 = client.register(subject, ReplicaStatus.getClassSchema());

        Schema newRequiredField = withField(ReplicaStatus.getClassSchema(),
                new Schema.Field("region", Schema.create(Schema.Type.STRING), "Where the replica runs.", (Object) null));
        assertThat(client.testCompatibility(subject, newRequiredField).compatible()).isFalse();
        assertThatThrownBy(() -> client.register(subject, newRequiredField))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageStartingWith("schema is incompatible with the compatibility level BACKWARD of subject '"
                        + subject + "'")
                .hasMessageContaining("HTTP 409")
                .hasMessageContaining("POST " + url + "/subjects/" + subject + "/versions")
                .satisfies(e -> {
                    SchemaRegistryException error = (SchemaRegistryException) e;
                    assertThat(error.status()).isEqualTo(409);
                    assertThat(error.subject()).isEqualTo(subject);
                    assertThat(error.endpoint()).isEqualTo(url + "/subjects/" + subject + "/versions");
                });

        Schema newOptionalField = withField(ReplicaStatus.getClassSchema(),
                new Schema.Field("region", Schema.create(Schema.Type.STRING), "Where the replica runs.", "unknown"));
        assertThat(client.testCompatibility(subject, newOptionalField).compatible()).isTrue();
        int v2 = client.register(subject, newOptionalField);
        assertThat(v2).isNotEqualTo(v1);
        assertThat(client.latest(subject).version()).isEqualTo(2);
        assertThat(client.testCompatibility(subject("no-versions-yet"), newRequiredField).compatible()).isTrue();
    }

    @Test
    void unknownIdsAndSubjectsAreClearErrors() {
        SchemaRegistryClient client = client();
        assertThatThrownBy(() -> client.schemaById(987_654))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageStartingWith("schema id 987654 not found at " + url + "/schemas/ids/987654")
                .satisfies(e -> {
                    SchemaRegistryException error = (SchemaRegistryException) e;
                    assertThat(error.status()).isEqualTo(404);
                    assertThat(error.errorCode()).isEqualTo(SchemaRegistryException.SCHEMA_NOT_FOUND);
                });
        String subject = subject("nobody");
        assertThatThrownBy(() -> client.latest(subject))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageStartingWith("subject '" + subject + "' not found at " + url)
                .satisfies(e -> assertThat(((SchemaRegistryException) e).errorCode())
                        .isEqualTo(SchemaRegistryException.SUBJECT_NOT_FOUND));
        // a record whose id the registry does not know is a bad record for the consumer, not a crash
        byte[] record = ConfluentWireFormat.frame(987_654, new byte[] {0});
        assertThatThrownBy(() -> new AvroDeserializer<>(client, LayerChunk.class).deserialize("t", record))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("schema id 987654 not found at " + url);
    }

    /** Kafka's way: serdes configured from the producer/consumer properties, every record type. */
    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void kafkaSerdesRoundTripEveryRecordThroughTheRegistry() {
        SchemaRegistryClient client = client();
        String prefix = "it-" + UUID.randomUUID() + ".";
        for (SpecificRecord sample : SampleRecords.all()) {
            String topic = prefix + sample.getClass().getSimpleName();
            Map<String, Object> config = new HashMap<>();
            config.put("registry.url", url);
            config.put("avro.value.class", sample.getClass().getName());
            try (AvroSerializer serializer = new AvroSerializer(); AvroDeserializer deserializer = new AvroDeserializer()) {
                serializer.configure(config, false);
                deserializer.configure(config, false);
                byte[] bytes = serializer.serialize(topic, sample);
                int registered = client.lookup(topic + "-value", sample.getSchema()).orElseThrow().id();
                assertThat(ConfluentWireFormat.schemaId(bytes)).as(topic).isEqualTo(registered);
                assertThat(client.schemaById(registered)).isEqualTo(sample.getSchema());
                assertThat(deserializer.deserialize(topic, bytes)).as(topic).isEqualTo(sample);
            }
        }
        // Flink's way: the serializable schemas, built from the same options
        Map<String, String> options = Map.of("registry.url", url);
        var serialization = RegistryAvroSerializationSchema.forValue(ReplicaStatus.class, prefix + "fleet", options);
        var deserialization = RegistryAvroDeserializationSchema.forType(ReplicaStatus.class, options);
        serialization.open(null);
        deserialization.open(null);
        ReplicaStatus status = SampleRecords.replicaStatus(true);
        byte[] bytes = serialization.serialize(status);
        assertThat(deserialization.deserialize(bytes)).isEqualTo(status);
        assertThat(client.latest(prefix + "fleet-value").id()).isEqualTo(ConfluentWireFormat.schemaId(bytes));
    }

    /** A record written before a field existed is read by today's class; the registry agrees under BACKWARD. */
    @Test
    void anOlderWriterSchemaIsReadByTheNewerClass() throws Exception {
        String subject = subject("evolve");
        SchemaRegistryClient client = client();
        client.setCompatibility(subject, CompatibilityLevel.BACKWARD);
        Schema older = AvroSerdeTest.withoutFields(ReplicaStatus.getClassSchema(), "latencyMs", "message");
        int olderId = client.register(subject, older);
        GenericRecord old = new GenericData.Record(older);
        old.put("model", "m");
        old.put("replica", "r1");
        old.put("state", new GenericData.EnumSymbol(older.getField("state").schema(), "ROLLED_BACK"));
        old.put("timestampMs", 7L);
        byte[] bytes = ConfluentWireFormat.frame(olderId, AvroSerdeTest.avro(older, old));

        ReplicaStatus read = new AvroDeserializer<>(client(), ReplicaStatus.class).deserialize("t", bytes);
        assertThat(read.getState()).isEqualTo(ReplicaState.ROLLED_BACK);
        assertThat(read.getLatencyMs()).isZero();
        assertThat(client.register(subject, ReplicaStatus.getClassSchema())).isNotEqualTo(olderId);
        assertThat(client.latest(subject).version()).isEqualTo(2);
    }

    private static Schema withField(Schema record, Schema.Field extra) {
        List<Schema.Field> fields = new java.util.ArrayList<>();
        for (Schema.Field field : record.getFields()) {
            fields.add(new Schema.Field(field, field.schema()));
        }
        fields.add(extra);
        return Schema.createRecord(record.getName(), record.getDoc(), record.getNamespace(), false, fields);
    }
}
