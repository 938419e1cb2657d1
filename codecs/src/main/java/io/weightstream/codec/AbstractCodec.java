package io.weightstream.codec;

import io.weightstream.tensor.DType;
import java.util.List;
import java.util.Set;

/**
 * The descriptive half of a {@link Codec} (name, format version, description, parameters, dtypes, losslessness),
 * fixed at construction, so that a codec class holds only its encoder, decoder and size bound.
 *
 * <pre>{@code
 * public final class RtnCodec extends AbstractCodec {
 *     public RtnCodec() {
 *         super("rtn", RtnFormat.FORMAT_VERSION, "round-to-nearest quantization", List.of(BITS, GROUP_SIZE),
 *                 EnumSet.of(DType.F32, DType.F16), false);
 *     }
 *     // maxEncodedLength, encode, decode
 * }
 * }</pre>
 */
public abstract class AbstractCodec implements Codec {
    private final String name;
    private final int formatVersion;
    private final String description;
    private final List<CodecParameter<?>> parameters;
    private final Set<DType> dtypes;
    private final boolean lossless;

    protected AbstractCodec(String name, int formatVersion, String description, List<CodecParameter<?>> parameters,
                            Set<DType> dtypes, boolean lossless) {
        this.name = name;
        this.formatVersion = formatVersion;
        this.description = description;
        this.parameters = List.copyOf(parameters);
        this.dtypes = Set.copyOf(dtypes);
        this.lossless = lossless;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final int formatVersion() {
        return formatVersion;
    }

    @Override
    public final String description() {
        return description;
    }

    @Override
    public final List<CodecParameter<?>> parameters() {
        return parameters;
    }

    @Override
    public final Set<DType> supportedDTypes() {
        return dtypes;
    }

    @Override
    public final boolean isLossless() {
        return lossless;
    }

    @Override
    public String toString() {
        return name;
    }
}
