package io.weightstream.compress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.safetensors.SyntheticCheckpoint;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.policy.Policies;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.tensor.DType;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** compress -> container -> decompress on generated checkpoints, and every way a compressed model can be broken. */
class OfflineCompressorTest {
    @TempDir
    Path dir;

    Path synthetic(long bytes, DType dtype) {
        Path f = dir.resolve("m-" + dtype + ".safetensors");
        SyntheticCheckpoint.write(f, bytes, dtype, 5);
        return f;
    }

    OfflineCompressor.Result compress(Path f, String method, Map<String, String> params, long maxTensorBytes) {
        try (Checkpoint ckpt = Checkpoint.open(f)) {
            return new OfflineCompressor(2, maxTensorBytes, 16 << 10).compress(ckpt, "m", "v1", Policies.of(method, params), r -> { });
        }
    }

    @Test
    void losslessIsBitExactForEveryFloatDtype() throws Exception {
        for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16)) {
            Path f = synthetic(3 << 20, dtype);
            OfflineCompressor.Result r = compress(f, "lossless", Map.of(), 1L << 30);
            assertThat(r.relL2()).isZero();
            Path wsz = dir.resolve("m.wsz");
            WszContainer.write(wsz, r.version(), r.chunks());
            WszContainer.Contents c = WszContainer.read(wsz);
            Path out = dir.resolve("out-" + dtype + ".safetensors");
            new ModelMaterializer(2, DecodeLimits.DEFAULT).materialize(c.version(), c.chunksByTensor(), out);
            assertThat(Files.mismatch(out, f)).as(dtype.toString()).isEqualTo(-1L);
            assertThat(c.version().getRatio()).as(dtype.toString()).isGreaterThan(1.0);
        }
    }

    @Test
    void rowBlockPartsAreCompressedApartAndJoinedBack() throws Exception {
        Path f = synthetic(4 << 20, DType.F32);
        OfflineCompressor.Result r = compress(f, "lossless", Map.of(), 64 << 10);
        assertThat(r.version().getManifest().getTensors()).anySatisfy(e -> assertThat(e.getPart()).isNotNull());
        assertThat(r.version().getManifest().getTensors()).allSatisfy(e -> {
            if (e.getPart() != null) {
                assertThat(e.getPart().getParentSha256()).hasSize(64);
            }
        });
        Path out = dir.resolve("parts.safetensors");
        new ModelMaterializer(2, DecodeLimits.DEFAULT).materialize(r.version(), byTensor(r.chunks()), out);
        assertThat(Files.mismatch(out, f)).isEqualTo(-1L);
    }

    @Test
    void lossyDecodingReproducesTheEncodersHash() {
        Path f = synthetic(2 << 20, DType.F32);
        OfflineCompressor.Result r = compress(f, "rtn", Map.of("bits", "8"), 1L << 30);
        assertThat(r.relL2()).isBetween(1e-4, 0.05);
        Map<String, ByteBuffer> decoded = new ModelMaterializer(1, DecodeLimits.DEFAULT).decode(r.version(), byTensor(r.chunks()));
        assertThat(decoded).hasSize(r.version().getManifest().getTensors().size());
        assertThat(r.version().getRatio()).isGreaterThan(3.0);
    }

    @Test
    void aFlippedPayloadByteFailsItsCrcNamingTensorAndChunk() {
        OfflineCompressor.Result r = compress(synthetic(1 << 20, DType.F32), "lossless", Map.of(), 1L << 30);
        List<CompressedLayerChunk> chunks = new ArrayList<>(r.chunks());
        CompressedLayerChunk victim = CompressedLayerChunk.newBuilder(chunks.get(3)).build();
        ByteBuffer d = victim.getData();
        byte[] copy = new byte[d.remaining()];
        d.duplicate().get(copy);
        copy[copy.length / 2] ^= 0x10;
        victim.setData(ByteBuffer.wrap(copy));
        chunks.set(3, victim);
        assertThatThrownBy(() -> new ModelMaterializer(1, DecodeLimits.DEFAULT).decode(r.version(), byTensor(chunks)))
                .isInstanceOf(CompressedModelException.class)
                .hasMessageContaining(victim.getTensor())
                .hasMessageContaining("CRC-32C");
    }

    @Test
    void aPayloadThatDecodesDifferentlyThanTheEncoderSaidIsRejected() {
        OfflineCompressor.Result r = compress(synthetic(1 << 20, DType.F32), "lossless", Map.of(), 1L << 30);
        List<CompressedLayerChunk> chunks = new ArrayList<>(r.chunks());
        CompressedLayerChunk first = chunks.get(0);
        // a record whose claimed reconstruction hash is wrong (all its chunks, so they agree with each other)
        for (int i = 0; i < chunks.size(); i++) {
            if (chunks.get(i).getTensor().equals(first.getTensor())) {
                CompressedLayerChunk c = CompressedLayerChunk.newBuilder(chunks.get(i)).setReconstructionSha256("0".repeat(64)).build();
                chunks.set(i, c);
            }
        }
        assertThatThrownBy(() -> new ModelMaterializer(1, DecodeLimits.DEFAULT).decode(r.version(), byTensor(chunks)))
                .isInstanceOf(CompressedModelException.class)
                .hasMessageContaining(first.getTensor())
                .hasMessageContaining("SHA-256");
    }

    @Test
    void aMissingChunkOrTensorIsNamed() {
        OfflineCompressor.Result r = compress(synthetic(1 << 20, DType.F32), "lossless", Map.of(), 1L << 30);
        Map<String, List<CompressedLayerChunk>> by = byTensor(r.chunks());
        String someTensor = by.keySet().iterator().next();
        by.remove(someTensor);
        assertThatThrownBy(() -> new ModelMaterializer(1, DecodeLimits.DEFAULT).decode(r.version(), by))
                .isInstanceOf(CompressedModelException.class).hasMessageContaining(someTensor);
        Map<String, List<CompressedLayerChunk>> multi = byTensor(r.chunks());
        String big = multi.entrySet().stream().filter(e -> e.getValue().size() > 1).findFirst().orElseThrow().getKey();
        multi.get(big).remove(1);
        assertThatThrownBy(() -> new ModelMaterializer(1, DecodeLimits.DEFAULT).decode(r.version(), multi))
                .isInstanceOf(CompressedModelException.class).hasMessageContaining(big).hasMessageContaining("missing");
    }

    @Test
    void aLyingPayloadSizeIsRefusedBeforeAllocating() {
        OfflineCompressor.Result r = compress(synthetic(1 << 20, DType.F32), "lossless", Map.of(), 1L << 30);
        CompressedLayerChunk c = CompressedLayerChunk.newBuilder(r.chunks().get(0)).setEncodedBytes(Long.MAX_VALUE / 2).build();
        assertThatThrownBy(() -> CompressedChunks.join(List.of(c), 1L << 30))
                .isInstanceOf(CompressedModelException.class).hasMessageContaining("exceeds the limit");
    }

    @Test
    void truncatedOrForeignContainersAreClearErrors() throws Exception {
        OfflineCompressor.Result r = compress(synthetic(1 << 20, DType.F32), "lossless", Map.of(), 1L << 30);
        Path wsz = dir.resolve("t.wsz");
        WszContainer.write(wsz, r.version(), r.chunks());
        try (RandomAccessFile raf = new RandomAccessFile(wsz.toFile(), "rw")) {
            raf.setLength(raf.length() / 2);
        }
        assertThatThrownBy(() -> WszContainer.read(wsz)).isInstanceOf(CompressedModelException.class).hasMessageContaining("t.wsz");
        Path foreign = dir.resolve("f.wsz");
        Files.write(foreign, "not a container".getBytes());
        assertThatThrownBy(() -> WszContainer.read(foreign)).isInstanceOf(CompressedModelException.class).hasMessageContaining("f.wsz");
    }

    static Map<String, List<CompressedLayerChunk>> byTensor(List<CompressedLayerChunk> chunks) {
        Map<String, List<CompressedLayerChunk>> m = new LinkedHashMap<>();
        for (CompressedLayerChunk c : chunks) {
            m.computeIfAbsent(c.getTensor(), k -> new ArrayList<>()).add(c);
        }
        return m;
    }

}
