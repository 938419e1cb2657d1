package io.weightstream.decoder;

import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.TensorEntry;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.zip.CRC32C;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;

/**
 * Durable staging, on local disk, of the compressed records of model versions that are still being assembled:
 * the decoder appends every record it polls here and fsyncs <em>before</em> it commits the records' offsets, so a
 * crash at any point loses nothing that Kafka will not deliver again.
 *
 * <p>One append-only file per model version, {@code <dir>/<model>/<version>.stage} (names percent-encoded).
 * Format version {@value #FORMAT_VERSION}:
 * <pre>
 * file    := magic "WSSTAGE\n" | u32 format version | header frame | record frame*
 * frame   := u32 body length | u32 CRC-32C of body | body            (big-endian)
 * header  := str model | str version | i64 created at (epoch ms) | str chunk schema | str version schema
 * record  := u8 kind (1 = CompressedLayerChunk, 2 = ModelVersionCompressed) | i32 partition | i64 offset
 *            | Avro binary of the record, written with the header's schema of that kind
 * str     := u32 length | UTF-8 bytes
 * </pre>
 * Records are Avro-encoded with their schema kept in the header, so a stage written by an older decoder is read
 * by a newer one through Avro schema resolution, and no registry is needed to recover.
 *
 * <p>Recovery ({@link #open}) reads every file: a torn last frame (a crash in the middle of an append, whose
 * offsets were therefore never committed) is cut off; a bad frame with good data after it, or a bad header, is
 * corruption: the version is listed with its {@link StagedVersion#damage() damage} and the decoder fails it. A
 * version's file is removed by {@link #finish} once it is materialized, failed or superseded, leaving a small
 * {@code .done} marker so records of it delivered again are recognised and not staged twice. The sum of the
 * staged files is bounded by a budget: an append beyond it throws {@link StageFullException} and writes nothing.
 *
 * <p>Thread-safe: the consumer thread appends and syncs while the materializing thread reads and finishes.
 *
 * <pre>{@code
 * try (ChunkStage stage = ChunkStage.open(Path.of("staging"), 8L << 30)) {
 *     for (StagedVersion v : stage.versions()) { ... }            // what survived the last run
 *     stage.append(chunk, record.partition(), record.offset());
 *     stage.sync();                                               // then consumer.commitSync(...)
 *     if (stage.version("minilm", "v2").orElseThrow().complete()) {
 *         ChunkStage.Contents c = stage.read("minilm", "v2");
 *         ...
 *         stage.finish("minilm", "v2");
 *     }
 * }
 * }</pre>
 */
public final class ChunkStage implements AutoCloseable {
    /** Version of the staging file format, written after the magic. */
    public static final int FORMAT_VERSION = 1;
    static final byte[] MAGIC = "WSSTAGE\n".getBytes(StandardCharsets.US_ASCII);
    static final int PREAMBLE_BYTES = MAGIC.length + 4;
    static final int FRAME_HEADER_BYTES = 8;
    /** Largest frame body: records are at most 16 MiB on the topics. */
    static final int MAX_FRAME_BYTES = 64 << 20;
    static final byte KIND_CHUNK = 1;
    static final byte KIND_VERSION = 2;
    static final String STAGE_SUFFIX = ".stage";
    static final String DONE_SUFFIX = ".done";
    /** Done markers kept per model; the oldest go first (records are not delivered again after that long). */
    static final int MAX_DONE_MARKERS = 1000;
    // a chunk index above this is not counted towards completeness (the join rejects such a chunk anyway)
    private static final int MAX_TRACKED_CHUNKS = 1 << 24;

    private static final Schema CHUNK_SCHEMA = CompressedLayerChunk.getClassSchema();
    private static final Schema VERSION_SCHEMA = ModelVersionCompressed.getClassSchema();

    /** What a staged version holds so far (a snapshot). */
    public record StagedVersion(String model, String version, long createdAtMs, long bytes, int records,
                                boolean hasVersionRecord, long publishedAtMs, int tensorsExpected,
                                int tensorsComplete, Optional<String> damage) {
        /** The version record is staged and every tensor it lists has all its chunks. */
        public boolean complete() {
            return hasVersionRecord && damage.isEmpty() && tensorsComplete == tensorsExpected;
        }

        @Override
        public String toString() {
            return model + "/" + version + " (" + records + " records, " + bytes + " bytes, "
                    + (hasVersionRecord ? tensorsComplete + "/" + tensorsExpected + " tensors" : "no version record yet")
                    + damage.map(d -> ", damaged: " + d).orElse("") + ")";
        }
    }

