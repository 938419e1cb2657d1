package io.weightstream.job;

import java.util.Objects;

/**
 * The small summary {@link VersionTracker} gets for each tensor of a version: compressed (method, sizes, error,
 * encode time) or failed (the reason; the tensor itself is in the dead-letter topic).
 *
 * <pre>{@code
 * TensorOutcome.done("minilm", "v1", "onnx::MatMul_1", "rtn", 589824, 148000, 0.004, 12.5);
 * TensorOutcome.failed("minilm", "v1", "onnx::MatMul_1", "missing chunks 3-4 of 6");
 * }</pre>
 */
public class TensorOutcome {
    public String model;
    public String version;
    public String tensor;
    public boolean ok;
    public String method;
    public long originalBytes;
    public long encodedBytes;
    public double relL2;
    public double encodeMs;
    /** Why it failed; null when {@link #ok}. */
    public String reason;

    public TensorOutcome() {
    }

    public static TensorOutcome done(String model, String version, String tensor, String method, long originalBytes,
                                     long encodedBytes, double relL2, double encodeMs) {
        TensorOutcome o = of(model, version, tensor);
        o.ok = true;
        o.method = method;
        o.originalBytes = originalBytes;
        o.encodedBytes = encodedBytes;
        o.relL2 = relL2;
        o.encodeMs = encodeMs;
        return o;
    }

    public static TensorOutcome failed(String model, String version, String tensor, String reason) {
        TensorOutcome o = of(model, version, tensor);
        o.ok = false;
        o.reason = reason;
        return o;
    }

    private static TensorOutcome of(String model, String version, String tensor) {
        TensorOutcome o = new TensorOutcome();
        o.model = model;
        o.version = version;
        o.tensor = tensor;
        return o;
    }

    /** {@code model/version}. */
    public String versionKey() {
        return model + "/" + version;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorOutcome t && ok == t.ok && originalBytes == t.originalBytes
                && encodedBytes == t.encodedBytes && Double.compare(relL2, t.relL2) == 0
                && Double.compare(encodeMs, t.encodeMs) == 0 && Objects.equals(model, t.model)
                && Objects.equals(version, t.version) && Objects.equals(tensor, t.tensor)
                && Objects.equals(method, t.method) && Objects.equals(reason, t.reason);
    }

    @Override
    public int hashCode() {
        return Objects.hash(model, version, tensor, ok);
    }

    @Override
    public String toString() {
        return "TensorOutcome(" + model + "/" + version + "/" + tensor + (ok ? ", " + method + " " + originalBytes + " -> "
                + encodedBytes : ", failed: " + reason) + ")";
    }
}
