package io.weightstream.policy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A method with parameters written as one string, the form fallback methods take in the Avro policy
 * ({@code fallbackMethods} is a list of strings): {@code "lossless"}, {@code "rtn:bits=8,group.size=64"}.
 * Codec parameter values never contain {@code ,} or {@code =}.
 */
record MethodSpec(String method, Map<String, String> params) {

    /** @throws IllegalArgumentException saying what is malformed */
    static MethodSpec parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty method");
        }
        int colon = text.indexOf(':');
        String method = (colon < 0 ? text : text.substring(0, colon)).trim();
        Map<String, String> params = new LinkedHashMap<>();
        if (colon >= 0) {
            String rest = text.substring(colon + 1).trim();
            if (!rest.isEmpty()) {
                for (String kv : rest.split(",")) {
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("'" + kv.trim() + "' in '" + text + "' is not key=value");
                    }
                    params.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
                }
            }
        }
        if (method.isEmpty()) {
            throw new IllegalArgumentException("no method name in '" + text + "'");
        }
        return new MethodSpec(method, params);
    }

    /** The string form, which {@link #parse} reads back. */
    String format() {
        if (params.isEmpty()) {
            return method;
        }
        return method + ":" + params.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(","));
    }
}
