package io.weightstream.tensor;

import java.util.Locale;

/**
 * Element types of checkpoint tensors, with their sizes and the names the file formats use for them.
 *
 * <pre>{@code
 * DType t = DType.fromSafetensors("BF16");   // DType.BF16
 * long bytes = t.byteSize(numel);            // numel * 2
 * }</pre>
 */
public enum DType {
    F64(8, "F64", 11, true),
    F32(4, "F32", 1, true),
    F16(2, "F16", 10, true),
    BF16(2, "BF16", 16, true),
    I64(8, "I64", 7, false),
    I32(4, "I32", 6, false),
    I16(2, "I16", 5, false),
    I8(1, "I8", 3, false),
    U8(1, "U8", 2, false),
    BOOL(1, "BOOL", 9, false);

    private final int size;
    private final String safetensorsName;
    private final int onnxDataType;
    private final boolean floatingPoint;

    DType(int size, String safetensorsName, int onnxDataType, boolean floatingPoint) {
        this.size = size;
        this.safetensorsName = safetensorsName;
        this.onnxDataType = onnxDataType;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** Bytes of {@code numel} elements; throws on overflow instead of wrapping. */
    public long byteSize(long numel) {
        return Math.multiplyExact(numel, (long) size);
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** The dtype string of a safetensors header ({@code "F32"}, {@code "BF16"}, ...). */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The {@code TensorProto.DataType} number of ONNX. */
    public int onnxDataType() {
        return onnxDataType;
    }

    /** @throws IllegalArgumentException naming the unknown dtype */
    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown safetensors dtype '" + name + "'");
    }

    /** @throws IllegalArgumentException naming the unsupported ONNX data type */
    public static DType fromOnnx(int dataType) {
        for (DType t : values()) {
            if (t.onnxDataType == dataType) {
                return t;
            }
        }
        throw new IllegalArgumentException("unsupported ONNX tensor data type " + dataType);
    }

    /** Parses the names used on the wire and on the command line (case-insensitive). */
    public static DType parse(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
