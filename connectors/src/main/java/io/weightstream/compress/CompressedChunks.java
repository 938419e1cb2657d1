package io.weightstream.compress;

import io.weightstream.policy.CompressedTensor;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.TensorEntry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Cuts an encoded tensor into {@link CompressedLayerChunk} records and joins them back, checking every chunk.
 * The same records go to Kafka ({@code weightstream.compressed}) and into {@code .wsz} containers.
 *
 * <pre>{@code
 * List<CompressedLayerChunk> records = CompressedChunks.split("minilm", "v1", entry, compressed, 1 << 20);
 * byte[] payload = CompressedChunks.join(records, 1L << 31);
 * }</pre>
 */
public final class CompressedChunks {
    /** Default payload bytes of one record. */
    public static final int DEFAULT_CHUNK_BYTES = 1 << 20;

    private CompressedChunks() {
    }

    /** The records of one compressed tensor, in chunk order; an empty payload still gives one record. */
    public static List<CompressedLayerChunk> split(String model, String version, TensorEntry entry, CompressedTensor c,
                                                   int chunkBytes) {
        if (chunkBytes <= 0) {
            throw new IllegalArgumentException("chunkBytes must be positive, was " + chunkBytes);
        }
        byte[] payload = c.payload();
        int count = Math.max(1, (payload.length + chunkBytes - 1) / chunkBytes);
        List<CompressedLayerChunk> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int off = i * chunkBytes;
            int len = Math.min(chunkBytes, payload.length - off);
            CRC32C crc = new CRC32C();
            crc.update(payload, off, len);
            out.add(CompressedLayerChunk.newBuilder()
                    .setModel(model).setVersion(version).setTensor(entry.getName()).setAlias(entry.getAlias())
                    .setMethod(c.method()).setParams(new java.util.LinkedHashMap<>(c.params()))
                    .setCodecFormatVersion(c.formatVersion())
                    .setDtype(entry.getDtype()).setShape(entry.getShape())
                    .setOriginalBytes(c.originalBytes()).setEncodedBytes(payload.length)
                    .setChunkIndex(i).setChunkCount(count).setOffset(off)
                    .setCrc32c((int) crc.getValue())
                    .setData(ByteBuffer.wrap(payload, off, len).slice())
                    .setSourceSha256(entry.getSha256())
                    .setReconstructionSha256(c.reconstructionSha256())
                    .setMetrics(c.toLayerMetrics())
                    .setPart(entry.getPart())
                    .build());
        }
        return out;
    }

    /**
     * The payload of one tensor from its records (any order; exact duplicates ignored), every chunk checked:
     * same tensor, method and declared sizes, index in range, offsets contiguous, CRC-32C.
     *
     * @param maxPayloadBytes the largest payload accepted, checked before allocating
     * @throws CompressedModelException naming the tensor and chunk
     */
    public static byte[] join(List<CompressedLayerChunk> chunks, long maxPayloadBytes) {
        if (chunks.isEmpty()) {
            throw new CompressedModelException("no chunks to join");
        }
        CompressedLayerChunk first = chunks.get(0);
        String where = first.getModel() + "/" + first.getVersion() + " tensor " + first.getTensor();
        long size = first.getEncodedBytes();
        int count = first.getChunkCount();
        if (size < 0 || size > maxPayloadBytes || size > Integer.MAX_VALUE - 8) {
            throw new CompressedModelException(where + ": declared payload of " + size + " bytes exceeds the limit of "
                    + Math.min(maxPayloadBytes, Integer.MAX_VALUE - 8));
        }
        if (count <= 0 || count > Math.max(1, size)) {
            throw new CompressedModelException(where + ": declared chunk count " + count + " is impossible for "
                    + size + " payload bytes");
        }
        CompressedLayerChunk[] byIndex = new CompressedLayerChunk[count];
        for (CompressedLayerChunk c : chunks) {
            int i = c.getChunkIndex();
            if (!c.getTensor().equals(first.getTensor()) || !c.getVersion().equals(first.getVersion())
                    || !c.getModel().equals(first.getModel())) {
                throw new CompressedModelException(where + ": chunk " + i + " belongs to " + c.getModel() + "/"
                        + c.getVersion() + " tensor " + c.getTensor());
            }
            if (c.getChunkCount() != count || c.getEncodedBytes() != size || !c.getMethod().equals(first.getMethod())
                    || !c.getReconstructionSha256().equals(first.getReconstructionSha256())) {
                throw new CompressedModelException(where + ": chunk " + i + " disagrees with chunk "
                        + first.getChunkIndex() + " on chunk count, payload size, method or reconstruction hash");
            }
            if (i < 0 || i >= count) {
                throw new CompressedModelException(where + ": chunk index " + i + " outside [0, " + count + ")");
            }
            byIndex[i] = c; // an exact duplicate replaces its twin; the CRC below checks what is kept
        }
        byte[] payload = new byte[(int) size];
        long expectedOffset = 0;
        for (int i = 0; i < count; i++) {
            CompressedLayerChunk c = byIndex[i];
            if (c == null) {
                throw new CompressedModelException(where + ": chunk " + i + " of " + count + " is missing");
            }
            ByteBuffer d = c.getData().duplicate();
            if (c.getOffset() != expectedOffset || c.getOffset() + d.remaining() > size) {
                throw new CompressedModelException(where + ": chunk " + i + " at offset " + c.getOffset() + " with "
                        + d.remaining() + " bytes does not continue the payload at " + expectedOffset + " of " + size);
            }
            CRC32C crc = new CRC32C();
            crc.update(d.duplicate());
            if ((int) crc.getValue() != c.getCrc32c()) {
                throw new CompressedModelException(where + ": chunk " + i + " fails its CRC-32C (corrupted in transit or storage)");
            }
            d.get(payload, (int) c.getOffset(), d.remaining());
            expectedOffset += c.getData().remaining();
        }
        if (expectedOffset != size) {
            throw new CompressedModelException(where + ": chunks hold " + expectedOffset + " bytes, the payload is " + size);
        }
        return payload;
    }
}