    /** Something recovery found and dealt with. */
    public record RecoveryNote(Path file, long offset, String what) {
    }

    /**
     * Everything staged of one version: its version record and its chunks by tensor, each with the Kafka
     * partition and offset it came from.
     */
    public record Contents(ModelVersionCompressed version, int versionPartition, long versionOffset,
                           Map<String, List<CompressedLayerChunk>> chunksByTensor, long bytes) {
    }

    private record Key(String model, String version) {
    }

    /** The index of one staged version; guarded by the stage's lock. */
    private static final class Entry {
        final String model;
        final String version;
        final Path file;
        final long createdAtMs;
        long size;
        int records;
        FileChannel channel; // open for appends once anything is appended in this run
        boolean hasVersionRecord;
        long publishedAtMs = -1;
        List<String> tensors; // from the version record's manifest
        final Map<String, BitSet> seen = new HashMap<>();
        final Map<String, Integer> chunkCounts = new HashMap<>();
        String damage;

        Entry(String model, String version, Path file, long createdAtMs) {
            this.model = model;
            this.version = version;
            this.file = file;
            this.createdAtMs = createdAtMs;
        }

        void index(CompressedLayerChunk c) {
            records++;
            int count = c.getChunkCount();
            int i = c.getChunkIndex();
            chunkCounts.putIfAbsent(c.getTensor(), count);
            if (i >= 0 && i < count && i < MAX_TRACKED_CHUNKS && chunkCounts.get(c.getTensor()) == count) {
                seen.computeIfAbsent(c.getTensor(), t -> new BitSet()).set(i);
            }
        }

        void index(ModelVersionCompressed v) {
            records++;
            hasVersionRecord = true;
            publishedAtMs = v.getPublishedAtMs();
            tensors = v.getManifest().getTensors().stream().map(TensorEntry::getName).toList();
        }

        int tensorsComplete() {
            if (tensors == null) {
                return 0;
            }
            int n = 0;
            for (String t : tensors) {
                BitSet b = seen.get(t);
                Integer count = chunkCounts.get(t);
                if (b != null && count != null && b.cardinality() == count) {
                    n++;
                }
            }
            return n;
        }

        StagedVersion snapshot() {
            return new StagedVersion(model, version, createdAtMs, size, records, hasVersionRecord, publishedAtMs,
                    tensors == null ? -1 : tensors.size(), tensorsComplete(), Optional.ofNullable(damage));
        }
    }

    private final Path root;
    private final long budgetBytes;
    private final Map<Key, Entry> entries = new LinkedHashMap<>();
    private final Set<Key> done = new HashSet<>();
    private final Set<Entry> unsynced = new HashSet<>();
    private final Set<Path> unsyncedDirectories = new HashSet<>();
    private final List<RecoveryNote> recoveryNotes = new ArrayList<>();
    private final SpecificDatumWriter<CompressedLayerChunk> chunkWriter = new SpecificDatumWriter<>(CHUNK_SCHEMA);
    private final SpecificDatumWriter<ModelVersionCompressed> versionWriter = new SpecificDatumWriter<>(VERSION_SCHEMA);
    private final Frame frame = new Frame();
    private long usedBytes;
    private boolean closed;

    private ChunkStage(Path root, long budgetBytes) {
        this.root = root;
        this.budgetBytes = budgetBytes;
    }

    /**
     * Opens (creating) the staging directory and recovers what a previous run staged.
     *
     * @param budgetBytes the most bytes the staged files may take together
     * @throws UncheckedIOException if the directory cannot be read or created
     */
    public static ChunkStage open(Path dir, long budgetBytes) {
        Objects.requireNonNull(dir, "dir");
        if (budgetBytes < 1 << 20) {
            throw new IllegalArgumentException("staging budget must be at least 1 MiB, was " + budgetBytes + " bytes");
        }
        ChunkStage stage = new ChunkStage(dir.toAbsolutePath(), budgetBytes);
        try {
            Files.createDirectories(stage.root);
            stage.recover();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the staging directory " + dir + ": " + e.getMessage(), e);
        }
        return stage;
    }

