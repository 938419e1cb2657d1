package io.weightstream.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.LayerChunk;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;

/**
 * Corrupt input gives {@link RecordFormatException} and nothing else: never an {@code OutOfMemoryError}, an
 * {@code ArrayIndexOutOfBoundsException} or an Avro exception.
 */
class MalformedRecordTest {
    private final InMemorySchemaRegistry registry = new InMemorySchemaRegistry();

    @SuppressWarnings({"unchecked", "rawtypes"})
    private byte[] serialize(SpecificRecord record) {
        // a topic per record type: one subject holds one evolving record, as in production
        return new AvroSerializer(registry, record.getClass()).serialize(record.getClass().getSimpleName(), record);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private AvroDeserializer<SpecificRecord> deserializer(Class<?> type) {
        return new AvroDeserializer(registry, type);
    }

    /** Deserializes; any outcome but a record or a RecordFormatException within the input fails the test. */
    private static void expectRecordOrFormatError(AvroDeserializer<SpecificRecord> deserializer, byte[] bytes,
                                                  String what) {
        try {
            deserializer.deserialize("t", bytes);
        } catch (RecordFormatException e) {
            assertThat(e.offset()).as(what + ": " + e.getMessage()).isBetween(0L, (long) bytes.length);
        } catch (Throwable t) {
            fail(what + ": expected a RecordFormatException, got " + t, t);
        }
    }

    @Test
    void everyTruncationOfEverySampleIsAFormatError() {
        for (SpecificRecord sample : SampleRecords.all()) {
            byte[] bytes = serialize(sample);
            AvroDeserializer<SpecificRecord> deserializer = deserializer(sample.getClass());
            // long records: every length near both ends and a stride through the middle
            int step = bytes.length > 4096 ? 61 : 1;
            for (int n = 0; n < bytes.length; n += (n < 512 || n > bytes.length - 512) ? 1 : step) {
                byte[] truncated = Arrays.copyOf(bytes, n);
                String what = sample.getClass().getSimpleName() + " cut to " + n + " of " + bytes.length + " bytes";
                assertThatThrownBy(() -> deserializer.deserialize("t", truncated)).as(what)
                        .isInstanceOf(RecordFormatException.class);
            }
        }
    }

    @Test
    void trailingBytesAreAFormatError() {
        byte[] bytes = serialize(SampleRecords.replicaStatus(true));
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 3);
        assertThatThrownBy(() -> deserializer(io.weightstream.schemas.ReplicaStatus.class).deserialize("t", longer))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("3 trailing bytes")
                .satisfies(e -> assertThat(((RecordFormatException) e).offset()).isEqualTo(bytes.length));
    }

    @Test
    void randomCorruptionGivesOnlyFormatErrors() {
        Random random = new Random(20261123);
        for (SpecificRecord sample : SampleRecords.all()) {
            byte[] bytes = serialize(sample);
            AvroDeserializer<SpecificRecord> deserializer = deserializer(sample.getClass());
            for (int trial = 0; trial < 2000; trial++) {
                byte[] corrupt = bytes.clone();
                int flips = 1 + random.nextInt(4);
                for (int f = 0; f < flips; f++) {
                    // keep the header: a different schema id would only test the registry lookup
                    int at = ConfluentWireFormat.HEADER_BYTES
                            + random.nextInt(Math.max(1, corrupt.length - ConfluentWireFormat.HEADER_BYTES));
                    if (at < corrupt.length) {
                        corrupt[at] = (byte) random.nextInt(256);
                    }
                }
                expectRecordOrFormatError(deserializer, corrupt, sample.getClass().getSimpleName() + " trial " + trial);
            }
        }
    }

    @Test
    void randomGarbageAfterAValidHeaderGivesOnlyFormatErrors() {
        int id = registry.register("t-value", CheckpointManifest.getClassSchema());
        AvroDeserializer<SpecificRecord> deserializer = deserializer(CheckpointManifest.class);
        Random random = new Random(7);
        for (int trial = 0; trial < 5000; trial++) {
            byte[] garbage = new byte[random.nextInt(200)];
            random.nextBytes(garbage);
            expectRecordOrFormatError(deserializer, ConfluentWireFormat.frame(id, garbage), "garbage " + trial);
        }
    }

