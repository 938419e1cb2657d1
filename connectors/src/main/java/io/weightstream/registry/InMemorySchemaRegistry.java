package io.weightstream.registry;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;

/**
 * A schema registry inside the process, with the semantics of the Confluent one: global ids (the same schema
 * gets the same id under every subject), versions per subject, and compatibility levels (global default
 * {@link CompatibilityLevel#BACKWARD}, as Confluent's) checked with Avro's own {@link SchemaCompatibility}.
 * For unit tests and single-process tools; selected by {@code registry.url=mem://<name>}, which gives every
 * user of the same name in the JVM the same instance (a Flink job's serializers and a test's assertions).
 *
 * <pre>{@code
 * SchemaRegistry registry = InMemorySchemaRegistry.named("job-test");
 * // or: SchemaRegistry.fromConfig(Map.of("registry.url", "mem://job-test"))
 * }</pre>
 */
public final class InMemorySchemaRegistry implements SchemaRegistry {
    static final String URL_SCHEME = "mem://";
    private static final Map<String, InMemorySchemaRegistry> NAMED = new ConcurrentHashMap<>();

    private final String url;
    private final Map<String, List<RegisteredSchema>> subjects = new HashMap<>();
    private final Map<String, CompatibilityLevel> levels = new HashMap<>();
    private final Map<String, Integer> idsByText = new HashMap<>();
    private final Map<Integer, Schema> schemasById = new HashMap<>();

    /** A new, empty registry of its own. */
    public InMemorySchemaRegistry() {
        this("anonymous");
    }

    private InMemorySchemaRegistry(String name) {
        this.url = URL_SCHEME + name;
    }

    /** The registry of this name in this JVM, created empty on first use. */
    public static InMemorySchemaRegistry named(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("an in-memory registry needs a name: " + URL_SCHEME + "<name>");
        }
        return NAMED.computeIfAbsent(name, InMemorySchemaRegistry::new);
    }

    @Override
    public synchronized int register(String subject, Schema schema) {
        Optional<RegisteredSchema> existing = lookup(subject, schema);
        if (existing.isPresent()) {
            return existing.get().id();
        }
        CompatibilityResult result = testCompatibility(subject, schema);
        if (!result.compatible()) {
            throw new SchemaRegistryException("schema is incompatible with the compatibility level "
                    + compatibility(subject) + " of subject '" + subject + "': " + result.messages() + " [" + url
                    + "]", 409, 409, url, subject, null);
        }
        int id = idsByText.computeIfAbsent(schema.toString(), text -> idsByText.size() + 1);
        schemasById.putIfAbsent(id, schema);
        List<RegisteredSchema> versions = subjects.computeIfAbsent(subject, s -> new ArrayList<>());
        versions.add(new RegisteredSchema(subject, id, versions.size() + 1, schema));
        return id;
    }

    @Override
    public synchronized Optional<RegisteredSchema> lookup(String subject, Schema schema) {
        requireSubject(subject);
        Objects.requireNonNull(schema, "schema");
        return subjects.getOrDefault(subject, List.of()).stream().filter(v -> v.schema().equals(schema)).findFirst();
    }

    @Override
    public synchronized Schema schemaById(int id) {
        Schema schema = schemasById.get(id);
        if (schema == null) {
            throw new SchemaRegistryException("schema id " + id + " not found at " + url, 404,
                    SchemaRegistryException.SCHEMA_NOT_FOUND, url, null, null);
        }
        return schema;
    }

    @Override
    public synchronized RegisteredSchema latest(String subject) {
        requireSubject(subject);
        List<RegisteredSchema> versions = subjects.get(subject);
        if (versions == null || versions.isEmpty()) {
            throw new SchemaRegistryException("subject '" + subject + "' not found at " + url, 404,
                    SchemaRegistryException.SUBJECT_NOT_FOUND, url, subject, null);
        }
        return versions.get(versions.size() - 1);
    }

    @Override
    public synchronized void setCompatibility(String subject, CompatibilityLevel level) {
        requireSubject(subject);
        levels.put(subject, Objects.requireNonNull(level, "level"));
    }

    @Override
    public synchronized CompatibilityLevel compatibility(String subject) {
        requireSubject(subject);
        return levels.getOrDefault(subject, CompatibilityLevel.BACKWARD);
    }

    @Override
    public synchronized CompatibilityResult testCompatibility(String subject, Schema schema) {
        requireSubject(subject);
        Objects.requireNonNull(schema, "schema");
        List<RegisteredSchema> versions = subjects.getOrDefault(subject, List.of());
        if (versions.isEmpty()) {
            return new CompatibilityResult(true, List.of("subject '" + subject + "' has no versions yet"));
        }
        CompatibilityLevel level = compatibility(subject);
        List<RegisteredSchema> against = level.isTransitive() ? versions : versions.subList(versions.size() - 1,
                versions.size());
        List<String> messages = new ArrayList<>();
        for (RegisteredSchema old : against) {
            if (level.checksBackward()) {
                check(schema, old.schema(), "new schema cannot read version " + old.version(), messages);
            }
            if (level.checksForward()) {
                check(old.schema(), schema, "version " + old.version() + " cannot read the new schema", messages);
            }
        }
        return new CompatibilityResult(messages.isEmpty(), messages);
    }

    private static void check(Schema reader, Schema writer, String what, List<String> messages) {
        SchemaPairCompatibility pair = SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        if (pair.getType() != SchemaCompatibilityType.COMPATIBLE) {
            Incompatibilities.describe(pair).forEach(line -> messages.add(what + ": " + line));
        }
    }

    private static void requireSubject(String subject) {
        if (subject == null || subject.isBlank()) {
            throw new IllegalArgumentException("subject must not be blank");
        }
    }

    @Override
    public String toString() {
        return "InMemorySchemaRegistry[" + url + "]";
    }
}
