package io.weightstream.registry;

/**
 * A subject's compatibility level, as the Confluent REST API names it. The project's topics use
 * {@link #BACKWARD} (DESIGN.md): consumers upgraded to a new schema still read records written with the
 * previous one.
 *
 * <pre>{@code
 * registry.setCompatibility("weightstream.layers-value", CompatibilityLevel.BACKWARD);
 * }</pre>
 */
public enum CompatibilityLevel {
    NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE;

    /** Whether a new schema must be readable with the old ones (FORWARD) or read them (BACKWARD). */
    boolean checksBackward() {
        return this == BACKWARD || this == BACKWARD_TRANSITIVE || this == FULL || this == FULL_TRANSITIVE;
    }

    boolean checksForward() {
        return this == FORWARD || this == FORWARD_TRANSITIVE || this == FULL || this == FULL_TRANSITIVE;
    }

    /** Whether every earlier version is checked, not only the latest. */
    boolean isTransitive() {
        return name().endsWith("_TRANSITIVE");
    }
}
