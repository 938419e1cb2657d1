package io.weightstream.compress;

import io.weightstream.concurrent.Futures;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.policy.CompressedTensor;
import io.weightstream.policy.PolicyResolver;
import io.weightstream.policy.TensorCompressor;
import io.weightstream.publish.CheckpointPublisher;
import io.weightstream.publish.RowBlocks;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.DType;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.ProducerSignature;
import io.weightstream.schemas.SourceFormat;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.schemas.TensorPart;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Compresses a checkpoint file without Kafka: the same tensors, row blocks, policy, codecs and records as the
 * publisher + Flink job, so a {@code .wsz} container equals what the job would emit. Tensors are compressed in
 * parallel on {@code threads} threads; at most {@code threads} tensors are in memory at once.
 *
 * <pre>{@code
 * OfflineCompressor.Result r = new OfflineCompressor(2).compress(ckpt, "minilm", "v1", policy, row -> {});
 * WszContainer.write(out, r.version(), r.chunks());
 * }</pre>
 */
public final class OfflineCompressor {
    private final int threads;
    private final long maxTensorBytes;
    private final int chunkBytes;

    public OfflineCompressor(int threads) {
        this(threads, CheckpointPublisher.DEFAULT_MAX_TENSOR_BYTES, CompressedChunks.DEFAULT_CHUNK_BYTES);
    }

