package io.weightstream.checkpoint.onnx;

import static io.weightstream.checkpoint.onnx.OnnxTestModels.externalTensor;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.ifNode;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.model;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.rawFloats;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.tensor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import com.google.protobuf.ByteString;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormatException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of broken file gives a CheckpointFormatException naming the file, the problem and the byte. */
class OnnxMalformedTest {
    @TempDir
    Path tmp;

    private Path file(String name, byte[] bytes) throws IOException {
        return Files.write(tmp.resolve(name), bytes);
    }

    private Path file(String name, TensorProto... initializers) throws IOException {
        return OnnxTestModels.write(tmp.resolve(name), model(GraphProto.newBuilder().setName("g")
                .addAllInitializer(Arrays.asList(initializers)).build()));
    }

    private static CheckpointFormatException failure(Path file) {
        CheckpointFormatException e = catchThrowableOfType(CheckpointFormatException.class, () -> Checkpoint.open(file).close());
        assertThat(e).as("opening " + file + " should fail").isNotNull();
        assertThat(e.file()).isEqualTo(file);
        assertThat(e.getMessage()).startsWith(file.toString());
        return e;
    }

    /** Offset of the first occurrence of {@code pattern} in the file. */
    private static int indexOf(Path file, byte[] pattern) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        outer:
        for (int i = 0; i + pattern.length <= bytes.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (bytes[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("pattern not in file");
    }

    /** Offset of the first initializer's TensorProto field (its tag byte) in a file written by {@link #file}. */
    private static int firstInitializer(Path file) throws IOException {
        ModelProto m = OnnxTestModels.parse(file);
        return indexOf(file, m.getGraph().getInitializer(0).toByteArray()) - 2; // tag + 1-byte length
    }

    @Test
    void textIsNotAModel() throws IOException {
        Path f = file("text.onnx", "this is not an ONNX model, only text\n".getBytes(StandardCharsets.US_ASCII));
        CheckpointFormatException e = failure(f);
        assertThat(e.offset()).isBetween(0L, Files.size(f));
        assertThat(e.getMessage()).containsAnyOf("malformed protobuf", "no graph");
    }

    @Test
    void emptyFileHasNoGraph() throws IOException {
        CheckpointFormatException e = failure(file("empty.onnx", new byte[0]));
        assertThat(e.getMessage()).contains("no graph");
    }

    @Test
    void truncatedFileFailsAtTheFieldThatRunsPastTheEnd() throws IOException {
        Path whole = file("whole.onnx", rawFloats("w", new float[] {1.25f, 2.5f, 3.75f}, 3));
        byte[] bytes = Files.readAllBytes(whole);
        int data = indexOf(whole, OnnxCheckpointTest.floatsLe(1.25f, 2.5f, 3.75f).array());
        for (int cut : new int[] {data - 3, data + 1, data + 11, 12}) {
            Path f = file("cut" + cut + ".onnx", Arrays.copyOf(bytes, cut));
            CheckpointFormatException e = failure(f);
            assertThat(e.offset()).as("cut at " + cut).isBetween(0L, (long) cut);
            assertThat(e.getMessage()).contains("malformed protobuf");
        }
    }

    @Test
    void rawDataOfTheWrongLengthFailsAtTheData() throws IOException {
        TensorProto t = tensor("w", DataType.FLOAT, 2, 2)
                .setRawData(ByteString.copyFrom(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})).build();
        Path f = file("short.onnx", t);
        CheckpointFormatException e = failure(f);
        assertThat(e.offset()).isEqualTo(indexOf(f, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
        assertThat(e.getMessage()).contains("tensor 'w'", "raw_data has 12 bytes", "needs 16");
    }

    @Test
    void negativeDimensionFailsAtTheTensor() throws IOException {
        Path f = file("neg.onnx", tensor("w", DataType.FLOAT, 2, -3).build());
        CheckpointFormatException e = failure(f);
        assertThat(e.offset()).isEqualTo(firstInitializer(f));
        assertThat(e.getMessage()).contains("tensor 'w'", "negative dimension", "[2, -3]");
    }

    @Test
    void dimensionsThatOverflowFail() throws IOException {
        CheckpointFormatException elements = failure(file("numel.onnx", tensor("w", DataType.FLOAT, 1L << 40, 1L << 40).build()));
        assertThat(elements.getMessage()).contains("tensor 'w'", "overflow");
        CheckpointFormatException bytes = failure(file("bytes.onnx", tensor("v", DataType.DOUBLE, 1L << 61).build()));
        assertThat(bytes.getMessage()).contains("tensor 'v'", "overflow");
    }

    @Test
    void unsupportedDataTypesAreNamed() throws IOException {
        CheckpointFormatException strings = failure(file("string.onnx",
                tensor("vocab", DataType.STRING, 1).addStringData(ByteString.copyFromUtf8("a")).build()));
        assertThat(strings.getMessage()).contains("tensor 'vocab'", "unsupported data type STRING (8)");
        CheckpointFormatException u16 = failure(file("u16.onnx",
                tensor("w16", DataType.UINT16, 1).setRawData(ByteString.copyFrom(new byte[2])).build()));
        assertThat(u16.getMessage()).contains("tensor 'w16'", "UINT16");
        CheckpointFormatException unknown = failure(file("unknown.onnx",
                TensorProto.newBuilder().setName("odd").setDataType(99).addDims(1).build()));
        assertThat(unknown.getMessage()).contains("tensor 'odd'", "(99)");
    }

    @Test
    void typedDataOfTheWrongCountOrFieldFails() throws IOException {
        CheckpointFormatException count = failure(file("count.onnx",
                tensor("w", DataType.FLOAT, 2, 2).addFloatData(1).addFloatData(2).addFloatData(3).build()));
        assertThat(count.getMessage()).contains("tensor 'w'", "needs 4 values in float_data", "holds 3");
        CheckpointFormatException field = failure(file("field.onnx",
                tensor("w", DataType.FLOAT, 1).addInt64Data(1).build()));
        assertThat(field.getMessage()).contains("tensor 'w'", "another field");
        CheckpointFormatException both = failure(file("both.onnx",
                tensor("w", DataType.FLOAT, 1).addFloatData(1).setRawData(ByteString.copyFrom(new byte[4])).build()));
        assertThat(both.getMessage()).contains("both raw_data and typed data");
    }

    @Test
    void brokenExternalReferencesFail() throws IOException {
        Files.write(tmp.resolve("data.bin"), new byte[32]);
        Files.write(tmp.getParent().resolve("outside-" + tmp.getFileName() + ".bin"), new byte[32]);
        assertThat(failure(file("missing.onnx", externalTensor("w", DataType.FLOAT, "nope.bin", 0, 16, 4))).getMessage())
                .contains("tensor 'w'", "nope.bin", "not found");
        assertThat(failure(file("escape.onnx", externalTensor("w", DataType.FLOAT, "../outside-" + tmp.getFileName() + ".bin", 0, 16, 4)))
                .getMessage()).contains("outside the model's directory");
        assertThat(failure(file("absolute.onnx", externalTensor("w", DataType.FLOAT, tmp.resolve("data.bin").toString(), 0, 16, 4)))
                .getMessage()).contains("absolute path");
        assertThat(failure(file("beyond.onnx", externalTensor("w", DataType.FLOAT, "data.bin", 24, 16, 4))).getMessage())
                .contains("bytes [24, 40) lie outside the file of 32 bytes");
        assertThat(failure(file("length.onnx", externalTensor("w", DataType.FLOAT, "data.bin", 0, 12, 4))).getMessage())
                .contains("length 12", "needs 16 bytes");
        assertThat(failure(file("offset.onnx", tensor("w", DataType.FLOAT, 1).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(OnnxTestModels.entry("location", "data.bin"))
                .addExternalData(OnnxTestModels.entry("offset", "-4")).build())).getMessage())
                .contains("offset '-4' is not a non-negative number");
        assertThat(failure(file("nolocation.onnx", tensor("w", DataType.FLOAT, 1)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL).build())).getMessage())
                .contains("without a location");
        assertThat(failure(file("directory.onnx", externalTensor("w", DataType.FLOAT, ".", 0, 4, 1))).getMessage())
                .contains("outside the model's directory");
        CheckpointFormatException at = failure(file("at.onnx", rawFloats("first", new float[] {1f}, 1),
                externalTensor("w", DataType.FLOAT, "nope.bin", 0, 4, 1)));
        ModelProto m = OnnxTestModels.parse(tmp.resolve("at.onnx"));
        assertThat(at.offset()).isEqualTo(indexOf(tmp.resolve("at.onnx"), m.getGraph().getInitializer(1).toByteArray()) - 2);
    }

    @Test
    void subgraphsNestedTooDeepAreRefused() throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("leaf").addInitializer(rawFloats("w", new float[] {1f}, 1)).build();
        for (int i = 0; i < OnnxScanner.MAX_GRAPH_DEPTH + 1; i++) {
            g = GraphProto.newBuilder().setName("level" + i).addNode(ifNode("/If" + i, "c", "o" + i, g, GraphProto.getDefaultInstance())).build();
        }
        Path f = OnnxTestModels.write(tmp.resolve("deep.onnx"), model(g));
        assertThat(failure(f).getMessage()).contains("nested deeper than " + OnnxScanner.MAX_GRAPH_DEPTH);
    }

    @Test
    void garbageWireTypeInsideTheGraphFails() throws IOException {
        // graph field (tag 0x3a) of 3 bytes: a tag with the invalid wire type 7, then two bytes
        byte[] bytes = {0x08, 0x08, 0x3a, 0x03, 0x0f, 0x01, 0x02};
        CheckpointFormatException e = failure(file("wire.onnx", bytes));
        assertThat(e.getMessage()).contains("malformed protobuf");
        assertThat(e.offset()).isBetween(4L, 7L);
    }

    @Test
    void filesOverTwoGigabytesCannotBeProtobuf() throws IOException {
        Path f = tmp.resolve("huge.onnx");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength((1L << 31) + 10); // sparse: takes no disk
        }
        assertThat(failure(f).getMessage()).contains("limited to 2 GiB");
    }

    @Test
    void missingModelFileIsAnIoError() {
        assertThatThrownBy(() -> OnnxCheckpoint.open(tmp.resolve("absent.onnx")))
                .isInstanceOf(java.io.UncheckedIOException.class).hasMessageContaining("absent.onnx");
    }

    @Test
    void aGraphWithoutWeightsIsFine() throws IOException {
        Path f = OnnxTestModels.write(tmp.resolve("noweights.onnx"), model(GraphProto.newBuilder().setName("g")
                .addNode(OnnxTestModels.node("/Relu", "Relu", List.of("x"), List.of("y"))).build()));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(f)) {
            assertThat(ckpt.tensors()).isEmpty();
            Path out = tmp.resolve("copy.onnx");
            OnnxWriter.write(ckpt.skeleton(), name -> null, out);
            assertThat(Files.mismatch(f, out)).isEqualTo(-1L);
        }
    }
}
