package io.weightstream.checkpoint;

import java.nio.file.Path;

/**
 * A checkpoint file that cannot be read: the one unchecked exception of the readers, naming the file and
 * the byte offset where the problem was found ({@code -1} when no offset applies).
 */
public class CheckpointFormatException extends RuntimeException {
    private final Path file;
    private final long offset;

    public CheckpointFormatException(Path file, long offset, String message) {
        this(file, offset, message, null);
    }

    public CheckpointFormatException(Path file, long offset, String message, Throwable cause) {
        super(file + (offset >= 0 ? ": at byte " + offset : "") + ": " + message, cause);
        this.file = file;
        this.offset = offset;
    }

    public Path file() {
        return file;
    }

    /** Byte offset in the file where the problem was found, or -1. */
    public long offset() {
        return offset;
    }
}
