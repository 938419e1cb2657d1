package io.weightstream.checkpoint.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.CheckpointWriter;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SyntheticCheckpointTest {
    @TempDir
    Path dir;

    @Test
    void writesTheRequestedSizeWithRealisticF32Weights() throws IOException {
        long size = 24L << 20;
        Path file = dir.resolve("synthetic.safetensors");
        SyntheticCheckpoint.write(file, size, DType.F32, 42);
        assertThat(Files.size(file)).isEqualTo(size);
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            assertThat(ckpt.fileBytes()).isEqualTo(size);
            assertThat(ckpt.metadata()).containsEntry("seed", "42").containsEntry("dtype", "F32").containsEntry("format", "pt");
            assertThat(ckpt.tensors()).anySatisfy(t -> assertThat(t.spec().rank()).isEqualTo(1));
            CheckpointTensor weight = ckpt.tensors().stream().filter(t -> t.name().equals("layers.0.attn.q_proj.weight")).findFirst().orElseThrow();
            assertThat(weight.spec().rank()).isEqualTo(2);
            assertThat(weight.spec().dim(0)).isEqualTo(weight.spec().dim(1)).isGreaterThanOrEqualTo(512);
            assertThat(ckpt.tensors().stream().mapToLong(CheckpointTensor::byteSize).max().orElseThrow()).isEqualTo(weight.byteSize());

            float[] w = weight.tensor().toFloats();
            double mean = 0;
            double sq = 0;
            for (float v : w) {
                mean += v;
                sq += (double) v * v;
            }
            mean /= w.length;
            double std = Math.sqrt(sq / w.length - mean * mean);
            assertThat(Math.abs(mean)).isLessThan(2e-4);
            assertThat(std).isBetween(0.0197, 0.0203);
            long beyond3Sigma = 0;
            for (float v : w) {
                beyond3Sigma += Math.abs(v) > 3 * 0.02 ? 1 : 0;
            }
            // a Gaussian has 0.27 % beyond 3 sigma; a uniform of this std has none
            assertThat(beyond3Sigma / (double) w.length).isBetween(0.001, 0.005);

            float[] norm = ckpt.tensors().stream().filter(t -> t.name().equals("layers.0.ln_1.weight")).findFirst().orElseThrow()
                    .tensor().toFloats();
            double normMean = 0;
            for (float v : norm) {
                normMean += v;
            }
            assertThat(normMean / norm.length).isBetween(0.99, 1.01);
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        Path a = dir.resolve("a.safetensors");
        Path b = dir.resolve("b.safetensors");
        Path c = dir.resolve("c.safetensors");
        SyntheticCheckpoint.write(a, 3 << 20, DType.BF16, 7);
        SyntheticCheckpoint.write(b, 3 << 20, DType.BF16, 7);
        SyntheticCheckpoint.write(c, 3 << 20, DType.BF16, 8);
        assertThat(Files.mismatch(a, b)).isEqualTo(-1L);
        assertThat(Files.mismatch(a, c)).isNotEqualTo(-1L);
    }

    /** Generated files of every dtype hit the size (rounded down to whole elements) and rebuild bit-exactly. */
    @ParameterizedTest
    @EnumSource(DType.class)
    void everyDTypeHitsTheSizeAndRoundTrips(DType dtype) throws IOException {
        long requested = 1_000_003;
        long expected = requested - requested % dtype.size();
        Path file = dir.resolve("synthetic.safetensors");
        SyntheticCheckpoint.write(file, requested, dtype, dtype.ordinal());
        assertThat(Files.size(file)).isEqualTo(expected);
        Path rebuilt = dir.resolve("rebuilt.safetensors");
        Map<String, String> hashes;
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            assertThat(ckpt.tensors()).allSatisfy(t -> assertThat(t.spec().dtype()).isEqualTo(dtype));
            hashes = ckpt.tensors().stream().collect(Collectors.toMap(CheckpointTensor::name, SafetensorsTestFiles::sha256));
            Map<String, CheckpointTensor> byName = new HashMap<>();
            ckpt.tensors().forEach(t -> byName.put(t.name(), t));
            CheckpointWriter.write(CheckpointFormat.SAFETENSORS, ckpt.skeleton(), n -> byName.get(n).data(), rebuilt);
            if (dtype == DType.BOOL) {
                ByteBuffer bytes = ckpt.tensors().get(0).data();
                while (bytes.hasRemaining()) {
                    assertThat(bytes.get()).isBetween((byte) 0, (byte) 1);
                }
            }
            if (dtype == DType.F16) {
                ByteBuffer bytes = ckpt.tensors().get(0).data().order(ByteOrder.LITTLE_ENDIAN);
                float first = FloatConversions.f16ToFloat(bytes.getShort(0));
                assertThat(Math.abs(first)).isLessThan(0.2f);
            }
        }
        assertThat(Files.mismatch(file, rebuilt)).isEqualTo(-1L);
        try (SafetensorsCheckpoint again = SafetensorsCheckpoint.open(rebuilt)) {
            assertThat(again.tensors().stream().collect(Collectors.toMap(CheckpointTensor::name, SafetensorsTestFiles::sha256)))
                    .isEqualTo(hashes);
        }
    }

    @Test
    void smallSizesAreExactToo() throws IOException {
        Path file = dir.resolve("small.safetensors");
        for (long size = 400; size < 2400; size += 8) {
            SyntheticCheckpoint.write(file, size, DType.F32, size);
            assertThat(Files.size(file)).isEqualTo(size);
            try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
                assertThat(ckpt.tensors()).isNotEmpty();
            }
        }
    }

    @Test
    void tooSmallForAHeader() {
        assertThatThrownBy(() -> SyntheticCheckpoint.write(dir.resolve("x.safetensors"), 64, DType.F32, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too small");
    }
}
