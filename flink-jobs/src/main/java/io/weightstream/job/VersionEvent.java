package io.weightstream.job;

import io.weightstream.schemas.CheckpointManifest;
import java.util.Objects;

/**
 * What {@link VersionTracker} receives for one version, keyed by {@code model/version}: the {@link #manifest} or
 * the {@link #outcome} of one of its tensors, in any order.
 *
 * <pre>{@code
 * manifests.map(VersionEvent::manifest).union(outcomes.map(VersionEvent::outcome)).keyBy(VersionEvent::key)
 * }</pre>
 */
public class VersionEvent {
    public CheckpointManifest manifest;
    public TensorOutcome outcome;

    public VersionEvent() {
    }

    public static VersionEvent manifest(CheckpointManifest manifest) {
        VersionEvent e = new VersionEvent();
        e.manifest = Objects.requireNonNull(manifest, "manifest");
        return e;
    }

    public static VersionEvent outcome(TensorOutcome outcome) {
        VersionEvent e = new VersionEvent();
        e.outcome = Objects.requireNonNull(outcome, "outcome");
        return e;
    }

    /** {@code model/version}. */
    public String key() {
        return manifest != null ? manifest.getModel() + "/" + manifest.getVersion() : outcome.versionKey();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VersionEvent v && Objects.equals(manifest, v.manifest) && Objects.equals(outcome, v.outcome);
    }

    @Override
    public int hashCode() {
        return key().hashCode();
    }

    @Override
    public String toString() {
        return manifest != null ? "VersionEvent(manifest " + key() + ")" : "VersionEvent(" + outcome + ")";
    }
}
