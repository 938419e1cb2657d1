package io.weightstream.serving;

import ai.onnxruntime.MapInfo;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.SequenceInfo;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import io.weightstream.tensor.DType;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An ONNX model loaded into ONNX Runtime, run with plain Java arrays.
 *
 * <p>All models share one {@link OrtEnvironment} per JVM. Sessions use graph optimization level ALL, one inter-op
 * thread and {@link Builder#intraOpThreads(int) intra-op threads} (default: available processors), with thread
 * spinning off by default because the machines this runs on are shared. {@link #run} may be called from many
 * threads at once; {@link #close} waits for runs in flight and later runs fail with {@link IllegalStateException}.
 *
 * <pre>{@code
 * try (OnnxModel model = OnnxModel.builder().path(Path.of("model.onnx")).intraOpThreads(1).build()) {
 *     Map<String, Object> out = model.run(Map.of(
 *             "input_ids", new long[][] {{101, 7592, 102}},
 *             "attention_mask", new long[][] {{1, 1, 1}},
 *             "token_type_ids", new long[][] {{0, 0, 0}}));
 *     float[][][] hidden = (float[][][]) out.get("last_hidden_state");   // [1, 3, 384]
 * }
 * }</pre>
 */
public final class OnnxModel implements AutoCloseable {
    private static final OrtEnvironment ENV =
            OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "weightstream");

    private final String name;
    private final int intraOpThreads;
    private final OrtSession session;
    private final List<Port> inputs;
    private final List<Port> outputs;
    private final Map<String, Port> inputsByName;
    // Runs share the read lock; close takes the write lock so it never frees a session a run is using.
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    private OnnxModel(String name, int intraOpThreads, OrtSession session) throws OrtException {
        this.name = name;
        this.intraOpThreads = intraOpThreads;
        this.session = session;
        this.inputs = ports(session.getInputInfo());
        this.outputs = ports(session.getOutputInfo());
        Map<String, Port> byName = new LinkedHashMap<>();
        for (Port p : inputs) {
            byName.put(p.name(), p);
        }
        this.inputsByName = Collections.unmodifiableMap(byName);
    }

    /** Loads {@code onnxFile} with the default options. */
    public static OnnxModel load(Path onnxFile) {
        return builder().path(onnxFile).build();
    }

    /** Loads a model held in memory with the default options. */
    public static OnnxModel load(byte[] onnxBytes) {
        return builder().bytes(onnxBytes).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The file name of the model, or the name given to the builder. */
    public String name() {
        return name;
    }

    public int intraOpThreads() {
        return intraOpThreads;
    }

    /** The graph inputs ONNX Runtime expects (initializers excluded), in declaration order. */
    public List<Port> inputs() {
        return inputs;
    }

    public List<Port> outputs() {
        return outputs;
    }

    public List<String> inputNames() {
        return inputs.stream().map(Port::name).toList();
    }

    public List<String> outputNames() {
        return outputs.stream().map(Port::name).toList();
    }

    /** The input called {@code inputName}, or {@code null}. */
    public Port input(String inputName) {
        return inputsByName.get(inputName);
    }

    public boolean hasInput(String inputName) {
        return inputsByName.containsKey(inputName);
    }

    /** Runs the model and returns every output. */
    public Map<String, Object> run(Map<String, ?> inputValues) {
        return run(inputValues, Set.copyOf(outputNames()));
    }

    /**
     * Runs the model.
     *
     * @param inputValues one value per declared input: a (nested) Java array whose element type matches the input
     *     ({@code float} for FLOAT, {@code long} for INT64, {@code int} for INT32, {@code byte} for INT8 and UINT8,
     *     {@code boolean} for BOOL, {@link String} for STRING), of the declared rank; a boxed number for a scalar
     * @param requestedOutputs the outputs to compute (a subset of {@link #outputNames()})
     * @return output name to value, in the model's output order: nested Java arrays for tensors
     * @throws IllegalArgumentException naming the input that is unknown, missing, ragged or of the wrong
     *     type, rank or fixed dimension, or the unknown output
     * @throws OnnxModelException when ONNX Runtime fails to run the graph
     * @throws IllegalStateException after {@link #close()}
     */
    public Map<String, Object> run(Map<String, ?> inputValues, Set<String> requestedOutputs) {
        Objects.requireNonNull(inputValues, "inputValues");
        Objects.requireNonNull(requestedOutputs, "requestedOutputs");
        Map<String, long[]> shapes = validate(inputValues);
        Set<String> wanted = new LinkedHashSet<>();
        for (Port out : outputs) {
            if (requestedOutputs.contains(out.name())) {
                wanted.add(out.name());
            }
        }
        for (String requested : requestedOutputs) {
            if (!wanted.contains(requested)) {
                throw new IllegalArgumentException("unknown output '" + requested + "' of model '" + name
                        + "'; its outputs are " + outputNames());
            }
        }
        lifecycle.readLock().lock();
        Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
        try {
            if (closed) {
                throw new IllegalStateException("model '" + name + "' is closed");
            }
            for (Port in : inputs) {
                tensors.put(in.name(), createTensor(in, inputValues.get(in.name()), shapes.get(in.name())));
            }
            Map<String, Object> result = new LinkedHashMap<>();
            try (OrtSession.Result r = session.run(tensors, wanted)) {
                for (Map.Entry<String, OnnxValue> e : r) {
                    result.put(e.getKey(), e.getValue().getValue());
                }
            }
            return result;
        } catch (OrtException e) {
            throw new OnnxModelException("model '" + name + "' failed to run: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : tensors.values()) {
                t.close();
            }
            lifecycle.readLock().unlock();
        }
    }

    /** Waits for runs in flight, then frees the native session. Idempotent. */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            session.close();
        } catch (OrtException e) {
            throw new OnnxModelException("model '" + name + "' failed to close: " + e.getMessage(), e);
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "OnnxModel[" + name + ", inputs=" + inputs + ", outputs=" + outputs + "]";
    }

    // ---- validation: every check names the input, and runs before any native memory is allocated ----

    private Map<String, long[]> validate(Map<String, ?> values) {
        for (String given : values.keySet()) {
            if (!inputsByName.containsKey(given)) {
                throw new IllegalArgumentException("unknown input '" + given + "' for model '" + name
                        + "'; its inputs are " + inputNames());
            }
        }
        List<String> missing = new ArrayList<>();
        for (Port in : inputs) {
            if (!values.containsKey(in.name())) {
                missing.add(in.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("missing input" + (missing.size() > 1 ? "s " : " ") + missing
                    + " for model '" + name + "'; its inputs are " + inputNames());
        }
        Map<String, long[]> shapes = new HashMap<>();
        Map<String, String> dimOwner = new HashMap<>();
        Map<String, Long> dimValue = new HashMap<>();
        for (Port in : inputs) {
            Object value = values.get(in.name());
            long[] shape = checkValue(in, value);
            for (int d = 0; d < shape.length; d++) {
                long declared = in.shape[d];
                if (declared >= 0 && declared != shape[d]) {
                    throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name + "': dimension "
                            + d + " must be " + declared + " but is " + shape[d] + " (declared shape "
                            + in.shapeString() + ", given " + Arrays.toString(shape) + ")");
                }
                String dimName = in.dimensionNames[d];
                if (declared < 0 && !dimName.isEmpty()) {
                    // inputs sharing a symbolic dimension (batch_size, sequence_length) must agree on it
                    Long previous = dimValue.putIfAbsent(dimName, shape[d]);
                    dimOwner.putIfAbsent(dimName, in.name());
                    if (previous != null && previous != shape[d]) {
                        throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name
                                + "': dimension '" + dimName + "' is " + shape[d] + " but input '"
                                + dimOwner.get(dimName) + "' has " + previous);
                    }
                }
            }
            shapes.put(in.name(), shape);
        }
        return shapes;
    }

    private long[] checkValue(Port in, Object value) {
        if (value == null) {
            throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name + "' is null");
        }
        if (!in.isTensor()) {
            throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name + "' is a "
                    + in.elementType() + "; only tensor inputs are supported");
        }
        Class<?> expected = javaElementClass(in.elementType());
        if (expected == null) {
            throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name + "' has element type "
                    + in.elementType() + ", which cannot be passed as a Java array");
        }
        int rank = 0;
        Class<?> element = value.getClass();
        while (element.isArray()) {
            rank++;
            element = element.getComponentType();
        }
        if (rank == 0) {
            element = InferTensors.unboxed(element);
        }
        if (element != expected) {
            throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name + "' expects "
                    + in.elementType() + " elements (" + expected.getSimpleName() + ") but got "
                    + value.getClass().getSimpleName());
        }
        if (rank != in.rank()) {
            throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name + "' expects rank "
                    + in.rank() + " " + in.shapeString() + " but got rank " + rank + " ("
                    + value.getClass().getSimpleName() + ")");
        }
        long[] shape = new long[rank];
        Object probe = value;
        for (int d = 0; d < rank; d++) {
            shape[d] = Array.getLength(probe);
            if (shape[d] == 0 || d == rank - 1) {
                break;
            }
            probe = Array.get(probe, 0);
            if (probe == null) {
                throw new IllegalArgumentException("input '" + in.name() + "' of model '" + name
                        + "' has a null sub-array at dimension " + (d + 1));
            }
        }
        if (rank > 1) {
            checkRectangular(in.name(), value, 0, shape);
        }
        return shape;
    }

    private void checkRectangular(String input, Object array, int depth, long[] shape) {
        if (array == null) {
            throw new IllegalArgumentException("input '" + input + "' of model '" + name
                    + "' has a null sub-array at dimension " + depth);
        }
        int length = Array.getLength(array);
        if (length != shape[depth]) {
            throw new IllegalArgumentException("input '" + input + "' of model '" + name + "' is ragged: dimension "
                    + depth + " has lengths " + shape[depth] + " and " + length);
        }
        if (depth + 1 < shape.length) {
            for (int i = 0; i < length; i++) {
                checkRectangular(input, Array.get(array, i), depth + 1, shape);
            }
        }
    }

    private static OnnxTensor createTensor(Port in, Object value, long[] shape) throws OrtException {
        if (OnnxJavaType.UINT8.name().equals(in.elementType())) {
            // Java has no unsigned byte: ORT would label a byte[] INT8, so pass the raw bytes with the UINT8 type
            ByteBuffer buf = ByteBuffer.allocateDirect(Math.toIntExact(numel(shape))).order(ByteOrder.nativeOrder());
            copyBytes(value, shape.length, buf);
            buf.flip();
            return OnnxTensor.createTensor(ENV, buf, shape, OnnxJavaType.UINT8);
        }
        if (value instanceof String s) {
            return OnnxTensor.createTensor(ENV, new String[] {s}, new long[0]);
        }
        return OnnxTensor.createTensor(ENV, value);
    }

    private static void copyBytes(Object value, int rank, ByteBuffer out) {
        if (rank == 0) {
            out.put((Byte) value);
        } else if (rank == 1) {
            out.put((byte[]) value);
        } else {
            for (Object row : (Object[]) value) {
                copyBytes(row, rank - 1, out);
            }
        }
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    private static Class<?> javaElementClass(String elementType) {
        return switch (elementType) {
            case "FLOAT" -> float.class;
            case "DOUBLE" -> double.class;
            case "INT64" -> long.class;
            case "INT32" -> int.class;
            case "INT16" -> short.class;
            case "INT8", "UINT8" -> byte.class;
            case "BOOL" -> boolean.class;
            case "STRING" -> String.class;
            default -> null;
        };
    }

    private static List<Port> ports(Map<String, NodeInfo> infos) {
        List<Port> ports = new ArrayList<>();
        for (NodeInfo node : infos.values()) {
            ValueInfo info = node.getInfo();
            if (info instanceof TensorInfo t) {
                String[] dimNames = t.getDimensionNames();
                long[] shape = t.getShape();
                if (dimNames == null || dimNames.length != shape.length) {
                    dimNames = new String[shape.length];
                }
                for (int i = 0; i < dimNames.length; i++) {
                    dimNames[i] = dimNames[i] == null ? "" : dimNames[i];
                }
                ports.add(new Port(node.getName(), t.type.name(), shape, dimNames));
            } else {
                String kind = info instanceof SequenceInfo ? "SEQUENCE" : info instanceof MapInfo ? "MAP" : "OPTIONAL";
                ports.add(new Port(node.getName(), kind, new long[0], new String[0]));
            }
        }
        return Collections.unmodifiableList(ports);
    }

    /**
     * One graph input or output as ONNX Runtime reports it.
     *
     * @param name the input or output name
     * @param elementType the ONNX Runtime element type of a tensor ({@code FLOAT}, {@code INT64}, {@code UINT8},
     *     {@code FLOAT16}, ...), or {@code SEQUENCE}, {@code MAP}, {@code OPTIONAL} for values that are not tensors
     * @param shape the dimensions; -1 where the dimension is dynamic
     * @param dimensionNames the symbolic name of each dimension ({@code "batch_size"}), {@code ""} where unnamed
     */
    public record Port(String name, String elementType, long[] shape, String[] dimensionNames) {
        public Port {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(elementType, "elementType");
            shape = shape.clone();
            dimensionNames = dimensionNames.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public String[] dimensionNames() {
            return dimensionNames.clone();
        }

        public int rank() {
            return shape.length;
        }

        public boolean isTensor() {
            return !elementType.equals("SEQUENCE") && !elementType.equals("MAP") && !elementType.equals("OPTIONAL");
        }

        /** True when dimension {@code d} is dynamic (its size is chosen by the caller). */
        public boolean isDynamic(int d) {
            return shape[d] < 0;
        }

        /**
         * The project's {@link DType} of this tensor.
         *
         * @throws IllegalArgumentException for element types without one (strings, sequences, maps)
         */
        public DType dtype() {
            return switch (elementType) {
                case "FLOAT" -> DType.F32;
                case "DOUBLE" -> DType.F64;
                case "FLOAT16" -> DType.F16;
                case "BFLOAT16" -> DType.BF16;
                case "INT64" -> DType.I64;
                case "INT32" -> DType.I32;
                case "INT16" -> DType.I16;
                case "INT8" -> DType.I8;
                case "UINT8" -> DType.U8;
                case "BOOL" -> DType.BOOL;
                default -> throw new IllegalArgumentException("'" + name + "' has element type " + elementType
                        + ", which has no DType");
            };
        }

        /** The shape with symbolic names for dynamic dimensions, e.g. {@code [batch_size, sequence_length, 384]}. */
        public String shapeString() {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < shape.length; i++) {
                if (i > 0) {
                    sb.append(", ");
                }
                sb.append(shape[i] >= 0 ? Long.toString(shape[i]) : dimensionNames[i].isEmpty() ? "?" : dimensionNames[i]);
            }
            return sb.append(']').toString();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Port p && name.equals(p.name) && elementType.equals(p.elementType)
                    && Arrays.equals(shape, p.shape) && Arrays.equals(dimensionNames, p.dimensionNames);
        }

        @Override
        public int hashCode() {
            return Objects.hash(name, elementType, Arrays.hashCode(shape));
        }

        @Override
        public String toString() {
            return name + " " + elementType + shapeString();
        }
    }

    /** Options of a model load; {@link #build()} checks them and creates the ONNX Runtime session. */
    public static final class Builder {
        private Path path;
        private byte[] bytes;
        private String name;
        private int intraOpThreads = Runtime.getRuntime().availableProcessors();
        private boolean allowSpinning;

        private Builder() {
        }

        /** Load from this file (ONNX Runtime maps it and finds external data files next to it). */
        public Builder path(Path onnxFile) {
            this.path = Objects.requireNonNull(onnxFile, "onnxFile");
            return this;
        }

        /** Load from these bytes (a whole ONNX file, without external data). */
        public Builder bytes(byte[] onnxBytes) {
            this.bytes = Objects.requireNonNull(onnxBytes, "onnxBytes");
            return this;
        }

        /** A name for messages; defaults to the file name, or {@code "model"} for bytes. */
        public Builder name(String modelName) {
            this.name = Objects.requireNonNull(modelName, "modelName");
            return this;
        }

        /** Threads one operator may use; default: the available processors. */
        public Builder intraOpThreads(int threads) {
            this.intraOpThreads = threads;
            return this;
        }

        /**
         * Let idle intra-op threads spin for work (ONNX Runtime's default). Off by default: spinning lowers latency
         * a little but burns the cores other processes of a shared machine need.
         */
        public Builder allowSpinning(boolean allow) {
            this.allowSpinning = allow;
            return this;
        }

        /**
         * @throws IllegalArgumentException when neither or both of path and bytes are set, the threads are below 1,
         *     or the file does not exist
         * @throws OnnxModelException when ONNX Runtime rejects the model
         */
        public OnnxModel build() {
            if ((path == null) == (bytes == null)) {
                throw new IllegalArgumentException("set exactly one of path(...) and bytes(...)");
            }
            if (intraOpThreads < 1) {
                throw new IllegalArgumentException("intraOpThreads must be at least 1, got " + intraOpThreads);
            }
            if (path != null && !Files.isRegularFile(path)) {
                throw new IllegalArgumentException("no such model file: " + path);
            }
            String modelName = name != null ? name : path != null ? String.valueOf(path.getFileName()) : "model";
            OrtSession session = null;
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
                options.setIntraOpNumThreads(intraOpThreads);
                options.setInterOpNumThreads(1);
                options.addConfigEntry("session.intra_op.allow_spinning", allowSpinning ? "1" : "0");
                session = path != null
                        ? ENV.createSession(path.toAbsolutePath().toString(), options)
                        : ENV.createSession(bytes, options);
                return new OnnxModel(modelName, intraOpThreads, session);
            } catch (OrtException e) {
                if (session != null) {
                    try {
                        session.close();
                    } catch (OrtException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw new OnnxModelException("cannot load model '" + modelName + "': " + e.getMessage(), e);
            }
        }
    }
}
