package io.weightstream.decoder;

import java.nio.file.Path;

/**
 * A staging file ({@link ChunkStage}) that is not what the stage wrote: a wrong magic or format version, a frame
 * whose CRC-32C or length is wrong in the middle of the file, a record that does not decode. Carries the file and
 * the byte offset of the bad frame. A torn last frame (a crash in the middle of an append) is not this: recovery
 * cuts it off silently, because its offsets were never committed.
 */
public class StageFormatException extends RuntimeException {
    private final transient Path file;
    private final long offset;

    public StageFormatException(Path file, long offset, String reason) {
        this(file, offset, reason, null);
    }

    public StageFormatException(Path file, long offset, String reason, Throwable cause) {
        super(file + " at byte " + offset + ": " + reason, cause);
        this.file = file;
        this.offset = offset;
    }

    public Path file() {
        return file;
    }

    /** Byte offset of the bad frame (or header) in the file. */
    public long offset() {
        return offset;
    }
}
