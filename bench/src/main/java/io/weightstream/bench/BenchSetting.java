package io.weightstream.bench;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * One setting of a bench method: the codec parameters (as {@code --set key=value} takes them) and the label that
 * names the row in tables and plots ({@code "bits=4 group.size=64"}, {@code "default"} when there are none).
 *
 * <pre>{@code
 * BenchSetting s = BenchSetting.of("bits", "4", "group.size", "64");
 * s.label();   // "bits=4 group.size=64"
 * }</pre>
 */
public record BenchSetting(String label, Map<String, String> params) {
    /** The codec's defaults. */
    public static final BenchSetting DEFAULT = new BenchSetting("default", Map.of());

    public BenchSetting {
        Objects.requireNonNull(label, "label");
        if (label.isBlank() || label.contains(",") || label.contains("|") || label.contains("\"")) {
            throw new IllegalArgumentException("a setting label must be non-blank without ',', '|' or '\"': '" + label + "'");
        }
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    /** A setting from {@code key, value, key, value, ...}, labelled by its assignments. */
    public static BenchSetting of(String... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values come in pairs");
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return of(m);
    }

    /** A setting of {@code params}, labelled by its assignments. */
    public static BenchSetting of(Map<String, String> params) {
        if (params.isEmpty()) {
            return DEFAULT;
        }
        return new BenchSetting(params.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(" ")), params);
    }

    /** The label as a file-name part: lower case letters, digits, '.' and '-'. */
    public String slug() {
        return label.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.]+", "-").replaceAll("(^-+|-+$)", "");
    }

    @Override
    public String toString() {
        return label;
    }
}
