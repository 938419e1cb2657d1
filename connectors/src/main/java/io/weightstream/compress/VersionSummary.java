package io.weightstream.compress;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.MethodSummary;
import io.weightstream.schemas.ModelVersionCompressed;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adds up the compressed tensors of one version into its {@link ModelVersionCompressed}: totals, ratio and a
 * summary per method. Fed one {@link TensorDone} per tensor, in any order.
 *
 * <pre>{@code
 * VersionSummary s = new VersionSummary(manifest);
 * s.add(new TensorDone("w", "rtn", 4096, 1040, 0.004, 1.2));
 * ModelVersionCompressed v = s.build(System.currentTimeMillis());
 * }</pre>
 */
public final class VersionSummary {
    /** One compressed tensor, as far as the version totals are concerned. */
    public record TensorDone(String tensor, String method, long originalBytes, long encodedBytes, double relL2, double encodeMs) {
    }

    private final CheckpointManifest manifest;
    private final Map<String, TensorDone> done = new LinkedHashMap<>();

    public VersionSummary(CheckpointManifest manifest) {
        this.manifest = manifest;
    }

    /** Records a tensor; a second report of the same tensor replaces the first (replays are harmless). */
    public void add(TensorDone t) {
        done.put(t.tensor(), t);
    }

    public int remaining() {
        return manifest.getTensors().size() - done.size();
    }

    public boolean isComplete() {
        return manifest.getTensors().stream().allMatch(e -> done.containsKey(e.getName()));
    }

    public ModelVersionCompressed build(long completedAtMs) {
        long original = 0;
        long encoded = 0;
        // sorted by method, so the record does not depend on the order tensors finished in
        Map<String, double[]> perMethod = new java.util.TreeMap<>(); // tensors, orig, enc, sumRel, maxRel, encodeMs
        for (TensorDone t : done.values()) {
            original += t.originalBytes();
            encoded += t.encodedBytes();
            double[] m = perMethod.computeIfAbsent(t.method(), k -> new double[6]);
            m[0]++;
            m[1] += t.originalBytes();
            m[2] += t.encodedBytes();
            m[3] += t.relL2();
            m[4] = Math.max(m[4], t.relL2());
            m[5] += t.encodeMs();
        }
        List<MethodSummary> methods = new ArrayList<>();
        perMethod.forEach((method, m) -> methods.add(MethodSummary.newBuilder()
                .setMethod(method).setTensors((int) m[0]).setOriginalBytes((long) m[1]).setEncodedBytes((long) m[2])
                .setMeanRelL2(m[3] / m[0]).setMaxRelL2(m[4]).setEncodeMs(m[5]).build()));
        return ModelVersionCompressed.newBuilder()
                .setModel(manifest.getModel()).setVersion(manifest.getVersion()).setManifest(manifest)
                .setTensorCount(done.size()).setOriginalBytes(original).setEncodedBytes(encoded)
                .setRatio(encoded > 0 ? (double) original / encoded : 0)
                .setMethods(methods)
                .setPublishedAtMs(manifest.getPublishedAtMs()).setCompletedAtMs(completedAtMs)
                .build();
    }
}
