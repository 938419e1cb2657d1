package io.weightstream.registry;

import java.nio.ByteBuffer;

/**
 * The Confluent Schema Registry wire format of a Kafka record key or value: one magic byte {@code 0}, the
 * 4-byte big-endian id of the writer's schema in the registry, then the Avro binary encoding of the record.
 * Every Confluent-compatible serializer (Confluent, Apicurio in ccompat mode, Karapace, Redpanda) reads and
 * writes this, which is why the project uses it instead of Avro's single-object encoding.
 *
 * <pre>{@code
 * byte[] framed = ConfluentWireFormat.frame(schemaId, avroBytes);
 * int id = ConfluentWireFormat.schemaId(framed);          // throws RecordFormatException if not framed
 * int avroStart = ConfluentWireFormat.HEADER_BYTES;
 * }</pre>
 */
public final class ConfluentWireFormat {
    /** First byte of every framed record; other values are reserved for future framings. */
    public static final byte MAGIC_BYTE = 0;
    /** Magic byte + schema id. */
    public static final int HEADER_BYTES = 5;

    private ConfluentWireFormat() {}

    /** Writes the 5-byte header for {@code schemaId} at {@code offset} of {@code target}. */
    public static void writeHeader(int schemaId, byte[] target, int offset) {
        checkSchemaId(schemaId);
        if (offset < 0 || target.length - offset < HEADER_BYTES) {
            throw new IllegalArgumentException("header needs " + HEADER_BYTES + " bytes at offset " + offset
                    + " of a " + target.length + "-byte array");
        }
        target[offset] = MAGIC_BYTE;
        target[offset + 1] = (byte) (schemaId >>> 24);
        target[offset + 2] = (byte) (schemaId >>> 16);
        target[offset + 3] = (byte) (schemaId >>> 8);
        target[offset + 4] = (byte) schemaId;
    }

    /** The 5-byte header for {@code schemaId}. */
    public static byte[] header(int schemaId) {
        byte[] header = new byte[HEADER_BYTES];
        writeHeader(schemaId, header, 0);
        return header;
    }

    /** Header + {@code avroPayload} in one new array. */
    public static byte[] frame(int schemaId, byte[] avroPayload) {
        byte[] framed = new byte[HEADER_BYTES + avroPayload.length];
        writeHeader(schemaId, framed, 0);
        System.arraycopy(avroPayload, 0, framed, HEADER_BYTES, avroPayload.length);
        return framed;
    }

    /**
     * The schema id of a framed record, after checking its length and magic byte.
     *
     * @throws RecordFormatException if {@code record} is shorter than the header, does not start with the
     *     magic byte, or carries a negative schema id
     */
    public static int schemaId(byte[] record) {
        if (record.length < HEADER_BYTES) {
            throw new RecordFormatException(record.length, "record has " + record.length
                    + " bytes, fewer than the " + HEADER_BYTES + "-byte Confluent header (magic byte + schema id)");
        }
        if (record[0] != MAGIC_BYTE) {
            throw new RecordFormatException(0, String.format("unknown magic byte 0x%02x, expected 0x00:"
                    + " not a Confluent-framed record (written without the schema registry serializer?)",
                    record[0] & 0xff));
        }
        int id = ByteBuffer.wrap(record, 1, 4).getInt();
        if (id < 0) {
            throw new RecordFormatException(1, "negative schema id " + id);
        }
        return id;
    }

    /** The Avro payload of a framed record (a view, no copy), after the checks of {@link #schemaId}. */
    public static ByteBuffer payload(byte[] record) {
        schemaId(record);
        return ByteBuffer.wrap(record, HEADER_BYTES, record.length - HEADER_BYTES).slice();
    }

    private static void checkSchemaId(int schemaId) {
        if (schemaId < 0) {
            throw new IllegalArgumentException("schema id must be >= 0, got " + schemaId);
        }
    }
}
