package io.weightstream.serving;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Named tensors of {@code POST /v1/models/{name}/infer} as JSON: {@code {"shape": [2, 3], "dtype": "float32",
 * "data": [1, 2, 3, 4, 5, 6]}} with the data flat in row-major order, to and from the nested Java arrays
 * {@link OnnxModel#run} takes and returns.
 *
 * <pre>{@code
 * Object x = InferTensors.parse("x", node, 1 << 22, 8);            // float[2][3]
 * Map<String, Object> json = InferTensors.toJson("y", out, port);   // {shape, dtype, data}
 * }</pre>
 */
final class InferTensors {
    private InferTensors() {
    }

    /** The element type of each dtype name. */
    static Class<?> elementClass(String dtype) {
        return switch (dtype) {
            case "float32" -> float.class;
            case "float64" -> double.class;
            case "int64" -> long.class;
            case "int32" -> int.class;
            case "int16" -> short.class;
            case "int8", "uint8" -> byte.class;
            case "bool" -> boolean.class;
            default -> null;
        };
    }

    static final List<String> DTYPES = List.of("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool");

    /**
     * The nested Java array of one input tensor (a boxed value for shape {@code []}).
     *
     * @throws HttpApi.ApiError 400 naming the input and what is wrong with it, 413 over {@code maxElements}
     */
    static Object parse(String name, JsonNode node, long maxElements, int maxRank) {
        if (node == null || !node.isObject()) {
            throw bad(name, "must be an object {\"shape\": [...], \"dtype\": \"...\", \"data\": [...]}, got "
                    + HttpApi.kind(node));
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("shape") && !f.equals("dtype") && !f.equals("data")) {
                throw bad(name, "has unknown field '" + f + "'; expected shape, dtype, data");
            }
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw bad(name, "needs a 'dtype' string, one of " + DTYPES);
        }
        String dtype = dtypeNode.textValue().toLowerCase(Locale.ROOT);
        Class<?> element = elementClass(dtype);
        if (element == null) {
            throw bad(name, "has dtype '" + dtypeNode.textValue() + "'; supported: " + DTYPES);
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw bad(name, "needs a 'shape' array of dimensions, e.g. [1, 3]");
        }
        if (shapeNode.size() > maxRank) {
            throw bad(name, "has rank " + shapeNode.size() + "; at most " + maxRank + " is supported");
        }
        int[] shape = new int[shapeNode.size()];
        long elements = 1;
        for (int d = 0; d < shape.length; d++) {
            JsonNode dim = shapeNode.get(d);
            if (!dim.isIntegralNumber() || !dim.canConvertToLong() || dim.longValue() < 0) {
                throw bad(name, "shape[" + d + "] must be a non-negative integer, got " + dim);
            }
            long size = dim.longValue();
            if (size > maxElements) {
                throw new HttpApi.ApiError(413, "input '" + name + "': shape " + shapeNode + " has more than "
                        + maxElements + " elements, the limit per tensor");
            }
            shape[d] = (int) size;
            elements *= size;   // each factor <= maxElements, and we stop once the product passes it
            if (elements > maxElements) {
                throw new HttpApi.ApiError(413, "input '" + name + "': shape " + shapeNode + " has more than "
                        + maxElements + " elements, the limit per tensor");
            }
        }
        JsonNode data = node.get("data");
        if (data == null || !data.isArray()) {
            throw bad(name, "needs a 'data' array holding the " + elements + " values, flat, row-major");
        }
        if (data.size() != elements) {
            throw bad(name, "has " + data.size() + " values in 'data' but shape " + shapeNode + " needs " + elements);
        }
        Object flat = Array.newInstance(element, (int) elements);
        for (int i = 0; i < elements; i++) {
            set(name, dtype, flat, i, data.get(i));
        }
        if (shape.length == 0) {
            return Array.get(flat, 0);   // boxed scalar
        }
        Object nested = Array.newInstance(element, shape);
        fill(nested, shape, 0, flat, new int[] {0});
        return nested;
    }

    private static void set(String name, String dtype, Object flat, int i, JsonNode v) {
        switch (dtype) {
            case "float32", "float64" -> {
                if (!v.isNumber()) {
                    throw bad(name, "data[" + i + "] must be a number, got " + v);
                }
                if (dtype.equals("float32")) {
                    Array.setFloat(flat, i, v.floatValue());
                } else {
                    Array.setDouble(flat, i, v.doubleValue());
                }
            }
            case "bool" -> {
                if (!v.isBoolean()) {
                    throw bad(name, "data[" + i + "] must be true or false, got " + v);
                }
                Array.setBoolean(flat, i, v.booleanValue());
            }
            default -> {
                long min = switch (dtype) {
                    case "int64" -> Long.MIN_VALUE;
                    case "int32" -> Integer.MIN_VALUE;
                    case "int16" -> Short.MIN_VALUE;
                    case "int8" -> Byte.MIN_VALUE;
                    default -> 0;   // uint8
                };
                long max = switch (dtype) {
                    case "int64" -> Long.MAX_VALUE;
                    case "int32" -> Integer.MAX_VALUE;
                    case "int16" -> Short.MAX_VALUE;
                    case "int8" -> Byte.MAX_VALUE;
                    default -> 255;
                };
                if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
                    throw bad(name, "data[" + i + "] must be an integer in [" + min + ", " + max + "] for " + dtype
                            + ", got " + v);
                }
                long x = v.longValue();
                switch (dtype) {
                    case "int64" -> Array.setLong(flat, i, x);
                    case "int32" -> Array.setInt(flat, i, (int) x);
                    case "int16" -> Array.setShort(flat, i, (short) x);
                    default -> Array.setByte(flat, i, (byte) x);   // uint8 keeps its bits
                }
            }
        }
    }

    private static void fill(Object nested, int[] shape, int depth, Object flat, int[] offset) {
        int n = shape[depth];
        if (depth == shape.length - 1) {
            System.arraycopy(flat, offset[0], nested, 0, n);
            offset[0] += n;
            return;
        }
        for (int i = 0; i < n; i++) {
            fill(Array.get(nested, i), shape, depth + 1, flat, offset);
        }
    }

    /**
     * One output as {@code {"shape", "dtype", "data"}}.
     *
     * @param port the model's description of the output (tells UINT8 from INT8), or {@code null}
     */
    static Map<String, Object> toJson(String name, Object value, OnnxModel.Port port) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (value == null) {
            throw new IllegalStateException("output '" + name + "' is null");
        }
        if (!value.getClass().isArray()) {
            if (value instanceof Number || value instanceof Boolean || value instanceof String) {
                out.put("shape", new int[0]);
                out.put("dtype", dtypeName(unboxed(value.getClass()), port));
                out.put("data", List.of(value));
                return out;
            }
            throw new HttpApi.ApiError(400, "output '" + name + "' is a " + value.getClass().getSimpleName()
                    + ", not a tensor; ask for tensor outputs only with \"outputs\": [...]");
        }
        List<Integer> shape = new ArrayList<>();
        Class<?> element = value.getClass();
        Object probe = value;
        while (element.isArray()) {
            int length = probe == null ? 0 : Array.getLength(probe);
            shape.add(length);
            element = element.getComponentType();
            probe = length > 0 && element.isArray() ? Array.get(probe, 0) : null;
        }
        long count = 1;
        for (int d : shape) {
            count *= d;
        }
        Object flat = Array.newInstance(element, Math.toIntExact(count));
        flatten(value, 0, shape.size(), flat, new int[] {0});
        String dtype = dtypeName(element, port);
        if (dtype.equals("uint8")) {
            byte[] bytes = (byte[]) flat;
            int[] unsigned = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                unsigned[i] = bytes[i] & 0xFF;
            }
            flat = unsigned;
        }
        out.put("shape", shape);
        out.put("dtype", dtype);
        out.put("data", flat);
        return out;
    }

    private static void flatten(Object nested, int depth, int rank, Object flat, int[] offset) {
        int n = Array.getLength(nested);
        if (depth == rank - 1) {
            System.arraycopy(nested, 0, flat, offset[0], n);
            offset[0] += n;
            return;
        }
        for (int i = 0; i < n; i++) {
            flatten(Array.get(nested, i), depth + 1, rank, flat, offset);
        }
    }

    private static String dtypeName(Class<?> element, OnnxModel.Port port) {
        if (element == float.class) {
            return "float32";
        } else if (element == double.class) {
            return "float64";
        } else if (element == long.class) {
            return "int64";
        } else if (element == int.class) {
            return "int32";
        } else if (element == short.class) {
            return "int16";
        } else if (element == byte.class) {
            return port != null && port.elementType().equals("UINT8") ? "uint8" : "int8";
        } else if (element == boolean.class) {
            return "bool";
        } else if (element == String.class) {
            return "string";
        }
        return element.getSimpleName();
    }

    /** The primitive class of a boxed one ({@code Float.class -> float.class}); other classes as they are. */
    static Class<?> unboxed(Class<?> c) {
        if (c == Float.class) {
            return float.class;
        } else if (c == Double.class) {
            return double.class;
        } else if (c == Long.class) {
            return long.class;
        } else if (c == Integer.class) {
            return int.class;
        } else if (c == Short.class) {
            return short.class;
        } else if (c == Byte.class) {
            return byte.class;
        } else if (c == Boolean.class) {
            return boolean.class;
        }
        return c;
    }

    private static HttpApi.ApiError bad(String name, String what) {
        return new HttpApi.ApiError(400, "input '" + name + "' " + what);
    }
}
