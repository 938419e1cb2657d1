package io.weightstream.checkpoint.onnx;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.onnx.OnnxScanner.Found;
import io.weightstream.checkpoint.onnx.OnnxScanner.Graph;
import io.weightstream.checkpoint.onnx.OnnxScanner.Node;
import io.weightstream.checkpoint.onnx.OnnxScanner.Origin;
import io.weightstream.checkpoint.onnx.OnnxScanner.Storage;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * An open {@code .onnx} file: its weight tensors, served from the file without copying, and its skeleton.
 *
 * <pre>{@code
 * try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(Path.of("model.onnx"))) {
 *     for (CheckpointTensor t : ckpt.tensors()) {
 *         System.out.println(t.name() + " (" + t.alias() + ") " + t.spec());
 *     }
 *     OnnxWriter.write(ckpt.skeleton(), name -> newWeights.get(name), Path.of("out/model.onnx"));
 * }
 * }</pre>
 *
 * <h2>Which tensors</h2>
 * Every initializer of the graph, the {@code value} tensor of every {@code Constant} node, and the same inside
 * subgraphs (the {@code GRAPH}/{@code GRAPHS} attributes of If, Loop, Scan, ...), recursively, in file order.
 * Bytes may be in {@code raw_data} (served from the file at their offset), in the typed fields
 * ({@code float_data}, {@code int32_data}, ...; converted to little-endian bytes in memory), or in external
 * files ({@code data_location = EXTERNAL}; served from that file). Sparse initializers, functions and training
 * graphs are not read as tensors: they stay in the skeleton as they are. Element types are those of
 * {@link io.weightstream.tensor.DType}; a tensor of another type (STRING, UINT16, FLOAT8, ...) makes the whole
 * file fail with a {@link CheckpointFormatException} naming it.
 *
 * <h2>Names</h2>
 * An initializer of the main graph keeps its name; a {@code Constant} tensor is named by the node's (first)
 * output. A tensor whose name is already taken (only possible in subgraphs or in files that break ONNX's
 * unique-name rule) gets its subgraph path as a prefix, {@code <node>:<attribute>/} per level (the node being its
 * name, or {@code <op_type>_<index in its graph>} when it has none; {@code <attribute>[i]} for the i-th graph of a
 * GRAPHS attribute), e.g. {@code /model/If_3:then_branch/weight}, and if that is taken too a {@code ~2},
 * {@code ~3}, ... suffix. Main-graph initializers are named first, so they always keep their names; the rest are
 * named in file order. The names depend only on the file, so every reader of it agrees.
 *
 * <h2>Aliases</h2>
 * The alias of a tensor is the name of the first node (in file order, looking into subgraphs) that takes it as
 * input, e.g. {@code /encoder/layer.0/intermediate/dense/MatMul} for {@code onnx::MatMul_798}; for a node without
 * a name, {@code <op_type>:<first output>}. When several tensors feed the same node, {@code #<input index>} is
 * appended to tell them apart. A tensor no node reads has no alias.
 *
 * <h2>Limits and errors</h2>
 * A file over 2 GiB cannot be an ONNX protobuf (use external data). External data locations must be relative
 * and stay inside the model's directory (checked on the path's text, so symlinked blob stores such as the
 * Hugging Face cache work), and each tensor's range must lie inside its file. Anything malformed throws a
 * {@link CheckpointFormatException} with the byte offset in the {@code .onnx} file (where the protobuf stops
 * parsing, or the start of the offending tensor or of its data); I/O failures of the model file itself throw
 * {@link UncheckedIOException}.
 */
public final class OnnxCheckpoint implements Checkpoint {
    /** Files up to this size are read for the scan, larger ones memory-mapped. */
    private static final int HEAP_READ_LIMIT = 16 << 20;

    private final Path path;
    private final List<CheckpointTensor> tensors;
    private final long[] dataOffsets;
    private final List<Storage> storages;
    private final byte[] skeleton;
    private final long fileBytes;
    private final List<FileChannel> channels;
    private boolean closed;

    private OnnxCheckpoint(Path path, List<CheckpointTensor> tensors, long[] dataOffsets, List<Storage> storages,
                           byte[] skeleton, long fileBytes, List<FileChannel> channels) {
        this.path = path;
        this.tensors = Collections.unmodifiableList(tensors);
        this.dataOffsets = dataOffsets;
        this.storages = storages;
        this.skeleton = skeleton;
        this.fileBytes = fileBytes;
        this.channels = channels;
    }

