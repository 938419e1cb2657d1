package io.weightstream.job;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.DType;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.ProducerSignature;
import io.weightstream.schemas.SourceFormat;
import io.weightstream.schemas.TensorEntry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;

/** Synthetic checkpoints cut the way {@code CheckpointPublisher} cuts them: manifest entries, chunks, CRCs, hashes. */
final class Fixtures {
    private Fixtures() {
    }

    /** A float32 tensor of normally distributed values (like trained weights), little-endian bytes. */
    record RawTensor(String name, long[] shape, byte[] data) {
        long bytes() {
            return data.length;
        }
    }

    /** A checkpoint as the publisher would put it on Kafka. */
    record Published(CheckpointManifest manifest, Map<String, List<LayerChunk>> chunks, Map<String, byte[]> data) {
        List<LayerChunk> chunks(String tensor) {
            return chunks.get(tensor);
        }

        TensorEntry entry(String tensor) {
            return manifest.getTensors().stream().filter(e -> e.getName().equals(tensor)).findFirst().orElseThrow();
        }

        ExpectedTensor expected(String tensor) {
            return ExpectedTensor.of(manifest, entry(tensor));
        }

        /** Every record in publisher order: all chunks, tensor by tensor, then the manifest (written last). */
        List<JobInput> inputs() {
            List<JobInput> out = new ArrayList<>();
            long offset = 0;
            for (List<LayerChunk> cs : chunks.values()) {
                for (LayerChunk c : cs) {
                    out.add(JobInput.chunk(c, "weightstream.layers", 0, offset++));
                }
            }
            out.add(JobInput.manifest(manifest, "weightstream.checkpoints", 0, 0));
            return out;
        }
    }

    static RawTensor floats(String name, long seed, long... shape) {
        int n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, (int) d);
        }
        Random r = new Random(seed);
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat((float) (r.nextGaussian() * 0.05));
        }
        return new RawTensor(name, shape, b.array());
    }

    static CompressionPolicy policy(String method, Map<String, String> params) {
        return CompressionPolicy.newBuilder().setDefaultMethod(method).setDefaultParams(params).build();
    }

    static Published publish(String model, String version, CompressionPolicy policy, int chunkBytes, RawTensor... tensors) {
        List<TensorEntry> entries = new ArrayList<>();
        Map<String, List<LayerChunk>> chunks = new LinkedHashMap<>();
        Map<String, byte[]> data = new LinkedHashMap<>();
        for (RawTensor t : tensors) {
            int count = (int) Math.max(1, (t.bytes() + chunkBytes - 1) / chunkBytes);
            List<LayerChunk> cs = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int from = i * chunkBytes;
                int to = (int) Math.min(t.bytes(), from + (long) chunkBytes);
                cs.add(chunk(model, version, t.name(), i, count, from, t.bytes(), Arrays.copyOfRange(t.data(), from, to)));
            }
            chunks.put(t.name(), cs);
            data.put(t.name(), t.data());
            entries.add(TensorEntry.newBuilder()
                    .setName(t.name())
                    .setDtype(DType.F32)
                    .setShape(Arrays.stream(t.shape()).boxed().toList())
                    .setByteSize(t.bytes())
                    .setSha256(sha256(t.data()))
                    .setChunkCount(count)
                    .build());
        }
        CheckpointManifest m = CheckpointManifest.newBuilder()
                .setModel(model).setVersion(version)
                .setSourceFormat(SourceFormat.SAFETENSORS)
                .setSourceFileName(model + ".safetensors")
                .setSourceFileBytes(data.values().stream().mapToLong(b -> b.length).sum() + 128)
                .setPublishedAtMs(1_000)
                .setChunkBytes(chunkBytes)
                .setTensors(entries)
                .setPolicy(policy)
                .setSkeleton(ByteBuffer.wrap(new byte[] {1, 2, 3}))
                .setProducer(ProducerSignature.newBuilder().setProducerId("test").setHost("localhost").setTool("test").build())
                .build();
        return new Published(m, chunks, data);
    }

    static LayerChunk chunk(String model, String version, String tensor, int index, int count, long offset,
                            long tensorBytes, byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        return LayerChunk.newBuilder()
                .setModel(model).setVersion(version).setTensor(tensor)
                .setChunkIndex(index).setChunkCount(count).setOffset(offset).setTensorBytes(tensorBytes)
                .setCrc32c((int) crc.getValue())
                .setData(ByteBuffer.wrap(data))
                .build();
    }

    /** The same chunk with one data byte flipped and the old CRC. */
    static LayerChunk corrupted(LayerChunk c) {
        ByteBuffer d = c.getData().duplicate();
        byte[] bytes = new byte[d.remaining()];
        d.get(bytes);
        bytes[bytes.length / 2] ^= 0x40;
        LayerChunk out = LayerChunk.newBuilder(c).build();
        out.setData(ByteBuffer.wrap(bytes));
        return out;
    }

    static AssemblerInput in(LayerChunk c) {
        return AssemblerInput.chunk(c, "weightstream.layers", 1, 100 + c.getChunkIndex());
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }
}
