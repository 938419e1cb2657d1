package io.weightstream.checkpoint.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    /** The header bytes the reference implementation's own serialization tests expect. */
    @Test
    void headerMatchesTheReferenceWriter() {
        assertHeader(SafetensorsWriter.header(List.of(new TensorSpec("attn.0", DType.F32, 1, 2, 3)), null),
                "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}");
        assertHeader(SafetensorsWriter.header(List.of(new TensorSpec("attn0", DType.F32, 1, 1, 2, 3)), Map.of()),
                "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ");
        assertHeader(SafetensorsWriter.header(List.of(), null), "{}      ");
        assertHeader(SafetensorsWriter.header(List.of(), Map.of("framework", "pt")),
                "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
    }

    @Test
    void headerSortsByDescendingAlignmentThenNameAndMetadataByKey() {
        List<TensorSpec> specs = List.of(
                new TensorSpec("a.bool", DType.BOOL, 3), new TensorSpec("b.f32", DType.F32, 1), new TensorSpec("a.f32", DType.F32, 1),
                new TensorSpec("u8", DType.U8, 1), new TensorSpec("i8", DType.I8, 1), new TensorSpec("i16", DType.I16, 1),
                new TensorSpec("f16", DType.F16, 1), new TensorSpec("bf16", DType.BF16, 1), new TensorSpec("i32", DType.I32, 1),
                new TensorSpec("f64", DType.F64, 1), new TensorSpec("i64", DType.I64, 1));
        assertThat(SafetensorsWriter.dataOrder(specs)).extracting(TensorSpec::name).containsExactly(
                "i64", "f64", "a.f32", "b.f32", "i32", "bf16", "f16", "i16", "i8", "u8", "a.bool");
        String json = json(SafetensorsWriter.header(specs, Map.of("b", "2", "a", "1")));
        assertThat(json).startsWith("{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\"},\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},");
        assertThat(json).contains("\"a.bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[36,39]}}");
    }

    @Test
    void escapesNamesAsJson() {
        String json = json(SafetensorsWriter.header(List.of(new TensorSpec("q\"\\\n\u0001é", DType.U8, 1)), null));
        assertThat(json).startsWith("{\"q\\\"\\\\\\n\\u0001é\":");
    }

    @Test
    void streamingWriteChecksEachTensorsSize() throws IOException {
        List<TensorSpec> specs = List.of(new TensorSpec("a", DType.F32, 4), new TensorSpec("b", DType.F32, 2));
        Path out = dir.resolve("out.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(specs, null, (spec, ch) -> ch.write(ByteBuffer.allocate(4)), out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'a': 4 bytes written but the header declares 16");
        assertThatThrownBy(() -> SafetensorsWriter.write(specs, null, (spec, ch) -> ch.write(ByteBuffer.allocate(17)), out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("more than the 16 bytes");
        assertNothingLeftIn(dir);

        SafetensorsWriter.write(specs, null, (spec, ch) -> {
            for (int i = 0; i < spec.byteSize(); i++) {
                ch.write(ByteBuffer.wrap(new byte[] {(byte) i}));
            }
        }, out);
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(out)) {
            assertThat(SafetensorsTestFiles.bytes(ckpt.tensors().get(0))).isEqualTo(new byte[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
        }
    }

    @Test
    void rebuildRejectsMissingOrMisSizedTensors() throws IOException {
        Tensor a = SafetensorsTestFiles.random(new TensorSpec("a", DType.I32, 5), new Random(1));
        Path file = dir.resolve("a.safetensors");
        SafetensorsWriter.write(List.of(a), null, file);
        byte[] skeleton;
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            skeleton = ckpt.skeleton();
        }
        Path out = dir.resolve("b.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(skeleton, name -> null, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no bytes for tensor 'a'");
        assertThatThrownBy(() -> SafetensorsWriter.write(skeleton, name -> ByteBuffer.allocate(19), out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("19 bytes given but the header declares 20");
        assertThat(out).doesNotExist();

        ByteBuffer data = a.data();
        int before = data.position();
        SafetensorsWriter.write(skeleton, name -> data, out);
        assertThat(data.position()).as("the caller's buffer is not consumed").isEqualTo(before);
        assertThat(Files.mismatch(file, out)).isEqualTo(-1L);
    }

    @Test
    void rebuildRejectsACorruptSkeleton() {
        Path out = dir.resolve("out.safetensors");
        byte[] good = SafetensorsWriter.header(List.of(new TensorSpec("a", DType.F32, 2)), null);
        assertThatThrownBy(() -> SafetensorsWriter.write(Arrays.copyOf(good, 5), n -> ByteBuffer.allocate(8), out))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("fewer than the 8-byte");
        assertThatThrownBy(() -> SafetensorsWriter.write(Arrays.copyOf(good, good.length - 1), n -> ByteBuffer.allocate(8), out))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("skeleton declares a header of");
        byte[] bad = good.clone();
        bad[8 + json(good).indexOf("F32")] = 'X';
        assertThatThrownBy(() -> SafetensorsWriter.write(bad, n -> ByteBuffer.allocate(8), out))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("unsupported dtype 'X32'")
                .satisfies(e -> assertThat(((CheckpointFormatException) e).file()).isEqualTo(out));
        assertThat(out).doesNotExist();
    }

    @Test
    void rejectsDuplicateAndReservedNames() {
        assertThatThrownBy(() -> SafetensorsWriter.header(List.of(new TensorSpec("a", DType.F32), new TensorSpec("a", DType.I8)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate tensor name 'a'");
        assertThatThrownBy(() -> SafetensorsWriter.header(List.of(new TensorSpec("__metadata__", DType.F32)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
    }

    private static void assertHeader(byte[] skeleton, String expectedJson) {
        long n = ByteBuffer.wrap(skeleton).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(n).isEqualTo(skeleton.length - 8);
        assertThat(n % 8).isZero();
        assertThat(json(skeleton)).isEqualTo(expectedJson);
    }

    private static String json(byte[] skeleton) {
        return new String(skeleton, 8, skeleton.length - 8, StandardCharsets.UTF_8);
    }

    private static void assertNothingLeftIn(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }
}
