package io.weightstream.registry;

import java.util.List;

/**
 * The answer to "would this schema be accepted under the subject?": whether it is compatible with the
 * subject's compatibility level, and the registry's explanations (Confluent sends them; Apicurio may not).
 *
 * <pre>{@code
 * CompatibilityResult result = registry.testCompatibility(subject, schema);
 * if (!result.compatible()) System.err.println(result.messages());
 * }</pre>
 */
public record CompatibilityResult(boolean compatible, List<String> messages) {
    public CompatibilityResult {
        messages = List.copyOf(messages);
    }
}
