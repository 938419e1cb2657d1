package io.weightstream.stack;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;

/**
 * A dynamic class-data-sharing (AppCDS) archive per server JVM, the biggest start-up saving measured on these 2-core
 * machines (Kafka ready in about 0.9 s instead of 2.1 s, Apicurio in 1.2-1.8 s instead of 3.5-5.7 s, together with
 * C1-only compilation).
 *
 * <p>The first start of a server runs with {@code -XX:ArchiveClassesAtExit=<tmp>}: the JVM writes the classes it
 * loaded when it exits after SIGTERM, and whoever stopped it renames the file into place ({@link #finish}). Later
 * starts map it with {@code -XX:SharedArchiveFile}. The archive's name carries a fingerprint of the JVM and of every
 * jar on the server's classpath (name, size, date), because the JVM refuses an archive whose jars changed: a rebuilt
 * stack or another JDK simply writes a new one. Switch it off with {@code -Dweightstream.stack.cds=false} or
 * {@code WEIGHTSTREAM_STACK_CDS=false}.
 */
final class ClassDataArchive {
    static final String PROPERTY = "weightstream.stack.cds";
    static final String ENV = "WEIGHTSTREAM_STACK_CDS";
    /** A dump unclaimed for this long belongs to a JVM that was killed or never stopped through this code. */
    private static final Duration ABANDONED = Duration.ofMinutes(10);

    private final Path archive;
    private final Path pending;

    private ClassDataArchive(Path archive, Path pending) {
        this.archive = archive;
        this.pending = pending;
    }

    /**
     * The archive of server {@code server} whose JVM runs with {@code classpath}. Returns the options that use the
     * archive when it exists, else the options that write it (when the stack directory is writable), else none.
     */
    static ClassDataArchive forServer(StackHome home, String server, List<Path> classpath) {
        if (!enabled()) {
            return new ClassDataArchive(null, null);
        }
        Path dir = home.cdsDir();
        Path archive = dir.resolve(server + "-" + fingerprint(classpath) + ".jsa");
        if (Files.isRegularFile(archive)) {
            return new ClassDataArchive(archive, null);
        }
        try {
            Files.createDirectories(dir);
            if (!Files.isWritable(dir)) {
                return new ClassDataArchive(null, null);
            }
        } catch (IOException e) {
            return new ClassDataArchive(null, null);
        }
        removeAbandoned(dir, server);
        Path pending = dir.resolve(archive.getFileName() + "." + UUID.randomUUID().toString().substring(0, 8) + ".tmp");
        return new ClassDataArchive(archive, pending);
    }

    static boolean enabled() {
        String v = System.getProperty(PROPERTY, System.getenv(ENV));
        return v == null || !v.trim().equalsIgnoreCase("false");
    }

    /** JVM options for the server's own JVM: use the archive, or write it at exit. */
    List<String> serverOptions() {
        if (archive == null) {
            return List.of();
        }
        if (pending != null) {
            return List.of("-XX:ArchiveClassesAtExit=" + pending);
        }
        return List.of("-XX:SharedArchiveFile=" + archive);
    }

    /** JVM options for a short-lived helper JVM on the same classpath (it may read the archive, never writes it). */
    List<String> helperOptions() {
        return archive != null && pending == null ? List.of("-XX:SharedArchiveFile=" + archive) : List.of();
    }

    /** The file the server's JVM writes at exit, or null. */
    Path pending() {
        return pending;
    }

    /**
     * Called once the server that writes {@code pending} has exited: a clean exit leaves a complete archive, which
     * replaces the server's older archives; after SIGKILL the file may be partial and is deleted.
     */
    static void finish(Path pending, boolean exitedCleanly) {
        try {
            if (!Files.isRegularFile(pending)) {
                return;
            }
            String name = pending.getFileName().toString();
            Path archive = pending.resolveSibling(name.substring(0, name.indexOf(".jsa") + ".jsa".length()));
            if (!exitedCleanly || Files.size(pending) == 0) {
                Files.deleteIfExists(pending);
                return;
            }
            try {
                Files.move(pending, archive, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(pending, archive, StandardCopyOption.REPLACE_EXISTING);
            }
            String server = archive.getFileName().toString().substring(0, archive.getFileName().toString().lastIndexOf('-'));
            // older archives of this server (other jars or JDK) are useless now
            try (DirectoryStream<Path> old = Files.newDirectoryStream(archive.getParent(), server + "-*.jsa")) {
                for (Path p : old) {
                    if (!p.equals(archive) && p.getFileName().toString().lastIndexOf('-') == server.length()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // the archive only saves start-up time: never fail a stop because of it
        }
    }

    private static void removeAbandoned(Path dir, String server) {
        Instant cutoff = Instant.now().minus(ABANDONED);
        try (DirectoryStream<Path> tmps = Files.newDirectoryStream(dir, server + "-*.jsa.*.tmp")) {
            for (Path p : tmps) {
                FileTime t = Files.getLastModifiedTime(p);
                if (t.toInstant().isBefore(cutoff)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            // best effort
        }
    }

    static String fingerprint(List<Path> classpath) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            update(sha, System.getProperty("java.home"));
            update(sha, System.getProperty("java.vm.version"));
            for (Path p : classpath) {
                update(sha, p.toAbsolutePath().toString());
                update(sha, Long.toString(Files.size(p)));
                update(sha, Long.toString(Files.getLastModifiedTime(p).toMillis()));
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 6);
        } catch (IOException e) {
            throw new StackException("cannot read the server classpath: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void update(MessageDigest sha, String s) {
        sha.update(s.getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
    }
}
