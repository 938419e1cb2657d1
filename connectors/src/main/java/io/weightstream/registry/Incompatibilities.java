package io.weightstream.registry;

import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility.Incompatibility;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;

/**
 * Readable explanations of Avro's schema incompatibilities: Avro locates them with JSON pointers into the
 * reader schema ({@code /fields/7/type}); people want field names ({@code timestampMs}).
 */
final class Incompatibilities {
    private Incompatibilities() {}

    /** One line per incompatibility: type, field path, Avro's message. Empty when compatible. */
    static List<String> describe(SchemaPairCompatibility pair) {
        List<String> lines = new ArrayList<>();
        for (Incompatibility i : pair.getResult().getIncompatibilities()) {
            lines.add(i.getType() + " at " + fieldPath(pair.getReader(), i.getLocation()) + ": " + i.getMessage());
        }
        return lines;
    }

    /** {@code /fields/8/type/fields/1/type} of a record becomes {@code policy.defaultParams}, else the pointer. */
    static String fieldPath(Schema reader, String location) {
        String[] tokens = location.split("/");
        StringBuilder path = new StringBuilder();
        Schema schema = reader;
        for (int t = 1; t < tokens.length; t++) {
            String token = tokens[t];
            if (token.equals("fields") && t + 1 < tokens.length && schema != null
                    && schema.getType() == Schema.Type.RECORD && isIndex(tokens[t + 1])) {
                int index = Integer.parseInt(tokens[++t]);
                if (index >= schema.getFields().size()) {
                    return location;
                }
                Schema.Field field = schema.getFields().get(index);
                path.append(path.length() == 0 ? "" : ".").append(field.name());
                schema = field.schema();
            } else if (token.equals("items") && schema != null && schema.getType() == Schema.Type.ARRAY) {
                path.append("[]");
                schema = schema.getElementType();
            } else if (token.equals("values") && schema != null && schema.getType() == Schema.Type.MAP) {
                path.append("{}");
                schema = schema.getValueType();
            } else if (token.equals("type")) {
                continue;
            } else if (isIndex(token) && schema != null && schema.getType() == Schema.Type.UNION
                    && Integer.parseInt(token) < schema.getTypes().size()) {
                schema = schema.getTypes().get(Integer.parseInt(token));
            } else {
                path.append(path.length() == 0 ? "" : " ").append(token);
                schema = null;
            }
        }
        return path.length() == 0 ? "the record" : path.toString();
    }

    private static boolean isIndex(String token) {
        return !token.isEmpty() && token.chars().allMatch(Character::isDigit) && token.length() < 9;
    }
}
