package io.weightstream.checkpoint.safetensors;

import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * Writes safetensors files: rebuilds one bit-exactly from its skeleton (the original {@code 8 + N} header bytes)
 * and its tensors' bytes, or writes a new one from tensors with a standard header.
 *
 * <p>Every write streams to a temporary file in the target's directory, forces it to disk and renames it over
 * the target atomically, so readers see the old file or the complete new one, never a part. Memory stays
 * bounded: tensor bytes go to the file as they come (heap buffers in 1 MiB slices).
 *
 * <p>New headers are built as the reference writer builds them: tensors sorted by descending dtype alignment
 * (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then by name; compact JSON with {@code __metadata__} first
 * (keys sorted); padded with spaces so the data starts at a multiple of 8 bytes.
 *
 * <pre>{@code
 * // rebuild a file from what a publisher sent
 * SafetensorsWriter.write(ckpt.skeleton(), name -> decoded.get(name), Path.of("model.safetensors"));
 *
 * // write a new file, streaming each tensor's bytes
 * SafetensorsWriter.write(specs, Map.of("format", "pt"),
 *         (spec, out) -> out.write(bytesOf(spec)), Path.of("generated.safetensors"));
 * }</pre>
 */
public final class SafetensorsWriter {
    private static final int SLICE_BYTES = 1 << 20;

    /** Rank of each dtype in the reference's alignment order, highest first in a file. */
    private static final Map<DType, Integer> ALIGNMENT_RANK = Map.of(
            DType.BOOL, 0, DType.U8, 1, DType.I8, 2, DType.I16, 3, DType.F16, 4,
            DType.BF16, 5, DType.I32, 6, DType.F32, 7, DType.F64, 8, DType.I64, 9);

    private SafetensorsWriter() {
    }

    /**
     * Writes one tensor's bytes, exactly {@code spec.byteSize()} of them, to {@code out}.
     * {@code out} belongs to the writer: write to it, do not close it.
     */
    @FunctionalInterface
    public interface TensorBytes {
        void write(TensorSpec spec, WritableByteChannel out) throws IOException;
    }

    /**
     * Rebuilds a file from its skeleton and the bytes of each tensor the skeleton names: the result has the
     * skeleton's bytes followed by each tensor's bytes in data-offset order.
     *
     * @param skeleton the {@code 8 + N} header bytes of the original file ({@link SafetensorsCheckpoint#skeleton()})
     * @param tensors  the little-endian bytes of each tensor (between position and limit; not consumed)
     * @throws CheckpointFormatException naming {@code out} when the skeleton is not a valid header
     * @throws IllegalArgumentException  when a tensor's bytes are missing or of another size than its header entry
     */
    public static void write(byte[] skeleton, Function<String, ByteBuffer> tensors, Path out) {
        Objects.requireNonNull(tensors, "tensors");
        SafetensorsHeader header = parseSkeleton(skeleton, out);
        List<TensorSpec> order = new ArrayList<>(header.entries().size());
        for (SafetensorsHeader.Entry e : header.entries()) {
            order.add(e.spec());
        }
        writeFile(out, skeleton, order, (spec, channel) -> {
            ByteBuffer bytes = tensors.apply(spec.name());
            if (bytes == null) {
                throw new IllegalArgumentException("no bytes for tensor '" + spec.name() + "'");
            }
            if (bytes.remaining() != spec.byteSize()) {
                throw new IllegalArgumentException("tensor '" + spec.name() + "': " + bytes.remaining()
                        + " bytes given but the header declares " + spec.byteSize());
            }
            writeFully(channel, bytes.duplicate());
        });
    }

    /**
     * Writes a new file holding {@code tensors} (names must be unique) and {@code metadata} (may be empty).
     */
    public static void write(List<Tensor> tensors, Map<String, String> metadata, Path out) {
        Map<String, Tensor> byName = new HashMap<>();
        List<TensorSpec> specs = new ArrayList<>(tensors.size());
        for (Tensor t : tensors) {
            byName.put(t.name(), t);
            specs.add(t.spec());
        }
        write(specs, metadata, (spec, channel) -> writeFully(channel, byName.get(spec.name()).data()), out);
    }

    /**
     * Writes a new file with a standard header for {@code specs} and {@code metadata}, asking {@code source} for
     * each tensor's bytes in data order ({@link #dataOrder}). For files larger than memory.
     *
     * @throws IllegalArgumentException when {@code source} writes more or fewer bytes than a tensor's size
     */
    public static void write(List<TensorSpec> specs, Map<String, String> metadata, TensorBytes source, Path out) {
        Objects.requireNonNull(source, "source");
        List<TensorSpec> order = dataOrder(specs);
        writeFile(out, SafetensorsHeader.build(order, checkMetadata(metadata), 0), order, source);
    }

    /**
     * The standard skeleton ({@code 8 + N} bytes: length prefix and padded JSON) of a file holding {@code specs}
     * and {@code metadata}; its tensors lie in {@link #dataOrder} order.
     */
    public static byte[] header(List<TensorSpec> specs, Map<String, String> metadata) {
        return SafetensorsHeader.build(dataOrder(specs), checkMetadata(metadata), 0);
    }

    /**
     * The order in which a standard header lays tensors out: descending dtype alignment, then name.
     *
     * @throws IllegalArgumentException on duplicate names or a tensor named {@code __metadata__}
     */
    public static List<TensorSpec> dataOrder(List<TensorSpec> specs) {
        Set<String> names = new HashSet<>();
        for (TensorSpec s : specs) {
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + s.name() + "'");
            }
            if (s.name().equals(SafetensorsHeader.METADATA_KEY)) {
                throw new IllegalArgumentException("'" + SafetensorsHeader.METADATA_KEY + "' is reserved for metadata, not a tensor name");
            }
        }
        List<TensorSpec> order = new ArrayList<>(specs);
        order.sort(Comparator.<TensorSpec>comparingInt(s -> -ALIGNMENT_RANK.get(s.dtype())).thenComparing(TensorSpec::name));
        return order;
    }

    /** The skeleton padded to at least {@code minJsonBytes} of JSON: lets a generator hit an exact file size. */
    static void write(List<TensorSpec> order, Map<String, String> metadata, int minJsonBytes, TensorBytes source, Path out) {
        writeFile(out, SafetensorsHeader.build(order, checkMetadata(metadata), minJsonBytes), order, source);
    }

    private static Map<String, String> checkMetadata(Map<String, String> metadata) {
        if (metadata == null) {
            return Map.of();
        }
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (e.getKey() == null || e.getValue() == null) {
                throw new IllegalArgumentException("metadata keys and values must not be null: " + e);
            }
        }
        return metadata;
    }

    private static SafetensorsHeader parseSkeleton(byte[] skeleton, Path out) {
        int prefix = SafetensorsHeader.PREFIX_BYTES;
        if (skeleton.length < prefix) {
            throw new CheckpointFormatException(out, 0, "skeleton has " + skeleton.length
                    + " bytes, fewer than the 8-byte header length");
        }
        long n = 0;
        for (int i = prefix - 1; i >= 0; i--) {
            n = (n << 8) | (skeleton[i] & 0xff);
        }
        if (n != skeleton.length - prefix) {
            throw new CheckpointFormatException(out, 0, "skeleton declares a header of " + Long.toUnsignedString(n)
                    + " bytes but holds " + (skeleton.length - prefix));
        }
        return SafetensorsHeader.parse(out, skeleton, (int) n, -1);
    }

    /** Temp file in the target's directory, skeleton, tensors in order (sizes checked), fsync, atomic rename. */
    private static void writeFile(Path out, byte[] skeleton, List<TensorSpec> order, TensorBytes source) {
        Path target = out.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(channel, ByteBuffer.wrap(skeleton));
                BoundedChannel bounded = new BoundedChannel(channel);
                for (TensorSpec spec : order) {
                    bounded.start(spec);
                    source.write(spec, bounded);
                    if (bounded.written != spec.byteSize()) {
                        throw new IllegalArgumentException("tensor '" + spec.name() + "': " + bounded.written
                                + " bytes written but the header declares " + spec.byteSize());
                    }
                }
                channel.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            forceDirectory(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + out, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the error being thrown says more
                }
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

    /** Writes all of {@code src} (heap buffers in slices, so the JDK's temporary direct buffer stays small). */
    static void writeFully(WritableByteChannel channel, ByteBuffer src) throws IOException {
        if (src.isDirect()) {
            while (src.hasRemaining()) {
                channel.write(src);
            }
            return;
        }
        ByteBuffer slice = src.duplicate();
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), SLICE_BYTES);
            slice.limit(src.position() + n).position(src.position());
            while (slice.hasRemaining()) {
                channel.write(slice);
            }
            src.position(src.position() + n);
        }
    }

    /** The channel handed to a {@link TensorBytes}: counts what it writes and refuses more than the tensor's size. */
    private static final class BoundedChannel implements WritableByteChannel {
        private final FileChannel channel;
        private TensorSpec spec;
        private long written;

        BoundedChannel(FileChannel channel) {
            this.channel = channel;
        }

        void start(TensorSpec next) {
            spec = next;
            written = 0;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (src.remaining() > spec.byteSize() - written) {
                throw new IllegalArgumentException("tensor '" + spec.name() + "': more than the "
                        + spec.byteSize() + " bytes the header declares were written");
            }
            int n = src.remaining();
            writeFully(channel, src);
            written += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() {
            // the writer owns the file
        }
    }
}
