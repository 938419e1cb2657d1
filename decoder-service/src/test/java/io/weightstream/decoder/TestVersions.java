package io.weightstream.decoder;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.safetensors.SyntheticCheckpoint;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.policy.Policies;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Real compressed versions (the records the job emits), made offline from generated checkpoints. */
final class TestVersions {
    private TestVersions() {
    }

    /** A lossless version of a generated safetensors checkpoint of {@code bytes}, cut into 16 KiB chunks. */
    static OfflineCompressor.Result synthetic(Path dir, String model, String version, long bytes, long seed) {
        Path f = dir.resolve(model + "-" + version + ".safetensors");
        SyntheticCheckpoint.write(f, bytes, DType.F32, seed);
        try (Checkpoint ckpt = Checkpoint.open(f)) {
            return new OfflineCompressor(1, 1L << 30, 16 << 10).compress(ckpt, model, version,
                    Policies.of("lossless", Map.of()), row -> { });
        }
    }

    static Map<String, List<CompressedLayerChunk>> byTensor(List<CompressedLayerChunk> chunks) {
        Map<String, List<CompressedLayerChunk>> m = new LinkedHashMap<>();
        for (CompressedLayerChunk c : chunks) {
            m.computeIfAbsent(c.getTensor(), k -> new ArrayList<>()).add(c);
        }
        return m;
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