    /**
     * Opens an ONNX model file (and the external data files it names).
     *
     * @throws CheckpointFormatException naming the file and the byte offset of the problem
     * @throws UncheckedIOException      when the model file cannot be read
     */
    public static OnnxCheckpoint open(Path file) {
        Objects.requireNonNull(file, "file");
        List<FileChannel> channels = new ArrayList<>();
        try {
            FileChannel model = FileChannel.open(file, StandardOpenOption.READ);
            channels.add(model);
            long size = model.size();
            if (size > Integer.MAX_VALUE) {
                throw new CheckpointFormatException(file, -1, size + " bytes: a protobuf (and so an .onnx file) is limited"
                        + " to 2 GiB; larger models keep their weights in external data files");
            }
            ByteBuffer bytes = load(model, (int) size);
            OnnxScanner.Result scan = OnnxScanner.scan(file, bytes);
            List<Found> found = scan.tensors();
            String[] names = uniqueNames(found);
            String[] aliases = aliases(found);

            Path dir = file.toAbsolutePath().getParent();
            Map<Path, FileChannel> externalFiles = new LinkedHashMap<>();
            List<CheckpointTensor> tensors = new ArrayList<>(found.size());
            List<OnnxSkeleton.Entry> entries = new ArrayList<>(found.size());
            List<Storage> storages = new ArrayList<>(found.size());
            long[] offsets = new long[found.size()];
            for (int i = 0; i < found.size(); i++) {
                Found f = found.get(i);
                TensorSpec spec = new TensorSpec(names[i], f.dtype, f.dims);
                storages.add(f.storage);
                switch (f.storage) {
                    case RAW -> {
                        tensors.add(new CheckpointTensor(spec, aliases[i], model, f.rawOffset));
                        entries.add(new OnnxSkeleton.Entry(spec, Storage.RAW, null, null, 0));
                        offsets[i] = f.rawOffset;
                    }
                    case TYPED -> {
                        tensors.add(new CheckpointTensor(spec, aliases[i], f.typedBytes));
                        entries.add(new OnnxSkeleton.Entry(spec, Storage.TYPED, f.typedTemplate, null, 0));
                        offsets[i] = -1;
                    }
                    case EXTERNAL -> {
                        FileChannel channel = externalFile(file, dir, f, externalFiles, channels);
                        tensors.add(new CheckpointTensor(spec, aliases[i], channel, f.externalOffset));
                        entries.add(new OnnxSkeleton.Entry(spec, Storage.EXTERNAL, null, f.location, f.externalOffset));
                        offsets[i] = f.externalOffset;
                    }
                }
            }
            long fileBytes = size;
            for (FileChannel c : externalFiles.values()) {
                fileBytes += c.size();
            }
            byte[] skeleton = OnnxSkeleton.encode(entries, scan.segments(), bytes);
            return new OnnxCheckpoint(file, tensors, offsets, storages, skeleton, fileBytes, channels);
        } catch (IOException e) {
            closeAll(channels);
            throw new UncheckedIOException("reading " + file, e);
        } catch (RuntimeException | Error e) {
            closeAll(channels);
            throw e;
        }
    }

    /**
     * The file's bytes for the scan: mapped when large (nothing is copied; raw data is never touched), read when
     * small, because a mapping lives until the garbage collector finds it, and many open-and-close cycles of
     * small files (a watcher, a test) would pile up mappings and make truncating those files slow.
     */
    private static ByteBuffer load(FileChannel channel, int size) throws IOException {
        if (size > HEAP_READ_LIMIT) {
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
        }
        ByteBuffer bytes = ByteBuffer.allocate(size);
        while (bytes.hasRemaining()) {
            if (channel.read(bytes, bytes.position()) < 0) {
                throw new IOException("file shrank while being read");
            }
        }
        return bytes.flip();
    }

