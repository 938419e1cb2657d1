package io.weightstream.registry;

import java.util.Objects;
import org.apache.avro.Schema;

/**
 * A schema as registered under a subject: its global id (the one in the wire format) and its version within
 * the subject.
 *
 * <pre>{@code
 * RegisteredSchema latest = registry.latest("weightstream.layers-value");
 * int id = latest.id();
 * }</pre>
 */
public record RegisteredSchema(String subject, int id, int version, Schema schema) {
    public RegisteredSchema {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(schema, "schema");
    }
}
