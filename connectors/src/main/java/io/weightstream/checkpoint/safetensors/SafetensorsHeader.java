package io.weightstream.checkpoint.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The parsed JSON header of a safetensors file: tensor entries in data order and the {@code __metadata__} map.
 * Parses with Jackson's streaming parser (byte offsets for every error, no tree, no per-element work) and
 * validates the layout the way the reference implementation (huggingface/safetensors, {@code Metadata::validate})
 * does: sorted by {@code data_offsets}, the tensors must tile the data region exactly, from 0 to its end,
 * with no hole, no overlap and nothing after the last tensor.
 */
final class SafetensorsHeader {
    /** Bytes of the little-endian u64 header length that starts every file. */
    static final int PREFIX_BYTES = 8;
    /** Dimensions per shape; the reference has no limit, this bounds what a hostile header can make us allocate. */
    static final int MAX_RANK = 1024;
    static final String METADATA_KEY = "__metadata__";

    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // keep CANONICALIZE_FIELD_NAMES: without it Jackson reads bytes through a Reader and loses byte offsets;
            // but do not let many colliding tensor names fail the parse, nor fill the JVM's string pool
            .disable(JsonFactory.Feature.FAIL_ON_SYMBOL_HASH_OVERFLOW)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(64)
                    .maxStringLength(Integer.MAX_VALUE)
                    .maxNameLength(Integer.MAX_VALUE)
                    .build())
            .build();

    /** One tensor as the header declares it; offsets are relative to the data region. */
    record Entry(TensorSpec spec, long begin, long end, long headerOffset) {
    }

    private final List<Entry> entries;
    private final Map<String, String> metadata;
    private final long dataBytes;

    private SafetensorsHeader(List<Entry> entries, Map<String, String> metadata, long dataBytes) {
        this.entries = entries;
        this.metadata = metadata;
        this.dataBytes = dataBytes;
    }

    /** Entries sorted by data offset (ties keep header order). */
    List<Entry> entries() {
        return entries;
    }

    /** The {@code __metadata__} map in header order; empty when absent. */
    Map<String, String> metadata() {
        return metadata;
    }

    /** Bytes of the data region the tensors cover (the end offset of the last tensor). */
    long dataBytes() {
        return dataBytes;
    }

    /**
     * Parses and validates the header held in {@code bytes[PREFIX_BYTES, PREFIX_BYTES + jsonBytes)}.
     *
     * @param file      named in errors
     * @param dataBytes size of the data region in the file, or {@code -1} when there is no file yet (a
     *                  skeleton): then the tensors must still tile {@code [0, end)} but the end is free
     */
    static SafetensorsHeader parse(Path file, byte[] bytes, int jsonBytes, long dataBytes) {
        int bad = firstInvalidUtf8(bytes, PREFIX_BYTES, PREFIX_BYTES + jsonBytes);
        if (bad >= 0) {
            throw new CheckpointFormatException(file, bad, "header is not valid UTF-8");
        }
        int start = PREFIX_BYTES;
        while (start < PREFIX_BYTES + jsonBytes && isJsonWhitespace(bytes[start])) {
            start++;
        }
        // checked by hand so that a byte-order mark or a bare value is named for what it is
        if (start == PREFIX_BYTES + jsonBytes || bytes[start] != '{') {
            throw new CheckpointFormatException(file, start, "header is not a JSON object (expected '{')");
        }
        List<Entry> entries = new ArrayList<>();
        Map<String, String> metadata = Collections.emptyMap();
        try (JsonParser p = JSON.createParser(bytes, PREFIX_BYTES, jsonBytes)) {
            Reader r = new Reader(file, p);
            r.next(); // START_OBJECT, checked above
            while (r.next() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                long at = r.tokenOffset();
                r.next();
                if (name.equals(METADATA_KEY)) {
                    metadata = r.metadata();
                } else {
                    entries.add(r.entry(name, at));
                }
            }
            // the loop ends on END_OBJECT (anything else is a syntax error Jackson reports)
            if (p.nextToken() != null) {
                throw r.error(r.tokenOffset(), "content after the header's JSON object");
            }
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            long off = loc != null && loc.getByteOffset() >= 0 ? PREFIX_BYTES + loc.getByteOffset() : PREFIX_BYTES;
            throw new CheckpointFormatException(file, off, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // cannot happen when parsing a byte array
        }
        // stable: zero-byte tensors at one offset keep header order
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long dataStart = PREFIX_BYTES + (long) jsonBytes;
        long expected = 0;
        Entry previous = null;
        for (Entry e : entries) {
            if (dataBytes >= 0 && e.end() > dataBytes) {
                throw new CheckpointFormatException(file, dataStart + Math.min(e.begin(), dataBytes),
                        "tensor '" + e.spec().name() + "' data_offsets [" + e.begin() + ", " + e.end()
                                + "] run past the end of the file (data region of " + dataBytes + " bytes)");
            }
            if (e.begin() < expected) {
                throw new CheckpointFormatException(file, dataStart + e.begin(), "tensor '" + e.spec().name()
                        + "' data_offsets [" + e.begin() + ", " + e.end() + "] overlap tensor '"
                        + previous.spec().name() + "' which ends at " + expected);
            }
            if (e.begin() > expected) {
                // the reference reader rejects holes too (InvalidOffset): every byte must belong to a tensor
                throw new CheckpointFormatException(file, dataStart + expected, "hole of " + (e.begin() - expected)
                        + " bytes in the data region before tensor '" + e.spec().name() + "' (data_offsets ["
                        + e.begin() + ", " + e.end() + "]); safetensors data must be contiguous");
            }
            expected = e.end();
            previous = e;
        }
        if (dataBytes >= 0 && expected != dataBytes) {
            throw new CheckpointFormatException(file, dataStart + expected, (dataBytes - expected)
                    + " bytes after the last tensor: the tensors must cover the data region up to the end of the file");
        }
        return new SafetensorsHeader(List.copyOf(entries), metadata, expected);
    }

    /** Pulls the parts of a header out of a streaming parser, with offsets for every complaint. */
    private static final class Reader {
        private final Path file;
        private final JsonParser p;

        Reader(Path file, JsonParser p) {
            this.file = file;
            this.p = p;
        }

        JsonToken next() throws IOException {
            return p.nextToken();
        }

        long tokenOffset() {
            return PREFIX_BYTES + Math.max(0, p.currentTokenLocation().getByteOffset());
        }

        CheckpointFormatException error(long offset, String message) {
            return new CheckpointFormatException(file, offset, message);
        }

        Map<String, String> metadata() throws IOException {
            if (p.currentToken() == JsonToken.VALUE_NULL) {
                return Collections.emptyMap(); // the reference reads __metadata__ as an Option
            }
            if (p.currentToken() != JsonToken.START_OBJECT) {
                throw error(tokenOffset(), METADATA_KEY + " must be an object of strings, not " + describe(p.currentToken()));
            }
            Map<String, String> map = new LinkedHashMap<>();
            while (next() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                if (next() != JsonToken.VALUE_STRING) {
                    throw error(tokenOffset(), METADATA_KEY + " value of '" + key + "' must be a string, not "
                            + describe(p.currentToken()));
                }
                map.put(key, p.getText());
            }
            return Collections.unmodifiableMap(map);
        }

        Entry entry(String name, long at) throws IOException {
            if (p.currentToken() != JsonToken.START_OBJECT) {
                throw error(tokenOffset(), "tensor '" + name + "' must be an object, not " + describe(p.currentToken()));
            }
            DType dtype = null;
            long[] shape = null;
            long shapeAt = -1;
            long[] offsets = null;
            long offsetsAt = -1;
            while (next() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                next();
                switch (field) {
                    case "dtype" -> {
                        if (p.currentToken() != JsonToken.VALUE_STRING) {
                            throw error(tokenOffset(), "tensor '" + name + "': dtype must be a string, not " + describe(p.currentToken()));
                        }
                        String text = p.getText();
                        try {
                            dtype = DType.fromSafetensors(text);
                        } catch (IllegalArgumentException e) {
                            throw error(tokenOffset(), "tensor '" + name + "': unsupported dtype '" + text + "' (supported: "
                                    + supportedDTypes() + ")");
                        }
                    }
                    case "shape" -> {
                        shapeAt = tokenOffset();
                        shape = longs(name, "shape", MAX_RANK);
                    }
                    case "data_offsets" -> {
                        offsetsAt = tokenOffset();
                        offsets = longs(name, "data_offsets", 2);
                        if (offsets.length != 2) {
                            throw error(offsetsAt, "tensor '" + name + "': data_offsets must be two integers [begin, end], not "
                                    + offsets.length);
                        }
                        if (offsets[0] > offsets[1]) {
                            throw error(offsetsAt, "tensor '" + name + "': data_offsets begin " + offsets[0] + " > end " + offsets[1]);
                        }
                    }
                    default -> p.skipChildren(); // like the reference, unknown fields are ignored (they stay in the skeleton)
                }
            }
            if (dtype == null || shape == null || offsets == null) {
                throw error(at, "tensor '" + name + "' lacks " + (dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets"));
            }
            long numel = 1;
            long bytes;
            try {
                for (long d : shape) {
                    numel = Math.multiplyExact(numel, d); // in order, as TensorSpec and the reference do
                }
                bytes = dtype.byteSize(numel);
            } catch (ArithmeticException e) {
                throw error(shapeAt, "tensor '" + name + "': " + dtype + " x " + Arrays.toString(shape)
                        + " has more bytes than a 64-bit size can count");
            }
            if (offsets[1] - offsets[0] != bytes) {
                throw error(offsetsAt, "tensor '" + name + "': data_offsets [" + offsets[0] + ", " + offsets[1] + "] span "
                        + (offsets[1] - offsets[0]) + " bytes but " + dtype + " x " + Arrays.toString(shape) + " needs " + bytes);
            }
            return new Entry(new TensorSpec(name, dtype, shape), offsets[0], offsets[1], at);
        }

        /** An array of at most {@code max} non-negative integers that fit a long. */
        private long[] longs(String name, String field, int max) throws IOException {
            if (p.currentToken() != JsonToken.START_ARRAY) {
                throw error(tokenOffset(), "tensor '" + name + "': " + field + " must be an array of non-negative integers, not "
                        + describe(p.currentToken()));
            }
            long[] values = new long[4];
            int n = 0;
            while (next() != JsonToken.END_ARRAY) {
                if (p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                    throw error(tokenOffset(), "tensor '" + name + "': " + field + " must hold non-negative integers, not "
                            + describe(p.currentToken()));
                }
                if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) {
                    throw error(tokenOffset(), "tensor '" + name + "': " + field + " value " + p.getText()
                            + " is not an integer in [0, 2^63)");
                }
                if (n == max) {
                    throw error(tokenOffset(), "tensor '" + name + "': " + field + " has more than " + max + " values");
                }
                if (n == values.length) {
                    values = Arrays.copyOf(values, n * 2);
                }
                values[n++] = p.getLongValue();
            }
            return Arrays.copyOf(values, n);
        }

        private static String describe(JsonToken t) {
            if (t == null) {
                return "nothing";
            }
            return switch (t) {
                case START_OBJECT -> "an object";
                case START_ARRAY -> "an array";
                case VALUE_STRING -> "a string";
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
                case VALUE_TRUE, VALUE_FALSE -> "a boolean";
                case VALUE_NULL -> "null";
                default -> t.toString();
            };
        }
    }

    private static String supportedDTypes() {
        StringBuilder sb = new StringBuilder();
        for (DType t : DType.values()) {
            sb.append(sb.length() == 0 ? "" : ", ").append(t.safetensorsName());
        }
        return sb.toString();
    }

    private static boolean isJsonWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }

    /**
     * Index of the first byte of {@code [from, to)} that does not belong to well-formed UTF-8 (no overlong forms,
     * no surrogates, nothing above U+10FFFF, as Rust's {@code str::from_utf8}), or -1.
     */
    static int firstInvalidUtf8(byte[] b, int from, int to) {
        int i = from;
        while (i < to) {
            int c = b[i] & 0xff;
            if (c < 0x80) {
                i++;
                continue;
            }
            int n;
            int lo = 0x80;
            int hi = 0xbf;
            if (c >= 0xc2 && c <= 0xdf) {
                n = 1;
            } else if (c >= 0xe0 && c <= 0xef) {
                n = 2;
                if (c == 0xe0) {
                    lo = 0xa0; // overlong
                } else if (c == 0xed) {
                    hi = 0x9f; // surrogates
                }
            } else if (c >= 0xf0 && c <= 0xf4) {
                n = 3;
                if (c == 0xf0) {
                    lo = 0x90; // overlong
                } else if (c == 0xf4) {
                    hi = 0x8f; // above U+10FFFF
                }
            } else {
                return i;
            }
            if (i + n >= to) {
                return i; // fewer continuation bytes left than the lead byte announces
            }
            int c1 = b[i + 1] & 0xff;
            if (c1 < lo || c1 > hi) {
                return i;
            }
            for (int k = 2; k <= n; k++) {
                int ck = b[i + k] & 0xff;
                if (ck < 0x80 || ck > 0xbf) {
                    return i;
                }
            }
            i += n + 1;
        }
        return -1;
    }

    /**
     * Builds the {@code 8 + N} header bytes for tensors laid out in the given order, as the reference writer
     * does: compact JSON, {@code __metadata__} first (keys sorted), then the tensors with {@code dtype},
     * {@code shape}, {@code data_offsets}; padded with spaces so the data region starts at a multiple of 8.
     *
     * @param minJsonBytes pad the JSON with spaces to at least this many bytes (0 for the standard header)
     */
    static byte[] build(List<TensorSpec> order, Map<String, String> metadata, int minJsonBytes) {
        StringBuilder json = new StringBuilder(64 + 96 * order.size());
        json.append('{');
        boolean first = true;
        if (metadata != null && !metadata.isEmpty()) {
            json.append('"').append(METADATA_KEY).append("\":{");
            boolean firstKey = true;
            for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                json.append(firstKey ? "" : ",");
                appendString(json, e.getKey());
                json.append(':');
                appendString(json, e.getValue());
                firstKey = false;
            }
            json.append('}');
            first = false;
        }
        long offset = 0;
        for (TensorSpec s : order) {
            json.append(first ? "" : ",");
            appendString(json, s.name());
            json.append(":{\"dtype\":\"").append(s.dtype().safetensorsName()).append("\",\"shape\":[");
            for (int i = 0; i < s.rank(); i++) {
                json.append(i == 0 ? "" : ",").append(s.dim(i));
            }
            long end = Math.addExact(offset, s.byteSize());
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
            first = false;
        }
        json.append('}');
        byte[] utf8 = json.toString().getBytes(StandardCharsets.UTF_8);
        int n = Math.max(utf8.length, minJsonBytes);
        n = (n + 7) & ~7;
        byte[] out = new byte[PREFIX_BYTES + n];
        long len = n;
        for (int i = 0; i < PREFIX_BYTES; i++) {
            out[i] = (byte) (len >>> (8 * i));
        }
        System.arraycopy(utf8, 0, out, PREFIX_BYTES, utf8.length);
        Arrays.fill(out, PREFIX_BYTES + utf8.length, out.length, (byte) ' ');
        return out;
    }

    /** A JSON string escaped as serde_json escapes it (only '"', '\\' and control characters). */
    private static void appendString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append("\\u00").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 0xf, 16));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
