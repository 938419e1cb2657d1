package io.weightstream.checkpoint.onnx;

import static io.weightstream.checkpoint.onnx.OnnxTestModels.model;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.rawFloats;
import static io.weightstream.checkpoint.onnx.OnnxTestModels.typedFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.GraphProto;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The writer's checks: sizes, corrupt skeletons, atomic replacement. */
class OnnxWriterTest {
    @TempDir
    Path tmp;

    private Path model;
    private byte[] skeleton;
    private final Map<String, ByteBuffer> tensors = new HashMap<>();

    @BeforeEach
    void openModel() throws IOException {
        model = OnnxTestModels.write(tmp.resolve("model.onnx"), model(GraphProto.newBuilder().setName("g")
                .addInitializer(rawFloats("raw", new float[] {1f, 2f, 3f}, 3))
                .addInitializer(typedFloats("typed", new float[] {4f, 5f}, 2))
                .build()));
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(model)) {
            skeleton = ckpt.skeleton();
            for (CheckpointTensor t : ckpt.tensors()) {
                tensors.put(t.name(), ByteBuffer.wrap(OnnxTestModels.bytes(t)));
            }
        }
    }

    private List<Path> filesIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void tensorsOfTheWrongSizeAreRefusedBeforeAnythingIsWritten() throws IOException {
        Path out = tmp.resolve("out.onnx");
        tensors.put("raw", ByteBuffer.allocate(8));
        assertThatThrownBy(() -> OnnxWriter.write(skeleton, tensors::get, out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'raw'").hasMessageContaining("8 bytes given").hasMessageContaining("needs 12");
        tensors.put("raw", ByteBuffer.allocate(12));
        tensors.put("typed", ByteBuffer.allocate(12));
        assertThatThrownBy(() -> OnnxWriter.write(skeleton, tensors::get, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor 'typed'");
        tensors.remove("typed");
        assertThatThrownBy(() -> OnnxWriter.write(skeleton, tensors::get, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no bytes for tensor 'typed'");
        assertThat(filesIn(tmp)).containsExactly(model);
    }

    @Test
    void buffersAreReadBetweenPositionAndLimitAndNotConsumed() throws IOException {
        ByteBuffer padded = ByteBuffer.allocate(20);
        padded.position(4).put(tensors.get("raw").duplicate()).position(4).limit(16);
        tensors.put("raw", padded);
        Path out = tmp.resolve("out.onnx");
        OnnxWriter.write(skeleton, tensors::get, out);
        assertThat(Files.mismatch(model, out)).isEqualTo(-1L);
        assertThat(padded.position()).isEqualTo(4);
        assertThat(padded.limit()).isEqualTo(16);
    }

    @Test
    void anExistingFileIsReplacedWholeAndNoTemporaryFileRemains() throws IOException {
        Path out = Files.writeString(tmp.resolve("out.onnx"), "an older model, much longer than the new one ".repeat(100));
        OnnxWriter.write(skeleton, tensors::get, out);
        assertThat(Files.mismatch(model, out)).isEqualTo(-1L);
        assertThat(filesIn(tmp)).containsExactly(model, out);
    }

    @Test
    void corruptSkeletonsAreRefusedWithTheirOffset() {
        Path out = tmp.resolve("out.onnx");
        // every truncation of a valid skeleton
        for (int cut = 0; cut < skeleton.length; cut++) {
            byte[] truncated = Arrays.copyOf(skeleton, cut);
            int at = cut;
            assertThatThrownBy(() -> OnnxWriter.write(truncated, tensors::get, out)).as("cut at " + at)
                    .isInstanceOfSatisfying(CheckpointFormatException.class, e -> {
                        assertThat(e.offset()).isBetween(0L, (long) at);
                        assertThat(e.getMessage()).contains("ONNX skeleton");
                    });
        }
        byte[] version = skeleton.clone();
        version[4] = 9;
        assertThatThrownBy(() -> OnnxWriter.write(version, tensors::get, out))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("format version 9");
        byte[] safetensors = {16, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
        assertThatThrownBy(() -> OnnxWriter.write(safetensors, tensors::get, out))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("no WSOX magic");
        byte[] trailing = Arrays.copyOf(skeleton, skeleton.length + 1);
        assertThatThrownBy(() -> OnnxWriter.write(trailing, tensors::get, out))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("after the last segment");
        assertThat(out).doesNotExist();
    }

    @Test
    void mutatedSkeletonsWriteOrFailCleanly() {
        Random random = new Random(7);
        Path out = tmp.resolve("fuzzed.onnx");
        int written = 0;
        for (int i = 0; i < 600; i++) {
            byte[] mutated = skeleton.clone();
            mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
            try {
                OnnxWriter.write(mutated, name -> tensors.getOrDefault(name, ByteBuffer.allocate(0)), out);
                written++;
            } catch (CheckpointFormatException | IllegalArgumentException | java.io.UncheckedIOException expected) {
                // a corrupt skeleton, one whose tensors changed name or size, or (a storage byte turned
                // "external") an external file the file system refuses
            } catch (RuntimeException e) {
                throw new AssertionError("mutation " + i + ": " + e, e);
            }
        }
        assertThat(written).isPositive();
    }

    @Test
    void externalLocationsOutsideTheTargetDirectoryAreRefused() {
        TensorSpec spec = new TensorSpec("w", DType.F32, 1);
        for (String location : List.of("../escape.bin", "/tmp/absolute.bin", "model.onnx", ".")) {
            byte[] crafted = OnnxSkeleton.encode(
                    List.of(new OnnxSkeleton.Entry(spec, OnnxScanner.Storage.EXTERNAL, null, location, 0)),
                    List.of(), ByteBuffer.allocate(0));
            assertThatThrownBy(() -> OnnxWriter.write(crafted, name -> ByteBuffer.allocate(4), tmp.resolve("sub/model.onnx")))
                    .as(location).isInstanceOf(CheckpointFormatException.class).hasMessageContaining("not a file inside");
        }
        assertThat(tmp.getParent().resolve("escape.bin")).doesNotExist();
    }

    @Test
    void skeletonsThatPlaceATensorTwiceAreRefused() {
        TensorSpec spec = new TensorSpec("w", DType.F32, 1);
        byte[] twice = OnnxSkeleton.encode(List.of(new OnnxSkeleton.Entry(spec, OnnxScanner.Storage.RAW, null, null, 0)),
                List.of(new OnnxSkeleton.Raw(0), new OnnxSkeleton.Raw(0)), ByteBuffer.allocate(0));
        assertThatThrownBy(() -> OnnxWriter.write(twice, name -> ByteBuffer.allocate(4), tmp.resolve("x.onnx")))
                .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("placed 2 times");
    }
}
