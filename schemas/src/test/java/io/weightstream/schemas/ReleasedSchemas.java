package io.weightstream.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.Incompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;
import org.apache.avro.specific.SpecificData;

/**
 * The released versions of the wire contract: {@code released/<Record>.v<N>.avsc}, full JSON schemas of
 * every top-level record as they were when version N was released. Shared by {@link SchemaCompatibilityTest}
 * and {@link ReleaseSchemas}.
 */
final class ReleasedSchemas {
    static final String PACKAGE = "io.weightstream.schemas";
    private static final Pattern FILE = Pattern.compile("([A-Za-z0-9_]+)\\.v([1-9][0-9]*)\\.avsc");

    private ReleasedSchemas() {}

    /** A released version of one record. */
    record Released(String record, int version, Path file, Schema schema) {}

    /** Names of the top-level records, from the {@code .avsc} files the schemas module packages under {@code avro/}. */
    static List<String> currentRecordNames() {
        Path avroDir = classpathDir("avro/common.avsc").getParent();
        TreeSet<String> names = new TreeSet<>();
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> files = Files.list(avroDir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                if (file.getFileName().toString().endsWith(".avsc")) {
                    JsonNode schema = json.readTree(file.toFile());
                    if (schema.path("type").asText().equals("record")) {
                        names.add(schema.path("name").asText());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return List.copyOf(names);
    }

    /** The schema of the generated class of {@code record}: what producers register today. */
    static Schema current(String record) {
        try {
            return SpecificData.get().getSchema(Class.forName(PACKAGE + "." + record));
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("no generated class " + PACKAGE + "." + record, e);
        }
    }

    /** The directory of released versions on the test class path ({@code target/test-classes/released}). */
    static Path releasedDir() {
        return classpathDir("released");
    }

    /** The source directory of released versions, where {@link ReleaseSchemas} writes new ones. */
    static Path sourceReleasedDir() {
        try {
            // <module>/target/test-classes -> <module>/src/test/resources/released
            Path testClasses = Path.of(ReleasedSchemas.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return testClasses.getParent().getParent().resolve("src/test/resources/released");
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every released version in {@code dir}, sorted by record and version. */
    static List<Released> all(Path dir) {
        List<Released> released = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : (Iterable<Path>) files.sorted()::iterator) {
                Matcher m = FILE.matcher(file.getFileName().toString());
                if (m.matches()) {
                    released.add(new Released(m.group(1), Integer.parseInt(m.group(2)), file,
                            new Schema.Parser().parse(Files.readString(file))));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return released;
    }

    /** The highest released version of {@code record} in {@code dir}. */
    static Optional<Released> latest(Path dir, String record) {
        return all(dir).stream().filter(r -> r.record().equals(record))
                .max((a, b) -> Integer.compare(a.version(), b.version()));
    }

    /**
     * Why {@code current} cannot read data written with {@code released} (BACKWARD: the current schema as
     * reader, the released one as writer), one line per problem with the field path; empty when compatible.
     */
    static List<String> backwardIncompatibilities(Schema current, Schema released) {
        SchemaPairCompatibility pair = SchemaCompatibility.checkReaderWriterCompatibility(current, released);
        List<String> lines = new ArrayList<>();
        if (pair.getType() != SchemaCompatibilityType.COMPATIBLE) {
            for (Incompatibility i : pair.getResult().getIncompatibilities()) {
                lines.add(i.getType() + " at " + fieldPath(current, i.getLocation()) + ": " + i.getMessage());
            }
        }
        return lines;
    }

    /** The report {@link SchemaCompatibilityTest} fails with, or empty when {@code current} reads {@code released}. */
    static Optional<String> report(String record, Schema current, Released released) {
        List<String> problems = backwardIncompatibilities(current, released.schema());
        if (problems.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(record + " is not BACKWARD compatible with its released version " + released.version()
                + " (" + released.file().getFileName() + "): consumers with the new schema could not read records"
                + " written with the released one:\n  - " + String.join("\n  - ", problems)
                + "\nGive new fields a default, keep types readable (int -> long is fine, long -> int is not),"
                + " and see schemas/README.md.");
    }

    /** Avro locates problems with JSON pointers ({@code /fields/7/type}); this turns them into field paths. */
    static String fieldPath(Schema reader, String location) {
        String[] tokens = location.split("/");
        StringBuilder path = new StringBuilder();
        Schema schema = reader;
        for (int t = 1; t < tokens.length; t++) {
            String token = tokens[t];
            if (token.equals("fields") && t + 1 < tokens.length && schema != null
                    && schema.getType() == Schema.Type.RECORD && tokens[t + 1].matches("\\d{1,8}")
                    && Integer.parseInt(tokens[t + 1]) < schema.getFields().size()) {
                Schema.Field field = schema.getFields().get(Integer.parseInt(tokens[++t]));
                path.append(path.length() == 0 ? "" : ".").append(field.name());
                schema = field.schema();
            } else if (token.equals("items") && schema != null && schema.getType() == Schema.Type.ARRAY) {
                path.append("[]");
                schema = schema.getElementType();
            } else if (token.equals("values") && schema != null && schema.getType() == Schema.Type.MAP) {
                path.append("{}");
                schema = schema.getValueType();
            } else if (token.matches("\\d{1,8}") && schema != null && schema.getType() == Schema.Type.UNION
                    && Integer.parseInt(token) < schema.getTypes().size()) {
                schema = schema.getTypes().get(Integer.parseInt(token));
            } else if (!token.equals("type")) {
                path.append(path.length() == 0 ? "" : " ").append(token);
                schema = null;
            }
        }
        return path.length() == 0 ? "the record" : path.toString();
    }

    private static Path classpathDir(String resource) {
        URL url = ReleasedSchemas.class.getClassLoader().getResource(resource);
        if (url == null) {
            throw new IllegalStateException(resource + " is not on the test class path");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
