package io.weightstream.registry;

import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.config.types.Password;

/**
 * One typed configuration option: key, type, default and description, read from a plain {@code Map} (Kafka
 * client properties, a Flink job's parameters, CLI flags). The options themselves are declared in
 * {@link RegistryOptions} and {@link AvroSerdeOptions}, and the documentation is generated from them.
 *
 * <pre>{@code
 * long timeoutMs = RegistryOptions.TIMEOUT_MS.get(config);   // the default when the key is absent
 * }</pre>
 *
 * @param <T> {@code String}, {@code Long} or {@code Boolean}
 */
public final class RegistryOption<T> {
    private final String key;
    private final Class<T> type;
    private final T defaultValue;
    private final String description;
    private final boolean secret;

    private RegistryOption(String key, Class<T> type, T defaultValue, String description, boolean secret) {
        this.key = Objects.requireNonNull(key, "key");
        this.type = Objects.requireNonNull(type, "type");
        this.defaultValue = defaultValue;
        this.description = Objects.requireNonNull(description, "description");
        this.secret = secret;
    }

    static RegistryOption<String> string(String key, String defaultValue, String description) {
        return new RegistryOption<>(key, String.class, defaultValue, description, false);
    }

    /** A string whose value is never printed (passwords). */
    static RegistryOption<String> secret(String key, String description) {
        return new RegistryOption<>(key, String.class, null, description, true);
    }

    static RegistryOption<Long> longValue(String key, long defaultValue, String description) {
        return new RegistryOption<>(key, Long.class, defaultValue, description, false);
    }

    static RegistryOption<Boolean> bool(String key, boolean defaultValue, String description) {
        return new RegistryOption<>(key, Boolean.class, defaultValue, description, false);
    }

    public String key() {
        return key;
    }

    public Class<T> type() {
        return type;
    }

    /** The value used when the key is absent; {@code null} for options without a default. */
    public T defaultValue() {
        return defaultValue;
    }

    public String description() {
        return description;
    }

    /** Whether the value must never be printed or logged. */
    public boolean isSecret() {
        return secret;
    }

    /** Whether {@code config} sets this option (to a non-blank value). */
    public boolean isSet(Map<String, ?> config) {
        Object raw = config.get(key);
        return raw != null && !text(raw).isBlank();
    }

    /**
     * The value of this option in {@code config}: the default when absent or blank; strings are trimmed;
     * Kafka's {@link Password} is unwrapped.
     *
     * @throws IllegalArgumentException if the value cannot be read as this option's type
     */
    public T get(Map<String, ?> config) {
        Object raw = config.get(key);
        if (raw == null) {
            return defaultValue;
        }
        if (type.isInstance(raw)) {
            return raw instanceof String s ? blankToDefault(s.trim()) : type.cast(raw);
        }
        String text = text(raw).trim();
        if (text.isEmpty()) {
            return defaultValue;
        }
        if (type == String.class) {
            return type.cast(text);
        }
        if (type == Long.class) {
            if (raw instanceof Number number && !(raw instanceof Double) && !(raw instanceof Float)) {
                return type.cast(number.longValue());
            }
            try {
                return type.cast(Long.parseLong(text));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(key + " must be an integer, got '" + text + "'");
            }
        }
        if (type == Boolean.class) {
            if (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")) {
                return type.cast(Boolean.parseBoolean(text));
            }
            throw new IllegalArgumentException(key + " must be true or false, got '" + text + "'");
        }
        throw new IllegalStateException("unsupported option type " + type.getName());
    }

    @SuppressWarnings("unchecked")
    private T blankToDefault(String s) {
        return s.isEmpty() ? defaultValue : (T) s;
    }

    private static String text(Object raw) {
        return raw instanceof Password password ? password.value() : raw.toString();
    }

    @Override
    public String toString() {
        return key + " (" + type.getSimpleName() + (defaultValue != null ? ", default " + defaultValue : "") + ")";
    }
}
