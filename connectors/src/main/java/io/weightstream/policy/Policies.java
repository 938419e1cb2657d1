package io.weightstream.policy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.PolicyRule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Builds, reads, writes and validates {@link CompressionPolicy} records, the policy that travels in every
 * checkpoint manifest. The JSON file format uses the Avro record's field names (see {@code connectors/POLICY.md}).
 *
 * <pre>{@code
 * CompressionPolicy p = Policies.of("rtn", Map.of("bits", "8"));          // --method rtn --set bits=8
 * CompressionPolicy q = Policies.read(Path.of("policy.json"));            // --policy policy.json
 * CompressionPolicy r = Policies.only("*attention*", "rtn", Map.of());    // --only '*attention*' --method rtn
 * PolicyResolver resolver = new PolicyResolver(q);
 * }</pre>
 *
 * Every factory validates: unknown methods, bad parameters, a keep method that is not lossless, a negative
 * size or error bound are reported together in one {@link PolicyException}.
 */
public final class Policies {
    /** The method for tensors a policy keeps exact, unless it names another lossless one. */
    public static final String DEFAULT_KEEP_METHOD = "lossless";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Set<String> FIELDS = Set.of("defaultMethod", "defaultParams", "rules", "keepMethod",
            "keepOneDimensional", "keepUnderBytes", "maxRelL2", "fallbackMethods");
    private static final Set<String> RULE_FIELDS = Set.of("pattern", "method", "params");

    private Policies() {
    }

    /** Every tensor with {@code method} and {@code params} (1-D and non-float tensors kept lossless). */
    public static CompressionPolicy of(String method, Map<String, String> params) {
        java.util.Objects.requireNonNull(method, "method");
        CompressionPolicy p = CompressionPolicy.newBuilder().setDefaultMethod(method)
                .setDefaultParams(new LinkedHashMap<>(params)).build();
        validate(p);
        return p;
    }

    /** Lossless for every tensor except those whose name or alias matches {@code glob}, which get {@code method}. */
    public static CompressionPolicy only(String glob, String method, Map<String, String> params) {
        java.util.Objects.requireNonNull(glob, "glob");
        return only(List.of(glob), method, params);
    }

    /** As {@link #only(String, String, Map)} for tensors matching any of {@code globs}: one rule per glob. */
    public static CompressionPolicy only(List<String> globs, String method, Map<String, String> params) {
        java.util.Objects.requireNonNull(method, "method");
        if (globs.isEmpty()) {
            throw new IllegalArgumentException("no tensor pattern");
        }
        List<PolicyRule> rules = new ArrayList<>();
        for (String glob : globs) {
            java.util.Objects.requireNonNull(glob, "glob");
            rules.add(PolicyRule.newBuilder().setPattern(glob).setMethod(method)
                    .setParams(new LinkedHashMap<>(params)).build());
        }
        CompressionPolicy p = CompressionPolicy.newBuilder().setDefaultMethod(DEFAULT_KEEP_METHOD)
                .setRules(rules).build();
        validate(p);
        return p;
    }

    /** The fallback-list entry for a method with parameters: {@code "rtn:bits=8,group.size=64"}. */
    public static String fallback(String method, Map<String, String> params) {
        return new MethodSpec(method, new LinkedHashMap<>(params)).format();
    }