    public OfflineCompressor(int threads, long maxTensorBytes, int chunkBytes) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1");
        }
        this.threads = threads;
        this.maxTensorBytes = maxTensorBytes;
        this.chunkBytes = chunkBytes;
    }

    /** One compressed tensor (or row block), for the per-tensor table. */
    public record TensorRow(TensorEntry entry, CompressedTensor compressed, boolean floatingPoint) {
    }

    /**
     * The compressed model.
     *
     * @param relL2 whole-model relative L2 error: the element-weighted RMS of the floating-point tensors' relative
     *              L2 errors, sqrt(sum n_t relL2_t^2 / sum n_t). Not sqrt(sum err^2 / sum w^2): ONNX graphs hold
     *              constants such as the attention mask's -3.4e38 that would make any error look like zero.
     */
    public record Result(ModelVersionCompressed version, List<CompressedLayerChunk> chunks, List<TensorRow> rows,
                         double relL2, double seconds) {
    }

    public Result compress(Checkpoint ckpt, String model, String versionName, CompressionPolicy policy,
                           Consumer<TensorRow> onTensor) {
        long t0 = System.nanoTime();
        long publishedAt = System.currentTimeMillis();
        TensorCompressor compressor = new TensorCompressor(new PolicyResolver(policy));
        record Job(CheckpointTensor src, RowBlocks.Block block) {
        }
        List<Job> jobs = new ArrayList<>();
        for (CheckpointTensor t : ckpt.tensors()) {
            for (RowBlocks.Block b : RowBlocks.of(t.spec(), maxTensorBytes)) {
                jobs.add(new Job(t, b));
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread th = new Thread(r, "weightstream-compress");
            th.setDaemon(true);
            return th;
        });
        List<TensorRow> rows = new ArrayList<>();
        try {
            // a sliding window of `threads` tensors in flight keeps memory bounded and the table in file order
            List<Future<TensorRow>> window = new ArrayList<>();
            int next = 0;
            while (next < jobs.size() || !window.isEmpty()) {
                while (next < jobs.size() && window.size() < threads) {
                    Job j = jobs.get(next++);
                    window.add(pool.submit(() -> compressOne(compressor, j.src, j.block)));
                }
                TensorRow row = Futures.join(window.remove(0), "compressing");
                rows.add(row);
                onTensor.accept(row);
            }
        } finally {
            pool.shutdownNow();
        }
        // parent hashes of row-block parts: the SHA-256 of the whole tensor (a second pass only for split tensors)
        for (TensorRow row : rows) {
            TensorPart part = row.entry().getPart();
            if (part != null && part.getParentSha256().isEmpty()) {
                String parentSha = wholeSha(ckpt, part.getParent());
                rows.stream().filter(r -> r.entry().getPart() != null && r.entry().getPart().getParent().equals(part.getParent()))
                        .forEach(r -> r.entry().getPart().setParentSha256(parentSha));
            }
        }
        CheckpointManifest manifest = CheckpointManifest.newBuilder()
                .setModel(model).setVersion(versionName)
                .setSourceFormat(SourceFormat.valueOf(ckpt.format().name()))
                .setSourceFileName(ckpt.path().getFileName().toString())
                .setSourceFileBytes(ckpt.fileBytes())
                .setPublishedAtMs(publishedAt)
                .setChunkBytes(chunkBytes)
                .setTensors(rows.stream().map(TensorRow::entry).toList())
                .setPolicy(policy)
                .setSkeleton(ByteBuffer.wrap(ckpt.skeleton()))
                .setProducer(ProducerSignature.newBuilder().setProducerId("offline").setHost(host())
                        .setTool("weightstream compress").build())
                .build();
        VersionSummary summary = new VersionSummary(manifest);
        List<CompressedLayerChunk> chunks = new ArrayList<>();
        double weightedSq = 0;
        long elements = 0;
        for (TensorRow row : rows) {
            CompressedTensor c = row.compressed();
            summary.add(new VersionSummary.TensorDone(row.entry().getName(), c.method(), c.originalBytes(),
                    c.encodedBytes(), c.metrics().relL2(), c.encodeMs()));
            chunks.addAll(CompressedChunks.split(model, versionName, row.entry(), c, chunkBytes));
            if (row.floatingPoint() && Double.isFinite(c.metrics().relL2())) {
                weightedSq += c.metrics().count() * c.metrics().relL2() * c.metrics().relL2();
                elements += c.metrics().count();
            }
        }
        double relL2 = elements > 0 ? Math.sqrt(weightedSq / elements) : 0;
        return new Result(summary.build(System.currentTimeMillis()), chunks, rows, relL2, (System.nanoTime() - t0) / 1e9);
    }

    private static TensorRow compressOne(TensorCompressor compressor, CheckpointTensor src, RowBlocks.Block block) {
        if (block.bytes() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor block " + block.name() + " of " + block.bytes() + " bytes is too large");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) block.bytes());
        src.read(block.offset(), buf);
        buf.flip();
        TensorSpec spec = new TensorSpec(block.name(), src.spec().dtype(), block.shape());
        Tensor tensor = new Tensor(spec, buf);
        String sha = TensorCompressor.sha256(tensor.toBytes());
        CompressedTensor c = compressor.compress(tensor, src.alias());
        TensorEntry.Builder e = TensorEntry.newBuilder()
                .setName(block.name()).setAlias(src.alias())
                .setDtype(DType.valueOf(spec.dtype().name()))
                .setShape(Arrays.stream(block.shape()).boxed().toList())
                .setByteSize(block.bytes()).setSha256(sha)
                .setChunkCount((int) Math.max(1, (block.bytes() + CheckpointPublisher.DEFAULT_CHUNK_BYTES - 1) / CheckpointPublisher.DEFAULT_CHUNK_BYTES));
        if (block.isPart()) {
            e.setPart(TensorPart.newBuilder().setParent(src.name()).setIndex(block.index()).setCount(block.count())
                    .setRowStart(block.rowStart()).setParentShape(Arrays.stream(src.spec().shape()).boxed().toList())
                    .setParentSha256("").build());
        }
        return new TensorRow(e.build(), c, spec.dtype().isFloatingPoint());
    }

    private static String wholeSha(Checkpoint ckpt, String name) {
        for (CheckpointTensor t : ckpt.tensors()) {
            if (t.name().equals(name)) {
                try {
                    java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
                    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
                    for (long off = 0; off < t.byteSize(); ) {
                        buf.clear();
                        off += t.read(off, buf);
                        buf.flip();
                        md.update(buf);
                    }
                    return java.util.HexFormat.of().formatHex(md.digest());
                } catch (java.security.NoSuchAlgorithmException ex) {
                    throw new IllegalStateException(ex);
                }
            }
        }
        throw new IllegalStateException("no tensor " + name);
    }

    private static String host() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "unknown";
        }
    }
}
