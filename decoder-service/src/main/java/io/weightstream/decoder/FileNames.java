package io.weightstream.decoder;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Model and version names as single file-name components. Names come from Kafka records, so they may hold any
 * character: bytes outside {@code [A-Za-z0-9._-]} (and a leading dot, so no name becomes hidden, "." or "..") are
 * percent-encoded, which keeps the common names readable and makes the mapping reversible.
 */
final class FileNames {
    /** Longest encoded component most file systems accept. */
    static final int MAX_BYTES = 255 - 16; // room for the suffixes and temp prefixes added to it

    private FileNames() {
    }

    /**
     * @throws IllegalArgumentException for an empty name or one too long to be a file name
     */
    static String encode(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a model or version name must not be empty");
        }
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(utf8.length);
        for (int i = 0; i < utf8.length; i++) {
            int b = utf8[i] & 0xff;
            boolean plain = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
                    || b == '_' || b == '-' || (b == '.' && i > 0);
            if (plain) {
                sb.append((char) b);
            } else {
                sb.append('%').append(Character.toUpperCase(Character.forDigit(b >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        if (sb.length() > MAX_BYTES) {
            throw new IllegalArgumentException("name '" + name + "' is too long to be stored as a file name ("
                    + sb.length() + " bytes encoded, at most " + MAX_BYTES + ")");
        }
        return sb.toString();
    }

    /** The name {@link #encode} encoded; {@code null} if {@code encoded} is not such an encoding. */
    static String decode(String encoded) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(encoded.length());
        for (int i = 0; i < encoded.length(); i++) {
            char c = encoded.charAt(i);
            if (c == '%') {
                if (i + 2 >= encoded.length()) {
                    return null;
                }
                int hi = Character.digit(encoded.charAt(i + 1), 16);
                int lo = Character.digit(encoded.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    return null;
                }
                out.write(hi << 4 | lo);
                i += 2;
            } else if (c < 0x80) {
                out.write(c);
            } else {
                return null;
            }
        }
        String name = out.toString(StandardCharsets.UTF_8);
        try {
            return encode(name).equals(encoded) ? name : null; // one name, one encoding
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
