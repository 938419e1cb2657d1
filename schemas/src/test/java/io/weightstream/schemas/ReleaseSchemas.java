package io.weightstream.schemas;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Releases the wire contract: for every top-level record whose generated schema differs from its latest
 * released version, writes {@code <Record>.v<N+1>.avsc} (or {@code .v1.avsc} for a record never released)
 * into {@code schemas/src/test/resources/released}, after checking the new version is BACKWARD compatible.
 * Unchanged records get no new file. See schemas/README.md for the command.
 *
 * <pre>{@code
 * mvn -q -B -pl schemas test-compile org.codehaus.mojo:exec-maven-plugin:3.5.0:java \
 *     -Dexec.classpathScope=test -Dexec.mainClass=io.weightstream.schemas.ReleaseSchemas
 * }</pre>
 */
public final class ReleaseSchemas {
    private ReleaseSchemas() {}

    /** @param args optional: the directory to write to (default: the module's src/test/resources/released) */
    public static void main(String[] args) throws IOException {
        Path dir = args.length > 0 ? Path.of(args[0]) : ReleasedSchemas.sourceReleasedDir();
        Files.createDirectories(dir);
        List<String> problems = new ArrayList<>();
        List<Path> written = new ArrayList<>();
        for (String record : ReleasedSchemas.currentRecordNames()) {
            org.apache.avro.Schema current = ReleasedSchemas.current(record);
            Optional<ReleasedSchemas.Released> latest = ReleasedSchemas.latest(dir, record);
            if (latest.isPresent() && latest.get().schema().equals(current)) {
                continue;
            }
            if (latest.isPresent()) {
                Optional<String> report = ReleasedSchemas.report(record, current, latest.get());
                if (report.isPresent()) {
                    problems.add(report.get());
                    continue;
                }
            }
            int version = latest.map(r -> r.version() + 1).orElse(1);
            Path file = dir.resolve(record + ".v" + version + ".avsc");
            Files.writeString(file, current.toString(true) + "\n");
            written.add(file);
        }
        written.forEach(file -> System.out.println("released " + file));
        if (written.isEmpty()) {
            System.out.println("nothing to release: every record equals its latest released version in " + dir);
        }
        if (!problems.isEmpty()) {
            problems.forEach(System.err::println);
            throw new IllegalStateException(problems.size() + " record(s) not released: they break BACKWARD compatibility");
        }
    }
}
