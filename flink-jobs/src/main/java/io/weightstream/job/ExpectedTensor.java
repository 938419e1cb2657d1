package io.weightstream.job;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.TensorEntry;
import java.util.Objects;

/**
 * One tensor a manifest announces: its entry (dtype, shape, size, chunk count, SHA-256) and the policy to compress
 * it with. The manifest is exploded into one of these per tensor, keyed like the tensor's chunks.
 *
 * <pre>{@code
 * for (TensorEntry e : manifest.getTensors()) out.collect(AssemblerInput.expected(ExpectedTensor.of(manifest, e)));
 * }</pre>
 */
public class ExpectedTensor {
    public String model;
    public String version;
    public TensorEntry entry;
    public CompressionPolicy policy;
    public long publishedAtMs;

    public ExpectedTensor() {
    }

    public static ExpectedTensor of(CheckpointManifest manifest, TensorEntry entry) {
        ExpectedTensor e = new ExpectedTensor();
        e.model = manifest.getModel();
        e.version = manifest.getVersion();
        e.entry = entry;
        e.policy = manifest.getPolicy();
        e.publishedAtMs = manifest.getPublishedAtMs();
        return e;
    }

    /** {@code model/version/tensor}: the key of the tensor's state. */
    public String key() {
        return AssemblerInput.key(model, version, entry.getName());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ExpectedTensor e && Objects.equals(model, e.model) && Objects.equals(version, e.version)
                && Objects.equals(entry, e.entry) && Objects.equals(policy, e.policy) && publishedAtMs == e.publishedAtMs;
    }

    @Override
    public int hashCode() {
        return Objects.hash(model, version, entry == null ? null : entry.getName());
    }

    @Override
    public String toString() {
        return "ExpectedTensor(" + key() + ", " + entry.getByteSize() + " bytes in " + entry.getChunkCount() + " chunks)";
    }
}
