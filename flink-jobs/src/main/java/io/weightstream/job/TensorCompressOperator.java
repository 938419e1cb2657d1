package io.weightstream.job;

import io.weightstream.codec.inr.InrProgress;
import io.weightstream.compress.CompressedChunks;
import io.weightstream.policy.CompressedTensor;
import io.weightstream.policy.PolicyResolver;
import io.weightstream.policy.TensorCompressor;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.LayerMetrics;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.stack.Topics;
import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Compresses one assembled tensor as its manifest's policy says ({@link TensorCompressor}: method and parameters,
 * encode, decode again, error metrics, SHA-256 of the reconstruction, fallback when the error is too high), then
 * cuts the payload into {@link CompressedLayerChunk}s of at most {@code chunkBytes}, each with its CRC-32C and the
 * tensor's method, parameters, dtype, shape, source and reconstruction SHA-256, metrics and row-block part.
 * A {@link TensorOutcome} goes to {@link VersionTracker} either way.
 *
 * <p>A bad record never fails the job: an invalid policy, an unknown method, a dtype or size the tensor spec
 * rejects, or a codec failure sends a dead letter with the reason and a failed outcome.
 *
 * <p>Metrics (per subtask): counters {@code bytesIn}, {@code bytesOut}, {@code tensorsCompressed},
 * {@code tensorsFailed}; gauge {@code compressionRatio} (bytesIn / bytesOut); per method, in the group
 * {@code method=<name>}: histogram {@code encodeMs}, counters {@code bytesIn}, {@code bytesOut}. Training of
 * {@code inr} layers ({@link InrMetrics}, group {@code inr}): counters {@code layersTrained}, {@code trainingSteps},
 * {@code fallbacks}; gauges {@code lastLayerSeconds}, {@code stepsPerSecond}, {@code lastLayerRelL2},
 * {@code currentLayerProgress}.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<CompressedLayerChunk> compressed =
 *         assembled.process(new TensorCompressOperator(1 << 20)).name("compress");
 * }</pre>
 */
public class TensorCompressOperator extends ProcessFunction<AssembledTensor, CompressedLayerChunk> {
    private static final long serialVersionUID = 1L;
    /** Policies whose resolvers are kept (one per manifest policy seen recently). */
    private static final int RESOLVER_CACHE = 16;

    private final int chunkBytes;

    private transient Map<CompressionPolicy, TensorCompressor> compressors;
    private transient MetricGroup metrics;
    private transient Counter bytesIn;
    private transient Counter bytesOut;
    private transient Counter tensorsCompressed;
    private transient Counter tensorsFailed;
    private transient Map<String, MethodMetrics> methodMetrics;
    private transient InrMetrics inrMetrics;

    private record MethodMetrics(Histogram encodeMs, Counter bytesIn, Counter bytesOut) {
    }

    /** @param chunkBytes largest payload piece per record */
    public TensorCompressOperator(int chunkBytes) {
        if (chunkBytes < 1) {
            throw new IllegalArgumentException("chunkBytes must be positive, was " + chunkBytes);
        }
        this.chunkBytes = chunkBytes;
    }

    @Override
    public void open(OpenContext openContext) {
        compressors = new LinkedHashMap<>(RESOLVER_CACHE, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<CompressionPolicy, TensorCompressor> eldest) {
                return size() > RESOLVER_CACHE;
            }
        };
        metrics = getRuntimeContext().getMetricGroup();
        bytesIn = metrics.counter("bytesIn");
        bytesOut = metrics.counter("bytesOut");
        tensorsCompressed = metrics.counter("tensorsCompressed");
        tensorsFailed = metrics.counter("tensorsFailed");
        metrics.gauge("compressionRatio", (Gauge<Double>) () ->
                bytesOut.getCount() == 0 ? 0.0 : (double) bytesIn.getCount() / bytesOut.getCount());
        methodMetrics = new HashMap<>();
        inrMetrics = new InrMetrics(metrics.addGroup("inr"));
    }

    @Override
    public void processElement(AssembledTensor t, Context ctx, Collector<CompressedLayerChunk> out) {
        TensorEntry entry = t.entry;
        CompressedTensor c;
        try {
            Tensor tensor = t.toTensor();
            TensorCompressor compressor = compressor(t.policy);
            inrMetrics.begin();
            // the inr codec reports its training through the thread's listener (encode has no room for one)
            c = InrProgress.during(inrMetrics, () -> compressor.compress(tensor, entry.getAlias()));
        } catch (RuntimeException e) {
            // invalid policy, unknown method, bad dtype/shape, codec failure: the record's fault, not the job's
            String reason = "tensor " + entry.getName() + " of " + t.versionKey() + ": " + DeadLetters.describe(e);
            ctx.output(SideOutputs.DEAD_LETTERS, DeadLetters.forTensor(t.model, t.version, entry.getName(),
                    DeadLetters.ENCODE, reason, e, ctx.timerService().currentProcessingTime(),
                    Topics.LAYERS));
            ctx.output(SideOutputs.TENSOR_OUTCOMES, TensorOutcome.failed(t.model, t.version, entry.getName(),
                    DeadLetters.ENCODE + ": " + DeadLetters.describe(e)));
            tensorsFailed.inc();
            return;
        }
        record(c);
        for (CompressedLayerChunk chunk : CompressedChunks.split(t.model, t.version, entry, c, chunkBytes)) {
            out.collect(chunk);
        }
        ctx.output(SideOutputs.TENSOR_OUTCOMES, TensorOutcome.done(t.model, t.version, entry.getName(), c.method(),
                c.originalBytes(), c.encodedBytes(), c.metrics().relL2(), c.encodeMs()));
        tensorsCompressed.inc();
    }

    private TensorCompressor compressor(CompressionPolicy policy) {
        TensorCompressor c = compressors.get(policy);
        if (c == null) {
            c = new TensorCompressor(new PolicyResolver(policy)); // PolicyException lists every problem
            compressors.put(policy, c);
        }
        return c;
    }

    private void record(CompressedTensor c) {
        inrMetrics.record(c);
        bytesIn.inc(c.originalBytes());
        bytesOut.inc(c.payload().length);
        MethodMetrics m = methodMetrics.computeIfAbsent(c.method(), name -> {
            MetricGroup g = metrics.addGroup("method", name);
            return new MethodMetrics(g.histogram("encodeMs", new DescriptiveStatisticsHistogram(1000)),
                    g.counter("bytesIn"), g.counter("bytesOut"));
        });
        m.encodeMs().update(Math.round(c.encodeMs()));
        m.bytesIn().inc(c.originalBytes());
        m.bytesOut().inc(c.payload().length);
    }
}
