package io.weightstream.codec;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The weights of a real ONNX model for codec tests and benchmarks, read with a tiny protobuf wire-format
 * scan (codecs may not depend on connectors or on the ONNX protobuf classes). It reads graph initializers
 * and the tensors of {@code Constant} nodes, also in subgraphs, stored as {@code raw_data},
 * {@code float_data} or {@code int64_data}; tensors of other dtypes or with external data are skipped.
 *
 * <pre>{@code
 * Optional<Path> onnx = OnnxWeights.miniLm();          // from -Dweightstream.stack.home
 * List<Tensor> weights = OnnxWeights.read(onnx.get());
 * }</pre>
 */
public final class OnnxWeights {
    /** Relative to {@code weightstream.stack.home}. */
    public static final String MINILM = "models/all-minilm-l6-v2/all-minilm-l6-v2.onnx";

    private OnnxWeights() {
    }

    /** The all-MiniLM-L6-v2 float32 ONNX file staged by the deploy module, if it is there. */
    public static Optional<Path> miniLm() {
        String home = System.getProperty("weightstream.stack.home");
        if (home == null) {
            return Optional.empty();
        }
        Path p = Path.of(home).resolve(MINILM);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    /** All tensors of the model, in file order (initializers and Constant-node tensors). */
    public static List<Tensor> read(Path onnx) throws IOException {
        ByteBuffer file;
        try (FileChannel ch = FileChannel.open(onnx)) {
            file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
        }
        List<Tensor> out = new ArrayList<>();
        Wire model = new Wire(file, 0, file.limit());
        while (model.next()) {
            if (model.field == 7 && model.wireType == 2) { // ModelProto.graph
                graph(model.sub(), out);
            } else {
                model.skip();
            }
        }
        return out;
    }

    /**
     * Writes {@code tensors} as a minimal ONNX model: a graph with these initializers (raw data) and no nodes, which
     * {@link #read} reads back. For carrying a few real layers to another machine without the whole model.
     */
    public static void write(Path onnx, List<Tensor> tensors) throws IOException {
        java.io.ByteArrayOutputStream graph = new java.io.ByteArrayOutputStream();
        for (Tensor t : tensors) {
            java.io.ByteArrayOutputStream tp = new java.io.ByteArrayOutputStream();
            for (long d : t.spec().shape()) {
                tag(tp, 1, 0);
                varint(tp, d);
            }
            tag(tp, 2, 0);
            varint(tp, t.dtype().onnxDataType());
            byte[] name = t.name().getBytes(StandardCharsets.UTF_8);
            tag(tp, 8, 2);
            varint(tp, name.length);
            tp.write(name);
            byte[] raw = new byte[t.data().remaining()];
            t.data().duplicate().get(raw);
            tag(tp, 9, 2);
            varint(tp, raw.length);
            tp.write(raw);
            tag(graph, 5, 2);
            varint(graph, tp.size());
            tp.writeTo(graph);
        }
        java.io.ByteArrayOutputStream model = new java.io.ByteArrayOutputStream();
        tag(model, 1, 0); // ir_version
        varint(model, 8);
        tag(model, 7, 2);
        varint(model, graph.size());
        graph.writeTo(model);
        Files.write(onnx, model.toByteArray());
    }

    private static void tag(java.io.ByteArrayOutputStream out, int field, int wireType) {
        varint(out, ((long) field << 3) | wireType);
    }

    private static void varint(java.io.ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static void graph(Wire g, List<Tensor> out) {
        while (g.next()) {
            if (g.field == 5 && g.wireType == 2) { // GraphProto.initializer
                tensor(g.sub(), null, out);
            } else if (g.field == 1 && g.wireType == 2) { // GraphProto.node
                node(g.sub(), out);
            } else {
                g.skip();
            }
        }
    }

    private static void node(Wire n, List<Tensor> out) {
        String output = null;
        List<Wire> attributes = new ArrayList<>();
        while (n.next()) {
            if (n.field == 2 && n.wireType == 2 && output == null) { // NodeProto.output
                output = n.string();
            } else if (n.field == 5 && n.wireType == 2) { // NodeProto.attribute
                attributes.add(n.sub());
            } else {
                n.skip();
            }
        }
        for (Wire a : attributes) {
            while (a.next()) {
                if (a.field == 5 && a.wireType == 2) { // AttributeProto.t
                    tensor(a.sub(), output, out);
                } else if ((a.field == 6 || a.field == 11) && a.wireType == 2) { // g, graphs
                    graph(a.sub(), out);
                } else {
                    a.skip();
                }
            }
        }
    }

    private static void tensor(Wire t, String fallbackName, List<Tensor> out) {
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = null;
        ByteBuffer raw = null;
        ByteBuffer packedFloats = null;
        ByteBuffer packedInt64 = null;
        List<Float> floats = new ArrayList<>();
        List<Long> longs = new ArrayList<>();
        boolean external = false;
        while (t.next()) {
            switch (t.field) {
                case 1 -> {
                    if (t.wireType == 2) {
                        Wire d = t.sub();
                        while (d.pos < d.end) {
                            dims.add(d.varint());
                        }
                    } else {
                        dims.add(t.value);
                    }
                }
                case 2 -> dataType = (int) t.value;
                case 4 -> {
                    if (t.wireType == 2) {
                        packedFloats = t.bytes();
                    } else {
                        floats.add(Float.intBitsToFloat((int) t.value));
                    }
                }
                case 7 -> {
                    if (t.wireType == 2) {
                        packedInt64 = t.bytes();
                    } else {
                        longs.add(t.value);
                    }
                }
                case 8 -> name = t.string();
                case 9 -> raw = t.bytes();
                case 14 -> external = t.value == 1;
                default -> t.skip();
            }
        }
        DType dtype;
        try {
            dtype = DType.fromOnnx(dataType);
        } catch (IllegalArgumentException e) {
            return;
        }
        if (external) {
            return;
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        TensorSpec spec = new TensorSpec(name != null ? name : fallbackName != null ? fallbackName : "constant#" + out.size(),
                dtype, shape);
        ByteBuffer data;
        if (raw != null) {
            data = raw;
        } else if (dtype == DType.F32 && (packedFloats != null || !floats.isEmpty())) {
            data = packedFloats != null ? packedFloats : floatsToBytes(floats);
        } else if (dtype == DType.I64 && (packedInt64 != null || !longs.isEmpty())) {
            if (packedInt64 != null) {
                Wire w = new Wire(packedInt64, 0, packedInt64.limit());
                longs = new ArrayList<>();
                while (w.pos < w.end) {
                    longs.add(w.varint());
                }
            }
            ByteBuffer b = ByteBuffer.allocate(8 * longs.size()).order(ByteOrder.LITTLE_ENDIAN);
            longs.forEach(b::putLong);
            data = b.flip();
        } else {
            return;
        }
        if (data.remaining() != spec.byteSize()) {
            return;
        }
        // copy out of the mapping so the file can be closed and the bytes are a plain heap array
        ByteBuffer copy = ByteBuffer.allocate(data.remaining());
        copy.put(data.duplicate()).flip();
        out.add(new Tensor(spec, copy));
    }

    private static ByteBuffer floatsToBytes(List<Float> floats) {
        ByteBuffer b = ByteBuffer.allocate(4 * floats.size()).order(ByteOrder.LITTLE_ENDIAN);
        floats.forEach(b::putFloat);
        return b.flip();
    }

    /** A cursor over protobuf fields between pos and end. */
    private static final class Wire {
        final ByteBuffer buf;
        int pos;
        final int end;
        int field;
        int wireType;
        long value;
        private int valueStart;
        private int valueEnd;

        Wire(ByteBuffer buf, int pos, int end) {
            this.buf = buf;
            this.pos = pos;
            this.end = end;
        }

        boolean next() {
            if (pos >= end) {
                return false;
            }
            long key = varint();
            field = (int) (key >>> 3);
            wireType = (int) (key & 7);
            switch (wireType) {
                case 0 -> value = varint();
                case 1 -> {
                    value = buf.getLong(pos);
                    pos += 8;
                }
                case 5 -> {
                    value = buf.getInt(pos) & 0xffffffffL;
                    pos += 4;
                }
                case 2 -> {
                    int len = (int) varint();
                    valueStart = pos;
                    valueEnd = pos + len;
                    if (len < 0 || valueEnd > end) {
                        throw new IllegalStateException("malformed protobuf at " + pos);
                    }
                    pos = valueEnd;
                }
                default -> throw new IllegalStateException("unsupported wire type " + wireType + " at " + pos);
            }
            return true;
        }

        void skip() {
            // next() already moved past the value
        }

        Wire sub() {
            return new Wire(buf, valueStart, valueEnd);
        }

        ByteBuffer bytes() {
            return buf.duplicate().position(valueStart).limit(valueEnd).slice().order(ByteOrder.LITTLE_ENDIAN);
        }

        String string() {
            byte[] b = new byte[valueEnd - valueStart];
            buf.get(valueStart, b);
            return new String(b, StandardCharsets.UTF_8);
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte b = buf.get(pos++);
                v |= (long) (b & 0x7f) << shift;
                if (b >= 0) {
                    return v;
                }
            }
            throw new IllegalStateException("malformed varint at " + pos);
        }
    }
}
