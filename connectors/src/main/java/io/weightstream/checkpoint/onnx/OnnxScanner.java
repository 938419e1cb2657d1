package io.weightstream.checkpoint.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.WireFormat;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Walks the protobuf wire format of an {@code .onnx} file (mapped or read) down to its weight tensors,
 * recording where each one's bytes lie and cutting the file into the segments of its {@link OnnxSkeleton}.
 *
 * <p>Why a wire walk and not {@code ModelProto.parseFrom}: the generated parser says what the fields hold but
 * not where they were, and we need the file offset of every {@code raw_data} (to serve tensors straight from
 * the file, to report errors at a byte, and to cut exact holes so a rebuilt file is bit-identical). Messages
 * that hold weights are walked field by field; each {@code TensorProto} found is parsed with the generated
 * parser over an aliased view of the file's buffer, so {@code raw_data} is never copied.
 *
 * <p>What is walked: {@code ModelProto.graph} -> {@code GraphProto.initializer} and {@code GraphProto.node} ->
 * {@code NodeProto.attribute} -> the {@code value} tensor of {@code Constant} nodes, and every {@code g} /
 * {@code graphs} subgraph (If, Loop, Scan, ...), recursively up to {@link #MAX_GRAPH_DEPTH} levels.
 * Everything else (functions, training info, sparse initializers, metadata) stays in the skeleton verbatim.
 */
final class OnnxScanner {
    /** Subgraph nesting we follow; real models nest a handful of levels, a file nesting deeper is refused. */
    static final int MAX_GRAPH_DEPTH = 64;
    /** Protobuf message nesting allowed inside one stream (graph, node, attribute per level, plus slack). */
    private static final int RECURSION_LIMIT = 3 * MAX_GRAPH_DEPTH + 64;

    private static final int MODEL_GRAPH = lenTag(7);
    private static final int GRAPH_NODE = lenTag(1);
    private static final int GRAPH_INITIALIZER = lenTag(5);
    private static final int NODE_INPUT = lenTag(1);
    private static final int NODE_OUTPUT = lenTag(2);
    private static final int NODE_NAME = lenTag(3);
    private static final int NODE_OP_TYPE = lenTag(4);
    private static final int NODE_ATTRIBUTE = lenTag(5);
    private static final int NODE_DOMAIN = lenTag(7);
    private static final int ATTRIBUTE_NAME = lenTag(1);
    private static final int ATTRIBUTE_T = lenTag(5);
    private static final int ATTRIBUTE_G = lenTag(6);
    private static final int ATTRIBUTE_GRAPHS = lenTag(11);
    private static final int TENSOR_RAW_DATA = lenTag(9);

    /** Where a tensor was found. */
    enum Origin { INITIALIZER, CONSTANT }

    /** How a tensor's bytes are stored in the file. */
    enum Storage { RAW, TYPED, EXTERNAL }

    /** A length-delimited field: tag at {@code tagStart}, length varint at {@code lenStart}, payload up to {@code end}. */
    record Field(int tagStart, int lenStart, int payloadStart, int end) {
    }

    /** A node: what aliases and subgraph names need. */
    record Node(String name, String opType, int index, List<String> inputs, List<String> outputs, List<Graph> subgraphs) {
        /** The readable name of the node: its name, else op type and first output. */
        String label() {
            if (!name.isEmpty()) {
                return name;
            }
            return opType + ":" + (outputs.isEmpty() ? "" : outputs.get(0));
        }
    }

    /** A graph: its name prefix ({@code ""} for the main graph) and nodes in file order. */
    record Graph(String scope, int depth, List<Node> nodes) {
    }

    /** A tensor found in the file, before unique names and aliases are given. */
    static final class Found {
        final String baseName;
        final Origin origin;
        final Graph graph;
        final DType dtype;
        final long[] dims;
        final long byteSize;
        final Storage storage;
        /** Offset of the TensorProto message. */
        final int messageOffset;
        /** RAW: offset of the raw_data bytes. */
        final int rawOffset;
        /** TYPED: the little-endian bytes; and the TensorProto without its data, for the skeleton. */
        final ByteBuffer typedBytes;
        final byte[] typedTemplate;
        /** EXTERNAL: the location and offset as in the file (a declared length was checked against byteSize). */
        final String location;
        final long externalOffset;

        Found(String baseName, Origin origin, Graph graph, DType dtype, long[] dims, long byteSize, Storage storage,
              int messageOffset, int rawOffset, ByteBuffer typedBytes, byte[] typedTemplate,
              String location, long externalOffset) {
            this.baseName = baseName;
            this.origin = origin;
            this.graph = graph;
            this.dtype = dtype;
            this.dims = dims;
            this.byteSize = byteSize;
            this.storage = storage;
            this.messageOffset = messageOffset;
            this.rawOffset = rawOffset;
            this.typedBytes = typedBytes;
            this.typedTemplate = typedTemplate;
            this.location = location;
            this.externalOffset = externalOffset;
        }
    }

    private final Path file;
    private final ByteString bytes;
    private final int size;
    private final List<Found> found = new ArrayList<>();
    /** The main graph; protobuf merges a repeated {@code graph} field into one, and so do we. */
    private Graph main;

    private OnnxScanner(Path file, ByteBuffer content) {
        this.file = file;
        // unsafeWrap keeps the buffer (no copy); streams over it are "immutable", which is what lets
        // CodedInputStream alias bytes fields (raw_data) instead of copying them
        this.bytes = UnsafeByteOperations.unsafeWrap(content.duplicate().clear());
        this.size = content.capacity();
    }

    /** The result of a walk: tensors in file order and the skeleton segments of the file. */
    record Result(List<Found> tensors, List<OnnxSkeleton.Segment> segments) {
    }

    /** @throws CheckpointFormatException with the offset where the file stops making sense */
    static Result scan(Path file, ByteBuffer content) {
        OnnxScanner scanner = new OnnxScanner(file, content);
        Segments segments = scanner.scanModel();
        return new Result(scanner.found, segments.list);
    }

    private Segments scanModel() {
        Cursor in = new Cursor(0, size);
        Segments segments = new Segments(0);
        for (int tagStart = in.pos(), tag = in.readTag(); tag != 0; tagStart = in.pos(), tag = in.readTag()) {
            if (tag == MODEL_GRAPH) {
                Field f = in.readLength(tagStart);
                if (main == null) {
                    main = new Graph("", 0, new ArrayList<>());
                }
                segments.child(f, scanGraph(f, main));
            } else {
                in.skip(tag);
            }
        }
        if (main == null) {
            throw new CheckpointFormatException(file, 0, "no graph: not an ONNX model (ModelProto.graph is missing)");
        }
        segments.literalTo(size);
        return segments;
    }

    private Segments scanGraph(Field field, Graph graph) {
        Cursor in = new Cursor(field.payloadStart, field.end);
        Segments segments = new Segments(field.payloadStart);
        for (int tagStart = in.pos(), tag = in.readTag(); tag != 0; tagStart = in.pos(), tag = in.readTag()) {
            if (tag == GRAPH_NODE) {
                Field f = in.readLength(tagStart);
                segments.child(f, scanNode(f, graph));
            } else if (tag == GRAPH_INITIALIZER) {
                Field f = in.readLength(tagStart);
                scanTensor(f, segments, Origin.INITIALIZER, null, graph);
            } else {
                in.skip(tag);
            }
        }
        segments.literalTo(field.end);
        return segments;
    }

    private Segments scanNode(Field field, Graph graph) {
        // pass 1: the scalars (op_type and domain may follow the attributes), and where the attributes are
        Cursor in = new Cursor(field.payloadStart, field.end);
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        List<Field> attributes = new ArrayList<>();
        String name = "";
        String opType = "";
        String domain = "";
        for (int tagStart = in.pos(), tag = in.readTag(); tag != 0; tagStart = in.pos(), tag = in.readTag()) {
            if (tag == NODE_INPUT) {
                inputs.add(in.readString());
            } else if (tag == NODE_OUTPUT) {
                outputs.add(in.readString());
            } else if (tag == NODE_NAME) {
                name = in.readString();
            } else if (tag == NODE_OP_TYPE) {
                opType = in.readString();
            } else if (tag == NODE_DOMAIN) {
                domain = in.readString();
            } else if (tag == NODE_ATTRIBUTE) {
                attributes.add(in.readLength(tagStart));
            } else {
                in.skip(tag);
            }
        }
        Node node = new Node(name, opType, graph.nodes().size(), inputs, outputs, new ArrayList<>());
        graph.nodes().add(node);
        boolean constant = opType.equals("Constant") && (domain.isEmpty() || domain.equals("ai.onnx"));
        // pass 2: the attributes, which hold Constant values and subgraphs
        Segments segments = new Segments(field.payloadStart);
        for (Field f : attributes) {
            segments.child(f, scanAttribute(f, graph, node, constant));
        }
        segments.literalTo(field.end);
        return segments;
    }

    private Segments scanAttribute(Field field, Graph graph, Node node, boolean constantNode) {
        Cursor in = new Cursor(field.payloadStart, field.end);
        String name = "";
        List<Field> tensors = new ArrayList<>();
        List<Field> graphs = new ArrayList<>();
        for (int tagStart = in.pos(), tag = in.readTag(); tag != 0; tagStart = in.pos(), tag = in.readTag()) {
            if (tag == ATTRIBUTE_NAME) {
                name = in.readString();
            } else if (tag == ATTRIBUTE_T) {
                tensors.add(in.readLength(tagStart));
            } else if (tag == ATTRIBUTE_G || tag == ATTRIBUTE_GRAPHS) {
                graphs.add(in.readLength(tagStart));
            } else {
                in.skip(tag);
            }
        }
        Segments segments = new Segments(field.payloadStart);
        boolean value = constantNode && name.equals("value");
        int t = 0;
        int g = 0;
        // fields in file order, so that segments stay sorted
        while (t < tensors.size() || g < graphs.size()) {
            if (g >= graphs.size() || (t < tensors.size() && tensors.get(t).tagStart < graphs.get(g).tagStart)) {
                Field f = tensors.get(t++);
                if (value) {
                    scanTensor(f, segments, Origin.CONSTANT, node, graph);
                }
            } else {
                Field f = graphs.get(g++);
                if (graph.depth() + 1 > MAX_GRAPH_DEPTH) {
                    throw new CheckpointFormatException(file, f.tagStart, "subgraphs nested deeper than "
                            + MAX_GRAPH_DEPTH + " levels");
                }
                String scope = graph.scope()
                        + (node.name().isEmpty() ? node.opType() + "_" + node.index() : node.name())
                        + ":" + name + (graphs.size() > 1 ? "[" + (g - 1) + "]" : "") + "/";
                Graph sub = new Graph(scope, graph.depth() + 1, new ArrayList<>());
                node.subgraphs().add(sub);
                segments.child(f, scanGraph(f, sub));
            }
        }
        segments.literalTo(field.end);
        return segments;
    }

    private void scanTensor(Field field, Segments segments, Origin origin, Node constant, Graph graph) {
        TensorProto tensor = parseTensor(field);
        String baseName = origin == Origin.INITIALIZER ? tensor.getName()
                : !constant.outputs().isEmpty() && !constant.outputs().get(0).isEmpty() ? constant.outputs().get(0)
                : constant.name();
        String label = "tensor '" + (baseName.isEmpty() ? "(unnamed)" : baseName) + "'";
        int at = field.tagStart;

        long[] dims = new long[tensor.getDimsCount()];
        long numel = 1;
        for (int i = 0; i < dims.length; i++) {
            dims[i] = tensor.getDims(i);
            if (dims[i] < 0) {
                throw new CheckpointFormatException(file, at, label + ": negative dimension in dims " + dimsString(tensor));
            }
            try {
                numel = Math.multiplyExact(numel, dims[i]);
            } catch (ArithmeticException e) {
                throw new CheckpointFormatException(file, at, label + ": dims " + dimsString(tensor) + " overflow 64 bits");
            }
        }
        DType dtype;
        try {
            dtype = DType.fromOnnx(tensor.getDataType());
        } catch (IllegalArgumentException e) {
            TensorProto.DataType known = TensorProto.DataType.forNumber(tensor.getDataType());
            throw new CheckpointFormatException(file, at, label + ": unsupported data type "
                    + (known == null ? "" : known.name() + " ") + "(" + tensor.getDataType() + ")");
        }
        long byteSize;
        try {
            byteSize = dtype.byteSize(numel);
        } catch (ArithmeticException e) {
            throw new CheckpointFormatException(file, at, label + ": dims " + dimsString(tensor) + " of " + dtype + " overflow 64 bits of bytes");
        }
        int typedCount = TypedFields.count(tensor);
        boolean external = tensor.hasDataLocation() && tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL;

        if (external) {
            if (tensor.hasRawData() || typedCount > 0) {
                throw new CheckpointFormatException(file, at, label + ": stored externally but also holds data in the file");
            }
            String location = null;
            long offset = 0;
            long length = -1;
            for (var entry : tensor.getExternalDataList()) {
                switch (entry.getKey()) {
                    case "location" -> location = entry.getValue();
                    case "offset" -> offset = parseExternalNumber(entry.getValue(), "offset", label, at);
                    case "length" -> length = parseExternalNumber(entry.getValue(), "length", label, at);
                    default -> {
                        // "checksum" and others: kept in the skeleton, not needed to read the bytes
                    }
                }
            }
            if (location == null || location.isEmpty()) {
                throw new CheckpointFormatException(file, at, label + ": external data without a location");
            }
            if (length >= 0 && length != byteSize) {
                throw new CheckpointFormatException(file, at, label + ": external data length " + length
                        + " but " + dtype + " x " + dimsString(tensor) + " needs " + byteSize + " bytes");
            }
            found.add(new Found(baseName, origin, graph, dtype, dims, byteSize, Storage.EXTERNAL, at, -1, null, null,
                    location, offset));
        } else if (tensor.hasRawData()) {
            if (typedCount > 0) {
                throw new CheckpointFormatException(file, at, label + ": holds both raw_data and typed data");
            }
            int rawOffset = rawDataOffset(field);
            if (tensor.getRawData().size() != byteSize) {
                throw new CheckpointFormatException(file, rawOffset, label + ": raw_data has " + tensor.getRawData().size()
                        + " bytes but " + dtype + " x " + dimsString(tensor) + " needs " + byteSize);
            }
            segments.raw(rawOffset, (int) byteSize, found.size());
            found.add(new Found(baseName, origin, graph, dtype, dims, byteSize, Storage.RAW, at, rawOffset, null, null,
                    null, 0));
        } else {
            if (typedCount != numel || TypedFields.misplacedCount(tensor, dtype) > 0) {
                throw new CheckpointFormatException(file, at, label + ": " + dtype + " x " + dimsString(tensor)
                        + " needs " + numel + " values in " + TypedFields.fieldName(dtype) + " but the tensor holds "
                        + TypedFields.count(tensor, dtype) + (TypedFields.misplacedCount(tensor, dtype) > 0
                        ? " (and values in another field)" : ""));
            }
            ByteBuffer data = TypedFields.toLittleEndian(tensor, dtype, (int) byteSize);
            byte[] template = TypedFields.withoutData(tensor).toByteArray();
            segments.typed(field, found.size());
            found.add(new Found(baseName, origin, graph, dtype, dims, byteSize, Storage.TYPED, at, -1, data, template,
                    null, 0));
        }
    }

    private long parseExternalNumber(String value, String key, String label, int at) {
        try {
            long n = Long.parseLong(value.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new CheckpointFormatException(file, at, label + ": external data " + key + " '" + value + "' is not a non-negative number");
    }

    private TensorProto parseTensor(Field field) {
        Cursor in = new Cursor(field.payloadStart, field.end);
        try {
            TensorProto tensor = TensorProto.parseFrom(in.in);
            if (!in.in.isAtEnd()) {
                // parseFrom stops quietly at a stray end-group tag: the rest of the message would be lost
                throw new CheckpointFormatException(file, in.pos(), "malformed protobuf: unexpected end-group tag in a tensor");
            }
            return tensor;
        } catch (IOException e) {
            throw in.malformed(e);
        }
    }

    /** Offset of the last raw_data field's bytes (the one protobuf keeps). */
    private int rawDataOffset(Field field) {
        Cursor in = new Cursor(field.payloadStart, field.end);
        int offset = -1;
        for (int tagStart = in.pos(), tag = in.readTag(); tag != 0; tagStart = in.pos(), tag = in.readTag()) {
            if (tag == TENSOR_RAW_DATA) {
                offset = in.readLength(tagStart).payloadStart;
            } else {
                in.skip(tag);
            }
        }
        return offset;
    }

    private static String dimsString(TensorProto tensor) {
        return tensor.getDimsList().toString();
    }

    private static int lenTag(int field) {
        return (field << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }

    /** A CodedInputStream over {@code [start, end)} of the file that reports absolute offsets in its errors. */
    private final class Cursor {
        final CodedInputStream in;
        final int base;
        final int end;

        Cursor(int start, int end) {
            this.base = start;
            this.end = end;
            this.in = bytes.substring(start, end).newCodedInput();
            in.enableAliasing(true);
            in.setRecursionLimit(RECURSION_LIMIT);
            in.setSizeLimit(size);
        }

        int pos() {
            return base + in.getTotalBytesRead();
        }

        int readTag() {
            try {
                return in.readTag();
            } catch (IOException e) {
                throw malformed(e);
            }
        }

        void skip(int tag) {
            try {
                if (!in.skipField(tag)) {
                    throw new CheckpointFormatException(file, pos(), "malformed protobuf: unexpected end-group tag");
                }
            } catch (IOException e) {
                throw malformed(e);
            }
        }

        Field readLength(int tagStart) {
            int lenStart = pos();
            try {
                int length = in.readRawVarint32();
                int payloadStart = pos();
                if (length < 0 || length > end - payloadStart) {
                    throw new CheckpointFormatException(file, lenStart, "malformed protobuf: a field of "
                            + (length & 0xffffffffL) + " bytes runs past the end of its message ("
                            + (end - payloadStart) + " bytes left)");
                }
                in.skipRawBytes(length);
                return new Field(tagStart, lenStart, payloadStart, payloadStart + length);
            } catch (IOException e) {
                throw malformed(e);
            }
        }

        String readString() {
            try {
                return in.readBytes().toStringUtf8();
            } catch (IOException e) {
                throw malformed(e);
            }
        }

        CheckpointFormatException malformed(IOException e) {
            return new CheckpointFormatException(file, pos(), "malformed protobuf: " + e.getMessage(), e);
        }
    }

    /**
     * Builds the skeleton segments of one message payload, in file coordinates: literal ranges, holes for raw
     * data, re-encoded typed tensors, and frames (tag + recomputed length) around whatever holds one of those.
     */
    static final class Segments {
        final List<OnnxSkeleton.Segment> list = new ArrayList<>();
        private int cursor;
        /** True when the payload's length may change on rebuild (it holds a typed tensor). */
        private boolean resized;

        Segments(int start) {
            this.cursor = start;
        }

        void literalTo(int to) {
            if (to > cursor) {
                appendLiteral(cursor, to);
                cursor = to;
            }
        }

        private void appendLiteral(int from, int to) {
            int last = list.size() - 1;
            if (last >= 0 && list.get(last) instanceof OnnxSkeleton.Literal l && l.to() == from) {
                list.set(last, new OnnxSkeleton.Literal(l.from(), to));
            } else {
                list.add(new OnnxSkeleton.Literal(from, to));
            }
        }

        void raw(int at, int length, int tensor) {
            literalTo(at);
            list.add(new OnnxSkeleton.Raw(tensor));
            cursor = at + length;
        }

        void typed(Field field, int tensor) {
            literalTo(field.tagStart);
            list.add(new OnnxSkeleton.Typed(tensor, field.tagStart, field.lenStart));
            cursor = field.end;
            resized = true;
        }

        /** Appends a walked child message: inline when its length stays, else as a frame. */
        void child(Field field, Segments child) {
            if (child.resized) {
                literalTo(field.tagStart);
                list.add(new OnnxSkeleton.Frame(field.tagStart, field.lenStart, child.list));
                resized = true;
            } else {
                // the child's segments cover its payload contiguously: splice them in
                literalTo(field.payloadStart);
                for (OnnxSkeleton.Segment s : child.list) {
                    if (s instanceof OnnxSkeleton.Literal l) {
                        appendLiteral(l.from(), l.to());
                    } else {
                        list.add(s);
                    }
                }
            }
            cursor = field.end;
        }
    }
}
