package io.weightstream.job;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.compress.VersionSummary;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.Topics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Emits one {@link ModelVersionCompressed} per version, keyed by {@code model/version}, once the manifest and a
 * successful {@link TensorOutcome} for every tensor it lists are in (in any order): totals, ratio, per-method
 * summaries, the manifest itself, publishedAtMs and completedAtMs.
 *
 * <p>Never a partial version: if a tensor of the manifest failed (its dead letter is already written), or the
 * version waits longer than {@code timeoutMs} for its next event, nothing is emitted for it and a dead letter says
 * the version is incomplete and why. Idempotent: the key remembers for {@code retentionMs} (state TTL) that the
 * version was emitted or failed, so a replayed or re-published manifest or a duplicate outcome emits nothing
 * again. Failures of tensors that the manifest does not list (stray chunks) do not fail the version.
 *
 * <p>State bound per key: while open, the manifest (with its model skeleton) and one small outcome per tensor;
 * afterwards one status string.
 *
 * <pre>{@code
 * events.keyBy(VersionEvent::key).process(new VersionTracker(900_000, 7 * 86_400_000L, 1 << 20)).name("versions");
 * }</pre>
 */
public class VersionTracker extends KeyedProcessFunction<String, VersionEvent, ModelVersionCompressed> {
    private static final long serialVersionUID = 1L;
    static final String EMITTED = "emitted";
    static final String FAILED = "failed";
    private static final int MAX_LISTED = 10;

    private final long timeoutMs;
    private final long retentionMs;
    private final long maxRecordBytes;

    private transient ValueState<CheckpointManifest> manifestState;
    private transient MapState<String, TensorOutcome> outcomeState;
    private transient ValueState<Long> timerState;
    private transient ValueState<String> statusState;
    private transient Counter versionsEmitted;
    private transient Counter versionsFailed;

    /**
     * @param timeoutMs      how long an open version may wait for its next event
     * @param retentionMs    how long an emitted or failed version is remembered
     * @param maxRecordBytes largest version record the versions topic takes
     */
    public VersionTracker(long timeoutMs, long retentionMs, long maxRecordBytes) {
        if (timeoutMs < 1 || retentionMs < 1 || maxRecordBytes < 1) {
            throw new IllegalArgumentException("timeoutMs, retentionMs and maxRecordBytes must be positive");
        }
        this.timeoutMs = timeoutMs;
        this.retentionMs = retentionMs;
        this.maxRecordBytes = maxRecordBytes;
    }

