package io.weightstream.checkpoint.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.CheckpointWriter;
import io.weightstream.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reader and writer on the real all-MiniLM-L6-v2 files staged by the build. */
class OnnxRealModelTest {
    /** A node name of the PyTorch exporter: a path of module names ending in an op, e.g. /encoder/layer.0/.../MatMul. */
    private static final Pattern NODE_PATH = Pattern.compile("(/[\\w.]+)+/\\w+(#\\d+)?");

    @TempDir
    Path tmp;

    @Test
    void realModelRoundTripsBitExactly() throws IOException {
        Path original = OnnxTestModels.realModel();
        Path rebuilt = tmp.resolve("rebuilt.onnx");
        Map<String, String> digests = new LinkedHashMap<>();
        byte[] skeleton;
        long t0 = System.nanoTime();
        try (Checkpoint ckpt = Checkpoint.open(original)) {
            long t1 = System.nanoTime();
            assertThat(ckpt).isInstanceOf(OnnxCheckpoint.class);
            assertThat(ckpt.format()).isEqualTo(CheckpointFormat.ONNX);
            assertThat(ckpt.fileBytes()).isEqualTo(Files.size(original));
            skeleton = ckpt.skeleton();
            Map<String, CheckpointTensor> byName = new HashMap<>();
            for (CheckpointTensor t : ckpt.tensors()) {
                byName.put(t.name(), t);
                digests.put(t.name(), OnnxTestModels.sha256(t));
            }
            long t2 = System.nanoTime();
            CheckpointWriter.write(CheckpointFormat.ONNX, skeleton, name -> byName.get(name).data(), rebuilt);
            long t3 = System.nanoTime();
            System.out.printf("real model: %d bytes, skeleton %d bytes; open %.0f ms, rebuild %.0f ms%n",
                    Files.size(original), skeleton.length, (t1 - t0) / 1e6, (t3 - t2) / 1e6);
        }
        // the skeleton is the graph, not the weights
        assertThat(skeleton.length).isLessThan((int) (Files.size(original) / 100));
        assertThat(Files.mismatch(original, rebuilt)).as("first differing byte").isEqualTo(-1L);
        try (Checkpoint again = Checkpoint.open(rebuilt)) {
            Map<String, String> after = new LinkedHashMap<>();
            for (CheckpointTensor t : again.tensors()) {
                after.put(t.name(), OnnxTestModels.sha256(t));
            }
            assertThat(after).containsExactlyEntriesOf(digests);
        }
    }

    @Test
    void realModelHasTheTensorsOfMiniLm() {
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(OnnxTestModels.realModel())) {
            long floatParams = 0;
            int initializers = 0;
            for (CheckpointTensor t : ckpt.tensors()) {
                if (t.spec().dtype() == DType.F32) {
                    floatParams += t.spec().numel();
                }
                if (!t.name().startsWith("/")) {
                    initializers++;
                }
            }
            System.out.printf("real model: %d tensors (%d initializers, %d Constant values), %d float parameters%n",
                    ckpt.tensors().size(), initializers, ckpt.tensors().size() - initializers, floatParams);
            // 22.7M in PyTorch; the export drops the unused pooler (384 x 384 + 384 = 147,840)
            assertThat(floatParams).isBetween(22_500_000L, 22_700_000L);
            // 6 layers x 16 weights + embeddings (3 tables, LayerNorm, position ids)
            assertThat(initializers).isEqualTo(6 * 16 + 6);
            CheckpointTensor words = ckpt.tensors().stream().filter(t -> t.name().equals("embeddings.word_embeddings.weight"))
                    .findFirst().orElseThrow();
            assertThat(words.spec().shape()).containsExactly(30522, 384);
            assertThat(words.alias()).isEqualTo("/embeddings/word_embeddings/Gather");
            // every raw tensor is served from the file at its raw_data offset
            for (int i = 0; i < ckpt.tensors().size(); i++) {
                assertThat(ckpt.storage(i)).isEqualTo(OnnxScanner.Storage.RAW);
                assertThat(ckpt.dataOffset(i)).isBetween(0L, ckpt.fileBytes() - ckpt.tensors().get(i).byteSize());
            }
        }
    }

    @Test
    void generatedNamesGetTheirConsumingNodeAsAlias() {
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(OnnxTestModels.realModel())) {
            List<CheckpointTensor> generated = new ArrayList<>();
            for (CheckpointTensor t : ckpt.tensors()) {
                if (t.name().startsWith("onnx::")) {
                    generated.add(t);
                }
            }
            assertThat(generated).hasSize(36); // 6 layers x (q, k, v, attention out, intermediate, out)
            generated.stream().limit(6).forEach(t -> System.out.println("alias: " + t.name() + " -> " + t.alias()));
            for (CheckpointTensor t : generated) {
                assertThat(t.alias()).as(t.name()).isNotNull().matches(NODE_PATH).endsWith("/MatMul");
            }
            CheckpointTensor intermediate = generated.stream().filter(t -> t.alias().equals("/encoder/layer.0/intermediate/dense/MatMul"))
                    .findFirst().orElseThrow();
            assertThat(intermediate.spec().shape()).containsExactly(384, 1536);
            // every tensor of this graph is read by some node
            assertThat(ckpt.tensors()).allSatisfy(t -> assertThat(t.alias()).as(t.name()).isNotNull());
        }
    }

    @Test
    void quantizedModelOpensWithItsEightBitTensorsAndRoundTrips() throws IOException {
        Path original = OnnxTestModels.realQuantizedModel();
        Path rebuilt = tmp.resolve("q.onnx");
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(original)) {
            Map<DType, Long> elements = new HashMap<>();
            Map<String, CheckpointTensor> byName = new HashMap<>();
            for (CheckpointTensor t : ckpt.tensors()) {
                elements.merge(t.spec().dtype(), t.spec().numel(), Long::sum);
                byName.put(t.name(), t);
            }
            System.out.println("quantized model elements by dtype: " + elements);
            assertThat(elements.get(DType.I8)).isGreaterThan(10_000_000L);
            assertThat(elements.get(DType.U8)).isGreaterThan(11_000_000L);
            CheckpointTensor q = byName.get("onnx::MatMul_798_quantized");
            assertThat(q.spec().dtype()).isEqualTo(DType.I8);
            assertThat(q.spec().shape()).containsExactly(384, 1536);
            Function<String, ByteBuffer> data = name -> byName.get(name).data();
            OnnxWriter.write(ckpt.skeleton(), data, rebuilt);
        }
        assertThat(Files.mismatch(original, rebuilt)).isEqualTo(-1L);
    }
}
