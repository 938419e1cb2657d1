package io.weightstream.compress;

import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointWriter;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.policy.TensorCompressor;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Turns a compressed model version into a model file: joins each tensor's chunks, decodes the payloads in parallel
 * (pure Java), checks every tensor's dtype and shape against the manifest and the SHA-256 of its decoding against
 * the encoder's own reconstruction hash, joins row-block parts, and rebuilds the file from the manifest's skeleton
 * (written atomically: temp file, fsync, rename). Any failed check throws {@link CompressedModelException} and no
 * file is written. Used by {@code weightstream decompress} and by the decoder service.
 *
 * <pre>{@code
 * Materialized m = new ModelMaterializer(4, DecodeLimits.DEFAULT).materialize(version, chunksByTensor, out);
 * }</pre>
 */
public final class ModelMaterializer {
    private final int threads;
    private final DecodeLimits limits;

    /** @param threads decoding threads (>= 1) */
    public ModelMaterializer(int threads, DecodeLimits limits) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, was " + threads);
        }
        this.threads = threads;
        this.limits = limits;
    }

    /**
     * What materializing did.
     *
     * @param tensors        tensors decoded (parts counted one by one)
     * @param decodedBytes   bytes of the decoded tensors
     * @param encodedBytes   bytes of the payloads
     * @param decodeSeconds  wall time of join + decode + verify
     * @param writeSeconds   wall time of writing the file
     */
    public record Materialized(Path file, int tensors, long decodedBytes, long encodedBytes, double decodeSeconds,
                               double writeSeconds) {
        public double decodeMegabytesPerSecond() {
            return decodeSeconds > 0 ? decodedBytes / 1e6 / decodeSeconds : 0;
        }
    }

    /** Decodes and verifies every tensor of {@code version}; returns whole tensors (parts joined) by name. */
    public Map<String, ByteBuffer> decode(ModelVersionCompressed version, Map<String, List<CompressedLayerChunk>> chunksByTensor) {
        CheckpointManifest manifest = version.getManifest();
        String where = version.getModel() + "/" + version.getVersion();
        List<TensorEntry> entries = manifest.getTensors();
        for (TensorEntry e : entries) {
            List<CompressedLayerChunk> cs = chunksByTensor.get(e.getName());
            if (cs == null || cs.isEmpty()) {
                throw new CompressedModelException(where + ": tensor " + e.getName() + " has no compressed chunks");
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "weightstream-decode");
            t.setDaemon(true);
            return t;
        });
        Map<String, ByteBuffer> decoded = new HashMap<>();
        try {
            List<Future<ByteBuffer>> futures = new ArrayList<>(entries.size());
            for (TensorEntry e : entries) {
                List<CompressedLayerChunk> cs = chunksByTensor.get(e.getName());
                futures.add(pool.submit(() -> decodeOne(where, e, cs)));
            }
            for (int i = 0; i < entries.size(); i++) {
                decoded.put(entries.get(i).getName(), futures.get(i).get());
            }
        } catch (ExecutionException ex) {
            Throwable c = ex.getCause();
            if (c instanceof CompressedModelException cme) {
                throw cme;
            }
            throw new CompressedModelException(where + ": decoding failed: " + c, c);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new CompressedModelException(where + ": interrupted while decoding", ex);
        } finally {
            pool.shutdownNow();
        }
        return joinParts(where, entries, decoded);
    }

    /** {@link #decode} then writes the model file to {@code out}. */
    public Materialized materialize(ModelVersionCompressed version, Map<String, List<CompressedLayerChunk>> chunksByTensor,
                                    Path out) {
        long t0 = System.nanoTime();
        Map<String, ByteBuffer> tensors = decode(version, chunksByTensor);
        long t1 = System.nanoTime();
        CheckpointManifest manifest = version.getManifest();
        CheckpointFormat format = CheckpointFormat.valueOf(manifest.getSourceFormat().name());
        ByteBuffer skeleton = manifest.getSkeleton().duplicate();
        byte[] sk = new byte[skeleton.remaining()];
        skeleton.get(sk);
        CheckpointWriter.write(format, sk, name -> {
            ByteBuffer b = tensors.get(name);
            return b == null ? null : b.duplicate();
        }, out);
        long t2 = System.nanoTime();
        long decodedBytes = 0;
        long encodedBytes = 0;
        for (TensorEntry e : manifest.getTensors()) {
            decodedBytes += e.getByteSize();
            encodedBytes += chunksByTensor.get(e.getName()).get(0).getEncodedBytes();
        }
        return new Materialized(out, manifest.getTensors().size(), decodedBytes, encodedBytes, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    private ByteBuffer decodeOne(String where, TensorEntry e, List<CompressedLayerChunk> chunks) {
        byte[] payload = CompressedChunks.join(chunks, limits.maxOutputBytes());
        CompressedLayerChunk first = chunks.get(0);
        Tensor t;
        try {
            t = Codecs.decode(ByteBuffer.wrap(payload), limits);
        } catch (CorruptPayloadException ex) {
            throw new CompressedModelException(where + ": tensor " + e.getName() + " (" + first.getMethod()
                    + "): payload does not decode: " + ex.getMessage(), ex);
        }
        DType expected = DType.valueOf(e.getDtype().name());
        long[] shape = e.getShape().stream().mapToLong(Long::longValue).toArray();
        if (t.dtype() != expected || !Arrays.equals(t.spec().shape(), shape)) {
            throw new CompressedModelException(where + ": tensor " + e.getName() + " decodes to " + t.dtype()
                    + Arrays.toString(t.spec().shape()) + " but the manifest says " + expected + Arrays.toString(shape));
        }
        byte[] raw = t.toBytes();
        String sha = TensorCompressor.sha256(raw);
        if (!sha.equals(first.getReconstructionSha256())) {
            throw new CompressedModelException(where + ": tensor " + e.getName() + " decodes to SHA-256 " + sha
                    + " but the encoder's reconstruction was " + first.getReconstructionSha256());
        }
        return ByteBuffer.wrap(raw);
    }

    private static Map<String, ByteBuffer> joinParts(String where, List<TensorEntry> entries, Map<String, ByteBuffer> decoded) {
        Map<String, ByteBuffer> whole = new LinkedHashMap<>();
        Map<String, List<ByteBuffer>> parts = new LinkedHashMap<>();
        for (TensorEntry e : entries) {
            ByteBuffer b = decoded.get(e.getName());
            if (e.getPart() == null) {
                whole.put(e.getName(), b);
                continue;
            }
            List<ByteBuffer> ps = parts.computeIfAbsent(e.getPart().getParent(), k -> new ArrayList<>());
            if (e.getPart().getIndex() != ps.size()) {
                throw new CompressedModelException(where + ": part " + e.getPart().getIndex() + " of "
                        + e.getPart().getParent() + " is out of order in the manifest");
            }
            ps.add(b);
            if (ps.size() == e.getPart().getCount()) {
                long size = ps.stream().mapToLong(ByteBuffer::remaining).sum();
                if (size > Integer.MAX_VALUE - 8) {
                    throw new CompressedModelException(where + ": tensor " + e.getPart().getParent() + " of " + size
                            + " bytes is larger than one buffer");
                }
                ByteBuffer joined = ByteBuffer.allocate((int) size);
                ps.forEach(p -> joined.put(p.duplicate()));
                joined.flip();
                whole.put(e.getPart().getParent(), joined);
            }
        }
        return whole;
    }
}
