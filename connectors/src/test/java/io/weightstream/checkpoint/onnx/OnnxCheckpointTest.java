package io.weightstream.checkpoint.onnx;

import static io.weightstream.checkpoint.onnx.OnnxTestModels.constant;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.externalTensor;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.ifNode;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.model;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.node;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.rawFloats;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.tensor;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.typedFloats;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.typedLongs;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import io.weightstream.checkpoint.CheckpointTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading and rewriting small models built in the test: every way ONNX stores a weight. */
class OnnxCheckpointTest {
    @TempDir
    Path tmp;

    private static Map<String, CheckpointTensor> byName(OnnxCheckpoint ckpt) {
        Map<String, CheckpointTensor> map = new HashMap<>();
        ckpt.tensors().forEach(t -> map.put(t.name(), t));
        return map;
    }

    /** Rewrites {@code in} with its own tensors and returns the new file. */
    private Path rewrite(OnnxCheckpoint ckpt, String name) {
        Map<String, CheckpointTensor> tensors = byName(ckpt);
        Path out = tmp.resolve(name);
        OnnxWriter.write(ckpt.skeleton(), n -> ByteBuffer.wrap(OnnxTestModels.bytes(tensors.get(n))), out);
        return out;
    }

    @Test
    void typedFieldsAreReadAsLittleEndianBytesAndWrittenBackIntoTheirFields() throws IOException {
        GraphProto graph = GraphProto.newBuilder().setName("typed")
                .addNode(node("/Add", "Add", List.of("x", "w.f32"), List.of("y")))
                .addNode(node("/Reshape", "Reshape", List.of("y", "shape.i64"), List.of("z")))
                .addInitializer(typedFloats("w.f32", new float[] {1f, -2.5f, Float.MIN_VALUE, Float.NaN}, 2, 2))
                .addInitializer(typedLongs("shape.i64", new long[] {-1, 1L << 40}, 2))
                .addInitializer(tensor("w.f64", DataType.DOUBLE, 2).addDoubleData(Math.PI).addDoubleData(-0.0))
                .addInitializer(tensor("w.f16", DataType.FLOAT16, 2).addInt32Data(0x3c00).addInt32Data(0xc000))
                .addInitializer(tensor("w.bf16", DataType.BFLOAT16, 1).addInt32Data(0xbf80))
                .addInitializer(tensor("w.i8", DataType.INT8, 3).addInt32Data(-128).addInt32Data(-1).addInt32Data(127))
                .addInitializer(tensor("w.u8", DataType.UINT8, 2).addInt32Data(0).addInt32Data(255))
                .addInitializer(tensor("w.i16", DataType.INT16, 2).addInt32Data(-32768).addInt32Data(12345))
                .addInitializer(tensor("w.i32", DataType.INT32, 1).addInt32Data(Integer.MIN_VALUE))
                .addInitializer(tensor("w.bool", DataType.BOOL, 3).addInt32Data(1).addInt32Data(0).addInt32Data(1))
                .addInitializer(tensor("empty", DataType.FLOAT, 0, 4))
                .build();
        Path file = OnnxTestModels.write(tmp.resolve("typed.onnx"), model(graph));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            Map<String, CheckpointTensor> t = byName(ckpt);
            assertThat(ckpt.tensors()).extracting(CheckpointTensor::name).containsExactly("w.f32", "shape.i64", "w.f64",
                    "w.f16", "w.bf16", "w.i8", "w.u8", "w.i16", "w.i32", "w.bool", "empty");
            assertThat(ckpt.storage(0)).isEqualTo(OnnxScanner.Storage.TYPED);
            float[] f = OnnxTestModels.floats(t.get("w.f32"));
            assertThat(f).containsExactly(1f, -2.5f, Float.MIN_VALUE, Float.NaN);
            assertThat(t.get("w.f32").spec().shape()).containsExactly(2, 2);
            ByteBuffer longs = le(t.get("shape.i64"));
            assertThat(longs.getLong(0)).isEqualTo(-1);
            assertThat(longs.getLong(8)).isEqualTo(1L << 40);
            assertThat(le(t.get("w.f64")).getDouble(0)).isEqualTo(Math.PI);
            assertThat(OnnxTestModels.bytes(t.get("w.f16"))).containsExactly(0x00, 0x3c, 0x00, 0xc0);
            assertThat(OnnxTestModels.bytes(t.get("w.bf16"))).containsExactly(0x80, 0xbf);
            assertThat(OnnxTestModels.bytes(t.get("w.i8"))).containsExactly(-128, -1, 127);
            assertThat(OnnxTestModels.bytes(t.get("w.u8"))).containsExactly(0, 255);
            assertThat(le(t.get("w.i16")).getShort(0)).isEqualTo((short) -32768);
            assertThat(le(t.get("w.i16")).getShort(2)).isEqualTo((short) 12345);
            assertThat(le(t.get("w.i32")).getInt(0)).isEqualTo(Integer.MIN_VALUE);
            assertThat(OnnxTestModels.bytes(t.get("w.bool"))).containsExactly(1, 0, 1);
            assertThat(t.get("empty").byteSize()).isZero();
            assertThat(t.get("w.f32").alias()).isEqualTo("/Add");
            assertThat(t.get("shape.i64").alias()).isEqualTo("/Reshape");
            assertThat(t.get("w.f64").alias()).isNull();

            // same values back: the file is identical (protobuf-java writes canonically, as the ONNX tools do)
            Path same = rewrite(ckpt, "same.onnx");
            assertThat(Files.mismatch(file, same)).isEqualTo(-1L);
        }
    }

    @Test
    void newTypedValuesGoBackIntoTheTypedFieldsOfTheSameGraph() throws IOException {
        ModelProto before = model(GraphProto.newBuilder().setName("g")
                .addNode(node("/Add", "Add", List.of("x", "w"), List.of("y")))
                .addNode(constant("/Constant", "c", typedLongs("", new long[] {3}, 1)))
                .addInitializer(typedFloats("w", new float[] {1f, 2f, 3f}, 3))
                .build());
        // the values grow from 1 to 10 varint bytes: the TensorProto, node and graph lengths all change
        ModelProto expected = model(GraphProto.newBuilder().setName("g")
                .addNode(node("/Add", "Add", List.of("x", "w"), List.of("y")))
                .addNode(constant("/Constant", "c", typedLongs("", new long[] {Long.MIN_VALUE}, 1)))
                .addInitializer(typedFloats("w", new float[] {10f, 20f, 30f}, 3))
                .build());
        Path file = OnnxTestModels.write(tmp.resolve("before.onnx"), before);
        Path out = tmp.resolve("after.onnx");
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            assertThat(ckpt.tensors()).extracting(CheckpointTensor::name).containsExactly("c", "w");
            Map<String, ByteBuffer> updated = Map.of(
                    "c", ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, Long.MIN_VALUE),
                    "w", floatsLe(10f, 20f, 30f));
            OnnxWriter.write(ckpt.skeleton(), updated::get, out);
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(expected.toByteArray());
        assertThat(OnnxTestModels.parse(out)).isEqualTo(expected);
    }

    @Test
    void constantNodesAndSubgraphInitializersAreTensorsWithUniqueNames() throws IOException {
        GraphProto thenBranch = GraphProto.newBuilder().setName("then")
                .addNode(constant("/then/Constant", "then.c", rawFloats("", new float[] {7f}, 1)))
                .addNode(node("/then/MatMul", "MatMul", List.of("x", "onnx::MatMul_1"), List.of("then.y")))
                .addNode(node("/then/Add", "Add", List.of("then.y", "then.c"), List.of("then.out")))
                .addInitializer(rawFloats("onnx::MatMul_1", new float[] {1f, 2f}, 2))
                .build();
        GraphProto elseBranch = GraphProto.newBuilder().setName("else")
                // the same name as in then_branch: legal in separate subgraphs, so it gets a prefix
                .addNode(node("", "Mul", List.of("x", "onnx::MatMul_1"), List.of("else.out")))
                .addNode(node("/else/Sub", "Sub", List.of("else.out", "shared"), List.of("else.out2")))
                .addInitializer(typedFloats("onnx::MatMul_1", new float[] {3f, 4f}, 2))
                .build();
        GraphProto main = GraphProto.newBuilder().setName("main")
                .addNode(constant("/Constant", "/Constant_output_0", rawFloats("ignored-name", new float[] {0.5f}, 1)))
                .addNode(ifNode("/If", "cond", "out", thenBranch, elseBranch))
                .addInitializer(rawFloats("shared", new float[] {9f, 9f}, 2))
                .build();
        Path file = OnnxTestModels.write(tmp.resolve("if.onnx"), model(main));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            assertThat(ckpt.tensors()).extracting(CheckpointTensor::name).containsExactly(
                    "/Constant_output_0", "then.c", "onnx::MatMul_1", "/If:else_branch/onnx::MatMul_1", "shared");
            assertThat(ckpt.tensors()).extracting(CheckpointTensor::alias).containsExactly(
                    null, "/then/Add", "/then/MatMul", "Mul:else.out", "/else/Sub");
            Map<String, CheckpointTensor> t = byName(ckpt);
            assertThat(OnnxTestModels.floats(t.get("then.c"))).containsExactly(7f);
            assertThat(OnnxTestModels.floats(t.get("onnx::MatMul_1"))).containsExactly(1f, 2f);
            assertThat(OnnxTestModels.floats(t.get("/If:else_branch/onnx::MatMul_1"))).containsExactly(3f, 4f);
            // raw subgraph tensors come from the file; the typed one sits in a re-encoded frame
            assertThat(ckpt.storage(2)).isEqualTo(OnnxScanner.Storage.RAW);
            assertThat(ckpt.storage(3)).isEqualTo(OnnxScanner.Storage.TYPED);

            Path same = rewrite(ckpt, "same.onnx");
            assertThat(Files.mismatch(file, same)).isEqualTo(-1L);

            Map<String, ByteBuffer> changed = new HashMap<>();
            for (CheckpointTensor x : ckpt.tensors()) {
                float[] v = OnnxTestModels.floats(x);
                for (int i = 0; i < v.length; i++) {
                    v[i] = -v[i] - 100;
                }
                changed.put(x.name(), floatsLe(v));
            }
            Path out = tmp.resolve("changed.onnx");
            OnnxWriter.write(ckpt.skeleton(), changed::get, out);
            try (OnnxCheckpoint again = OnnxCheckpoint.open(out)) {
                Map<String, CheckpointTensor> a = byName(again);
                assertThat(OnnxTestModels.floats(a.get("/If:else_branch/onnx::MatMul_1"))).containsExactly(-103f, -104f);
                assertThat(OnnxTestModels.floats(a.get("then.c"))).containsExactly(-107f);
                assertThat(OnnxTestModels.floats(a.get("/Constant_output_0"))).containsExactly(-100.5f);
            }
            // the same graph: only the weights differ
            ModelProto written = OnnxTestModels.parse(out);
            assertThat(written.getGraph().getNode(1).getAttribute(1).getG().getInitializer(0).getFloatDataList())
                    .containsExactly(-103f, -104f);
            assertThat(stripWeights(written)).isEqualTo(stripWeights(OnnxTestModels.parse(file)));
        }
    }

    @Test
    void externalDataIsReadFromItsFileAndRewrittenBesideTheNewModel() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("ext"));
        ByteBuffer data = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 4; i++) {
            data.putFloat(16 + 4 * i, i + 0.5f); // tensor "a" at offset 16, after 16 bytes of padding
        }
        data.putLong(48, 42L); // tensor "b" at offset 48
        Files.createDirectories(dir.resolve("weights"));
        Files.write(dir.resolve("weights/model.bin"), data.array());
        GraphProto graph = GraphProto.newBuilder().setName("ext")
                .addNode(node("/MatMul", "MatMul", List.of("x", "a"), List.of("y")))
                .addInitializer(externalTensor("a", DataType.FLOAT, "weights/model.bin", 16, 16, 2, 2))
                .addInitializer(externalTensor("b", DataType.INT64, "weights/model.bin", 48, -1, 1))
                .addInitializer(rawFloats("inline", new float[] {1f}, 1))
                .build();
        Path file = OnnxTestModels.write(dir.resolve("model.onnx"), model(graph));
        Path outDir = Files.createDirectories(tmp.resolve("out"));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            assertThat(ckpt.fileBytes()).isEqualTo(Files.size(file) + 64);
            Map<String, CheckpointTensor> t = byName(ckpt);
            assertThat(OnnxTestModels.floats(t.get("a"))).containsExactly(0.5f, 1.5f, 2.5f, 3.5f);
            assertThat(le(t.get("b")).getLong(0)).isEqualTo(42L);
            assertThat(t.get("a").data().getFloat(12)).isEqualTo(3.5f); // memory-mapped view of the external file
            assertThat(ckpt.storage(0)).isEqualTo(OnnxScanner.Storage.EXTERNAL);
            assertThat(ckpt.dataOffset(0)).isEqualTo(16);

            Map<String, ByteBuffer> changed = Map.of("a", floatsLe(-1f, -2f, -3f, -4f),
                    "b", ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 7L), "inline", floatsLe(2f));
            OnnxWriter.write(ckpt.skeleton(), changed::get, outDir.resolve("model.onnx"));
        }
        // the graph is unchanged but for the inline weight; the external file holds the new weights at the old offsets
        assertThat(Files.size(outDir.resolve("model.onnx"))).isEqualTo(Files.size(file));
        ByteBuffer written = ByteBuffer.wrap(Files.readAllBytes(outDir.resolve("weights/model.bin"))).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(written.capacity()).isEqualTo(56);
        assertThat(written.getFloat(16)).isEqualTo(-1f);
        assertThat(written.getFloat(28)).isEqualTo(-4f);
        assertThat(written.getLong(48)).isEqualTo(7L);
        try (OnnxCheckpoint again = OnnxCheckpoint.open(outDir.resolve("model.onnx"))) {
            Map<String, CheckpointTensor> t = byName(again);
            assertThat(OnnxTestModels.floats(t.get("a"))).containsExactly(-1f, -2f, -3f, -4f);
            assertThat(OnnxTestModels.floats(t.get("inline"))).containsExactly(2f);
        }
        // written with the original bytes, both files come back identical (the model's padding was zeros)
        Path sameDir = Files.createDirectories(tmp.resolve("same"));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            Map<String, CheckpointTensor> t = byName(ckpt);
            OnnxWriter.write(ckpt.skeleton(), n -> t.get(n).data(), sameDir.resolve("model.onnx"));
        }
        assertThat(Files.mismatch(file, sameDir.resolve("model.onnx"))).isEqualTo(-1L);
        assertThat(Files.readAllBytes(sameDir.resolve("weights/model.bin"))).isEqualTo(java.util.Arrays.copyOf(data.array(), 56));
    }

    @Test
    void tensorsAreMemoryMappedViewsOfTheFile() throws IOException {
        TensorProto w = rawFloats("w", new float[] {1f, 2f, 3f, 4f, 5f, 6f}, 2, 3);
        Path file = OnnxTestModels.write(tmp.resolve("m.onnx"), model(GraphProto.newBuilder().addInitializer(w).build()));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            CheckpointTensor t = ckpt.tensors().get(0);
            assertThat(t.data().isDirect()).isTrue();
            assertThat(t.tensor().spec().shape()).containsExactly(2, 3);
            byte[] file0 = Files.readAllBytes(file);
            int at = (int) ckpt.dataOffset(0);
            assertThat(ByteBuffer.wrap(file0, at, 24).order(ByteOrder.LITTLE_ENDIAN).getFloat(at + 20)).isEqualTo(6f);
            ByteBuffer part = ByteBuffer.allocate(8);
            assertThat(t.read(16, part)).isEqualTo(8);
            assertThat(part.flip().order(ByteOrder.LITTLE_ENDIAN).getFloat()).isEqualTo(5f);
        }
    }

    @Test
    void skeletonCarriesItsFormatVersion() throws IOException {
        Path file = OnnxTestModels.write(tmp.resolve("m.onnx"),
                model(GraphProto.newBuilder().addInitializer(rawFloats("w", new float[] {1f}, 1)).build()));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            byte[] skeleton = ckpt.skeleton();
            assertThat(new String(skeleton, 0, 4, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("WSOX");
            assertThat(skeleton[4]).isEqualTo((byte) OnnxSkeleton.VERSION);
            OnnxSkeleton decoded = OnnxSkeleton.decode(skeleton, file);
            assertThat(decoded.entries).hasSize(1);
            assertThat(decoded.entries.get(0).spec()).isEqualTo(ckpt.tensors().get(0).spec());
            // the skeleton holds the file's bytes but not the weight's
            assertThat(skeleton.length).isLessThan((int) Files.size(file) + 40);
        }
    }

    private static GraphProto stripWeightsGraph(GraphProto g) {
        GraphProto.Builder b = g.toBuilder();
        for (int i = 0; i < b.getInitializerCount(); i++) {
            b.setInitializer(i, b.getInitializer(i).toBuilder().clearRawData().clearFloatData());
        }
        for (int n = 0; n < b.getNodeCount(); n++) {
            var node = b.getNode(n).toBuilder();
            for (int a = 0; a < node.getAttributeCount(); a++) {
                var attr = node.getAttribute(a).toBuilder();
                if (attr.hasT()) {
                    attr.setT(attr.getT().toBuilder().clearRawData().clearFloatData());
                }
                if (attr.hasG()) {
                    attr.setG(stripWeightsGraph(attr.getG()));
                }
                node.setAttribute(a, attr);
            }
            b.setNode(n, node);
        }
        return b.build();
    }

    private static ModelProto stripWeights(ModelProto m) {
        return m.toBuilder().setGraph(stripWeightsGraph(m.getGraph())).build();
    }

    private static ByteBuffer le(CheckpointTensor t) {
        return ByteBuffer.wrap(OnnxTestModels.bytes(t)).order(ByteOrder.LITTLE_ENDIAN);
    }

    static ByteBuffer floatsLe(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.flip();
    }
}
