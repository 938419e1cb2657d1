package io.weightstream.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import io.weightstream.publish.Attachments;
import io.weightstream.schemas.Attachment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading and warming up stored versions: the last check before a version may be swapped in. */
class VersionLoaderTest {
    static final Path MINILM = Path.of(System.getProperty("weightstream.stack.home", "../deploy/target/stack"),
            "models", "all-minilm-l6-v2", "all-minilm-l6-v2.onnx");

    @TempDir
    Path dir;

    ModelRepository.StoredVersion store(String version, byte[] onnx, List<Attachment> attachments) {
        return new ModelRepository(dir, 3).store(ModelRepositoryTest.version("m", version, 1, attachments),
                file -> Files.write(file, onnx));
    }

    @Test
    void aModelWithoutTokenizerIsWarmedUpOnSyntheticInputs() {
        ModelRepository.StoredVersion v = store("v1", tinyAffine(1f), List.of());
        VersionLoader.Loaded loaded = new VersionLoader(1, VersionLoader.FALLBACK_TEXTS).load(v);
        try {
            assertThat(loaded.model().embedder()).isEmpty();
            assertThat(loaded.model().info()).isEqualTo(v.info());
            Object y = loaded.model().onnx().run(Map.of("x", new float[][] {{1, 2, 3}})).get("y");
            assertThat(((float[][]) y)[0]).containsExactly(6f, 6f);
        } finally {
            loaded.model().close();
        }
    }

    @Test
    void aModelThatComputesNaNFailsItsWarmUp() {
        ModelRepository.StoredVersion v = store("v1", tinyAffine(Float.NaN), List.of());
        assertThatThrownBy(() -> new VersionLoader(1, VersionLoader.FALLBACK_TEXTS).load(v))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("m/v1: warm-up failed")
                .hasMessageContaining("NaN");
    }

    @Test
    void aFileThatIsNotTheSizeVersionJsonSaysIsRefused() throws Exception {
        ModelRepository.StoredVersion v = store("v1", tinyAffine(1f), List.of());
        Files.write(v.modelFile(), new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
        assertThatThrownBy(() -> new VersionLoader(1, VersionLoader.FALLBACK_TEXTS).load(v))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("bytes but version.json says");
    }

    @Test
    void aTextModelWithItsTokenizerGetsAnEmbedderAndEmbedsTheProbeTexts() throws Exception {
        Attachment tokenizer = Attachments.of(Attachments.TOKENIZER, Attachments.tokenizerFor(MINILM).orElseThrow());
        ModelRepository.StoredVersion v = store("v1", Files.readAllBytes(MINILM), List.of(tokenizer));
        VersionLoader.Loaded loaded = new VersionLoader(1, VersionLoader.defaultWarmUpTexts(4)).load(v);
        try {
            assertThat(loaded.model().embedder()).hasValueSatisfying(e -> {
                assertThat(e.dimension()).isEqualTo(384);
                assertThat(e.embed("A man is eating food.")).hasSize(384);
            });
            assertThat(loaded.loadSeconds()).isPositive();
            assertThat(loaded.warmUpSeconds()).isPositive();
        } finally {
            loaded.model().close();
        }
    }

    @Test
    void nonFiniteValuesAreFoundInNestedArrays() {
        assertThat(VersionLoader.firstNonFinite(new float[][] {{1, 2}, {3, Float.POSITIVE_INFINITY}})).isEqualTo("Infinity");
        assertThat(VersionLoader.firstNonFinite(new double[][][] {{{Double.NaN}}})).isEqualTo("NaN");
        assertThat(VersionLoader.firstNonFinite(new float[][] {{1, 2}})).isNull();
        assertThat(VersionLoader.firstNonFinite(new long[] {1, 2})).isNull();
    }

    /** {@code y = x @ W} with {@code x: FLOAT[batch, 3]} and W a [3, 2] initializer of {@code value}s. */
    static byte[] tinyAffine(float value) {
        ByteBuffer raw = ByteBuffer.allocate(6 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) {
            raw.putFloat(value);
        }
        raw.flip();
        TensorProto w = TensorProto.newBuilder().setName("W").addDims(3).addDims(2)
                .setDataType(TensorProto.DataType.FLOAT_VALUE).setRawData(ByteString.copyFrom(raw)).build();
        GraphProto graph = GraphProto.newBuilder().setName("tiny")
                .addInput(floatTensor("x", 3))
                .addInitializer(w)
                .addNode(NodeProto.newBuilder().setOpType("MatMul").setName("matmul").addInput("x").addInput("W").addOutput("y"))
                .addOutput(floatTensor("y", 2))
                .build();
        return ModelProto.newBuilder().setIrVersion(7).setProducerName("weightstream-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(graph).build().toByteArray();
    }

    private static ValueInfoProto floatTensor(String name, int columns) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(columns)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(shape))).build();
    }
}
