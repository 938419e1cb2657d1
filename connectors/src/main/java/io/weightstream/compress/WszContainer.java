package io.weightstream.compress;

import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.ModelVersionCompressed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;

/**
 * The {@code .wsz} container of the offline commands: an Avro object container file of the very records that travel
 * on Kafka — one {@link ModelVersionCompressed} (which carries the manifest and the skeleton) followed by the
 * {@link CompressedLayerChunk}s of every tensor. Any Avro tool can read it ({@code avro-tools tojson}).
 *
 * <pre>{@code
 * WszContainer.write(Path.of("model.wsz"), version, chunks);
 * WszContainer.Contents c = WszContainer.read(Path.of("model.wsz"));
 * }</pre>
 */
public final class WszContainer {
    /** The file's schema: a union of the two record types. */
    public static final Schema SCHEMA = Schema.createUnion(ModelVersionCompressed.getClassSchema(),
            CompressedLayerChunk.getClassSchema());
    /** Metadata key naming the container format version. */
    public static final String FORMAT_KEY = "weightstream.container.version";
    public static final long FORMAT_VERSION = 1;

    private WszContainer() {
    }

    /** A container's records: the version and each tensor's chunks. */
    public record Contents(ModelVersionCompressed version, Map<String, List<CompressedLayerChunk>> chunksByTensor) {
    }

    /** Writes atomically (temp file in the same directory, then rename). */
    public static void write(Path out, ModelVersionCompressed version, List<CompressedLayerChunk> chunks) {
        Path dir = out.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + out.getFileName() + ".tmp");
        try (DataFileWriter<Object> w = new DataFileWriter<>(new SpecificDatumWriter<>(SCHEMA))) {
            w.setMeta(FORMAT_KEY, FORMAT_VERSION);
            w.create(SCHEMA, tmp.toFile());
            w.append(version);
            for (CompressedLayerChunk c : chunks) {
                w.append(c);
            }
            w.fSync();
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + out, e);
        }
        try {
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("renaming " + tmp + " to " + out, e);
        }
    }

    /**
     * Reads a container, checking its format version and that the version record comes first.
     *
     * @throws CompressedModelException naming the file for anything that is not a valid container
     */
    public static Contents read(Path in) {
        if (!Files.isRegularFile(in)) {
            throw new CompressedModelException(in + ": no such file");
        }
        ModelVersionCompressed version = null;
        Map<String, List<CompressedLayerChunk>> chunks = new LinkedHashMap<>();
        long record = 0;
        try (DataFileReader<Object> r = new DataFileReader<>(in.toFile(), new SpecificDatumReader<>(SCHEMA))) {
            String fmt = r.getMetaString(FORMAT_KEY);
            if (!String.valueOf(FORMAT_VERSION).equals(fmt)) {
                throw new CompressedModelException(in + ": container format version " + fmt + " is not supported (this build reads "
                        + FORMAT_VERSION + ")");
            }
            while (r.hasNext()) {
                Object o = r.next();
                if (record == 0) {
                    if (!(o instanceof ModelVersionCompressed v)) {
                        throw new CompressedModelException(in + ": the first record is not a ModelVersionCompressed");
                    }
                    version = v;
                } else if (o instanceof CompressedLayerChunk c) {
                    chunks.computeIfAbsent(c.getTensor(), k -> new ArrayList<>()).add(c);
                } else {
                    throw new CompressedModelException(in + ": record " + record + " is a second version record");
                }
                record++;
            }
        } catch (IOException | AvroRuntimeException e) {
            throw new CompressedModelException(in + ": not a valid .wsz container (at record " + record + "): " + e.getMessage(), e);
        }
        if (version == null) {
            throw new CompressedModelException(in + ": empty container");
        }
        // Avro's reader stops quietly at a block boundary, so a truncated file is found by counting
        for (io.weightstream.schemas.TensorEntry e : version.getManifest().getTensors()) {
            List<CompressedLayerChunk> cs = chunks.get(e.getName());
            int expected = cs == null ? 1 : cs.get(0).getChunkCount();
            if (cs == null || cs.size() < expected) {
                throw new CompressedModelException(in + ": truncated or incomplete: tensor " + e.getName() + " has "
                        + (cs == null ? 0 : cs.size()) + " of " + expected + " chunks");
            }
        }
        return new Contents(version, chunks);
    }
}
