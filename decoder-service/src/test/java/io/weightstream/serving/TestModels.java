package io.weightstream.serving;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

/** The real models staged by the build, and ONNX files made or damaged for tests. */
final class TestModels {
    private TestModels() {
    }

    static Path stackHome() {
        String home = System.getProperty("weightstream.stack.home");
        if (home == null) {
            throw new IllegalStateException("system property weightstream.stack.home is not set (surefire sets it)");
        }
        return Path.of(home);
    }

    /** all-MiniLM-L6-v2, float32, with its tokenizer next to it. */
    static Path minilm() {
        return staged("models/all-minilm-l6-v2/all-minilm-l6-v2.onnx");
    }

    /** The 8-bit quantized all-MiniLM-L6-v2 of the LangChain4j {@code -q} artifact. */
    static Path minilmQuantized() {
        return staged("models/all-minilm-l6-v2-q/all-minilm-l6-v2-q.onnx");
    }

    private static Path staged(String relative) {
        Path p = stackHome().resolve(relative);
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException(p + " is missing: run 'mvn -q -B -o -pl deploy process-resources'");
        }
        return p;
    }

    /**
     * A copy of {@code onnx} in {@code dir} where the largest float initializer feeding a MatMul gets Gaussian noise
     * with standard deviation {@code relativeNoise} times the weight's RMS.
     */
    static Path withNoisyMatMulWeight(Path onnx, Path dir, double relativeNoise, long seed) throws IOException {
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(onnx));
        GraphProto graph = model.getGraph();
        Set<String> matmulInputs = new HashSet<>();
        for (NodeProto node : graph.getNodeList()) {
            if (node.getOpType().equals("MatMul")) {
                matmulInputs.addAll(node.getInputList());
            }
        }
        int target = -1;
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            TensorProto t = graph.getInitializer(i);
            if (matmulInputs.contains(t.getName()) && t.getDataType() == TensorProto.DataType.FLOAT_VALUE
                    && (target < 0 || t.getRawData().size() > graph.getInitializer(target).getRawData().size())) {
                target = i;
            }
        }
        if (target < 0) {
            throw new IllegalArgumentException(onnx + " has no float MatMul initializer");
        }
        TensorProto weight = graph.getInitializer(target);
        FloatBuffer values = weight.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] w = new float[values.remaining()];
        values.get(w);
        double sq = 0;
        for (float x : w) {
            sq += (double) x * x;
        }
        double sigma = relativeNoise * Math.sqrt(sq / w.length);
        Random random = new Random(seed);
        for (int i = 0; i < w.length; i++) {
            w[i] += (float) (sigma * random.nextGaussian());
        }
        TensorProto damaged = weight.toBuilder().setRawData(floatsLE(w)).build();
        ModelProto out = model.toBuilder().setGraph(graph.toBuilder().setInitializer(target, damaged)).build();
        Path file = dir.resolve("damaged-" + onnx.getFileName());
        try (OutputStream os = Files.newOutputStream(file)) {
            out.writeTo(os);
        }
        return file;
    }

    /**
     * A tiny model: {@code y = x @ W + bias}, with {@code x: FLOAT[batch, 3]}, {@code bias: FLOAT[batch, 4]},
     * {@code W: FLOAT[3, 4]} an initializer holding {@code weights} (12 values, row-major).
     */
    static byte[] tinyAffine(float[] weights) {
        TensorProto w = TensorProto.newBuilder().setName("W").addDims(3).addDims(4)
                .setDataType(TensorProto.DataType.FLOAT_VALUE).setRawData(floatsLE(weights)).build();
        GraphProto graph = GraphProto.newBuilder().setName("tiny")
                .addInput(tensor("x", TensorProto.DataType.FLOAT_VALUE, "batch", 3))
                .addInput(tensor("bias", TensorProto.DataType.FLOAT_VALUE, "batch", 4))
                .addInitializer(w)
                .addNode(NodeProto.newBuilder().setOpType("MatMul").setName("matmul")
                        .addInput("x").addInput("W").addOutput("xw"))
                .addNode(NodeProto.newBuilder().setOpType("Add").setName("add")
                        .addInput("xw").addInput("bias").addOutput("y"))
                .addOutput(tensor("y", TensorProto.DataType.FLOAT_VALUE, "batch", 4))
                .build();
        return ModelProto.newBuilder().setIrVersion(7).setProducerName("weightstream-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(graph).build().toByteArray();
    }

    static float[] tinyWeights() {
        float[] w = new float[12];
        for (int i = 0; i < w.length; i++) {
            w[i] = (i % 5) - 2 + 0.25f * i;
        }
        return w;
    }

    /** A model ONNX Runtime cannot run: {@code tinyAffine} with the MatMul's weight input renamed to nothing. */
    static byte[] brokenModel() {
        ModelProto m;
        try {
            m = ModelProto.parseFrom(tinyAffine(tinyWeights()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        GraphProto g = m.getGraph();
        NodeProto broken = g.getNode(0).toBuilder().setInput(1, "no_such_tensor").build();
        return m.toBuilder().setGraph(g.toBuilder().setNode(0, broken)).build().toByteArray();
    }

    private static ValueInfoProto tensor(String name, int elemType, String dim0, int dim1) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(dim0))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim1))
                .build();
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(
                        TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape)))
                .build();
    }

    private static ByteString floatsLE(float[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        return ByteString.copyFrom(buf.array());
    }
}
