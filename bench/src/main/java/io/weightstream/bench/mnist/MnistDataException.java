package io.weightstream.bench.mnist;

import java.nio.file.Path;

/** The MNIST digit files are missing, truncated or malformed; carries the file and the byte offset of the fault. */
public class MnistDataException extends RuntimeException {
    private final Path file;
    private final long offset;

    public MnistDataException(Path file, long offset, String message) {
        super(file + (offset >= 0 ? " at byte " + offset : "") + ": " + message);
        this.file = file;
        this.offset = offset;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** Byte offset of the fault in {@link #file()}, or -1 when the fault is not at one place (e.g. a missing file). */
    public long offset() {
        return offset;
    }
}