    /** A bytes field declaring 2^31-1 bytes: Avro's BinaryDecoder would allocate 2 GiB before reading. */
    @Test
    void absurdBytesLengthIsRejectedBeforeAllocating() throws Exception {
        int id = registry.register("t-value", LayerChunk.getClassSchema());
        ByteArrayOutputStream avro = new ByteArrayOutputStream();
        BinaryEncoder out = EncoderFactory.get().directBinaryEncoder(avro, null);
        out.writeString("m");
        out.writeString("v");
        out.writeString("t");
        out.writeInt(0);
        out.writeInt(1);
        out.writeLong(0);
        out.writeLong(16);
        out.writeInt(0);
        int dataLengthAt = ConfluentWireFormat.HEADER_BYTES + avro.size();
        out.writeLong(Integer.MAX_VALUE - 8); // data: declared length, with only 4 bytes following
        out.writeFixed(new byte[] {1, 2, 3, 4});
        out.flush();
        byte[] bytes = ConfluentWireFormat.frame(id, avro.toByteArray());
        assertThatThrownBy(() -> deserializer(LayerChunk.class).deserialize("weightstream.layers", bytes))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("bytes declares 2147483639 bytes but only 4 remain")
                .satisfies(e -> assertThat(((RecordFormatException) e).offset()).isEqualTo(dataLengthAt));
    }

    /** An array declaring a billion items: Avro would size an ArrayList for them before reading one. */
    @Test
    void absurdArrayAndMapCountsAreRejectedBeforeAllocating() throws Exception {
        int id = registry.register("t-value", CompressedLayerChunk.getClassSchema());
        ByteArrayOutputStream avro = new ByteArrayOutputStream();
        BinaryEncoder out = EncoderFactory.get().directBinaryEncoder(avro, null);
        out.writeString("m");
        out.writeString("v");
        out.writeString("t");
        out.writeIndex(0); // alias: null
        out.writeString("rtn");
        int mapAt = ConfluentWireFormat.HEADER_BYTES + avro.size();
        out.writeLong(1_000_000_000L); // params: a billion entries
        out.writeString("k");
        out.flush();
        byte[] bytes = ConfluentWireFormat.frame(id, avro.toByteArray());
        assertThatThrownBy(() -> deserializer(CompressedLayerChunk.class).deserialize("t", bytes))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("map block declares 1000000000 items")
                .satisfies(e -> assertThat(((RecordFormatException) e).offset()).isEqualTo(mapAt));

        // a negative block count (count followed by the block's byte size) with an absurd byte size
        avro.reset();
        out.writeString("m");
        out.writeString("v");
        out.writeString("t");
        out.writeIndex(0);
        out.writeString("rtn");
        out.writeLong(-1);
        out.writeLong(Long.MAX_VALUE);
        out.flush();
        byte[] negative = ConfluentWireFormat.frame(id, avro.toByteArray());
        assertThatThrownBy(() -> deserializer(CompressedLayerChunk.class).deserialize("t", negative))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("map block declares " + Long.MAX_VALUE + " bytes");
    }

    @Test
    void overlongVarintsAndBadBooleansAreFormatErrors() {
        int id = registry.register("t-value", LayerChunk.getClassSchema());
        byte[] overlong = ConfluentWireFormat.frame(id, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
                (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 1});
        assertThatThrownBy(() -> deserializer(LayerChunk.class).deserialize("t", overlong))
                .isInstanceOf(RecordFormatException.class).hasMessageContaining("varint longer than 10 bytes");

        int policyId = registry.register("p-value", io.weightstream.schemas.CompressionPolicy.getClassSchema());
        // defaultMethod "x", defaultParams {}, rules [], keepMethod "y", keepOneDimensional = 7
        byte[] badBoolean = ConfluentWireFormat.frame(policyId, new byte[] {2, 'x', 0, 0, 2, 'y', 7, 0, 0, 0});
        assertThatThrownBy(() -> deserializer(io.weightstream.schemas.CompressionPolicy.class).deserialize("t", badBoolean))
                .isInstanceOf(RecordFormatException.class).hasMessageContaining("invalid boolean byte 7")
                .satisfies(e -> assertThat(((RecordFormatException) e).offset()).isEqualTo(11));
    }

    @Test
    void outOfRangeEnumAndUnionIndexesAreFormatErrors() {
        int id = registry.register("t-value", io.weightstream.schemas.ReplicaStatus.getClassSchema());
        // model "m", replica "r", state index 100
        byte[] badEnum = ConfluentWireFormat.frame(id, new byte[] {2, 'm', 2, 'r', (byte) 200, 1, 0, 0, 0, 0, 0});
        assertThatThrownBy(() -> deserializer(io.weightstream.schemas.ReplicaStatus.class).deserialize("t", badEnum))
                .isInstanceOf(RecordFormatException.class);
        // model "m", replica "r", state 0, version: union index 5
        byte[] badUnion = ConfluentWireFormat.frame(id, new byte[] {2, 'm', 2, 'r', 0, 10, 0, 0, 0, 0, 0});
        assertThatThrownBy(() -> deserializer(io.weightstream.schemas.ReplicaStatus.class).deserialize("t", badUnion))
                .isInstanceOf(RecordFormatException.class);
    }
}
