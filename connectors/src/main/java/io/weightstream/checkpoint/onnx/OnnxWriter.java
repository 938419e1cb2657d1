package io.weightstream.checkpoint.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.onnx.OnnxScanner.Storage;
import io.weightstream.checkpoint.onnx.OnnxSkeleton.Entry;
import io.weightstream.checkpoint.onnx.OnnxSkeleton.Frame;
import io.weightstream.checkpoint.onnx.OnnxSkeleton.Literal;
import io.weightstream.checkpoint.onnx.OnnxSkeleton.Raw;
import io.weightstream.checkpoint.onnx.OnnxSkeleton.Segment;
import io.weightstream.checkpoint.onnx.OnnxSkeleton.Typed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Rebuilds an {@code .onnx} file from the skeleton of {@link OnnxCheckpoint} and new bytes for its tensors: the
 * original graph with its weights replaced.
 *
 * <pre>{@code
 * OnnxWriter.write(ckpt.skeleton(), name -> decoded.get(name), Path.of("repo/v7/model.onnx"));
 * }</pre>
 *
 * <p>Each tensor's bytes go back where they came from: {@code raw_data} bytes into their hole (the file comes
 * back bit-identical when the bytes are the same), typed values into their typed field (the TensorProto and the
 * messages around it re-encoded with new lengths), external tensors into their external file.
 *
 * <p>External data is rewritten, not inlined: each file named by a {@code location} is written next to
 * {@code out} under that relative name (subdirectories created), every tensor at its declared offset, holes
 * between them zero-filled; the {@code external_data} entries stay as they were. That keeps models over the
 * 2 GiB protobuf limit writable. Write each version into its own directory: two models in one directory that
 * name the same data file would overwrite each other's weights.
 *
 * <p>Every file is written to a temporary file in its directory, forced to disk and renamed over the target;
 * external files first, the {@code .onnx} last, so a reader that opens the model sees complete data.
 */
public final class OnnxWriter {
    private static final int BUFFER_BYTES = 1 << 16;
    /** Heap buffers go to the channel in slices, so the JDK's cached temporary direct buffer stays small. */
    private static final int SLICE_BYTES = 1 << 20;

    private OnnxWriter() {
    }