    @Override
    public void open(OpenContext openContext) {
        manifestState = getRuntimeContext().getState(
                new ValueStateDescriptor<>("manifest", TypeInformation.of(CheckpointManifest.class)));
        outcomeState = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("outcomes", Types.STRING, TypeInformation.of(TensorOutcome.class)));
        timerState = getRuntimeContext().getState(new ValueStateDescriptor<>("timer", Types.LONG));
        ValueStateDescriptor<String> status = new ValueStateDescriptor<>("status", Types.STRING);
        status.enableTimeToLive(StateTtlConfig.newBuilder(Duration.ofMillis(retentionMs))
                .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                .build());
        statusState = getRuntimeContext().getState(status);
        versionsEmitted = getRuntimeContext().getMetricGroup().counter("versionsEmitted");
        versionsFailed = getRuntimeContext().getMetricGroup().counter("versionsFailed");
    }

    @Override
    public void processElement(VersionEvent event, Context ctx, Collector<ModelVersionCompressed> out) throws Exception {
        if (statusState.value() != null) {
            return; // emitted or failed already: a replay, a re-published manifest or a late outcome
        }
        if (event.manifest != null) {
            if (manifestState.value() == null) {
                manifestState.update(event.manifest);
            }
        } else {
            TensorOutcome o = event.outcome;
            if (!outcomeState.contains(o.tensor) || !o.ok) {
                outcomeState.put(o.tensor, o); // a failure replaces a success, never the other way round
            }
        }
        CheckpointManifest m = manifestState.value();
        if (m != null) {
            List<String> failed = new ArrayList<>();
            int done = 0;
            for (TensorEntry e : m.getTensors()) {
                TensorOutcome o = outcomeState.get(e.getName());
                if (o != null && !o.ok) {
                    failed.add(e.getName() + " (" + o.reason + ")");
                } else if (o != null) {
                    done++;
                }
            }
            if (!failed.isEmpty()) {
                fail(ctx, failed.size() + " of " + m.getTensors().size()
                        + " tensors failed: " + list(failed));
                return;
            }
            if (done == m.getTensors().size()) {
                emit(m, ctx, out);
                return;
            }
        }
        resetTimer(ctx);
    }

    private void emit(CheckpointManifest m, Context ctx, Collector<ModelVersionCompressed> out) throws Exception {
        VersionSummary summary = new VersionSummary(m);
        for (TensorEntry e : m.getTensors()) {
            TensorOutcome o = outcomeState.get(e.getName());
            summary.add(new VersionSummary.TensorDone(e.getName(), o.method, o.originalBytes, o.encodedBytes, o.relL2, o.encodeMs));
        }
        ModelVersionCompressed v = summary.build(ctx.timerService().currentProcessingTime());
        long size = encodedSize(v);
        if (size > maxRecordBytes) {
            fail(ctx, "every tensor was compressed, but the version record is " + size
                    + " bytes, more than versions.max.record.bytes " + maxRecordBytes
                    + " (the model skeleton is large: raise max.message.bytes of weightstream.versions and the option)");
            return;
        }
        out.collect(v);
        versionsEmitted.inc();
        close(ctx, EMITTED);
    }

    private void fail(Context ctx, String reason) throws Exception {
        String[] mv = ctx.getCurrentKey().split("/", 2);
        ctx.output(SideOutputs.DEAD_LETTERS, DeadLetters.forTensor(mv[0], mv.length > 1 ? mv[1] : "", null,
                DeadLetters.VERSION, "version " + ctx.getCurrentKey() + " is incomplete and will not be emitted: "
                        + reason, null, ctx.timerService().currentProcessingTime(), Topics.CHECKPOINTS));
        versionsFailed.inc();
        close(ctx, FAILED);
    }

    private void close(Context ctx, String status) throws Exception {
        manifestState.clear();
        outcomeState.clear();
        Long timer = timerState.value();
        if (timer != null) {
            ctx.timerService().deleteProcessingTimeTimer(timer);
            timerState.clear();
        }
        statusState.update(status);
    }

    private void resetTimer(Context ctx) throws Exception {
        Long timer = timerState.value();
        if (timer != null) {
            ctx.timerService().deleteProcessingTimeTimer(timer);
        }
        long at = ctx.timerService().currentProcessingTime() + timeoutMs;
        ctx.timerService().registerProcessingTimeTimer(at);
        timerState.update(at);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<ModelVersionCompressed> out) throws Exception {
        Long timer = timerState.value();
        if (timer == null || timer != timestamp || statusState.value() != null) {
            return;
        }
        timerState.clear();
        CheckpointManifest m = manifestState.value();
        String reason;
        if (m == null) {
            List<String> failed = new ArrayList<>();
            for (Map.Entry<String, TensorOutcome> e : outcomeState.entries()) {
                if (!e.getValue().ok) {
                    failed.add(e.getKey() + " (" + e.getValue().reason + ")");
                }
            }
            reason = "no valid manifest arrived within " + timeoutMs + " ms"
                    + (failed.isEmpty() ? "" : "; tensors that failed: " + list(failed));
        } else {
            Set<String> missing = new LinkedHashSet<>();
            for (TensorEntry e : m.getTensors()) {
                if (!outcomeState.contains(e.getName())) {
                    missing.add(e.getName());
                }
            }
            reason = "no result within " + timeoutMs + " ms for " + missing.size() + " of " + m.getTensors().size()
                    + " tensors: " + list(new ArrayList<>(missing));
        }
        fail(ctx, reason);
    }

    private static String list(List<String> items) {
        if (items.size() <= MAX_LISTED) {
            return String.join(", ", items);
        }
        return String.join(", ", items.subList(0, MAX_LISTED)) + ", ... (" + (items.size() - MAX_LISTED) + " more)";
    }

    /** Bytes of the record's Avro binary encoding (the Confluent framing adds 5). */
    static long encodedSize(ModelVersionCompressed v) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            BinaryEncoder enc = EncoderFactory.get().directBinaryEncoder(bytes, null);
            new SpecificDatumWriter<>(ModelVersionCompressed.class).write(v, enc);
            enc.flush();
            return bytes.size() + 5L;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
