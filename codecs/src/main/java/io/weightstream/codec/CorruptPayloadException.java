package io.weightstream.codec;

/**
 * An encoded payload that cannot be decoded: truncated, corrupted, declaring sizes beyond the
 * {@link DecodeLimits}, or written by an unknown codec or format version. The one unchecked exception
 * every decoder throws for bad input; it carries the byte offset in the payload where the problem was found.
 *
 * <pre>{@code
 * try {
 *     Tensor t = Codecs.decode(payload);
 * } catch (CorruptPayloadException e) {
 *     deadLetter(record, "corrupt payload at byte " + e.offset() + ": " + e.getMessage());
 * }
 * }</pre>
 */
public class CorruptPayloadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long offset;

    public CorruptPayloadException(long offset, String message) {
        this(offset, message, null);
    }

    public CorruptPayloadException(long offset, String message, Throwable cause) {
        super("corrupt payload at byte " + offset + ": " + message, cause);
        this.offset = offset;
    }

    /** Byte offset from the start of the payload where the problem was found. */
    public long offset() {
        return offset;
    }
}
