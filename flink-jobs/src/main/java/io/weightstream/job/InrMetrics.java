package io.weightstream.job;

import io.weightstream.codec.inr.InrCodec;
import io.weightstream.codec.inr.InrFit;
import io.weightstream.codec.inr.InrProgress;
import io.weightstream.policy.CompressedTensor;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

/**
 * The training of {@code inr} layers as Flink metrics of a compress operator: the codec calls this listener on the
 * encoding thread ({@link InrProgress#during}) while it trains, the operator reads the gauges from the metric
 * reporter's thread (hence the volatile fields).
 *
 * <p>In the given group (the operator's {@code inr} group): counters {@code layersTrained} (networks trained, kept or
 * not), {@code trainingSteps}, {@code fallbacks} (layers whose network was not used: it missed the codec's
 * {@code fallback.mse} or the policy's {@code maxRelL2}, e.g. because the time budget stopped training early);
 * gauges {@code lastLayerSeconds} (training time of the last layer), {@code stepsPerSecond} (of the last layer, or of
 * the one in training), {@code lastLayerRelL2} (decoded, quantized), {@code currentLayerProgress} (steps / step budget
 * of the layer in training, 0 when none).
 *
 * <pre>{@code
 * InrMetrics inr = new InrMetrics(getRuntimeContext().getMetricGroup().addGroup("inr"));
 * CompressedTensor c = InrProgress.during(inr, () -> compressor.compress(tensor, alias));
 * inr.record(c);
 * }</pre>
 */
public final class InrMetrics implements InrProgress {
    private final Counter layersTrained;
    private final Counter trainingSteps;
    private final Counter fallbacks;
    private volatile double lastLayerSeconds;
    private volatile double stepsPerSecond;
    private volatile double lastLayerRelL2 = Double.NaN;
    private volatile double currentLayerProgress;
    /** Steps of the layer in training already added to {@link #trainingSteps}. */
    private int stepsCounted;
    /** The codec's fallback rule turned down the network of the tensor being compressed. */
    private boolean networkRejected;

    /** Registers the metrics in {@code group}. */
    public InrMetrics(MetricGroup group) {
        layersTrained = group.counter("layersTrained");
        trainingSteps = group.counter("trainingSteps");
        fallbacks = group.counter("fallbacks");
        group.gauge("lastLayerSeconds", (Gauge<Double>) () -> lastLayerSeconds);
        group.gauge("stepsPerSecond", (Gauge<Double>) () -> stepsPerSecond);
        group.gauge("lastLayerRelL2", (Gauge<Double>) () -> lastLayerRelL2);
        group.gauge("currentLayerProgress", (Gauge<Double>) () -> currentLayerProgress);
    }

    @Override
    public void step(String tensor, int step, int maxSteps, double relL2, long elapsedMs) {
        trainingSteps.inc(Math.max(0, step - stepsCounted));
        stepsCounted = step;
        currentLayerProgress = maxSteps == 0 ? 0 : (double) step / maxSteps;
        if (elapsedMs > 0) {
            stepsPerSecond = step * 1000.0 / elapsedMs;
        }
    }

    @Override
    public void finished(String tensor, InrFit fit, double relL2, boolean accepted) {
        trainingSteps.inc(Math.max(0, fit.steps() - stepsCounted));
        stepsCounted = 0;
        currentLayerProgress = 0;
        layersTrained.inc();
        lastLayerSeconds = fit.trainMillis() / 1e3;
        stepsPerSecond = fit.trainMillis() == 0 ? 0 : fit.steps() * 1000.0 / fit.trainMillis();
        lastLayerRelL2 = relL2;
        networkRejected |= !accepted;
    }

    /** Call before compressing a tensor. */
    public void begin() {
        networkRejected = false;
        stepsCounted = 0;
    }

    /**
     * Call with the result of compressing a tensor: counts a fallback if {@code inr} was tried and not used (its
     * fallback rule threw, it had no room at the ratio, or the policy's {@code maxRelL2} turned it down), or if the
     * codec kept the layer as it is ({@code fallback=store}).
     */
    public void record(CompressedTensor c) {
        boolean fellBack = networkRejected && InrCodec.NAME.equals(c.method());
        for (CompressedTensor.Rejection r : c.rejected()) {
            fellBack |= InrCodec.NAME.equals(r.method());
        }
        if (fellBack) {
            fallbacks.inc();
        }
        networkRejected = false;
    }

    /** Layers whose network was not used so far. */
    public long fallbacks() {
        return fallbacks.getCount();
    }
}
