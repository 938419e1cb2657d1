package io.weightstream.registry;

import java.util.Map;
import java.util.Optional;
import org.apache.avro.Schema;

/**
 * The part of a Confluent-compatible schema registry the project uses: register and look up schemas under a
 * subject, resolve a wire-format id to its schema, and manage a subject's compatibility level.
 * Implementations are thread-safe; every failure is a {@link SchemaRegistryException}.
 *
 * <p>{@link SchemaRegistryClient} talks to a real registry over HTTP; {@link InMemorySchemaRegistry} keeps
 * everything in the process (tests, single-process tools).
 *
 * <pre>{@code
 * SchemaRegistry registry = SchemaRegistry.fromConfig(Map.of("registry.url", "http://localhost:8081"));
 * int id = registry.register("weightstream.layers-value", LayerChunk.getClassSchema());
 * Schema writer = registry.schemaById(id);
 * }</pre>
 */
public interface SchemaRegistry {

    /**
     * Registers {@code schema} under {@code subject} (a no-op returning the existing id when it is already
     * registered there) and returns its global id.
     *
     * @throws SchemaRegistryException with status 409 if the schema is incompatible with the subject's
     *     compatibility level
     */
    int register(String subject, Schema schema);

    /** The registration of {@code schema} under {@code subject}, or empty if the subject or schema is unknown. */
    Optional<RegisteredSchema> lookup(String subject, Schema schema);

    /**
     * The schema with global id {@code id}.
     *
     * @throws SchemaRegistryException with error code 40403 if no schema has this id
     */
    Schema schemaById(int id);

    /**
     * The latest version registered under {@code subject}.
     *
     * @throws SchemaRegistryException with error code 40401 if the subject does not exist
     */
    RegisteredSchema latest(String subject);

    /** Sets the compatibility level of {@code subject} (it may be set before the subject has a version). */
    void setCompatibility(String subject, CompatibilityLevel level);

    /** The compatibility level that applies to {@code subject}: its own, else the registry's global one. */
    CompatibilityLevel compatibility(String subject);

    /**
     * Whether {@code schema} would be accepted under {@code subject} by its compatibility level (always true
     * for a subject without versions).
     */
    CompatibilityResult testCompatibility(String subject, Schema schema);

    /**
     * A registry for the options in {@code config} (keys of {@link RegistryOptions}): an
     * {@link InMemorySchemaRegistry} for {@code mem://<name>}, else a {@link SchemaRegistryClient}.
     *
     * @throws IllegalArgumentException if an option is missing or wrong
     */
    static SchemaRegistry fromConfig(Map<String, ?> config) {
        String url = RegistryOptions.URL.get(config);
        if (url != null && url.startsWith(InMemorySchemaRegistry.URL_SCHEME)) {
            return InMemorySchemaRegistry.named(url.substring(InMemorySchemaRegistry.URL_SCHEME.length()));
        }
        return SchemaRegistryClient.builder().options(config).build();
    }
}
