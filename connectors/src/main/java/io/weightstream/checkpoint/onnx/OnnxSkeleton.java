package io.weightstream.checkpoint.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.onnx.OnnxScanner.Storage;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The skeleton of an ONNX file: the file's own bytes with the weights cut out, and a table of the tensors that
 * go back in. {@link OnnxWriter} splices the tensors' bytes back where they were.
 *
 * <p>Layout, version 1 (varints are protobuf varints):
 * <pre>
 * "WSOX" 0x01                                   magic and format version
 * varint n, n x tensor:                         in OnnxCheckpoint.tensors() order
 *   string name, varint storage (0 raw, 1 typed, 2 external), varint ONNX data_type, varint rank, varint64 dims...
 *   typed:    bytes  the TensorProto without its typed data (float_data, int32_data, ...)
 *   external: string location, varint64 offset  (as the file declares them)
 * bytes pool                                    every byte of the file kept verbatim, concatenated
 * varint m, m x segment, the file in order:
 *   0 literal  varint from, varint to           pool[from, to)
 *   1 raw      varint tensor                    the tensor's bytes (its raw_data payload; length prefix is in the literal before)
 *   2 typed    varint tensor, varint from, to   tag pool[from, to), length, then the TensorProto rebuilt with its values in its typed field
 *   3 frame    varint from, varint to, varint k, k x segment
 *                                               tag pool[from, to), length recomputed, then the k segments:
 *                                               a message whose length changes because it holds a typed tensor
 * </pre>
 *
 * <p>So a file whose weights are all in {@code raw_data} (or external) comes back bit-identical: the pool holds
 * every other byte as it was. Tensors stored in typed fields are re-encoded by protobuf, and the messages that
 * hold them get a recomputed length: equivalent, and identical when the file was written canonically (as the
 * ONNX tools write it). External tensors stay references: their TensorProto is in the pool unchanged.
 */
final class OnnxSkeleton {
    static final byte[] MAGIC = {'W', 'S', 'O', 'X'};
    static final int VERSION = 1;
    /** Frames nest once per message level between the file and a typed tensor. */
    private static final int MAX_FRAME_DEPTH = 4 * OnnxScanner.MAX_GRAPH_DEPTH + 8;

    /** One piece of the file. Coordinates are in the file while scanning, in the pool once decoded. */
    sealed interface Segment permits Literal, Raw, Typed, Frame {
    }

    record Literal(int from, int to) implements Segment {
    }

    record Raw(int tensor) implements Segment {
    }

    /** A TensorProto field rebuilt on write; its tag bytes are {@code [tagFrom, tagTo)}. */
    record Typed(int tensor, int tagFrom, int tagTo) implements Segment {
    }

    /** A message field whose length is recomputed on write; its tag bytes are {@code [tagFrom, tagTo)}. */
    record Frame(int tagFrom, int tagTo, List<Segment> children) implements Segment {
    }

    /** A tensor of the skeleton. */
    record Entry(TensorSpec spec, Storage storage, byte[] typedTemplate, String location, long externalOffset) {
    }

    final List<Entry> entries;
    final List<Segment> segments;
    /** The skeleton array and where its pool starts. */
    final byte[] array;
    final int poolStart;

    private OnnxSkeleton(List<Entry> entries, List<Segment> segments, byte[] array, int poolStart) {
        this.entries = entries;
        this.segments = segments;
        this.array = array;
        this.poolStart = poolStart;
    }

