package io.weightstream.codec;

import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The codecs on the class path, found with {@link ServiceLoader} and looked up by name. The SPI module
 * depends on no implementation: a codec is available when its jar and its
 * {@code META-INF/services/io.weightstream.codec.Codec} entry are on the class path.
 *
 * <pre>{@code
 * Codec lossless = Codecs.get("lossless");     // IllegalArgumentException listing the known names if absent
 * Tensor t = Codecs.decode(payload);            // dispatches on the codec named in the payload header
 * }</pre>
 */
public final class Codecs {
    private Codecs() {
    }

    private static final class Loaded {
        static final Map<String, Codec> BY_NAME = load(Codecs.class.getClassLoader());
    }

    static Map<String, Codec> load(ClassLoader loader) {
        Map<String, Codec> byName = new TreeMap<>();
        for (Codec c : ServiceLoader.load(Codec.class, loader)) {
            String name = c.name();
            if (name == null || !PayloadHeader.CODEC_NAME.matcher(name).matches()) {
                throw new IllegalStateException("codec " + c.getClass().getName() + " has an invalid name '" + name
                        + "' (must match " + PayloadHeader.CODEC_NAME + ")");
            }
            Codec other = byName.putIfAbsent(name, c);
            if (other != null && other.getClass() != c.getClass()) {
                throw new IllegalStateException("two codecs named '" + name + "': " + other.getClass().getName()
                        + " and " + c.getClass().getName());
            }
        }
        return Collections.unmodifiableMap(byName);
    }

    /**
     * The codec called {@code name}.
     *
     * @throws IllegalArgumentException listing the known names if there is none
     */
    public static Codec get(String name) {
        Codec c = Loaded.BY_NAME.get(name);
        if (c == null) {
            throw new IllegalArgumentException("unknown codec '" + name + "'; known codecs: " + String.join(", ", names()));
        }
        return c;
    }

    public static Optional<Codec> find(String name) {
        return Optional.ofNullable(Loaded.BY_NAME.get(name));
    }

    /** Names of all codecs, sorted. */
    public static List<String> names() {
        return new ArrayList<>(Loaded.BY_NAME.keySet());
    }

    /** All codecs, sorted by name. */
    public static List<Codec> all() {
        return new ArrayList<>(Loaded.BY_NAME.values());
    }

    /** Decodes any payload with the codec its header names. */
    public static Tensor decode(ByteBuffer payload) {
        return decode(payload, DecodeLimits.DEFAULT);
    }

    /**
     * Decodes any payload with the codec its header names.
     *
     * @throws CorruptPayloadException if the header is bad or names a codec that is not on the class path
     */
    public static Tensor decode(ByteBuffer payload, DecodeLimits limits) {
        PayloadHeader h = PayloadHeader.peek(payload, limits);
        Codec c = Loaded.BY_NAME.get(h.codecName());
        if (c == null) {
            throw new CorruptPayloadException(PayloadHeader.MAGIC.length + 1, "payload of unknown codec '"
                    + h.codecName() + "'; known codecs: " + String.join(", ", names()));
        }
        return c.decode(payload, limits);
    }
}
