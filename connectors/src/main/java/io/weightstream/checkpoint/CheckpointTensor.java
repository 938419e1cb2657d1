package io.weightstream.checkpoint;

import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Objects;

/**
 * One tensor of a checkpoint: its spec, an optional readable alias (ONNX initializers named
 * {@code onnx::MatMul_798} get the name of the node that consumes them) and its raw little-endian bytes.
 *
 * <p>The bytes live either in memory (a buffer) or in a region of the open checkpoint file. {@link #read}
 * copies a range without mapping anything (bounded memory: what the publisher uses); {@link #data()} gives a
 * memory-mapped view. Both are valid until the checkpoint is closed.
 *
 * <pre>{@code
 * ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
 * for (long off = 0; off < t.byteSize(); off += chunk.flip().remaining()) {
 *     chunk.clear();
 *     t.read(off, chunk);
 * }
 * }</pre>
 */
public final class CheckpointTensor {
    private final TensorSpec spec;
    private final String alias;
    private final ByteBuffer buffer;
    private final FileChannel channel;
    private final long position;
    private volatile ByteBuffer mapped; // one mapping per tensor, made on first use of data()

    /** A tensor held in memory; {@code data} must hold exactly the spec's byte size. */
    public CheckpointTensor(TensorSpec spec, String alias, ByteBuffer data) {
        this.spec = Objects.requireNonNull(spec, "spec");
        this.alias = alias;
        if (data.remaining() != spec.byteSize()) {
            throw new IllegalArgumentException("tensor '" + spec.name() + "': " + data.remaining()
                    + " bytes for a spec of " + spec.byteSize());
        }
        this.buffer = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.channel = null;
        this.position = -1;
    }

    /** A tensor stored at {@code position} of an open file (the caller checked the region lies in the file). */
    public CheckpointTensor(TensorSpec spec, String alias, FileChannel channel, long position) {
        this.spec = Objects.requireNonNull(spec, "spec");
        this.alias = alias;
        this.buffer = null;
        this.channel = Objects.requireNonNull(channel, "channel");
        this.position = position;
    }

    public TensorSpec spec() {
        return spec;
    }

    public String name() {
        return spec.name();
    }

    public long byteSize() {
        return spec.byteSize();
    }

    /** The readable alias, or {@code null} when there is none. */
    public String alias() {
        return alias;
    }

    /**
     * A little-endian read-only view of all the bytes, positioned at 0 (memory-mapped for file regions).
     *
     * @throws IllegalStateException for tensors over 2 GiB - 1 bytes: use {@link #read}
     */
    public ByteBuffer data() {
        if (buffer != null) {
            return buffer.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        if (spec.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor '" + spec.name() + "' has " + spec.byteSize()
                    + " bytes, more than one buffer can hold; read it in ranges");
        }
        try {
            ByteBuffer m = mapped;
            if (m == null) {
                m = channel.map(FileChannel.MapMode.READ_ONLY, position, spec.byteSize());
                mapped = m;
            }
            return m.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException("mapping tensor '" + spec.name() + "'", e);
        }
    }

    /**
     * Copies bytes {@code [offset, offset + dst.remaining())} of the tensor (fewer at its end) into {@code dst},
     * advancing its position.
     *
     * @return the number of bytes copied
     */
    public int read(long offset, ByteBuffer dst) {
        long size = spec.byteSize();
        if (offset < 0 || offset > size) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside tensor '" + spec.name() + "' of " + size + " bytes");
        }
        int n = (int) Math.min(dst.remaining(), size - offset);
        if (buffer != null) {
            ByteBuffer src = buffer.duplicate();
            src.position((int) offset).limit((int) offset + n);
            dst.put(src);
            return n;
        }
        ByteBuffer window = dst.duplicate();
        window.limit(window.position() + n);
        try {
            long at = position + offset;
            while (window.hasRemaining()) {
                int r = channel.read(window, at);
                if (r < 0) {
                    throw new IOException("file ends inside tensor '" + spec.name() + "'");
                }
                at += r;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading tensor '" + spec.name() + "'", e);
        }
        dst.position(dst.position() + n);
        return n;
    }

    /** The tensor with a view of its bytes ({@link #data()}). */
    public Tensor tensor() {
        return new Tensor(spec, data());
    }
}
