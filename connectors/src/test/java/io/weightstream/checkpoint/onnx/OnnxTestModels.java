package io.weightstream.checkpoint.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.weightstream.checkpoint.CheckpointTensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/** Small ONNX models built with the protobuf builders, and the real models staged by the build. */
final class OnnxTestModels {
    private OnnxTestModels() {
    }

    static Path stackHome() {
        String home = System.getProperty("weightstream.stack.home");
        if (home == null) {
            throw new IllegalStateException("system property weightstream.stack.home is not set (surefire sets it)");
        }
        return Path.of(home);
    }

    /** all-MiniLM-L6-v2, float32. */
    static Path realModel() {
        return requireFile(stackHome().resolve("models/all-minilm-l6-v2/all-minilm-l6-v2.onnx"));
    }

    /** all-MiniLM-L6-v2, 8-bit. */
    static Path realQuantizedModel() {
        return requireFile(stackHome().resolve("models/all-minilm-l6-v2-q/all-minilm-l6-v2-q.onnx"));
    }

    private static Path requireFile(Path p) {
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException(p + " is missing: run `mvn -q -B -o -pl deploy process-resources` to stage it");
        }
        return p;
    }

    static TensorProto.Builder tensor(String name, TensorProto.DataType type, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.getNumber());
        for (long d : dims) {
            t.addDims(d);
        }
        return t;
    }

    static TensorProto rawFloats(String name, float[] values, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return tensor(name, TensorProto.DataType.FLOAT, dims).setRawData(ByteString.copyFrom(b.flip())).build();
    }

    static TensorProto typedFloats(String name, float[] values, long... dims) {
        TensorProto.Builder t = tensor(name, TensorProto.DataType.FLOAT, dims);
        for (float v : values) {
            t.addFloatData(v);
        }
        return t.build();
    }

    static TensorProto typedLongs(String name, long[] values, long... dims) {
        TensorProto.Builder t = tensor(name, TensorProto.DataType.INT64, dims);
        for (long v : values) {
            t.addInt64Data(v);
        }
        return t.build();
    }

    static TensorProto externalTensor(String name, TensorProto.DataType type, String location, long offset, long length, long... dims) {
        TensorProto.Builder t = tensor(name, type, dims).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location))
                .addExternalData(entry("offset", Long.toString(offset)));
        if (length >= 0) {
            t.addExternalData(entry("length", Long.toString(length)));
        }
        return t.build();
    }

    static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    static NodeProto node(String name, String opType, List<String> inputs, List<String> outputs) {
        return NodeProto.newBuilder().setName(name).setOpType(opType).addAllInput(inputs).addAllOutput(outputs).build();
    }

    static NodeProto constant(String name, String output, TensorProto value) {
        return NodeProto.newBuilder().setName(name).setOpType("Constant").addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR).setT(value))
                .build();
    }

    static NodeProto ifNode(String name, String cond, String output, GraphProto thenBranch, GraphProto elseBranch) {
        return NodeProto.newBuilder().setName(name).setOpType("If").addInput(cond).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH).setG(thenBranch))
                .addAttribute(AttributeProto.newBuilder().setName("else_branch").setType(AttributeProto.AttributeType.GRAPH).setG(elseBranch))
                .build();
    }

    static ModelProto model(GraphProto graph) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("weightstream-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(graph).build();
    }

    static Path write(Path file, ModelProto model) throws IOException {
        Files.write(file, model.toByteArray());
        return file;
    }

    static ModelProto parse(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return ModelProto.parseFrom(in);
        }
    }

    static byte[] bytes(CheckpointTensor t) {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.byteSize()));
        t.read(0, b);
        return b.array();
    }

    static float[] floats(CheckpointTensor t) {
        ByteBuffer b = ByteBuffer.wrap(bytes(t)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    static String sha256(CheckpointTensor t) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20);
            for (long off = 0; off < t.byteSize(); off += chunk.position()) {
                chunk.clear();
                t.read(off, chunk);
                md.update(chunk.array(), 0, chunk.position());
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * The real model's graph with every initializer cut to at most 3 x 3 x ... elements of its own first bytes:
     * real structure and names in ~150 KiB, for fuzzing. An If node with typed and raw initializers in its
     * subgraphs is appended so the fuzz also reaches subgraphs and re-encoded frames.
     */
    static ModelProto shrunkRealModel() throws IOException {
        ModelProto real = parse(realModel());
        GraphProto.Builder g = real.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            int elementSize = t.getRawData().size() / Math.max(1, (int) numel(t));
            TensorProto.Builder small = t.toBuilder().clearDims();
            long n = 1;
            for (long d : t.getDimsList()) {
                small.addDims(Math.min(d, 3));
                n *= Math.min(d, 3);
            }
            g.setInitializer(i, small.setRawData(t.getRawData().substring(0, (int) n * elementSize)));
        }
        GraphProto thenBranch = GraphProto.newBuilder().setName("then")
                .addNode(node("/fuzz/then/Add", "Add", List.of("fuzz.cond_value", "fuzz.typed"), List.of("fuzz.then_out")))
                .addInitializer(typedFloats("fuzz.typed", new float[] {1.5f, -2.25f, 3f}, 3))
                .addOutput(g.getOutput(0).toBuilder().setName("fuzz.then_out"))
                .build();
        GraphProto elseBranch = GraphProto.newBuilder().setName("else")
                .addNode(node("/fuzz/else/Mul", "Mul", List.of("fuzz.cond_value", "fuzz.raw"), List.of("fuzz.else_out")))
                .addInitializer(rawFloats("fuzz.raw", new float[] {0.5f, 0.25f, 0.125f}, 3))
                .addOutput(g.getOutput(0).toBuilder().setName("fuzz.else_out"))
                .build();
        g.addNode(ifNode("/fuzz/If", "fuzz.cond", "fuzz.out", thenBranch, elseBranch));
        return real.toBuilder().setGraph(g).build();
    }

    private static long numel(TensorProto t) {
        long n = 1;
        for (long d : t.getDimsList()) {
            n *= d;
        }
        return n;
    }
}
