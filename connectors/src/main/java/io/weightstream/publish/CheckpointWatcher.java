package io.weightstream.publish;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormatException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a trainer's output directory and publishes each new checkpoint once it is complete.
 *
 * <p>A file counts as complete when its size and modification time have not changed for {@code settle} and it
 * opens as a valid checkpoint (a safetensors file still being written has offsets past its end; an ONNX file
 * does not parse). Hidden files and names ending in {@code .tmp}/{@code .partial} are ignored, so trainers that
 * write-then-rename work too. What was published is recorded in {@value #LEDGER} inside the directory, so a
 * restarted watcher does not publish a file twice. A file that fails to publish (broker down) is retried at the
 * next poll; a file that stays invalid is reported once and retried only when it changes.
 *
 * <pre>{@code
 * CheckpointWatcher w = new CheckpointWatcher(dir, Duration.ofSeconds(2), VersionNaming.FILE_NAME,
 *         (file, version) -> publisher.publish(...));
 * w.run(() -> !stopped);
 * }</pre>
 */
public final class CheckpointWatcher {
    /** The ledger of published files, inside the watched directory. */
    public static final String LEDGER = ".weightstream-published";
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointWatcher.class);

    /** How a published file's version is named. */
    public enum VersionNaming {
        /** The file name without its extension ({@code step-1000.safetensors} -> {@code step-1000}). */
        FILE_NAME,
        /** 1, 2, 3, ... in the order files complete. */
        COUNTER
    }

    /** Publishes one complete checkpoint file as {@code version}; throws if it could not. */
    @FunctionalInterface
    public interface Publish {
        void publish(Path file, String version) throws Exception;
    }

    private final Path dir;
    private final Duration settle;
    private final VersionNaming naming;
    private final Publish publish;
    private final Map<String, Seen> seen = new HashMap<>();
    private final Map<String, String> published; // file name -> "size mtime version"

    public CheckpointWatcher(Path dir, Duration settle, VersionNaming naming, Publish publish) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("not a directory: " + dir);
        }
        this.dir = dir;
        this.settle = settle;
        this.naming = naming;
        this.publish = publish;
        this.published = readLedger();
    }

    private record Seen(long size, long mtime, long since, boolean reportedInvalid) {
    }

    /**
     * One scan of the directory.
     *
     * @return the files published by this scan, in order
     */
    public List<Path> poll() {
        List<Path> candidates = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                String lower = n.toLowerCase(Locale.ROOT);
                if (n.startsWith(".") || lower.endsWith(".tmp") || lower.endsWith(".partial") || !Files.isRegularFile(p)) {
                    continue;
                }
                if (lower.endsWith(".safetensors") || lower.endsWith(".onnx")) {
                    candidates.add(p);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("listing " + dir, e);
        }
        candidates.sort(null);
        List<Path> done = new ArrayList<>();
        long now = System.nanoTime();
        for (Path p : candidates) {
            String name = p.getFileName().toString();
            long size;
            long mtime;
            try {
                size = Files.size(p);
                mtime = Files.getLastModifiedTime(p).toMillis();
            } catch (IOException e) {
                continue; // vanished or being replaced
            }
            String ledgerEntry = published.get(name);
            if (ledgerEntry != null && ledgerEntry.startsWith(size + " " + mtime + " ")) {
                continue;
            }
            Seen s = seen.get(name);
            if (s == null || s.size != size || s.mtime != mtime) {
                seen.put(name, new Seen(size, mtime, now, false));
                continue;
            }
            if (now - s.since < settle.toNanos()) {
                continue;
            }
            if (s.reportedInvalid) {
                continue;
            }
            try (Checkpoint ignored = Checkpoint.open(p)) {
                // opens cleanly: complete
            } catch (CheckpointFormatException e) {
                LOG.warn("{} is not a valid checkpoint (yet); it will be retried when it changes: {}", p, e.getMessage());
                seen.put(name, new Seen(size, mtime, s.since, true));
                continue;
            }
            String version = nextVersion(name);
            try {
                publish.publish(p, version);
            } catch (Exception e) {
                LOG.warn("publishing {} as version {} failed, retrying at the next poll: {}", p, version, e.getMessage());
                continue;
            }
            published.put(name, size + " " + mtime + " " + version);
            writeLedger();
            done.add(p);
        }
        return done;
    }

    /** Polls every {@code interval} while {@code keepGoing} says so. */
    public void run(Duration interval, BooleanSupplier keepGoing) throws InterruptedException {
        while (keepGoing.getAsBoolean()) {
            poll();
            Thread.sleep(interval.toMillis());
        }
    }

    private String nextVersion(String fileName) {
        if (naming == VersionNaming.FILE_NAME) {
            int dot = fileName.lastIndexOf('.');
            return fileName.substring(0, dot);
        }
        int max = 0;
        for (String entry : published.values()) {
            String v = entry.substring(entry.lastIndexOf(' ') + 1);
            try {
                max = Math.max(max, Integer.parseInt(v));
            } catch (NumberFormatException ignored) {
                // a file-name version from an earlier run
            }
        }
        return Integer.toString(max + 1);
    }

    private Map<String, String> readLedger() {
        Map<String, String> m = new LinkedHashMap<>();
        Path ledger = dir.resolve(LEDGER);
        if (!Files.exists(ledger)) {
            return m;
        }
        try {
            for (String line : Files.readAllLines(ledger, StandardCharsets.UTF_8)) {
                // name \t size mtime version
                int tab = line.indexOf('\t');
                if (tab > 0) {
                    m.put(line.substring(0, tab), line.substring(tab + 1));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + ledger, e);
        }
        return m;
    }

    private void writeLedger() {
        StringBuilder sb = new StringBuilder();
        published.forEach((k, v) -> sb.append(k).append('\t').append(v).append('\n'));
        Path ledger = dir.resolve(LEDGER);
        Path tmp = dir.resolve(LEDGER + ".tmp");
        try {
            Files.writeString(tmp, sb, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.SYNC);
            Files.move(tmp, ledger, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + ledger, e);
        }
    }
}
