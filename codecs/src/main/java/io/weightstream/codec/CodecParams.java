package io.weightstream.codec;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The parameter values for one codec: those set explicitly, the declared defaults for the rest. Built from
 * strings ({@code --set key=value}, an Avro map) with unknown keys and bad values rejected by a message that
 * names the codec and the key. Immutable.
 *
 * <pre>{@code
 * Codec codec = Codecs.get("lossless");
 * CodecParams params = CodecParams.parse(codec, Map.of("block.size", "1048576"));
 * byte[] payload = codec.encode(tensor, params);
 * Map<String, String> forAvro = params.toMap(true);   // every value, defaults included
 * }</pre>
 */
public final class CodecParams {
    private final String codecName;
    private final Map<String, CodecParameter<?>> declared;
    private final Map<String, Object> values;

    private CodecParams(String codecName, Map<String, CodecParameter<?>> declared, Map<String, Object> values) {
        this.codecName = codecName;
        this.declared = declared;
        this.values = values;
    }

    /** Every parameter at its default. */
    public static CodecParams defaults(Codec codec) {
        return builder(codec).build();
    }

    /**
     * Parses string settings.
     *
     * @throws IllegalArgumentException naming the codec and the key for an unknown key or a bad value
     */
    public static CodecParams parse(Codec codec, Map<String, String> settings) {
        Builder b = builder(codec);
        settings.forEach(b::set);
        return b.build();
    }

    /** Parses {@code key=value} assignments, as given to {@code --set}. */
    public static CodecParams parseAssignments(Codec codec, List<String> assignments) {
        Builder b = builder(codec);
        for (String a : assignments) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("codec '" + codec.name() + "': '" + a + "' is not key=value");
            }
            b.set(a.substring(0, eq).trim(), a.substring(eq + 1));
        }
        return b.build();
    }

    public static Builder builder(Codec codec) {
        return new Builder(codec);
    }

    /** Name of the codec these parameters belong to. */
    public String codecName() {
        return codecName;
    }

    /**
     * The value of {@code parameter}: set explicitly or its default.
     *
     * @throws IllegalArgumentException if the codec does not declare it
     */
    public <T> T get(CodecParameter<T> parameter) {
        CodecParameter<?> d = declared.get(parameter.key());
        if (d == null || d.type() != parameter.type()) {
            throw new IllegalArgumentException("codec '" + codecName + "' has no parameter '" + parameter.key() + "'");
        }
        Object v = values.get(parameter.key());
        return v == null ? parameter.defaultValue() : parameter.type().cast(v);
    }

    /** True if {@code key} was set explicitly. */
    public boolean isSet(String key) {
        return values.containsKey(key);
    }

    /**
     * Fails unless these parameters were built for {@code codec}; every codec calls this at its public entry.
     */
    public void requireFor(Codec codec) {
        if (!codecName.equals(codec.name())) {
            throw new IllegalArgumentException("parameters for codec '" + codecName + "' given to codec '"
                    + codec.name() + "'");
        }
    }

    /**
     * The values as canonical strings in declaration order, which {@link #parse} reads back to equal params.
     *
     * @param withDefaults include parameters left at their default
     */
    public Map<String, String> toMap(boolean withDefaults) {
        Map<String, String> m = new LinkedHashMap<>();
        for (CodecParameter<?> p : declared.values()) {
            if (withDefaults || values.containsKey(p.key())) {
                m.put(p.key(), formatted(p));
            }
        }
        return Collections.unmodifiableMap(m);
    }

    private <T> String formatted(CodecParameter<T> p) {
        return p.format(get(p));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CodecParams p && codecName.equals(p.codecName) && toMap(true).equals(p.toMap(true));
    }

    @Override
    public int hashCode() {
        return Objects.hash(codecName, toMap(true));
    }

    @Override
    public String toString() {
        return codecName + toMap(false).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(", ", "{", "}"));
    }

    /** Collects values; {@link #build()} returns immutable params. */
    public static final class Builder {
        private final String codecName;
        private final Map<String, CodecParameter<?>> declared = new LinkedHashMap<>();
        private final Map<String, Object> values = new LinkedHashMap<>();

        private Builder(Codec codec) {
            this.codecName = codec.name();
            for (CodecParameter<?> p : codec.parameters()) {
                if (declared.put(p.key(), p) != null) {
                    throw new IllegalStateException("codec '" + codecName + "' declares parameter '" + p.key() + "' twice");
                }
            }
        }

        /** Sets a typed value. */
        public <T> Builder set(CodecParameter<T> parameter, T value) {
            CodecParameter<?> d = declared.get(parameter.key());
            if (d == null || d.type() != parameter.type()) {
                throw unknown(parameter.key());
            }
            try {
                values.put(parameter.key(), parameter.check(value));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("codec '" + codecName + "': " + e.getMessage(), e);
            }
            return this;
        }

        /** Parses and sets a value given as text. */
        public Builder set(String key, String value) {
            CodecParameter<?> p = declared.get(key == null ? null : key.trim());
            if (p == null) {
                throw unknown(key);
            }
            try {
                values.put(p.key(), p.parse(value));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("codec '" + codecName + "': " + e.getMessage(), e);
            }
            return this;
        }

        private IllegalArgumentException unknown(String key) {
            return new IllegalArgumentException("codec '" + codecName + "': unknown parameter '" + key + "'"
                    + (declared.isEmpty() ? " (it takes none)" : " (known: " + String.join(", ", declared.keySet()) + ")"));
        }

        public CodecParams build() {
            return new CodecParams(codecName, Collections.unmodifiableMap(new LinkedHashMap<>(declared)),
                    Collections.unmodifiableMap(new LinkedHashMap<>(values)));
        }
    }
}
