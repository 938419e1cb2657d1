package io.weightstream.registry;

/**
 * A Kafka record value (or key) that is not a well-formed Confluent-framed Avro record: wrong magic byte,
 * too short, truncated Avro, lengths larger than the bytes that follow, trailing bytes, or a writer schema
 * that cannot be read into the reader's class. The one unchecked exception the deserializers throw for bad
 * input, so a consumer needs a single {@code catch} to send such a record to the dead-letter topic.
 *
 * <pre>{@code
 * try {
 *     chunk = deserializer.deserialize(topic, bytes);
 * } catch (RecordFormatException e) {
 *     deadLetters.send(topic, bytes, "deserialize", e.getMessage()); // e.offset(): where it went wrong
 * }
 * }</pre>
 */
public class RecordFormatException extends RuntimeException {
    private final long offset;
    private final String reason;

    public RecordFormatException(long offset, String message) {
        this(offset, message, null);
    }

    public RecordFormatException(long offset, String message, Throwable cause) {
        super((offset >= 0 ? "at byte " + offset + ": " : "") + message, cause);
        this.offset = offset;
        this.reason = message;
    }

    /** The message without the offset. */
    public String reason() {
        return reason;
    }

    /** Byte offset in the serialized record (magic byte = 0) where the problem was found, or -1. */
    public long offset() {
        return offset;
    }
}
