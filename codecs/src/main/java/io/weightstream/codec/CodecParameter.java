package io.weightstream.codec;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * One typed, documented parameter of a codec: a key, a type, a default, a description and the values it
 * accepts. Codecs declare them as constants and list them in {@link Codec#parameters()}; values arrive as
 * strings (CLI {@code --set key=value}, Avro maps) and are parsed and checked here.
 *
 * <pre>{@code
 * public static final CodecParameter<Integer> BITS =
 *         CodecParameter.ofInt("bits", 4, 2, 8, "bits per weight");
 * ...
 * int bits = params.get(BITS);
 * }</pre>
 *
 * @param <T> Integer, Long, Double, Boolean, String or an enum
 */
public final class CodecParameter<T> {
    /** Keys: lower case words separated by '.', '-' or '_' ({@code block.size}, {@code min-gain}). */
    public static final Pattern KEY = Pattern.compile("[a-z][a-z0-9]*([._-][a-z0-9]+)*");

    private final String key;
    private final Class<T> type;
    private final T defaultValue;
    private final String description;
    private final T min;
    private final T max;
    private final List<String> allowed;
    private final Function<String, T> parser;
    private final String typeName;

    private CodecParameter(String key, Class<T> type, T defaultValue, String description, T min, T max,
                           List<String> allowed, Function<String, T> parser, String typeName) {
        if (!KEY.matcher(Objects.requireNonNull(key, "key")).matches()) {
            throw new IllegalArgumentException("parameter key '" + key + "' must match " + KEY);
        }
        this.key = key;
        this.type = type;
        this.defaultValue = Objects.requireNonNull(defaultValue, "defaultValue");
        this.description = Objects.requireNonNull(description, "description");
        this.min = min;
        this.max = max;
        this.allowed = allowed;
        this.parser = parser;
        this.typeName = typeName;
        String problem = problem(defaultValue);
        if (problem != null) {
            throw new IllegalArgumentException("parameter '" + key + "': default " + problem);
        }
    }

    /** An integer in {@code [min, max]}. */
    public static CodecParameter<Integer> ofInt(String key, int defaultValue, int min, int max, String description) {
        return new CodecParameter<>(key, Integer.class, defaultValue, description, min, max, null, s -> {
            try {
                return Integer.decode(s);
            } catch (NumberFormatException e) {
                return null;
            }
        }, "an integer");
    }

    /** A long in {@code [min, max]}. */
    public static CodecParameter<Long> ofLong(String key, long defaultValue, long min, long max, String description) {
        return new CodecParameter<>(key, Long.class, defaultValue, description, min, max, null, s -> {
            try {
                return Long.decode(s);
            } catch (NumberFormatException e) {
                return null;
            }
        }, "an integer");
    }

    /** A finite double in {@code [min, max]}. */
    public static CodecParameter<Double> ofDouble(String key, double defaultValue, double min, double max, String description) {
        return new CodecParameter<>(key, Double.class, defaultValue, description, min, max, null, s -> {
            try {
                double v = Double.parseDouble(s);
                return Double.isFinite(v) ? v : null;
            } catch (NumberFormatException e) {
                return null;
            }
        }, "a number");
    }

    /** {@code true} or {@code false}. */
    public static CodecParameter<Boolean> ofBoolean(String key, boolean defaultValue, String description) {
        return new CodecParameter<>(key, Boolean.class, defaultValue, description, null, null, List.of("true", "false"),
                s -> s.equalsIgnoreCase("true") ? Boolean.TRUE : s.equalsIgnoreCase("false") ? Boolean.FALSE : null,
                "true or false");
    }

    /** One of the constants of {@code type}, written in lower case ({@code "per-channel"} for PER_CHANNEL). */
    public static <E extends Enum<E>> CodecParameter<E> ofEnum(String key, Class<E> type, E defaultValue, String description) {
        List<String> names = Arrays.stream(type.getEnumConstants()).map(CodecParameter::enumText).toList();
        return new CodecParameter<>(key, type, defaultValue, description, null, null, names, s -> {
            for (E e : type.getEnumConstants()) {
                if (enumText(e).equalsIgnoreCase(s) || e.name().equalsIgnoreCase(s)) {
                    return e;
                }
            }
            return null;
        }, "one of " + names);
    }

    /** A string; if {@code allowed} is non-empty, one of those. */
    public static CodecParameter<String> ofString(String key, String defaultValue, String description, String... allowed) {
        List<String> list = allowed.length == 0 ? null : List.of(allowed);
        return new CodecParameter<>(key, String.class, defaultValue, description, null, null, list, s -> s,
                list == null ? "a string" : "one of " + list);
    }

    private static String enumText(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public String key() {
        return key;
    }

    public Class<T> type() {
        return type;
    }

    public T defaultValue() {
        return defaultValue;
    }

    public String description() {
        return description;
    }

    /** Smallest accepted value of a numeric parameter, else null. */
    public T min() {
        return min;
    }

    /** Largest accepted value of a numeric parameter, else null. */
    public T max() {
        return max;
    }

    /** The accepted spellings of an enum, boolean or restricted string parameter, else an empty list. */
    public List<String> allowedValues() {
        return allowed == null ? List.of() : allowed;
    }

    /** What the parameter accepts, for help texts and messages: {@code "an integer in [1, 16]"}. */
    public String acceptedValues() {
        if (min != null) {
            return typeName + " in [" + min + ", " + max + "]";
        }
        return typeName;
    }

    /**
     * Parses and checks a value.
     *
     * @throws IllegalArgumentException saying what is wrong (without the codec's name: {@link CodecParams} adds it)
     */
    public T parse(String text) {
        T v = text == null ? null : parser.apply(text.trim());
        if (v == null) {
            throw new IllegalArgumentException("parameter '" + key + "': '" + text + "' is not " + acceptedValues());
        }
        return check(v);
    }

    /** Checks a typed value. */
    public T check(Object value) {
        if (!type.isInstance(value)) {
            throw new IllegalArgumentException("parameter '" + key + "': " + value + " is not " + acceptedValues());
        }
        T v = type.cast(value);
        String problem = problem(v);
        if (problem != null) {
            throw new IllegalArgumentException("parameter '" + key + "': " + problem);
        }
        return v;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private String problem(T v) {
        if (v instanceof Double d && !Double.isFinite(d)) {
            return d + " is not finite";
        }
        if (min != null && (((Comparable) v).compareTo(min) < 0 || ((Comparable) v).compareTo(max) > 0)) {
            return v + " is out of range [" + min + ", " + max + "]";
        }
        if (allowed != null && type == String.class && !allowed.contains(v)) {
            return "'" + v + "' is not one of " + allowed;
        }
        return null;
    }

    /** The canonical text of a value, which {@link #parse} reads back to the same value. */
    public String format(T value) {
        if (value instanceof Enum<?> e) {
            return enumText(e);
        }
        return String.valueOf(value);
    }

    @Override
    public String toString() {
        return key + " (" + acceptedValues() + ", default " + format(defaultValue) + "): " + description;
    }
}