    public Path dir() {
        return root;
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    /** Bytes the staged files take now. */
    public synchronized long usedBytes() {
        return usedBytes;
    }

    /** What recovery cut off or found damaged when the stage was opened. */
    public synchronized List<RecoveryNote> recoveryNotes() {
        return List.copyOf(recoveryNotes);
    }

    /** Every staged version, oldest file first. */
    public synchronized List<StagedVersion> versions() {
        return entries.values().stream().map(Entry::snapshot).toList();
    }

    /** The staged versions that are complete and undamaged. */
    public synchronized List<StagedVersion> completeVersions() {
        return entries.values().stream().map(Entry::snapshot).filter(StagedVersion::complete).toList();
    }

    public synchronized Optional<StagedVersion> version(String model, String version) {
        Entry e = entries.get(new Key(model, version));
        return e == null ? Optional.empty() : Optional.of(e.snapshot());
    }

    /** Whether {@code model/version} was {@linkplain #finish finished}: its records are not staged again. */
    public synchronized boolean isFinished(String model, String version) {
        return done.contains(new Key(model, version));
    }

    /**
     * Appends one compressed chunk to its version's file (not yet durable: call {@link #sync()}).
     *
     * @return false if the version is already {@linkplain #isFinished finished} or damaged (nothing written)
     * @throws StageFullException if the budget does not allow it (nothing written)
     */
    public boolean append(CompressedLayerChunk chunk, int partition, long offset) {
        return appendRecord(chunk.getModel(), chunk.getVersion(), KIND_CHUNK, partition, offset, chunk,
                "chunk " + chunk.getChunkIndex() + " of tensor " + chunk.getTensor());
    }

    /**
     * Appends a version record (the manifest and totals) to its version's file (not yet durable).
     *
     * @return false if the version is already {@linkplain #isFinished finished} or damaged
     * @throws StageFullException if the budget does not allow it
     */
    public boolean append(ModelVersionCompressed version, int partition, long offset) {
        return appendRecord(version.getModel(), version.getVersion(), KIND_VERSION, partition, offset, version,
                "the version record");
    }

    private synchronized boolean appendRecord(String model, String version, byte kind, int partition, long offset,
                                              Object record, String what) {
        checkOpen();
        Key key = new Key(model, version);
        if (done.contains(key)) {
            return false;
        }
        Entry e = entries.get(key);
        if (e != null && e.damage != null) {
            return false; // the decoder fails a damaged version; more records cannot repair it
        }
        try {
            byte[] header = null;
            long now = System.currentTimeMillis();
            if (e == null) {
                header = headerBytes(model, version, now);
            }
            frame.reset(kind, partition, offset);
            if (kind == KIND_CHUNK) {
                frame.encode(chunkWriter, (CompressedLayerChunk) record);
            } else {
                frame.encode(versionWriter, (ModelVersionCompressed) record);
            }
            long needed = FRAME_HEADER_BYTES + (long) frame.size() + (header == null ? 0 : header.length);
            if (frame.size() > MAX_FRAME_BYTES) {
                throw new IllegalArgumentException(model + "/" + version + ": " + what + " is " + frame.size()
                        + " bytes encoded, more than a staging frame holds (" + MAX_FRAME_BYTES + ")");
            }
            if (usedBytes + needed > budgetBytes) {
                throw new StageFullException(model + "/" + version + " " + what, budgetBytes, usedBytes, needed);
            }
            if (e == null) {
                e = create(key, header, now);
            }
            if (e.channel == null) {
                e.channel = FileChannel.open(e.file, StandardOpenOption.WRITE);
            }
            long at = e.size;
            frame.writeTo(e.channel, at);
            e.size = at + FRAME_HEADER_BYTES + frame.size();
            usedBytes += FRAME_HEADER_BYTES + frame.size();
            unsynced.add(e);
            if (kind == KIND_CHUNK) {
                e.index((CompressedLayerChunk) record);
            } else {
                e.index((ModelVersionCompressed) record);
            }
            return true;
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot stage " + what + " of " + model + "/" + version + " in "
                    + root + ": " + ex.getMessage(), ex);
        }
    }

