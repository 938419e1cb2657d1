package io.weightstream.checkpoint.safetensors;

import static io.weightstream.checkpoint.safetensors.SafetensorsTestFiles.bytes;
import static io.weightstream.checkpoint.safetensors.SafetensorsTestFiles.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.CheckpointWriter;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(DType.class)
    void everyDTypeRoundTripsBitExactly(DType dtype) throws IOException {
        Random random = new Random(dtype.ordinal() * 31L + 7);
        List<Tensor> tensors = new ArrayList<>(SafetensorsTestFiles.randomTensors(dtype, "model.", random));
        // a neighbour of another dtype, so the file is not one dtype only
        DType other = dtype == DType.F32 ? DType.BF16 : DType.F32;
        tensors.addAll(SafetensorsTestFiles.randomTensors(other, "other.", random));
        Map<String, String> metadata = Map.of("format", "pt", "dtype", dtype.safetensorsName());
        Path original = dir.resolve("original.safetensors");
        SafetensorsWriter.write(tensors, metadata, original);

        Map<String, Tensor> expected = tensors.stream().collect(Collectors.toMap(Tensor::name, t -> t));
        Map<String, String> hashes = new HashMap<>();
        Path rebuilt = dir.resolve("rebuilt.safetensors");
        try (Checkpoint ckpt = Checkpoint.open(original)) {
            assertThat(ckpt).isInstanceOf(SafetensorsCheckpoint.class);
            assertThat(ckpt.format()).isEqualTo(CheckpointFormat.SAFETENSORS);
            assertThat(ckpt.fileBytes()).isEqualTo(Files.size(original));
            assertThat(((SafetensorsCheckpoint) ckpt).metadata()).isEqualTo(metadata);
            assertThat(ckpt.tensors()).extracting(CheckpointTensor::spec)
                    .containsExactlyInAnyOrderElementsOf(tensors.stream().map(Tensor::spec).toList());
            for (CheckpointTensor t : ckpt.tensors()) {
                byte[] want = expected.get(t.name()).toBytes();
                assertThat(bytes(t)).as(t.name()).isEqualTo(want);
                ByteBuffer mapped = t.data();
                byte[] viaMap = new byte[mapped.remaining()];
                mapped.get(viaMap);
                assertThat(viaMap).as(t.name()).isEqualTo(want);
                hashes.put(t.name(), sha256(t));
            }
            CheckpointWriter.write(CheckpointFormat.SAFETENSORS, ckpt.skeleton(), name -> tensorOf(ckpt, name).data(), rebuilt);
        }
        assertThat(Files.mismatch(original, rebuilt)).isEqualTo(-1L);
        try (Checkpoint again = Checkpoint.open(rebuilt)) {
            Map<String, String> rehashed = again.tensors().stream()
                    .collect(Collectors.toMap(CheckpointTensor::name, SafetensorsTestFiles::sha256));
            assertThat(rehashed).isEqualTo(hashes);
        }
    }

    @Test
    void keepsMetadataAndEmptyAndScalarTensors() {
        Random random = new Random(1);
        Tensor scalar = SafetensorsTestFiles.random(new TensorSpec("scalar", DType.F64), random);
        Tensor empty = SafetensorsTestFiles.random(new TensorSpec("empty", DType.F32, 0), random);
        Tensor emptyMatrix = SafetensorsTestFiles.random(new TensorSpec("empty.matrix", DType.I8, 4, 0), random);
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("note", "quotes \" and \\ and\nnewline, unicode é ✓ and \u0001");
        Path file = dir.resolve("small.safetensors");
        SafetensorsWriter.write(List.of(scalar, empty, emptyMatrix), metadata, file);
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            assertThat(ckpt.metadata()).isEqualTo(metadata);
            CheckpointTensor s = tensorOf(ckpt, "scalar");
            assertThat(s.spec().rank()).isZero();
            assertThat(s.byteSize()).isEqualTo(8);
            assertThat(bytes(s)).isEqualTo(scalar.toBytes());
            assertThat(tensorOf(ckpt, "empty").byteSize()).isZero();
            assertThat(tensorOf(ckpt, "empty").data().remaining()).isZero();
            assertThat(tensorOf(ckpt, "empty.matrix").spec().shape()).containsExactly(4, 0);
            assertThat(ckpt.dataOffset() % 8).isZero();
        }
    }

    @Test
    void fileWithoutMetadataHasEmptyMetadata() {
        Path file = dir.resolve("plain.safetensors");
        SafetensorsWriter.write(List.of(SafetensorsTestFiles.random(new TensorSpec("w", DType.F32, 2, 2), new Random(2))), null, file);
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            assertThat(ckpt.metadata()).isEmpty();
            assertThat(new String(ckpt.skeleton(), 8, ckpt.skeleton().length - 8, StandardCharsets.UTF_8)).doesNotContain("__metadata__");
        }
    }

    /**
     * A header no writer of ours would produce (pretty-printed, unordered, escaped names, unknown fields, tensors
     * listed out of data order) comes back byte for byte: the skeleton is the original header, not a re-serialization.
     */
    @Test
    void foreignHeaderIsRebuiltVerbatim() throws IOException {
        String json = "{\n  \"b\\u00e9ta\" : {\"shape\": [2], \"data_offsets\": [8, 16], \"dtype\": \"F32\", \"extra\": {\"x\": [1, {}]}},\n"
                + "  \"__metadata__\": {\"z\": \"1\", \"a\": \"2\"},\n"
                + "  \"alpha\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]},\n"
                + "  \"gamma\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [16, 17]}\n}\n\t ";
        byte[] data = new byte[17];
        new Random(3).nextBytes(data);
        Path original = SafetensorsTestFiles.raw(dir, "foreign.safetensors", json, data);
        Path rebuilt = dir.resolve("rebuilt.safetensors");
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(original)) {
            assertThat(ckpt.tensors()).extracting(CheckpointTensor::name).containsExactly("alpha", "béta", "gamma");
            assertThat(ckpt.metadata()).containsExactly(Map.entry("z", "1"), Map.entry("a", "2"));
            assertThat(ckpt.skeleton()).hasSize(8 + json.getBytes(StandardCharsets.UTF_8).length);
            Map<String, ByteBuffer> copies = new HashMap<>();
            for (CheckpointTensor t : ckpt.tensors()) {
                copies.put(t.name(), ByteBuffer.wrap(bytes(t))); // heap copies, not views of the file
            }
            SafetensorsWriter.write(ckpt.skeleton(), copies::get, rebuilt);
        }
        assertThat(Files.mismatch(original, rebuilt)).isEqualTo(-1L);
    }

    @Test
    void rebuildReplacesAnExistingFileAndLeavesNoTempFiles() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Files.writeString(file, "old contents");
        Tensor t = SafetensorsTestFiles.random(new TensorSpec("w", DType.F16, 3, 3), new Random(4));
        SafetensorsWriter.write(List.of(t), Map.of(), file);
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            assertThat(bytes(ckpt.tensors().get(0))).isEqualTo(t.toBytes());
        }
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void closeReleasesTheFile() {
        Path file = dir.resolve("closed.safetensors");
        SafetensorsWriter.write(List.of(SafetensorsTestFiles.random(new TensorSpec("w", DType.F32, 4), new Random(5))), null, file);
        SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file);
        CheckpointTensor t = ckpt.tensors().get(0);
        ckpt.close();
        assertThatThrownBy(() -> t.read(0, ByteBuffer.allocate(16))).isInstanceOf(UncheckedIOException.class);
        ckpt.close(); // idempotent
    }

    private static CheckpointTensor tensorOf(Checkpoint ckpt, String name) {
        return ckpt.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
    }
}
