package io.weightstream.decoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weightstream.publish.Attachments;
import io.weightstream.schemas.Attachment;
import io.weightstream.schemas.MethodSummary;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.serving.ServedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The versioned model repository of one decoder replica: every materialized version in its own directory,
 * {@code <dir>/<model>/<version>/}, holding the model file (named as the published file), its attachments (such as
 * {@code tokenizer.json}) and {@code version.json} (what {@code GET /v1/models/{name}} shows, format version
 * {@value #FORMAT_VERSION}). Model and version names are percent-encoded into file names.
 *
 * <p>A version is written into a temp directory ({@code .tmp-*}), every file and the directory fsynced, then renamed
 * into place in one step: a version directory is complete or absent, never partial. Deletion renames to
 * {@code .trash-*} first for the same reason. {@code <dir>/<model>/LAST_GOOD} names the version this replica last
 * loaded and warmed up successfully; it is replaced atomically (temp file, fsync, rename) and is what a restart
 * serves. The newest {@code keep} versions (by publish time) are kept, never the one serving or LAST_GOOD.
 *
 * <pre>{@code
 * ModelRepository repo = new ModelRepository(Path.of("repository"), 3);
 * StoredVersion v = repo.store(versionRecord, file -> materializer.materialize(versionRecord, chunks, file));
 * repo.setLastGood("minilm", "v2");          // after it loaded and warmed up
 * repo.prune("minilm", Set.of("v2"));        // keep the newest 3, never v2
 * }</pre>
 */
public final class ModelRepository {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelRepository.class);
    public static final String VERSION_FILE = "version.json";
    public static final String LAST_GOOD = "LAST_GOOD";
    /** Format version of {@code version.json}. */
    public static final int FORMAT_VERSION = 1;
    public static final int DEFAULT_KEEP = 3;
    static final String TEMP_PREFIX = ".tmp-";
    static final String TRASH_PREFIX = ".trash-";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Writes the model file of a version at the path it is given (inside the temp directory). */
    @FunctionalInterface
    public interface ModelFileWriter {
        void write(Path file) throws IOException;
    }

    /**
     * One version kept in the repository, as its {@code version.json} describes it.
     *
     * @param directory   the version's directory
     * @param modelFile   the model file in it
     * @param attachments the attachment files' names
     * @param methods     per-method summary (tensors, bytes, errors), from the version record
     * @param storedAtMs  when it was written here
     */
    public record StoredVersion(String model, String version, Path directory, Path modelFile, List<String> attachments,
                                long fileBytes, int tensors, long originalBytes, long encodedBytes, double ratio,
                                List<MethodSummary> methods, long publishedAtMs, long completedAtMs, long storedAtMs) {
        public StoredVersion {
            attachments = List.copyOf(attachments);
            methods = List.copyOf(methods);
        }

        public Optional<Path> attachment(String name) {
            return attachments.contains(name) ? Optional.of(directory.resolve(name)) : Optional.empty();
        }

        /** The {@code tokenizer.json} that travelled with the version, if any. */
        public Optional<Path> tokenizer() {
            return attachment(Attachments.TOKENIZER);
        }

        /** Tensors per method, e.g. {rtn=36, lossless=65}. */
        public Map<String, Integer> tensorsPerMethod() {
            Map<String, Integer> m = new LinkedHashMap<>();
            methods.forEach(s -> m.put(s.getMethod(), s.getTensors()));
            return m;
        }

        /** What the serving API shows of it (not serving yet: servingSinceMs = 0). */
        public ServedModel.Info info() {
            return new ServedModel.Info(model, version, modelFile, fileBytes, encodedBytes, ratio, tensorsPerMethod(),
                    publishedAtMs, 0);
        }
    }

    private final Path dir;
    private final int keep;

    /**
     * Opens (creating) the repository and removes what an interrupted write or delete left behind.
     *
     * @param keep versions to keep per model (>= 1)
     */
    public ModelRepository(Path dir, int keep) {
        Objects.requireNonNull(dir, "dir");
        if (keep < 1) {
            throw new IllegalArgumentException("keep must be at least 1, was " + keep);
        }
        this.dir = dir.toAbsolutePath();
        this.keep = keep;
        try {
            Files.createDirectories(this.dir);
            for (String model : models()) {
                removeLeftovers(modelDir(model));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the model repository " + dir + ": " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    public int keep() {
        return keep;
    }

    /**
     * Writes a version: the model file by {@code writer}, the attachments of its manifest (their SHA-256 checked),
     * {@code version.json}; all fsynced in a temp directory that is then renamed into place. If anything fails
     * nothing is left behind.
     *
     * @throws IllegalStateException if the version is already stored
     * @throws IllegalArgumentException for a file or attachment name that is not a plain file name, or an
     *     attachment whose SHA-256 is wrong
     * @throws UncheckedIOException when writing fails
     */
    public StoredVersion store(ModelVersionCompressed version, ModelFileWriter writer) {
        String model = version.getModel();
        String name = version.getVersion();
        String fileName = version.getManifest().getSourceFileName();
        checkPlainName("model file", fileName);
        if (name.equals(LAST_GOOD)) {
            throw new IllegalArgumentException(model + "/" + name + ": a version may not be called " + LAST_GOOD
                    + ", the name of the repository's pointer file");
        }
        Set<String> names = new HashSet<>(Set.of(fileName, VERSION_FILE));
        for (Attachment a : version.getManifest().getAttachments()) {
            checkPlainName("attachment", a.getName());
            if (!names.add(a.getName())) {
                throw new IllegalArgumentException(model + "/" + name + ": attachment " + a.getName()
                        + " collides with the model file, version.json or another attachment");
            }
            String sha = sha256(a.getData());
            if (!sha.equals(a.getSha256())) {
                throw new IllegalArgumentException(model + "/" + name + ": attachment " + a.getName() + " has SHA-256 "
                        + sha + " but the manifest says " + a.getSha256());
            }
        }
        Path modelDir = modelDir(model);
        Path target = modelDir.resolve(FileNames.encode(name));
        Path tmp = modelDir.resolve(TEMP_PREFIX + FileNames.encode(name) + "-" + UUID.randomUUID());
        try {
            boolean newModel = !Files.isDirectory(modelDir);
            Files.createDirectories(modelDir);
            if (newModel) {
                DurableFiles.fsyncDirectory(dir);
            }
            if (Files.exists(target)) {
                throw new IllegalStateException(model + "/" + name + " is already stored in " + target);
            }
            Files.createDirectory(tmp);
            Path file = tmp.resolve(fileName);
            writer.write(file);
            if (!Files.isRegularFile(file)) {
                throw new IOException("the model file " + file + " was not written");
            }
            DurableFiles.fsyncFile(file);
            List<String> attachmentNames = new ArrayList<>();
            for (Attachment a : version.getManifest().getAttachments()) {
                writeAndSync(tmp.resolve(a.getName()), a.getData());
                attachmentNames.add(a.getName());
            }
            long now = System.currentTimeMillis();
            StoredVersion stored = new StoredVersion(model, name, target, target.resolve(fileName), attachmentNames,
                    Files.size(file), version.getTensorCount(), version.getOriginalBytes(), version.getEncodedBytes(),
                    version.getRatio(), version.getMethods(), version.getPublishedAtMs(), version.getCompletedAtMs(), now);
            writeAndSync(tmp.resolve(VERSION_FILE), ByteBuffer.wrap(toJson(stored, fileName)));
            DurableFiles.fsyncDirectory(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            DurableFiles.fsyncDirectory(modelDir);
            return stored;
        } catch (IOException e) {
            DurableFiles.deleteTree(tmp);
            throw new UncheckedIOException("cannot store " + model + "/" + name + " in " + modelDir + ": "
                    + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            DurableFiles.deleteTree(tmp);
            throw e;
        }
    }

    /** The stored version, if this repository keeps it (and its {@code version.json} reads). */
    public Optional<StoredVersion> find(String model, String version) {
        Path d = modelDir(model).resolve(FileNames.encode(version));
        if (!Files.isRegularFile(d.resolve(VERSION_FILE))) {
            return Optional.empty();
        }
        return Optional.of(read(d));
    }

    /** The kept versions of {@code model}, oldest first (by publish time, then name). */
    public List<StoredVersion> versions(String model) {
        Path md = modelDir(model);
        if (!Files.isDirectory(md)) {
            return List.of();
        }
        List<StoredVersion> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(md)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") || !Files.isDirectory(p) || FileNames.decode(n) == null
                        || !Files.isRegularFile(p.resolve(VERSION_FILE))) {
                    continue;
                }
                try {
                    out.add(read(p));
                } catch (RuntimeException e) {
                    // an unreadable version.json is not a version this replica can serve; leave it for a human
                    LOG.warn("{} is not listed as a version: {}", p, e.getMessage());
                }
            }
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + md + ": " + e.getMessage(), e);
        }
        out.sort(ORDER);
        return out;
    }

    private static final Comparator<StoredVersion> ORDER =
            Comparator.comparingLong(StoredVersion::publishedAtMs).thenComparing(StoredVersion::version);

    /** The models with a directory here. */
    public List<String> models() {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                String model = FileNames.decode(n);
                if (model != null && !n.startsWith(".") && Files.isDirectory(p)) {
                    out.add(model);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    /** The version LAST_GOOD names, if it names one that is still kept. */
    public Optional<String> lastGood(String model) {
        Path p = modelDir(model).resolve(LAST_GOOD);
        try {
            String v = Files.readString(p, StandardCharsets.UTF_8).strip();
            return v.isEmpty() || find(model, v).isEmpty() ? Optional.empty() : Optional.of(v);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    /**
     * Points LAST_GOOD at {@code version} (temp file, fsync, rename, fsync directory). Call it only once the version
     * loaded and warmed up.
     *
     * @throws NoSuchElementException if the version is not stored
     */
    public void setLastGood(String model, String version) {
        if (find(model, version).isEmpty()) {
            throw new NoSuchElementException(model + "/" + version + " is not in the repository " + dir);
        }
        try {
            DurableFiles.writeAtomically(modelDir(model).resolve(LAST_GOOD),
                    (version + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write LAST_GOOD of " + model + ": " + e.getMessage(), e);
        }
    }

    /**
     * Deletes the versions of {@code model} beyond the newest {@link #keep()}, never those in {@code protect} nor
     * the one LAST_GOOD names.
     *
     * @return the deleted versions
     */
    public List<String> prune(String model, Set<String> protect) {
        List<StoredVersion> all = versions(model);
        Set<String> keepers = new HashSet<>(protect);
        lastGood(model).ifPresent(keepers::add);
        List<String> removed = new ArrayList<>();
        for (int i = 0; i < all.size() - keep; i++) {
            String v = all.get(i).version();
            if (!keepers.contains(v)) {
                remove(model, v);
                removed.add(v);
            }
        }
        return removed;
    }

    /**
     * Whether a version published at {@code publishedAtMs} would be pruned as soon as it was stored: {@link #keep()}
     * newer versions are kept already. Such a version is superseded and need not be materialized at all.
     */
    public boolean wouldBePruned(String model, long publishedAtMs) {
        return versions(model).stream().filter(v -> v.publishedAtMs() > publishedAtMs).count() >= keep;
    }

    /** Deletes a stored version (renamed away first, so it disappears in one step). Missing is fine. */
    public void remove(String model, String version) {
        Path md = modelDir(model);
        Path d = md.resolve(FileNames.encode(version));
        if (!Files.exists(d)) {
            return;
        }
        Path trash = md.resolve(TRASH_PREFIX + FileNames.encode(version) + "-" + UUID.randomUUID());
        try {
            Files.move(d, trash, StandardCopyOption.ATOMIC_MOVE);
            DurableFiles.fsyncDirectory(md);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + d + ": " + e.getMessage(), e);
        }
        DurableFiles.deleteTree(trash);
    }

    private Path modelDir(String model) {
        return dir.resolve(FileNames.encode(model));
    }

    private static void removeLeftovers(Path modelDir) throws IOException {
        List<Path> leftovers = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(modelDir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.startsWith(TEMP_PREFIX) || n.startsWith(TRASH_PREFIX) || n.equals("." + LAST_GOOD + ".tmp")) {
                    leftovers.add(p);
                }
            }
        }
        leftovers.forEach(DurableFiles::deleteTree);
    }

    private static void checkPlainName(String what, String name) {
        if (name == null || name.isBlank() || name.contains("/") || name.contains("\\") || name.startsWith(".")
                || name.equals(VERSION_FILE) || name.length() > 200) {
            throw new IllegalArgumentException(what + " name must be a plain file name (no directories, not"
                    + " hidden, not " + VERSION_FILE + "): '" + name + "'");
        }
    }

    private static void writeAndSync(Path file, ByteBuffer data) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = data.duplicate();
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    private static String sha256(ByteBuffer data) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(data.duplicate());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- version.json

    private static byte[] toJson(StoredVersion v, String fileName) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT_VERSION);
        root.put("model", v.model());
        root.put("version", v.version());
        root.put("file", fileName);
        root.put("fileBytes", v.fileBytes());
        root.put("tensors", v.tensors());
        root.put("originalBytes", v.originalBytes());
        root.put("encodedBytes", v.encodedBytes());
        root.put("ratio", v.ratio());
        root.put("publishedAtMs", v.publishedAtMs());
        root.put("completedAtMs", v.completedAtMs());
        root.put("storedAtMs", v.storedAtMs());
        ArrayNode atts = root.putArray("attachments");
        v.attachments().forEach(atts::add);
        ArrayNode methods = root.putArray("methods");
        for (MethodSummary m : v.methods()) {
            ObjectNode o = methods.addObject();
            o.put("method", m.getMethod());
            o.put("tensors", m.getTensors());
            o.put("originalBytes", m.getOriginalBytes());
            o.put("encodedBytes", m.getEncodedBytes());
            o.put("meanRelL2", m.getMeanRelL2());
            o.put("maxRelL2", m.getMaxRelL2());
            o.put("encodeMs", m.getEncodeMs());
        }
        return JSON.writeValueAsBytes(root);
    }

    private static StoredVersion read(Path versionDir) {
        Path f = versionDir.resolve(VERSION_FILE);
        try {
            JsonNode root = JSON.readTree(f.toFile());
            int format = root.path("format").asInt(-1);
            if (format != FORMAT_VERSION) {
                throw new IllegalStateException(f + ": version.json format " + format + " is not supported (this"
                        + " decoder reads " + FORMAT_VERSION + ")");
            }
            List<String> atts = new ArrayList<>();
            root.path("attachments").forEach(n -> atts.add(n.asText()));
            List<MethodSummary> methods = new ArrayList<>();
            for (JsonNode m : root.path("methods")) {
                methods.add(MethodSummary.newBuilder().setMethod(m.path("method").asText())
                        .setTensors(m.path("tensors").asInt()).setOriginalBytes(m.path("originalBytes").asLong())
                        .setEncodedBytes(m.path("encodedBytes").asLong()).setMeanRelL2(m.path("meanRelL2").asDouble())
                        .setMaxRelL2(m.path("maxRelL2").asDouble()).setEncodeMs(m.path("encodeMs").asDouble()).build());
            }
            String file = root.path("file").asText();
            checkPlainName("model file", file);
            return new StoredVersion(root.path("model").asText(), root.path("version").asText(), versionDir,
                    versionDir.resolve(file), atts, root.path("fileBytes").asLong(), root.path("tensors").asInt(),
                    root.path("originalBytes").asLong(), root.path("encodedBytes").asLong(),
                    root.path("ratio").asDouble(), methods, root.path("publishedAtMs").asLong(),
                    root.path("completedAtMs").asLong(), root.path("storedAtMs").asLong());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
        }
    }
}
