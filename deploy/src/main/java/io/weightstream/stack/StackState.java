package io.weightstream.stack;

import java.io.Closeable;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;

/**
 * The files of a detached local stack in its state directory:
 * <pre>
 * stack.properties        format.version, ports and addresses (kept after `down`: the next `up` reuses the ports)
 * kafka.pid, registry.pid one PID each, present while the server is meant to run
 * kafka.log, registry.log the servers' output (the previous run's as *.log.1)
 * kafka/                  the broker's config and data (data/ = log.dirs)
 * registry/               the registry's H2 database (data/registry.mv.db)
 * .lock                   held by `up` and `down` so two of them do not interleave
 * </pre>
 */
final class StackState {
    /** Version of {@code stack.properties}; a file with another version is refused, not guessed at. */
    static final int FORMAT_VERSION = 1;
    static final String PROPERTIES = "stack.properties";

    private final Path dir;

    StackState(Path dir) {
        this.dir = dir.toAbsolutePath().normalize();
    }

    Path dir() {
        return dir;
    }

    Path pidFile(String server) {
        return dir.resolve(server + ".pid");
    }

    Path logFile(String server) {
        return dir.resolve(server + ".log");
    }

    Path workDir(String server) {
        return dir.resolve(server);
    }

    Path propertiesFile() {
        return dir.resolve(PROPERTIES);
    }

    /** Identifies this state directory's server {@code server} in the process table. */
    String marker(String server) {
        return server + "@" + dir;
    }

    /** The PID in the server's PID file; empty when there is no file or it does not hold a number. */
    OptionalLong readPid(String server) {
        Path f = pidFile(server);
        if (!Files.isRegularFile(f)) {
            return OptionalLong.empty();
        }
        try {
            String s = Files.readString(f, StandardCharsets.US_ASCII).trim();
            long pid = Long.parseLong(s);
            return pid > 0 ? OptionalLong.of(pid) : OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    boolean hasPidFile(String server) {
        return Files.exists(pidFile(server));
    }

    void writePid(String server, long pid) {
        writeAtomically(pidFile(server), pid + "\n");
    }

    void deletePid(String server) {
        try {
            Files.deleteIfExists(pidFile(server));
        } catch (IOException e) {
            throw new StackException("cannot delete " + pidFile(server) + ": " + e.getMessage(), e);
        }
    }

    /**
     * The live process of the server's PID file, if it is this stack's server; empty when the file is missing or
     * stale (the process is gone, or the PID now belongs to another program).
     */
    Optional<ServerProcess> running(String server) {
        OptionalLong pid = readPid(server);
        if (pid.isEmpty()) {
            return Optional.empty();
        }
        String pending;
        try {
            pending = readProperties().getProperty(server + ".cds.pending");
        } catch (StackException e) {
            pending = null; // the PID file alone identifies the server
        }
        return ServerProcess.find(server, pid.getAsLong(), marker(server), logFile(server),
                pending == null || pending.isEmpty() ? null : Path.of(pending));
    }

    /** {@code stack.properties}, empty when absent; a file of another format version is an error. */
    Properties readProperties() {
        Properties props = new Properties();
        Path f = propertiesFile();
        if (!Files.isRegularFile(f)) {
            return props;
        }
        try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            props.load(r);
        } catch (IOException | IllegalArgumentException e) {
            throw new StackException("cannot read " + f + ": " + e.getMessage(), e);
        }
        String version = props.getProperty("format.version");
        if (!Integer.toString(FORMAT_VERSION).equals(version)) {
            throw new StackException(f + " has format.version " + version + ", this weightstream reads " + FORMAT_VERSION
                    + "; stop that stack with the weightstream that started it, or delete " + dir);
        }
        return props;
    }

    void writeProperties(Properties props) {
        props.setProperty("format.version", Integer.toString(FORMAT_VERSION));
        StringBuilder out = new StringBuilder("# the local weightstream stack (written by io.weightstream.stack.LocalStack)\n");
        props.stringPropertyNames().stream().sorted().forEach(k -> out.append(k).append('=')
                .append(props.getProperty(k).replace("\\", "\\\\")).append('\n'));
        writeAtomically(propertiesFile(), out.toString());
    }

    int port(Properties props, String key) {
        try {
            return Integer.parseInt(props.getProperty(key, "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** An exclusive lock on the state directory, held across an {@code up} or a {@code down}. */
    Closeable lock() {
        try {
            Files.createDirectories(dir);
            FileChannel ch = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                ch.lock();
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            return ch; // closing the channel releases the lock
        } catch (IOException e) {
            throw new StackException("cannot lock " + dir + ": " + e.getMessage(), e);
        }
    }

    private void writeAtomically(Path target, String content) {
        try {
            Files.createDirectories(target.getParent());
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                w.write(content);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new StackException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }
}
