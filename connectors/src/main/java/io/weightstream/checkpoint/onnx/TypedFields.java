package io.weightstream.checkpoint.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.weightstream.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The typed value fields of a {@code TensorProto} ({@code float_data}, {@code int32_data}, ...) converted to and
 * from the little-endian bytes of {@code raw_data}.
 *
 * <p>Which field holds which type is fixed by onnx.proto: FLOAT in {@code float_data}, DOUBLE in
 * {@code double_data}, INT64 in {@code int64_data}; INT32, INT16, INT8, UINT8, BOOL, and the bits of FLOAT16 and
 * BFLOAT16 in {@code int32_data}, one value per element. Writing uses the conventions of the ONNX helpers: signed
 * types sign-extended, UINT8/BOOL/FLOAT16/BFLOAT16 as unsigned values.
 */
final class TypedFields {
    private TypedFields() {
    }

    /** Values in all typed fields (and string_data). */
    static int count(TensorProto t) {
        return t.getFloatDataCount() + t.getInt32DataCount() + t.getInt64DataCount() + t.getDoubleDataCount()
                + t.getUint64DataCount() + t.getStringDataCount();
    }

    /** Values in the field that {@code dtype} uses. */
    static int count(TensorProto t, DType dtype) {
        return switch (dtype) {
            case F32 -> t.getFloatDataCount();
            case F64 -> t.getDoubleDataCount();
            case I64 -> t.getInt64DataCount();
            case I32, I16, I8, U8, BOOL, F16, BF16 -> t.getInt32DataCount();
        };
    }

    /** Values in fields that {@code dtype} does not use. */
    static int misplacedCount(TensorProto t, DType dtype) {
        return count(t) - count(t, dtype);
    }

    static String fieldName(DType dtype) {
        return switch (dtype) {
            case F32 -> "float_data";
            case F64 -> "double_data";
            case I64 -> "int64_data";
            case I32, I16, I8, U8, BOOL, F16, BF16 -> "int32_data";
        };
    }

    /** The values as little-endian bytes; {@code byteSize} is the count times the dtype's size (checked by the caller). */
    static ByteBuffer toLittleEndian(TensorProto t, DType dtype, int byteSize) {
        ByteBuffer out = ByteBuffer.allocate(byteSize).order(ByteOrder.LITTLE_ENDIAN);
        int n = count(t, dtype);
        switch (dtype) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    out.putInt(Float.floatToRawIntBits(t.getFloatData(i)));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out.putLong(Double.doubleToRawLongBits(t.getDoubleData(i)));
                }
            }
            case I64 -> {
                for (int i = 0; i < n; i++) {
                    out.putLong(t.getInt64Data(i));
                }
            }
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    out.putInt(t.getInt32Data(i));
                }
            }
            case I16, F16, BF16 -> {
                for (int i = 0; i < n; i++) {
                    out.putShort((short) t.getInt32Data(i));
                }
            }
            case I8, U8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    out.put((byte) t.getInt32Data(i));
                }
            }
        }
        return out.flip();
    }

    /** The tensor with its typed fields emptied: what the skeleton keeps of a typed tensor. */
    static TensorProto withoutData(TensorProto t) {
        return t.toBuilder().clearFloatData().clearInt32Data().clearInt64Data().clearDoubleData().clearUint64Data().build();
    }

    /** Puts the little-endian values of {@code data} (exactly the tensor's byte size) into dtype's field. */
    static TensorProto withData(TensorProto template, DType dtype, ByteBuffer data) {
        ByteBuffer in = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = in.remaining() / dtype.size();
        int p = in.position();
        TensorProto.Builder b = template.toBuilder();
        switch (dtype) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    b.addFloatData(Float.intBitsToFloat(in.getInt(p + 4 * i)));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    b.addDoubleData(Double.longBitsToDouble(in.getLong(p + 8 * i)));
                }
            }
            case I64 -> {
                for (int i = 0; i < n; i++) {
                    b.addInt64Data(in.getLong(p + 8 * i));
                }
            }
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    b.addInt32Data(in.getInt(p + 4 * i));
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    b.addInt32Data(in.getShort(p + 2 * i));
                }
            }
            case F16, BF16 -> {
                for (int i = 0; i < n; i++) {
                    b.addInt32Data(in.getShort(p + 2 * i) & 0xffff);
                }
            }
            case I8 -> {
                for (int i = 0; i < n; i++) {
                    b.addInt32Data(in.get(p + i));
                }
            }
            case U8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    b.addInt32Data(in.get(p + i) & 0xff);
                }
            }
        }
        return b.build();
    }
}