    /** Encodes the skeleton of a scanned file, copying the kept bytes out of {@code file}. */
    static byte[] encode(List<Entry> entries, List<Segment> segments, ByteBuffer file) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            CodedOutputStream out = CodedOutputStream.newInstance(bytes);
            out.writeRawBytes(MAGIC);
            out.writeRawByte(VERSION);
            out.writeUInt32NoTag(entries.size());
            for (Entry e : entries) {
                out.writeStringNoTag(e.spec().name());
                out.writeUInt32NoTag(e.storage().ordinal());
                out.writeUInt32NoTag(e.spec().dtype().onnxDataType());
                out.writeUInt32NoTag(e.spec().rank());
                for (int i = 0; i < e.spec().rank(); i++) {
                    out.writeUInt64NoTag(e.spec().dim(i));
                }
                if (e.storage() == Storage.TYPED) {
                    out.writeByteArrayNoTag(e.typedTemplate());
                } else if (e.storage() == Storage.EXTERNAL) {
                    out.writeStringNoTag(e.location());
                    out.writeUInt64NoTag(e.externalOffset());
                }
            }
            // pool: the kept ranges of the file, in order; segments are rewritten into pool coordinates
            ByteArrayOutputStream pool = new ByteArrayOutputStream();
            List<Segment> pooled = toPool(segments, file, pool);
            out.writeUInt32NoTag(pool.size());
            out.flush();
            pool.writeTo(bytes);
            writeSegments(out, pooled);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in-memory streams do not fail
        }
    }

    private static List<Segment> toPool(List<Segment> segments, ByteBuffer file, ByteArrayOutputStream pool) {
        List<Segment> out = new ArrayList<>(segments.size());
        for (Segment s : segments) {
            if (s instanceof Literal l) {
                int from = copy(file, l.from(), l.to(), pool);
                out.add(new Literal(from, pool.size()));
            } else if (s instanceof Typed t) {
                int from = copy(file, t.tagFrom(), t.tagTo(), pool);
                out.add(new Typed(t.tensor(), from, pool.size()));
            } else if (s instanceof Frame f) {
                int from = copy(file, f.tagFrom(), f.tagTo(), pool);
                out.add(new Frame(from, pool.size(), toPool(f.children(), file, pool)));
            } else {
                out.add(s);
            }
        }
        return out;
    }

    private static int copy(ByteBuffer file, int from, int to, ByteArrayOutputStream pool) {
        int at = pool.size();
        byte[] chunk = new byte[Math.min(to - from, 1 << 16)];
        for (int p = from; p < to; ) {
            int n = Math.min(chunk.length, to - p);
            file.get(p, chunk, 0, n);
            pool.write(chunk, 0, n);
            p += n;
        }
        return at;
    }

    private static void writeSegments(CodedOutputStream out, List<Segment> segments) throws IOException {
        out.writeUInt32NoTag(segments.size());
        for (Segment s : segments) {
            if (s instanceof Literal l) {
                out.writeUInt32NoTag(0);
                out.writeUInt32NoTag(l.from());
                out.writeUInt32NoTag(l.to());
            } else if (s instanceof Raw r) {
                out.writeUInt32NoTag(1);
                out.writeUInt32NoTag(r.tensor());
            } else if (s instanceof Typed t) {
                out.writeUInt32NoTag(2);
                out.writeUInt32NoTag(t.tensor());
                out.writeUInt32NoTag(t.tagFrom());
                out.writeUInt32NoTag(t.tagTo());
            } else if (s instanceof Frame f) {
                out.writeUInt32NoTag(3);
                out.writeUInt32NoTag(f.tagFrom());
                out.writeUInt32NoTag(f.tagTo());
                writeSegments(out, f.children());
            }
        }
    }

    /**
     * Decodes and checks a skeleton: every raw and typed tensor appears exactly once, external ones never.
     *
     * @throws CheckpointFormatException naming {@code out}, with the offset in the skeleton
     */
    static OnnxSkeleton decode(byte[] skeleton, Path out) {
        return new Decoder(skeleton, out).decode();
    }

    private static final class Decoder {
        private final byte[] array;
        private final Path out;
        private final CodedInputStream in;
        private int poolStart;
        private int poolSize;
        private int[] uses;

        Decoder(byte[] array, Path out) {
            this.array = array;
            this.out = out;
            this.in = CodedInputStream.newInstance(array);
        }

        OnnxSkeleton decode() {
            try {
                for (byte b : MAGIC) {
                    if (in.isAtEnd() || in.readRawByte() != b) {
                        throw corrupt("not an ONNX skeleton (no WSOX magic)");
                    }
                }
                int version = in.isAtEnd() ? -1 : in.readRawByte();
                if (version != VERSION) {
                    throw corrupt("ONNX skeleton format version " + version + ", this reader knows " + VERSION);
                }
                int n = count();
                List<Entry> entries = new ArrayList<>(n);
                Set<String> names = new HashSet<>();
                for (int i = 0; i < n; i++) {
                    Entry e = entry();
                    if (!names.add(e.spec().name())) {
                        throw corrupt("tensor '" + e.spec().name() + "' appears twice");
                    }
                    entries.add(e);
                }
                poolSize = count();
                poolStart = in.getTotalBytesRead();
                in.skipRawBytes(poolSize);
                uses = new int[n];
                List<Segment> segments = segments(entries, 0);
                if (!in.isAtEnd()) {
                    throw corrupt("bytes after the last segment");
                }
                for (int i = 0; i < n; i++) {
                    int expected = entries.get(i).storage() == Storage.EXTERNAL ? 0 : 1;
                    if (uses[i] != expected) {
                        throw corrupt("tensor '" + entries.get(i).spec().name() + "' placed " + uses[i] + " times, expected " + expected);
                    }
                }
                return new OnnxSkeleton(entries, segments, array, poolStart);
            } catch (IOException e) {
                throw new CheckpointFormatException(out, in.getTotalBytesRead(), "corrupt ONNX skeleton: " + e.getMessage(), e);
            }
        }

        private Entry entry() throws IOException {
            String name = in.readStringRequireUtf8();
            int storageCode = in.readRawVarint32();
            if (storageCode < 0 || storageCode >= Storage.values().length) {
                throw corrupt("tensor '" + name + "': unknown storage " + storageCode);
            }
            Storage storage = Storage.values()[storageCode];
            int dataType = in.readRawVarint32();
            int rank = count();
            long[] dims = new long[rank];
            for (int i = 0; i < rank; i++) {
                dims[i] = in.readRawVarint64();
            }
            TensorSpec spec;
            try {
                spec = new TensorSpec(name, DType.fromOnnx(dataType), dims);
            } catch (IllegalArgumentException | ArithmeticException e) {
                throw corrupt("tensor '" + name + "': " + e.getMessage());
            }
            byte[] template = storage == Storage.TYPED ? in.readByteArray() : null;
            String location = null;
            long offset = 0;
            if (storage == Storage.EXTERNAL) {
                location = in.readStringRequireUtf8();
                offset = in.readRawVarint64();
                if (offset < 0) {
                    throw corrupt("tensor '" + name + "': negative external offset");
                }
            }
            return new Entry(spec, storage, template, location, offset);
        }

        private List<Segment> segments(List<Entry> entries, int depth) throws IOException {
            if (depth > MAX_FRAME_DEPTH) {
                throw corrupt("frames nested deeper than " + MAX_FRAME_DEPTH);
            }
            int m = count();
            List<Segment> list = new ArrayList<>(m);
            for (int i = 0; i < m; i++) {
                int op = in.readRawVarint32();
                switch (op) {
                    case 0 -> list.add(new Literal(poolIndex(), poolIndex()));
                    case 1 -> list.add(new Raw(tensor(entries, Storage.RAW)));
                    case 2 -> list.add(new Typed(tensor(entries, Storage.TYPED), poolIndex(), poolIndex()));
                    case 3 -> list.add(new Frame(poolIndex(), poolIndex(), segments(entries, depth + 1)));
                    default -> throw corrupt("unknown segment type " + op);
                }
                Segment s = list.get(list.size() - 1);
                boolean ordered = s instanceof Literal l ? l.from() <= l.to()
                        : s instanceof Typed t ? t.tagFrom() <= t.tagTo()
                        : !(s instanceof Frame f) || f.tagFrom() <= f.tagTo();
                if (!ordered) {
                    throw corrupt("a segment ends before it starts");
                }
            }
            return list;
        }

        private int tensor(List<Entry> entries, Storage storage) throws IOException {
            int i = in.readRawVarint32();
            if (i < 0 || i >= entries.size() || entries.get(i).storage() != storage) {
                throw corrupt("segment names tensor " + i + ", not a " + storage + " tensor of this skeleton");
            }
            uses[i]++;
            return i;
        }

        private int poolIndex() throws IOException {
            int p = in.readRawVarint32();
            if (p < 0 || p > poolSize) {
                throw corrupt("pool offset " + p + " outside the pool of " + poolSize + " bytes");
            }
            return p;
        }

        /** A count or size: never more than the bytes left, so nothing is allocated from a bad number. */
        private int count() throws IOException {
            int n = in.readRawVarint32();
            if (n < 0 || n > array.length - in.getTotalBytesRead()) {
                throw corrupt("count " + (n & 0xffffffffL) + " exceeds the " + (array.length - in.getTotalBytesRead()) + " bytes left");
            }
            return n;
        }

        private CheckpointFormatException corrupt(String message) {
            return new CheckpointFormatException(out, in.getTotalBytesRead(), "corrupt ONNX skeleton: " + message);
        }
    }
}
