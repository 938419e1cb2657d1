package io.weightstream.checkpoint.safetensors;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.CheckpointTensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading: an 8-byte little-endian header length {@code N}, {@code N} bytes of
 * UTF-8 JSON ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"k": "v"}}}), then the data region the offsets point into.
 *
 * <p>Opening reads and validates only the header; tensors are regions of one open {@link FileChannel}, in
 * data-offset order, read with positional reads ({@link CheckpointTensor#read}) or mapped
 * ({@link CheckpointTensor#data}). The layout rules are the reference implementation's: the tensors must cover
 * the data region exactly (no hole, no overlap, nothing after the last one), each spanning
 * {@code dtype size x numel} bytes. Anything else throws {@link CheckpointFormatException} with the byte offset:
 * inside the header for header problems, the start of the offending data for layout problems.
 *
 * <pre>{@code
 * try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(Path.of("model.safetensors"))) {
 *     Map<String, String> meta = ckpt.metadata();          // {"format": "pt"}
 *     for (CheckpointTensor t : ckpt.tensors()) {
 *         System.out.println(t.spec());                    // layers.0.attn.q_proj.weight F32[4096, 4096]
 *     }
 *     byte[] skeleton = ckpt.skeleton();                   // the 8 + N header bytes, rebuilt bit-exactly by SafetensorsWriter
 * }
 * }</pre>
 */
public final class SafetensorsCheckpoint implements Checkpoint {
    /**
     * Largest header accepted by {@link #open(Path)}: the reference implementation's limit (100,000,000 bytes),
     * checked before anything is allocated. Use {@link #open(Path, long)} for another limit.
     */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private final Path path;
    private final FileChannel channel;
    private final long fileBytes;
    private final byte[] skeleton;
    private final List<CheckpointTensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsCheckpoint(Path path, FileChannel channel, long fileBytes, byte[] skeleton,
                                  List<CheckpointTensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.fileBytes = fileBytes;
        this.skeleton = skeleton;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Opens and validates a safetensors file.
     *
     * @throws CheckpointFormatException naming the file and byte offset when it is not a valid safetensors file
     * @throws UncheckedIOException      when it cannot be read
     */
    public static SafetensorsCheckpoint open(Path file) {
        return open(file, MAX_HEADER_BYTES);
    }

    /** {@link #open(Path)} with another limit on the JSON header's size (at most {@code Integer.MAX_VALUE - 8}). */
    public static SafetensorsCheckpoint open(Path file, long maxHeaderBytes) {
        if (maxHeaderBytes < 2 || maxHeaderBytes > Integer.MAX_VALUE - SafetensorsHeader.PREFIX_BYTES) {
            throw new IllegalArgumentException("maxHeaderBytes must be in [2, 2^31 - 9], not " + maxHeaderBytes);
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UncheckedIOException("opening " + file, e);
        }
        try {
            long size = channel.size();
            if (size < SafetensorsHeader.PREFIX_BYTES) {
                throw new CheckpointFormatException(file, 0, "file has " + size
                        + " bytes, fewer than the 8-byte header length that starts a safetensors file");
            }
            ByteBuffer prefix = ByteBuffer.allocate(SafetensorsHeader.PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, prefix, 0);
            long n = prefix.getLong(0); // a u64: negative here means >= 2^63
            if (n < 0 || n > maxHeaderBytes) {
                throw new CheckpointFormatException(file, 0, "header length " + Long.toUnsignedString(n)
                        + " exceeds the limit of " + maxHeaderBytes + " bytes");
            }
            if (n > size - SafetensorsHeader.PREFIX_BYTES) {
                throw new CheckpointFormatException(file, 0, "header length " + n + " runs past the end of the file ("
                        + size + " bytes)");
            }
            byte[] skeleton = new byte[SafetensorsHeader.PREFIX_BYTES + (int) n];
            prefix.rewind();
            prefix.get(skeleton, 0, SafetensorsHeader.PREFIX_BYTES);
            readFully(channel, ByteBuffer.wrap(skeleton, SafetensorsHeader.PREFIX_BYTES, (int) n), SafetensorsHeader.PREFIX_BYTES);
            long dataStart = SafetensorsHeader.PREFIX_BYTES + n;
            SafetensorsHeader header = SafetensorsHeader.parse(file, skeleton, (int) n, size - dataStart);
            List<CheckpointTensor> tensors = new ArrayList<>(header.entries().size());
            for (SafetensorsHeader.Entry e : header.entries()) {
                tensors.add(new CheckpointTensor(e.spec(), null, channel, dataStart + e.begin()));
            }
            return new SafetensorsCheckpoint(file, channel, size, skeleton, Collections.unmodifiableList(tensors),
                    header.metadata());
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException("reading " + file, e);
        } catch (RuntimeException | Error e) {
            closeQuietly(channel);
            throw e;
        }
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public CheckpointFormat format() {
        return CheckpointFormat.SAFETENSORS;
    }

    /** Tensors in data-offset order, each a region of the open file. */
    @Override
    public List<CheckpointTensor> tensors() {
        return tensors;
    }

    /** A copy of the file's first {@code 8 + N} bytes: the length prefix and the JSON header, padding included. */
    @Override
    public byte[] skeleton() {
        return skeleton.clone();
    }

    @Override
    public long fileBytes() {
        return fileBytes;
    }

    /** The header's {@code __metadata__} string map in header order; empty when the file has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Offset in the file of the data region (the tensors' {@code data_offsets} count from here). */
    public long dataOffset() {
        return skeleton.length;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("closing " + path, e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsCheckpoint(" + path + ", " + tensors.size() + " tensors, " + fileBytes + " bytes)";
    }

    private static void readFully(FileChannel channel, ByteBuffer dst, long position) throws IOException {
        long at = position;
        while (dst.hasRemaining()) {
            int r = channel.read(dst, at);
            if (r < 0) {
                throw new IOException("file shrank while being read");
            }
            at += r;
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // the error being thrown says more
        }
    }
}
