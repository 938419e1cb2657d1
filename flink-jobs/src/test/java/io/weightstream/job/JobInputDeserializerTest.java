package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.Fixtures.Published;
import io.weightstream.registry.AvroSerializer;
import io.weightstream.registry.InMemorySchemaRegistry;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.stack.Topics;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** {@link JobInputDeserializer}: records of both topics read, every bad record a dead letter, never an exception. */
class JobInputDeserializerTest {
    static final String REGISTRY = "mem://job-input-deserializer-test";
    final JobInputDeserializer deserializer = new JobInputDeserializer(Map.of("registry.url", REGISTRY),
            Topics.CHECKPOINTS, Topics.LAYERS);
    final AvroSerializer<SpecificRecord> serializer =
            new AvroSerializer<>(InMemorySchemaRegistry.named(REGISTRY.substring(6)), null, false, true);
    final Published p = Fixtures.publish("m", "v1", Fixtures.policy("lossless", Map.of()), 1000,
            Fixtures.floats("w", 1, 10, 30));

    static ConsumerRecord<byte[], byte[]> record(String topic, int partition, long offset, String key, byte[] value) {
        return new ConsumerRecord<>(topic, partition, offset, key == null ? null : key.getBytes(StandardCharsets.UTF_8), value);
    }

    @Test
    void readsManifestsAndChunksByTopic() {
        LayerChunk chunk = p.chunks("w").get(1);
        JobInput c = deserializer.read(record(Topics.LAYERS, 2, 17, "m/w", serializer.serialize(Topics.LAYERS, chunk)));
        assertThat(c.chunk).isEqualTo(chunk);
        assertThat(c.manifest).isNull();
        assertThat(c.deadLetter).isNull();
        assertThat(c.topic).isEqualTo(Topics.LAYERS);
        assertThat(c.partition).isEqualTo(2);
        assertThat(c.offset).isEqualTo(17);

        CheckpointManifest m = p.manifest();
        JobInput in = deserializer.read(record(Topics.CHECKPOINTS, 0, 3, "m/v1", serializer.serialize(Topics.CHECKPOINTS, m)));
        assertThat(in.manifest).isEqualTo(m);
        assertThat(in.chunk).isNull();
    }

    @Test
    void garbageBecomesADeadLetterWithWhereItCameFromAndWhy() {
        byte[] garbage = "this is not avro".getBytes(StandardCharsets.UTF_8);
        JobInput in = deserializer.read(record(Topics.LAYERS, 3, 99, "m/x", garbage));
        DeadLetter d = in.deadLetter;
        assertThat(in.chunk).isNull();
        assertThat(d.getSourceTopic()).isEqualTo(Topics.LAYERS);
        assertThat(d.getPartition()).isEqualTo(3);
        assertThat(d.getOffset()).isEqualTo(99);
        assertThat(Fixtures.bytes(d.getKey())).isEqualTo("m/x".getBytes(StandardCharsets.UTF_8));
        assertThat(Fixtures.bytes(d.getValue())).isEqualTo(garbage);
        assertThat(d.getValueBytes()).isEqualTo(garbage.length);
        assertThat(d.getStage()).isEqualTo(DeadLetters.DESERIALIZE);
        assertThat(d.getReason()).contains("at byte 0").contains("magic");
        assertThat(d.getErrorClass()).isEqualTo("io.weightstream.registry.RecordFormatException");
    }

    @Test
    void aRecordOfTheOtherTopicsTypeTruncatedOrEmptyIsADeadLetter() {
        byte[] chunk = serializer.serialize(Topics.LAYERS, p.chunks("w").get(0));
        // a chunk where a manifest is expected: the writer schema cannot be read as a manifest
        assertThat(deserializer.read(record(Topics.CHECKPOINTS, 0, 1, null, chunk)).deadLetter.getReason())
                .contains("cannot be read as io.weightstream.schemas.CheckpointManifest");
        byte[] truncated = Arrays.copyOf(chunk, chunk.length - 10);
        assertThat(deserializer.read(record(Topics.LAYERS, 0, 2, null, truncated)).deadLetter).isNotNull();
        assertThat(deserializer.read(record(Topics.LAYERS, 0, 3, null, null)).deadLetter.getReason())
                .contains("tombstone");
        assertThat(deserializer.read(record("other.topic", 0, 4, null, chunk)).deadLetter.getReason())
                .contains("'other.topic'");
    }

    @Test
    void aHugeBadValueIsCutToOneMebibyteButItsLengthIsKept() {
        byte[] huge = new byte[3 << 20];
        Arrays.fill(huge, (byte) 7);
        DeadLetter d = deserializer.read(record(Topics.LAYERS, 0, 5, null, huge)).deadLetter;
        assertThat(d.getValue().remaining()).isEqualTo(DeadLetters.MAX_VALUE_BYTES);
        assertThat(d.getValueBytes()).isEqualTo(3 << 20);
        assertThat(d.getKey()).isNull();
    }
}