    /** The channel of a tensor's external file, opened once per file; checks the location and the range. */
    private static FileChannel externalFile(Path file, Path dir, Found f, Map<Path, FileChannel> open,
                                            List<FileChannel> channels) throws IOException {
        String label = "tensor '" + f.baseName + "': external data '" + f.location + "'";
        Path target;
        try {
            Path relative = Path.of(f.location);
            if (relative.isAbsolute() || relative.getRoot() != null) {
                throw new CheckpointFormatException(file, f.messageOffset, label + " is an absolute path; it must be relative to the model's directory");
            }
            target = dir.resolve(relative).normalize();
        } catch (InvalidPathException e) {
            throw new CheckpointFormatException(file, f.messageOffset, label + " is not a valid path");
        }
        if (!target.startsWith(dir.normalize()) || target.equals(dir.normalize())) {
            throw new CheckpointFormatException(file, f.messageOffset, label + " points outside the model's directory " + dir);
        }
        FileChannel channel = open.get(target);
        if (channel == null) {
            if (!Files.exists(target)) {
                throw new CheckpointFormatException(file, f.messageOffset, label + ": file " + target + " not found");
            }
            if (!Files.isRegularFile(target)) {
                throw new CheckpointFormatException(file, f.messageOffset, label + ": " + target + " is not a regular file");
            }
            try {
                channel = FileChannel.open(target, StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                throw new CheckpointFormatException(file, f.messageOffset, label + ": file " + target + " not found");
            }
            channels.add(channel);
            open.put(target, channel);
        }
        long size = channel.size();
        if (f.externalOffset > size || f.byteSize > size - f.externalOffset) {
            throw new CheckpointFormatException(file, f.messageOffset, label + ": bytes [" + f.externalOffset + ", "
                    + (f.externalOffset + f.byteSize) + ") lie outside the file of " + size + " bytes");
        }
        return channel;
    }

    /** Unique names, main-graph initializers first (see the class comment). */
    private static String[] uniqueNames(List<Found> found) {
        String[] names = new String[found.size()];
        Set<String> taken = new HashSet<>();
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < found.size(); i++) {
                Found f = found.get(i);
                boolean first = f.origin == Origin.INITIALIZER && f.graph.depth() == 0;
                if (first != (pass == 0)) {
                    continue;
                }
                String base = f.baseName.isEmpty() ? (f.origin == Origin.INITIALIZER ? "initializer_" : "constant_") + i : f.baseName;
                String name = base;
                if (taken.contains(name)) {
                    name = f.graph.scope() + base;
                }
                for (int k = 2; taken.contains(name); k++) {
                    name = f.graph.scope() + base + "~" + k;
                }
                taken.add(name);
                names[i] = name;
            }
        }
        return names;
    }

    /** First consumer of each tensor (see the class comment). */
    private static String[] aliases(List<Found> found) {
        Map<Graph, Map<String, Consumer>> consumersByGraph = new IdentityHashMap<>();
        Consumer[] consumers = new Consumer[found.size()];
        Map<Node, Integer> tensorsPerNode = new IdentityHashMap<>();
        for (int i = 0; i < found.size(); i++) {
            Found f = found.get(i);
            consumers[i] = consumers(f.graph, consumersByGraph).get(f.baseName);
            if (consumers[i] != null) {
                tensorsPerNode.merge(consumers[i].node(), 1, Integer::sum);
            }
        }
        String[] aliases = new String[found.size()];
        for (int i = 0; i < found.size(); i++) {
            Consumer c = consumers[i];
            if (c != null) {
                aliases[i] = tensorsPerNode.get(c.node()) > 1 ? c.node().label() + "#" + c.input() : c.node().label();
            }
        }
        return aliases;
    }

    private record Consumer(Node node, int input) {
    }

    /** Name -> first node reading it, in this graph or (implicitly) in its subgraphs. Memoized per graph. */
    private static Map<String, Consumer> consumers(Graph graph, Map<Graph, Map<String, Consumer>> memo) {
        Map<String, Consumer> known = memo.get(graph);
        if (known != null) {
            return known;
        }
        Map<String, Consumer> map = new HashMap<>();
        for (Node node : graph.nodes()) {
            for (int i = 0; i < node.inputs().size(); i++) {
                map.putIfAbsent(node.inputs().get(i), new Consumer(node, i));
            }
            for (Graph sub : node.subgraphs()) {
                consumers(sub, memo).forEach(map::putIfAbsent);
            }
        }
        memo.put(graph, map);
        return map;
    }

    private static void closeAll(List<FileChannel> channels) {
        for (FileChannel c : channels) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing a read-only channel: nothing to lose
            }
        }
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public CheckpointFormat format() {
        return CheckpointFormat.ONNX;
    }

    @Override
    public List<CheckpointTensor> tensors() {
        return tensors;
    }

    /**
     * The skeleton ({@link OnnxSkeleton} format 1): this file's bytes without the weights' bytes, and the table of
     * tensors that {@link OnnxWriter#write} puts back. A file whose weights are in {@code raw_data} or external
     * files is rebuilt bit-identical; typed fields are re-encoded (see {@link OnnxWriter}).
     */
    @Override
    public byte[] skeleton() {
        return skeleton.clone();
    }

    @Override
    public long fileBytes() {
        return fileBytes;
    }

    /** Offset of tensor {@code i}'s bytes in its file ({@code .onnx} or external), or -1 for typed fields. */
    long dataOffset(int i) {
        return dataOffsets[i];
    }

    Storage storage(int i) {
        return storages.get(i);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeAll(channels);
        }
    }
}