    /**
     * @param skeleton {@link OnnxCheckpoint#skeleton()} of the original file
     * @param tensors  the little-endian bytes of each tensor the skeleton names (between position and limit; not
     *                 consumed); must be exactly the tensor's dtype size x its dims
     * @param out      the {@code .onnx} file to write; replaced atomically
     * @throws CheckpointFormatException naming {@code out} (offset in the skeleton) when the skeleton is corrupt
     * @throws IllegalArgumentException  when a tensor's bytes are missing or of the wrong size
     * @throws UncheckedIOException      when writing fails; no partial file is left behind
     */
    public static void write(byte[] skeleton, Function<String, ByteBuffer> tensors, Path out) {
        Objects.requireNonNull(skeleton, "skeleton");
        Objects.requireNonNull(tensors, "tensors");
        Path target = out.toAbsolutePath();
        Path dir = target.getParent();
        OnnxSkeleton sk = OnnxSkeleton.decode(skeleton, target);
        List<Entry> entries = sk.entries;

        // every tensor is fetched and checked before anything is written
        ByteBuffer[] data = new ByteBuffer[entries.size()];
        byte[][] typed = new byte[entries.size()][];
        Map<Path, List<Integer>> externalFiles = new LinkedHashMap<>();
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            ByteBuffer bytes = tensors.apply(e.spec().name());
            if (bytes == null) {
                throw new IllegalArgumentException("no bytes for tensor '" + e.spec().name() + "'");
            }
            if (bytes.remaining() != e.spec().byteSize()) {
                throw new IllegalArgumentException("tensor '" + e.spec().name() + "': " + bytes.remaining() + " bytes given but "
                        + e.spec().dtype() + " x " + java.util.Arrays.toString(e.spec().shape()) + " needs " + e.spec().byteSize());
            }
            data[i] = bytes.duplicate();
            if (e.storage() == Storage.TYPED) {
                typed[i] = retype(e, data[i], target);
            } else if (e.storage() == Storage.EXTERNAL) {
                externalFiles.computeIfAbsent(externalPath(dir, e, target), p -> new ArrayList<>()).add(i);
            }
        }
        try {
            for (Map.Entry<Path, List<Integer>> file : externalFiles.entrySet()) {
                Files.createDirectories(file.getKey().getParent());
                writeAtomically(file.getKey(), channel -> {
                    for (int i : file.getValue()) {
                        ByteBuffer src = data[i].duplicate();
                        long at = entries.get(i).externalOffset();
                        while (src.hasRemaining()) {
                            ByteBuffer slice = slice(src);
                            int n = slice.remaining();
                            while (slice.hasRemaining()) {
                                at += channel.write(slice, at);
                            }
                            src.position(src.position() + n);
                        }
                    }
                });
            }
            writeAtomically(target, channel -> {
                Sink sink = new Sink(channel, sk, data, typed);
                sink.segments(sk.segments);
                sink.flush();
            });
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + out, e);
        }
    }

    private static byte[] retype(Entry e, ByteBuffer data, Path out) {
        try {
            return TypedFields.withData(TensorProto.parseFrom(e.typedTemplate()), e.spec().dtype(), data).toByteArray();
        } catch (InvalidProtocolBufferException ex) {
            throw new CheckpointFormatException(out, -1, "corrupt ONNX skeleton: the TensorProto of tensor '"
                    + e.spec().name() + "' does not parse: " + ex.getMessage(), ex);
        }
    }

    /** Where an external file goes: its location under {@code dir}, which it may not leave. */
    private static Path externalPath(Path dir, Entry e, Path out) {
        try {
            Path relative = Path.of(e.location());
            Path p = dir.resolve(relative).normalize();
            if (!relative.isAbsolute() && p.startsWith(dir.normalize()) && !p.equals(dir.normalize()) && !p.equals(out.normalize())) {
                return p;
            }
        } catch (InvalidPathException ignored) {
            // reported below
        }
        throw new CheckpointFormatException(out, -1, "corrupt ONNX skeleton: tensor '" + e.spec().name()
                + "' has external location '" + e.location() + "', which is not a file inside " + dir);
    }

    private interface ChannelWrite {
        void to(FileChannel channel) throws IOException;
    }

    private static void writeAtomically(Path target, ChannelWrite body) throws IOException {
        Path dir = target.getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                body.to(channel);
                channel.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            forceDirectory(dir);
        } finally {
            if (tmp != null) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Makes the rename durable; some platforms cannot open a directory, which is then left to the OS. */
    private static void forceDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort: the file itself is already on disk
        }
    }

    /** The next at most {@link #SLICE_BYTES} of {@code src} (all of it when direct), without moving it. */
    private static ByteBuffer slice(ByteBuffer src) {
        ByteBuffer slice = src.duplicate();
        if (!src.isDirect()) {
            slice.limit(src.position() + Math.min(src.remaining(), SLICE_BYTES));
        }
        return slice;
    }

    /** Writes the segments of the skeleton through a small buffer, computing frame lengths. */
    private static final class Sink {
        private final FileChannel channel;
        private final OnnxSkeleton skeleton;
        private final ByteBuffer[] data;
        private final byte[][] typed;
        private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES);

        Sink(FileChannel channel, OnnxSkeleton skeleton, ByteBuffer[] data, byte[][] typed) {
            this.channel = channel;
            this.skeleton = skeleton;
            this.data = data;
            this.typed = typed;
        }

        void segments(List<Segment> segments) throws IOException {
            for (Segment s : segments) {
                if (s instanceof Literal l) {
                    pool(l.from(), l.to());
                } else if (s instanceof Raw r) {
                    flush();
                    ByteBuffer src = data[r.tensor()].duplicate();
                    while (src.hasRemaining()) {
                        ByteBuffer slice = slice(src);
                        int n = slice.remaining();
                        while (slice.hasRemaining()) {
                            channel.write(slice);
                        }
                        src.position(src.position() + n);
                    }
                } else if (s instanceof Typed t) {
                    pool(t.tagFrom(), t.tagTo());
                    varint(typed[t.tensor()].length);
                    bytes(typed[t.tensor()], 0, typed[t.tensor()].length);
                } else if (s instanceof Frame f) {
                    pool(f.tagFrom(), f.tagTo());
                    varint(length(f.children()));
                    segments(f.children());
                }
            }
        }

        /** Bytes of a frame's payload: must fit a protobuf length. */
        private int length(List<Segment> segments) {
            long n = size(segments);
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("the rebuilt model has a message of " + n + " bytes, over protobuf's 2 GiB limit");
            }
            return (int) n;
        }

        private long size(List<Segment> segments) {
            long n = 0;
            for (Segment s : segments) {
                if (s instanceof Literal l) {
                    n += l.to() - l.from();
                } else if (s instanceof Raw r) {
                    n += skeleton.entries.get(r.tensor()).spec().byteSize();
                } else if (s instanceof Typed t) {
                    int body = typed[t.tensor()].length;
                    n += t.tagTo() - t.tagFrom() + CodedOutputStream.computeUInt32SizeNoTag(body) + body;
                } else if (s instanceof Frame f) {
                    int body = length(f.children());
                    n += f.tagTo() - f.tagFrom() + CodedOutputStream.computeUInt32SizeNoTag(body) + body;
                }
            }
            return n;
        }

        private void pool(int from, int to) throws IOException {
            bytes(skeleton.array, skeleton.poolStart + from, to - from);
        }

        private void varint(int value) throws IOException {
            if (buffer.remaining() < 5) {
                flush();
            }
            int v = value;
            while ((v & ~0x7f) != 0) {
                buffer.put((byte) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            buffer.put((byte) v);
        }

        private void bytes(byte[] array, int offset, int length) throws IOException {
            if (length > buffer.remaining()) {
                flush();
            }
            if (length > buffer.capacity()) {
                ByteBuffer src = ByteBuffer.wrap(array, offset, length);
                while (src.hasRemaining()) {
                    ByteBuffer slice = slice(src);
                    int n = slice.remaining();
                    while (slice.hasRemaining()) {
                        channel.write(slice);
                    }
                    src.position(src.position() + n);
                }
            } else {
                buffer.put(array, offset, length);
            }
        }

        void flush() throws IOException {
            buffer.flip();
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            buffer.clear();
        }
    }
}
