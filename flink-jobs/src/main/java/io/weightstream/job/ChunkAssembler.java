package io.weightstream.job;

import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.Topics;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.zip.CRC32C;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Puts one tensor back together, keyed by {@code model/version/tensor}: its manifest entry ({@link ExpectedTensor})
 * and its {@link LayerChunk}s arrive in any order and are kept in keyed state until all are in; then the bytes are
 * verified against the entry's SHA-256 and emitted once as an {@link AssembledTensor}.
 *
 * <p>Checked before anything is buffered: each chunk's CRC-32C; index, count, offset and length against the
 * tensor's size; the tensor's size against {@code maxTensorBytes}; agreement between chunks and with the entry.
 * An exact duplicate (same index, same bytes) is ignored; a different chunk under an index already held fails the
 * tensor. Every failure sends a {@link DeadLetter} ({@link SideOutputs#DEAD_LETTERS}) and a failed
 * {@link TensorOutcome} ({@link SideOutputs#TENSOR_OUTCOMES}, so the version is never emitted), and drops the
 * tensor's state. A processing-time timer, reset by each accepted item, fails a tensor that waited
 * {@code timeoutMs} for its next chunk or its entry, naming the missing chunks.
 *
 * <p>State bound: one tensor per key, at most {@code maxTensorBytes} of chunk data (the sum of the buffered chunks'
 * lengths is checked against the tensor's declared size, which is checked against the limit), plus the entry and a
 * few counters. After a tensor is emitted or failed, a marker of a few bytes stays for {@code timeoutMs} so that
 * late duplicates are ignored, then the key's state is gone.
 *
 * <pre>{@code
 * inputs.keyBy(AssemblerInput::key).process(new ChunkAssembler(256L << 20, 300_000)).name("assemble");
 * }</pre>
 */
public class ChunkAssembler extends KeyedProcessFunction<String, AssemblerInput, AssembledTensor> {
    private static final long serialVersionUID = 1L;
    static final String ASSEMBLED = "assembled";
    static final String FAILED = "failed";
    private static final int MAX_LISTED_RANGES = 20;

    private final long maxTensorBytes;
    private final long timeoutMs;

    private transient ValueState<ExpectedTensor> expectedState;
    private transient ValueState<Progress> progressState;
    private transient MapState<Integer, BufferedChunk> chunkState;
    private transient Counter duplicates;
    private transient Counter ignoredAfterFinish;
    private transient Counter tensorsAssembled;
    private transient Counter tensorsFailed;

    /** The per-key bookkeeping: what the chunks declared, what is buffered, the timer, and whether it is finished. */
    public static class Progress {
        public String model;
        public String version;
        public String tensor;
        /** Declared by the first chunk (or -1 before one arrived). */
        public int chunkCount = -1;
        public long tensorBytes = -1;
        public int received;
        public long bufferedBytes;
        public long timerAtMs;
        /** Null while assembling; {@value ChunkAssembler#ASSEMBLED} or {@value ChunkAssembler#FAILED} once done. */
        public String finished;

        public Progress() {
        }
    }

    /** One buffered chunk. */
    public static class BufferedChunk {
        public long offset;
        public int crc32c;
        public byte[] data;

        public BufferedChunk() {
        }

        BufferedChunk(long offset, int crc32c, byte[] data) {
            this.offset = offset;
            this.crc32c = crc32c;
            this.data = data;
        }
    }

    /**
     * @param maxTensorBytes largest tensor accepted (checked before buffering)
     * @param timeoutMs      how long a tensor may wait for its next chunk or entry
     */
    public ChunkAssembler(long maxTensorBytes, long timeoutMs) {
        if (maxTensorBytes < 1 || maxTensorBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("maxTensorBytes must be in [1, 2^31 - 9], was " + maxTensorBytes);
        }
        if (timeoutMs < 1) {
            throw new IllegalArgumentException("timeoutMs must be positive, was " + timeoutMs);
        }
        this.maxTensorBytes = maxTensorBytes;
        this.timeoutMs = timeoutMs;
    }

    @Override
    public void open(OpenContext openContext) {
        expectedState = getRuntimeContext().getState(
                new ValueStateDescriptor<>("expected", TypeInformation.of(ExpectedTensor.class)));
        progressState = getRuntimeContext().getState(
                new ValueStateDescriptor<>("progress", TypeInformation.of(Progress.class)));
        chunkState = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("chunks", Types.INT, TypeInformation.of(BufferedChunk.class)));
        var metrics = getRuntimeContext().getMetricGroup();
        duplicates = metrics.counter("duplicateChunks");
        ignoredAfterFinish = metrics.counter("ignoredAfterFinish");
        tensorsAssembled = metrics.counter("tensorsAssembled");
        tensorsFailed = metrics.counter("tensorsFailed");
    }

    @Override
    public void processElement(AssemblerInput in, Context ctx, Collector<AssembledTensor> out) throws Exception {
        Progress p = progressState.value();
        if (p == null) {
            p = new Progress();
            if (in.expected != null) {
                p.model = in.expected.model;
                p.version = in.expected.version;
                p.tensor = in.expected.entry.getName();
            } else {
                p.model = in.chunk.getModel();
                p.version = in.chunk.getVersion();
                p.tensor = in.chunk.getTensor();
            }
        }
        if (p.finished != null) {
            ignoredAfterFinish.inc(); // a late duplicate or replay of a tensor already emitted or reported
            return;
        }
        if (in.expected != null) {
            onExpected(in.expected, p, ctx, out);
        } else {
            onChunk(in, p, ctx, out);
        }
    }

    private void onExpected(ExpectedTensor e, Progress p, Context ctx, Collector<AssembledTensor> out) throws Exception {
        ExpectedTensor held = expectedState.value();
        if (held != null) {
            if (held.entry.equals(e.entry)) {
                duplicates.inc();
                return;
            }
            fail(p, ctx, null, "two manifest entries disagree for this tensor (sha256 " + held.entry.getSha256()
                    + " vs " + e.entry.getSha256() + ")");
            return;
        }
        TensorEntry entry = e.entry;
        if (entry.getByteSize() > maxTensorBytes) {
            fail(p, ctx, null, "tensor of " + entry.getByteSize() + " bytes exceeds max.tensor.bytes " + maxTensorBytes);
            return;
        }
        if (p.chunkCount >= 0 && (p.chunkCount != entry.getChunkCount() || p.tensorBytes != entry.getByteSize())) {
            fail(p, ctx, null, "chunks declare " + p.chunkCount + " chunks of a " + p.tensorBytes + "-byte tensor, the"
                    + " manifest " + entry.getChunkCount() + " chunks of " + entry.getByteSize() + " bytes");
            return;
        }
        expectedState.update(e);
        resetTimer(p, ctx);
        if (!tryComplete(e, p, ctx, out)) {
            progressState.update(p);
        }
    }

    private void onChunk(AssemblerInput in, Progress p, Context ctx, Collector<AssembledTensor> out) throws Exception {
        LayerChunk c = in.chunk;
        ByteBuffer view = c.getData().duplicate();
        int len = view.remaining();
        String problem = chunkProblem(c, len);
        if (problem != null) {
            fail(p, ctx, in, problem);
            return;
        }
        CRC32C crc = new CRC32C();
        crc.update(view.duplicate());
        if ((int) crc.getValue() != c.getCrc32c()) {
            fail(p, ctx, in, "chunk " + c.getChunkIndex() + ": CRC-32C mismatch (record says "
                    + Integer.toHexString(c.getCrc32c()) + ", data has " + Long.toHexString(crc.getValue()) + ")");
            return;
        }
        if (p.chunkCount < 0) {
            p.chunkCount = c.getChunkCount();
            p.tensorBytes = c.getTensorBytes();
        } else if (p.chunkCount != c.getChunkCount() || p.tensorBytes != c.getTensorBytes()) {
            fail(p, ctx, in, "chunk " + c.getChunkIndex() + " declares " + c.getChunkCount() + " chunks of a "
                    + c.getTensorBytes() + "-byte tensor, earlier chunks " + p.chunkCount + " of " + p.tensorBytes);
            return;
        }
        ExpectedTensor e = expectedState.value();
        if (e != null && (e.entry.getChunkCount() != c.getChunkCount() || e.entry.getByteSize() != c.getTensorBytes())) {
            fail(p, ctx, in, "chunk " + c.getChunkIndex() + " declares " + c.getChunkCount() + " chunks of a "
                    + c.getTensorBytes() + "-byte tensor, the manifest " + e.entry.getChunkCount() + " chunks of "
                    + e.entry.getByteSize() + " bytes");
            return;
        }
        BufferedChunk held = chunkState.get(c.getChunkIndex());
        if (held != null) {
            if (held.offset == c.getOffset() && held.crc32c == c.getCrc32c() && held.data.length == len
                    && view.equals(ByteBuffer.wrap(held.data))) {
                duplicates.inc();
                return;
            }
            fail(p, ctx, in, "two different chunks with index " + c.getChunkIndex());
            return;
        }
        if (p.bufferedBytes + len > p.tensorBytes) {
            fail(p, ctx, in, "chunks add up to more than the tensor's " + p.tensorBytes + " bytes");
            return;
        }
        byte[] data = new byte[len];
        view.get(data);
        chunkState.put(c.getChunkIndex(), new BufferedChunk(c.getOffset(), c.getCrc32c(), data));
        p.received++;
        p.bufferedBytes += len;
        resetTimer(p, ctx);
        if (e == null || !tryComplete(e, p, ctx, out)) {
            progressState.update(p);
        }
    }

    /** What is wrong with a chunk on its own, before it is buffered; null when nothing. */
    private String chunkProblem(LayerChunk c, int len) {
        String what = "chunk " + c.getChunkIndex() + " of " + c.getChunkCount() + ": ";
        long tensorBytes = c.getTensorBytes();
        if (tensorBytes < 0) {
            return what + "negative tensorBytes " + tensorBytes;
        }
        if (tensorBytes > maxTensorBytes) {
            return what + "tensor of " + tensorBytes + " bytes exceeds max.tensor.bytes " + maxTensorBytes;
        }
        if (c.getChunkCount() < 1 || c.getChunkCount() > Math.max(1, tensorBytes)) {
            return what + "impossible chunkCount for a " + tensorBytes + "-byte tensor";
        }
        if (c.getChunkIndex() < 0 || c.getChunkIndex() >= c.getChunkCount()) {
            return what + "index out of range";
        }
        if (c.getOffset() < 0 || c.getOffset() > tensorBytes || len > tensorBytes - c.getOffset()) {
            return what + len + " bytes at offset " + c.getOffset() + " lie outside the " + tensorBytes + "-byte tensor";
        }
        if (len == 0 && tensorBytes > 0) {
            return what + "empty chunk of a non-empty tensor";
        }
        return null;
    }

    /** Emits the tensor if the entry and every chunk are in; returns whether the tensor is finished (either way). */
    private boolean tryComplete(ExpectedTensor e, Progress p, Context ctx, Collector<AssembledTensor> out)
            throws Exception {
        if (p.received < e.entry.getChunkCount()) {
            return false;
        }
        byte[] data = new byte[Math.toIntExact(e.entry.getByteSize())];
        MessageDigest sha = sha256();
        long pos = 0;
        for (int i = 0; i < e.entry.getChunkCount(); i++) {
            BufferedChunk c = chunkState.get(i);
            if (c == null || c.offset != pos) {
                fail(p, ctx, null, "chunks do not tile the tensor: chunk " + i + (c == null ? " is missing"
                        : " starts at " + c.offset + ", expected " + pos));
                return true;
            }
            System.arraycopy(c.data, 0, data, (int) pos, c.data.length);
            pos += c.data.length;
        }
        if (pos != data.length) {
            fail(p, ctx, null, "chunks cover " + pos + " of the tensor's " + data.length + " bytes");
            return true;
        }
        String got = HexFormat.of().formatHex(sha.digest(data));
        if (!got.equals(e.entry.getSha256())) {
            fail(p, ctx, null, DeadLetters.VERIFY, "SHA-256 of the assembled tensor " + got + " != manifest "
                    + e.entry.getSha256());
            return true;
        }
        out.collect(AssembledTensor.of(e, data));
        tensorsAssembled.inc();
        finish(p, ctx, ASSEMBLED);
        return true;
    }

    private void fail(Progress p, Context ctx, AssemblerInput chunk, String reason) throws Exception {
        fail(p, ctx, chunk, DeadLetters.ASSEMBLE, reason);
    }

    private void fail(Progress p, Context ctx, AssemblerInput chunk, String stage, String reason) throws Exception {
        long now = ctx.timerService().currentProcessingTime();
        String full = "tensor " + p.tensor + " of " + p.model + "/" + p.version + ": " + reason;
        DeadLetter d;
        if (chunk != null && chunk.chunk != null) {
            ByteBuffer data = chunk.chunk.getData().duplicate();
            byte[] value = new byte[Math.min(data.remaining(), DeadLetters.MAX_VALUE_BYTES)];
            data.get(value);
            d = DeadLetters.forRecord(chunk.topic, chunk.partition, chunk.offset,
                    (p.model + "/" + p.tensor).getBytes(StandardCharsets.UTF_8), value, stage, full,
                    null, now);
            d.setValueBytes(chunk.chunk.getData().remaining());
            d.setModel(p.model);
            d.setVersion(p.version);
        } else {
            d = DeadLetters.forTensor(p.model, p.version, p.tensor, stage, full, null, now,
                    Topics.LAYERS);
        }
        ctx.output(SideOutputs.DEAD_LETTERS, d);
        ctx.output(SideOutputs.TENSOR_OUTCOMES, TensorOutcome.failed(p.model, p.version, p.tensor, stage + ": " + reason));
        tensorsFailed.inc();
        finish(p, ctx, FAILED);
    }

    /** Drops the buffered data and keeps a small marker until the cleanup timer. */
    private void finish(Progress p, Context ctx, String status) throws Exception {
        chunkState.clear();
        expectedState.clear();
        p.finished = status;
        p.bufferedBytes = 0;
        resetTimer(p, ctx);
        progressState.update(p);
    }

    private void resetTimer(Progress p, Context ctx) {
        if (p.timerAtMs > 0) {
            ctx.timerService().deleteProcessingTimeTimer(p.timerAtMs);
        }
        p.timerAtMs = ctx.timerService().currentProcessingTime() + timeoutMs;
        ctx.timerService().registerProcessingTimeTimer(p.timerAtMs);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<AssembledTensor> out) throws Exception {
        Progress p = progressState.value();
        if (p == null || timestamp != p.timerAtMs) {
            return; // a timer deleted too late to matter
        }
        if (p.finished != null) {
            progressState.clear();
            return;
        }
        ExpectedTensor e = expectedState.value();
        String reason;
        if (e == null) {
            reason = "no manifest entry arrived within " + timeoutMs + " ms (" + p.received + " of "
                    + Math.max(p.chunkCount, 0) + " chunks held)";
        } else {
            reason = "incomplete after waiting " + timeoutMs + " ms for the next chunk: got " + p.received + " of "
                    + e.entry.getChunkCount() + " chunks; missing chunks " + missing(e.entry.getChunkCount());
        }
        p.timerAtMs = 0; // this timer has fired: nothing to delete
        fail(p, ctx, null, reason);
    }

    /** The missing chunk indices as ranges, e.g. {@code 3-7, 9}. */
    private String missing(int count) throws Exception {
        StringBuilder b = new StringBuilder();
        int ranges = 0;
        int i = 0;
        while (i < count) {
            if (chunkState.contains(i)) {
                i++;
                continue;
            }
            int start = i;
            while (i < count && !chunkState.contains(i)) {
                i++;
            }
            if (ranges++ == MAX_LISTED_RANGES) {
                b.append(", ...");
                break;
            }
            if (b.length() > 0) {
                b.append(", ");
            }
            b.append(start == i - 1 ? Integer.toString(start) : start + "-" + (i - 1));
        }
        return b.toString();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "ChunkAssembler(maxTensorBytes=" + maxTensorBytes + ", timeoutMs=" + timeoutMs + ")";
    }
}