    /**
     * {@code key=value} assignments (as given to {@code --set}) as an ordered map.
     *
     * @throws IllegalArgumentException naming an assignment without '=' or a key given twice
     */
    public static Map<String, String> settings(List<String> assignments) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String a : assignments) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("'" + a + "' is not key=value");
            }
            String key = a.substring(0, eq).trim();
            if (m.put(key, a.substring(eq + 1).trim()) != null) {
                throw new IllegalArgumentException("parameter '" + key + "' set twice");
            }
        }
        return m;
    }

    // ---------------------------------------------------------------- JSON

    /**
     * Reads a JSON policy file.
     *
     * @throws PolicyException listing every problem (malformed JSON, unknown fields, wrong types, invalid
     *                         methods or parameters), naming the file
     * @throws UncheckedIOException if the file cannot be read
     */
    public static CompressionPolicy read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new PolicyException(file.toString(), List.of("no such file"));
        } catch (IOException e) {
            throw new UncheckedIOException("reading policy " + file, e);
        }
        return parse(text, file.toString());
    }

    /**
     * Parses a JSON policy.
     *
     * @param source named in the error message (a file name), or null
     */
    public static CompressionPolicy parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new PolicyException(source, List.of("not valid JSON: " + e.getOriginalMessage()
                    + " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr()));
        }
        List<String> problems = new ArrayList<>();
        if (root == null || !root.isObject()) {
            throw new PolicyException(source, List.of("a policy is a JSON object"));
        }
        unknownFields(root, FIELDS, "", problems);
        CompressionPolicy.Builder b = CompressionPolicy.newBuilder();
        String method = text(root, "defaultMethod", problems);
        if (method == null) {
            if (!root.has("defaultMethod")) {
                problems.add("defaultMethod is missing");
            }
            method = DEFAULT_KEEP_METHOD;
        }
        b.setDefaultMethod(method);
        b.setDefaultParams(params(root.get("defaultParams"), "defaultParams", problems));
        List<PolicyRule> rules = new ArrayList<>();
        JsonNode rs = root.get("rules");
        if (rs != null && !rs.isNull()) {
            if (!rs.isArray()) {
                problems.add("rules must be an array");
            } else {
                for (int i = 0; i < rs.size(); i++) {
                    JsonNode r = rs.get(i);
                    String where = "rules[" + i + "]";
                    if (!r.isObject()) {
                        problems.add(where + " must be an object with pattern, method and params");
                        continue;
                    }
                    unknownFields(r, RULE_FIELDS, where + ".", problems);
                    String pattern = text(r, "pattern", problems, where);
                    String m = text(r, "method", problems, where);
                    rules.add(PolicyRule.newBuilder().setPattern(pattern == null ? "" : pattern)
                            .setMethod(m == null ? "" : m).setParams(params(r.get("params"), where + ".params", problems))
                            .build());
                }
            }
        }
        b.setRules(rules);
        if (root.has("keepMethod")) {
            String keep = text(root, "keepMethod", problems);
            b.setKeepMethod(keep == null ? DEFAULT_KEEP_METHOD : keep);
        }
        JsonNode one = root.get("keepOneDimensional");
        if (one != null) {
            if (one.isBoolean()) {
                b.setKeepOneDimensional(one.booleanValue());
            } else {
                problems.add("keepOneDimensional must be true or false, not " + one);
            }
        }
        JsonNode under = root.get("keepUnderBytes");
        if (under != null) {
            if (under.canConvertToLong() && under.isIntegralNumber()) {
                b.setKeepUnderBytes(under.longValue());
            } else {
                problems.add("keepUnderBytes must be a whole number of bytes, not " + under);
            }
        }
        JsonNode max = root.get("maxRelL2");
        if (max != null && !max.isNull()) {
            if (max.isNumber()) {
                b.setMaxRelL2(max.doubleValue());
            } else {
                problems.add("maxRelL2 must be a number, not " + max);
            }
        }
        List<String> fallbacks = new ArrayList<>();
        JsonNode fs = root.get("fallbackMethods");
        if (fs != null && !fs.isNull()) {
            if (!fs.isArray()) {
                problems.add("fallbackMethods must be an array");
            } else {
                for (int i = 0; i < fs.size(); i++) {
                    JsonNode f = fs.get(i);
                    String where = "fallbackMethods[" + i + "]";
                    if (f.isTextual()) {
                        fallbacks.add(f.textValue());
                    } else if (f.isObject()) {
                        unknownFields(f, Set.of("method", "params"), where + ".", problems);
                        String m = text(f, "method", problems, where);
                        if (m == null) {
                            problems.add(where + ".method is missing");
                            continue;
                        }
                        fallbacks.add(fallback(m, params(f.get("params"), where + ".params", problems)));
                    } else {
                        problems.add(where + " must be a string (\"rtn:bits=8\") or an object {\"method\", \"params\"}");
                    }
                }
            }
        }
        b.setFallbackMethods(fallbacks);
        CompressionPolicy policy = b.build();
        problems.addAll(problems(policy));
        if (!problems.isEmpty()) {
            throw new PolicyException(source, problems);
        }
        return policy;
    }

    private static void unknownFields(JsonNode node, Set<String> known, String prefix, List<String> problems) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                problems.add("unknown field '" + prefix + f + "' (known: " + String.join(", ", known.stream().sorted().toList()) + ")");
            }
        }
    }

    private static String text(JsonNode node, String field, List<String> problems) {
        return text(node, field, problems, null);
    }

    private static String text(JsonNode node, String field, List<String> problems, String where) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            problems.add((where == null ? "" : where + ".") + field + " must be a string, not " + v);
            return null;
        }
        return v.textValue();
    }

    /** Parameter values may be written as JSON strings, numbers or booleans; all become strings. */
    private static Map<String, String> params(JsonNode node, String where, List<String> problems) {
        Map<String, String> m = new LinkedHashMap<>();
        if (node == null || node.isNull()) {
            return m;
        }
        if (!node.isObject()) {
            problems.add(where + " must be an object of key: value");
            return m;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (v.isTextual() || v.isNumber() || v.isBoolean()) {
                m.put(e.getKey(), v.asText());
            } else {
                problems.add(where + "." + e.getKey() + " must be a string, number or boolean, not " + v);
            }
        }
        return m;
    }

    /** The policy as JSON in the file format {@link #parse} reads. */
    public static String toJson(CompressionPolicy p) {
        ObjectNode root = JSON.createObjectNode();
        root.put("defaultMethod", p.getDefaultMethod());
        root.set("defaultParams", JSON.valueToTree(p.getDefaultParams()));
        ArrayNode rules = root.putArray("rules");
        for (PolicyRule r : p.getRules()) {
            ObjectNode o = rules.addObject();
            o.put("pattern", r.getPattern());
            o.put("method", r.getMethod());
            o.set("params", JSON.valueToTree(r.getParams()));
        }
        root.put("keepMethod", p.getKeepMethod());
        root.put("keepOneDimensional", p.getKeepOneDimensional());
        root.put("keepUnderBytes", p.getKeepUnderBytes());
        if (p.getMaxRelL2() != null) {
            root.put("maxRelL2", p.getMaxRelL2());
        }
        ArrayNode fallbacks = root.putArray("fallbackMethods");
        p.getFallbackMethods().forEach(fallbacks::add);
        try {
            return JSON.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- validation

    /** @throws PolicyException listing every problem of {@link #problems} */
    public static void validate(CompressionPolicy p) {
        List<String> problems = problems(p);
        if (!problems.isEmpty()) {
            throw new PolicyException(null, problems);
        }
    }

    /** Everything wrong with a policy, one sentence each; empty if it is usable. */
    public static List<String> problems(CompressionPolicy p) {
        List<String> problems = new ArrayList<>();
        codecParams(p.getDefaultMethod(), p.getDefaultParams(), "defaultMethod", problems);
        for (int i = 0; i < p.getRules().size(); i++) {
            PolicyRule r = p.getRules().get(i);
            String where = "rules[" + i + "]";
            if (r.getPattern() == null || r.getPattern().isEmpty()) {
                problems.add(where + ": missing or empty pattern");
            }
            codecParams(r.getMethod(), r.getParams(), where, problems);
        }
        Optional<Codec> keep = codecParams(p.getKeepMethod(), Map.of(), "keepMethod", problems);
        if (keep.isPresent() && !keep.get().isLossless()) {
            problems.add("keepMethod: '" + p.getKeepMethod() + "' is not lossless; kept tensors must stay exact "
                    + "(use " + String.join(" or ", losslessNames()) + ")");
        }
        if (p.getKeepUnderBytes() < 0) {
            problems.add("keepUnderBytes: " + p.getKeepUnderBytes() + " is negative");
        }
        Double max = p.getMaxRelL2();
        if (max != null && (!Double.isFinite(max) || max < 0)) {
            problems.add("maxRelL2: " + max + " is not a non-negative number");
        }
        for (int i = 0; i < p.getFallbackMethods().size(); i++) {
            String where = "fallbackMethods[" + i + "]";
            MethodSpec spec;
            try {
                spec = MethodSpec.parse(p.getFallbackMethods().get(i));
            } catch (IllegalArgumentException e) {
                problems.add(where + ": " + e.getMessage());
                continue;
            }
            codecParams(spec.method(), spec.params(), where, problems);
        }
        return problems;
    }

    private static List<String> losslessNames() {
        return Codecs.all().stream().filter(Codec::isLossless).map(Codec::name).toList();
    }

    /** Looks up a codec and parses its params, adding a problem for an unknown name or bad values. */
    private static Optional<Codec> codecParams(String method, Map<String, String> params, String where, List<String> problems) {
        if (method == null || method.isEmpty()) {
            problems.add(where + ": missing method");
            return Optional.empty();
        }
        Optional<Codec> codec = Codecs.find(method);
        if (codec.isEmpty()) {
            problems.add(where + ": unknown method '" + method + "' (known: " + String.join(", ", Codecs.names()) + ")");
            return codec;
        }
        for (Map.Entry<String, String> e : params.entrySet()) {
            try {
                CodecParams.parse(codec.get(), Map.of(e.getKey(), e.getValue()));
            } catch (IllegalArgumentException ex) {
                problems.add(where + ": " + ex.getMessage());
            }
        }
        return codec;
    }
}