    private Entry create(Key key, byte[] header, long createdAt) throws IOException {
        Path modelDir = root.resolve(FileNames.encode(key.model()));
        if (!Files.isDirectory(modelDir)) {
            Files.createDirectories(modelDir);
            unsyncedDirectories.add(root);
        }
        Path file = modelDir.resolve(FileNames.encode(key.version()) + STAGE_SUFFIX);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            ByteBuffer b = ByteBuffer.wrap(header);
            long pos = 0;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        } catch (IOException ex) {
            ch.close();
            Files.deleteIfExists(file);
            throw ex;
        }
        Entry e = new Entry(key.model(), key.version(), file, createdAt);
        e.channel = ch;
        e.size = header.length;
        usedBytes += header.length;
        entries.put(key, e);
        unsyncedDirectories.add(modelDir);
        return e;
    }

    /**
     * Makes every append so far durable: fsyncs each file appended to and each directory a file was created in.
     * Call it before committing the offsets of the appended records.
     */
    public synchronized void sync() {
        checkOpen();
        try {
            for (Entry e : unsynced) {
                if (e.channel != null && e.channel.isOpen()) {
                    e.channel.force(true);
                }
            }
            unsynced.clear();
            // the model directories first, then the root that holds a new model directory
            for (Path dir : unsyncedDirectories.stream().sorted(Comparator.comparingInt(Path::getNameCount).reversed()).toList()) {
                if (Files.isDirectory(dir)) {
                    DurableFiles.fsyncDirectory(dir);
                }
            }
            unsyncedDirectories.clear();
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot fsync the staging area " + root + ": " + ex.getMessage(), ex);
        }
    }

    /**
     * Reads back everything staged of {@code model/version} (the records appended so far).
     *
     * @throws java.util.NoSuchElementException if nothing of it is staged
     * @throws StageFormatException if the file is damaged
     */
    public Contents read(String model, String version) {
        Path file;
        long size;
        synchronized (this) {
            checkOpen();
            Entry e = entries.get(new Key(model, version));
            if (e == null) {
                throw new java.util.NoSuchElementException(model + "/" + version + " is not staged");
            }
            if (e.damage != null) {
                throw new StageFormatException(e.file, 0, "damaged: " + e.damage);
            }
            file = e.file;
            size = e.size;
        }
        // read outside the lock: the file only grows at its end, and only the bytes up to `size` are read
        ModelVersionCompressed[] v = new ModelVersionCompressed[1];
        int[] vPartition = {-1};
        long[] vOffset = {-1};
        Map<String, List<CompressedLayerChunk>> chunks = new LinkedHashMap<>();
        Scan scan = scan(file, size, (kind, partition, offset, record) -> {
            if (kind == KIND_VERSION) {
                v[0] = (ModelVersionCompressed) record;
                vPartition[0] = partition;
                vOffset[0] = offset;
            } else {
                CompressedLayerChunk c = (CompressedLayerChunk) record;
                chunks.computeIfAbsent(c.getTensor(), t -> new ArrayList<>()).add(c);
            }
        });
        if (scan.problem != null) {
            throw scan.problem;
        }
        if (scan.validEnd != size) {
            throw new StageFormatException(file, scan.validEnd, "ends at byte " + scan.validEnd + " but "
                    + size + " bytes were staged");
        }
        return new Contents(v[0], vPartition[0], vOffset[0], chunks, size);
    }

    /**
     * Forgets {@code model/version}: writes its done marker, then deletes its staged file (both fsynced). Later
     * records of it are refused by {@link #append}. Idempotent.
     */
    public synchronized void finish(String model, String version) {
        checkOpen();
        Key key = new Key(model, version);
        Entry e = entries.remove(key);
        Path modelDir = root.resolve(FileNames.encode(model));
        try {
            Files.createDirectories(modelDir);
            Path marker = modelDir.resolve(FileNames.encode(version) + DONE_SUFFIX);
            if (!Files.exists(marker)) {
                Files.write(marker, new byte[0]);
            }
            done.add(key);
            // the marker must be durable before the data goes, or a crash in between would stage it again
            DurableFiles.fsyncDirectory(modelDir);
            if (e != null) {
                unsynced.remove(e);
                if (e.channel != null) {
                    e.channel.close();
                }
                Files.deleteIfExists(e.file);
                usedBytes -= e.size;
                DurableFiles.fsyncDirectory(modelDir);
            }
            pruneMarkers(modelDir);
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot remove " + model + "/" + version + " from staging: "
                    + ex.getMessage(), ex);
        }
    }

    private void pruneMarkers(Path modelDir) throws IOException {
        List<Path> markers = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(modelDir, "*" + DONE_SUFFIX)) {
            ds.forEach(markers::add);
        }
        if (markers.size() <= MAX_DONE_MARKERS) {
            return;
        }
        Map<Path, FileTime> times = new HashMap<>();
        for (Path m : markers) {
            times.put(m, Files.getLastModifiedTime(m));
        }
        markers.sort(Comparator.comparing(times::get));
        for (Path m : markers.subList(0, markers.size() - MAX_DONE_MARKERS)) {
            Files.deleteIfExists(m);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Entry e : entries.values()) {
            if (e.channel != null) {
                try {
                    e.channel.close();
                } catch (IOException ignored) {
                    // nothing unsynced is promised durable; closing cannot lose committed data
                }
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the staging area " + root + " is closed");
        }
    }

    // ---------------------------------------------------------------- recovery

    private void recover() throws IOException {
        List<Path> modelDirs = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                if (Files.isDirectory(p) && FileNames.decode(p.getFileName().toString()) != null) {
                    modelDirs.add(p);
                }
            }
        }
        modelDirs.sort(Comparator.naturalOrder());
        List<Entry> recovered = new ArrayList<>();
        for (Path modelDir : modelDirs) {
            String model = FileNames.decode(modelDir.getFileName().toString());
            List<Path> files = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(modelDir)) {
                ds.forEach(files::add);
            }
            files.sort(Comparator.naturalOrder());
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(DONE_SUFFIX)) {
                    String version = FileNames.decode(name.substring(0, name.length() - DONE_SUFFIX.length()));
                    if (version != null) {
                        done.add(new Key(model, version));
                    }
                }
            }
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (!name.endsWith(STAGE_SUFFIX)) {
                    continue;
                }
                String version = FileNames.decode(name.substring(0, name.length() - STAGE_SUFFIX.length()));
                if (version == null) {
                    recoveryNotes.add(new RecoveryNote(f, 0, "not a staging file name; left alone"));
                    continue;
                }
                if (done.contains(new Key(model, version))) {
                    // finished, but the crash came before the file was deleted
                    Files.deleteIfExists(f);
                    recoveryNotes.add(new RecoveryNote(f, 0, "already finished; deleted"));
                    continue;
                }
                Entry e = recoverFile(f, model, version);
                if (e != null) {
                    recovered.add(e);
                }
            }
        }
        recovered.sort(Comparator.comparingLong((Entry e) -> e.createdAtMs).thenComparing(e -> e.file));
        for (Entry e : recovered) {
            entries.put(new Key(e.model, e.version), e);
            usedBytes += Files.size(e.file);
        }
    }

    private Entry recoverFile(Path f, String model, String version) throws IOException {
        long size = Files.size(f);
        Entry[] holder = new Entry[1];
        Scan scan = scan(f, size, (kind, partition, offset, record) -> {
            if (kind == KIND_VERSION) {
                holder[0].index((ModelVersionCompressed) record);
            } else {
                holder[0].index((CompressedLayerChunk) record);
            }
        }, header -> {
            holder[0] = new Entry(model, version, f, header.createdAtMs);
            if (!header.model.equals(model) || !header.version.equals(version)) {
                throw new StageFormatException(f, PREAMBLE_BYTES, "the header names " + header.model + "/"
                        + header.version + ", the file name " + model + "/" + version);
            }
        });
        if (holder[0] == null && scan.problem == null) {
            // a torn header: the crash came while the file was being created, before anything in it was synced,
            // so no offset of it was committed
            Files.deleteIfExists(f);
            recoveryNotes.add(new RecoveryNote(f, 0, "torn header, deleted"));
            return null;
        }
        if (holder[0] == null) {
            // an unreadable header with data after it: records of this version may be lost, so say so
            holder[0] = new Entry(model, version, f, Files.getLastModifiedTime(f).toMillis());
        }
        Entry e = holder[0];
        if (scan.problem != null) {
            e.damage = scan.problem.getMessage();
            e.size = size;
            recoveryNotes.add(new RecoveryNote(f, scan.problem.offset(), "corrupt: " + scan.problem.getMessage()));
        } else {
            if (scan.validEnd < size) {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                    ch.truncate(scan.validEnd);
                    ch.force(true);
                }
                recoveryNotes.add(new RecoveryNote(f, scan.validEnd, "torn last frame cut off ("
                        + (size - scan.validEnd) + " bytes)"));
            }
            e.size = scan.validEnd;
        }
        return e;
    }

    // ---------------------------------------------------------------- the file format

    private record Header(String model, String version, long createdAtMs, Schema chunkSchema, Schema versionSchema) {
    }

    private interface RecordVisitor {
        void record(byte kind, int partition, long offset, Object record);
    }

    private interface HeaderVisitor {
        void header(Header header);
    }

    /** validEnd: end of the last intact frame; problem: corruption found (not a torn tail). */
    private record Scan(long validEnd, StageFormatException problem) {
    }

    private static Scan scan(Path file, long size, RecordVisitor visitor) {
        return scan(file, size, visitor, h -> { });
    }

    /**
     * Reads frames up to {@code size}. A frame that runs past the end, a short frame header, a bad frame that is the
     * last thing in the file, or a zero-filled tail is a torn write: the scan stops before it. A bad frame followed
     * by more data is corruption.
     */
    private static Scan scan(Path file, long size, RecordVisitor visitor, HeaderVisitor headerVisitor) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (size < PREAMBLE_BYTES) {
                return new Scan(0, null);
            }
            ByteBuffer pre = ByteBuffer.allocate(PREAMBLE_BYTES);
            readFully(ch, pre, 0);
            byte[] magic = Arrays.copyOf(pre.array(), MAGIC.length);
            if (!Arrays.equals(magic, MAGIC)) {
                return zeroTail(ch, 0, size) ? new Scan(0, null)
                        : new Scan(0, new StageFormatException(file, 0, "not a weightstream staging file (bad magic)"));
            }
            int format = pre.getInt(MAGIC.length);
            if (format != FORMAT_VERSION) {
                if (zeroTail(ch, MAGIC.length, size)) {
                    return new Scan(0, null); // the preamble's blocks were allocated but never written
                }
                return new Scan(0, new StageFormatException(file, MAGIC.length, "staging format version " + format
                        + " is not supported (this decoder reads version " + FORMAT_VERSION + ")"));
            }
            long pos = PREAMBLE_BYTES;
            Header header = null;
            ByteBuffer fh = ByteBuffer.allocate(FRAME_HEADER_BYTES);
            while (pos < size) {
                if (size - pos < FRAME_HEADER_BYTES) {
                    return new Scan(pos, null);
                }
                fh.clear();
                readFully(ch, fh, pos);
                int length = fh.getInt(0);
                int crc = fh.getInt(4);
                long end = pos + FRAME_HEADER_BYTES + (long) length;
                if (length <= 0 || length > MAX_FRAME_BYTES) {
                    return zeroTail(ch, pos, size) ? new Scan(pos, null)
                            : new Scan(pos, new StageFormatException(file, pos, "frame length " + length
                                    + " is outside (0, " + MAX_FRAME_BYTES + "]"));
                }
                if (end > size) {
                    return new Scan(pos, null);
                }
                ByteBuffer body = ByteBuffer.allocate(length);
                readFully(ch, body, pos + FRAME_HEADER_BYTES);
                CRC32C c = new CRC32C();
                c.update(body.array(), 0, length);
                if ((int) c.getValue() != crc) {
                    if (end == size || zeroTail(ch, pos, size)) {
                        return new Scan(pos, null);
                    }
                    return new Scan(pos, new StageFormatException(file, pos, "frame fails its CRC-32C"));
                }
                try {
                    if (header == null) {
                        header = parseHeader(body.array());
                        headerVisitor.header(header);
                    } else {
                        parseRecord(body.array(), header, visitor);
                    }
                } catch (StageFormatException e) {
                    throw e;
                } catch (RuntimeException | IOException e) {
                    return new Scan(pos, new StageFormatException(file, pos, (header == null ? "header" : "record")
                            + " does not decode: " + e, e));
                }
                pos = end;
            }
            return new Scan(pos, null);
        } catch (StageFormatException e) {
            return new Scan(e.offset(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read staging file " + file + ": " + e.getMessage(), e);
        }
    }

    private static boolean zeroTail(FileChannel ch, long from, long size) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64 << 10);
        for (long pos = from; pos < size; ) {
            b.clear();
            b.limit((int) Math.min(b.capacity(), size - pos));
            readFully(ch, b, pos);
            for (int i = 0; i < b.limit(); i++) {
                if (b.get(i) != 0) {
                    return false;
                }
            }
            pos += b.limit();
        }
        return true;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new java.io.EOFException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
        b.flip();
    }

    private static Header parseHeader(byte[] body) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(body);
        String model = readString(b);
        String version = readString(b);
        long createdAt = b.getLong();
        Schema chunk = new Schema.Parser().parse(readString(b));
        Schema ver = new Schema.Parser().parse(readString(b));
        if (b.hasRemaining()) {
            throw new IOException(b.remaining() + " trailing bytes in the header");
        }
        return new Header(model, version, createdAt, chunk, ver);
    }

    private static void parseRecord(byte[] body, Header header, RecordVisitor visitor) throws IOException {
        if (body.length < 13) {
            throw new IOException("record frame of " + body.length + " bytes is shorter than its 13-byte prefix");
        }
        ByteBuffer b = ByteBuffer.wrap(body);
        byte kind = b.get();
        int partition = b.getInt();
        long offset = b.getLong();
        BinaryDecoder in = DecoderFactory.get().binaryDecoder(body, 13, body.length - 13, null);
        Object record;
        if (kind == KIND_CHUNK) {
            record = new SpecificDatumReader<CompressedLayerChunk>(header.chunkSchema, CHUNK_SCHEMA).read(null, in);
        } else if (kind == KIND_VERSION) {
            record = new SpecificDatumReader<ModelVersionCompressed>(header.versionSchema, VERSION_SCHEMA).read(null, in);
        } else {
            throw new IOException("unknown record kind " + kind);
        }
        if (!in.isEnd()) {
            throw new IOException("trailing bytes after the record");
        }
        visitor.record(kind, partition, offset, record);
    }

    private static String readString(ByteBuffer b) throws IOException {
        int n = b.getInt();
        if (n < 0 || n > b.remaining()) {
            throw new IOException("string length " + n + " exceeds the " + b.remaining() + " bytes left");
        }
        byte[] s = new byte[n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static byte[] headerBytes(String model, String version, long createdAtMs) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(body);
        writeString(out, model);
        writeString(out, version);
        out.writeLong(createdAtMs);
        writeString(out, CHUNK_SCHEMA.toString());
        writeString(out, VERSION_SCHEMA.toString());
        out.flush();
        byte[] b = body.toByteArray();
        ByteBuffer file = ByteBuffer.allocate(PREAMBLE_BYTES + FRAME_HEADER_BYTES + b.length);
        file.put(MAGIC).putInt(FORMAT_VERSION);
        CRC32C crc = new CRC32C();
        crc.update(b);
        file.putInt(b.length).putInt((int) crc.getValue()).put(b);
        return file.array();
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    /** One record frame being built: a reusable buffer, so a 1 MiB chunk costs no new allocation. */
    private static final class Frame {
        private final Buffer body = new Buffer();
        private BinaryEncoder encoder;

        void reset(byte kind, int partition, long offset) {
            body.reset();
            body.write(kind);
            body.write(ByteBuffer.allocate(12).putInt(partition).putLong(offset).array(), 0, 12);
        }

        <T> void encode(SpecificDatumWriter<T> writer, T record) throws IOException {
            encoder = EncoderFactory.get().directBinaryEncoder(body, encoder);
            writer.write(record, encoder);
            encoder.flush();
        }

        int size() {
            return body.size();
        }

        void writeTo(FileChannel ch, long position) throws IOException {
            CRC32C crc = new CRC32C();
            crc.update(body.array(), 0, body.size());
            ByteBuffer head = ByteBuffer.allocate(FRAME_HEADER_BYTES).putInt(body.size()).putInt((int) crc.getValue()).flip();
            ByteBuffer data = ByteBuffer.wrap(body.array(), 0, body.size());
            long pos = position;
            while (head.hasRemaining()) {
                pos += ch.write(head, pos);
            }
            while (data.hasRemaining()) {
                pos += ch.write(data, pos);
            }
        }

        private static final class Buffer extends ByteArrayOutputStream {
            Buffer() {
                super(1 << 16);
            }

            byte[] array() {
                return buf;
            }
        }
    }
}
