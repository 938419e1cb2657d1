package io.weightstream.codec;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.util.Collections;
import java.util.EnumSet;
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
        this.dtypes = Collections.unmodifiableSet(EnumSet.copyOf(dtypes)); // enum order in messages
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

    /**
     * The encoder's entry check: {@code spec}'s dtype is one this codec holds, else an IllegalArgumentException
     * naming the tensor and the supported dtypes.
     */
    protected final void requireSupported(TensorSpec spec) {
        if (!dtypes.contains(spec.dtype())) {
            throw new IllegalArgumentException("codec '" + name + "' does not support dtype " + spec.dtype()
                    + " of tensor '" + spec.name() + "' (supports " + dtypes + ")");
        }
    }

    /** The error for a tensor holding NaN or infinite values (lossy codecs cannot represent them). */
    protected final IllegalArgumentException nonFinite(TensorSpec spec) {
        return new IllegalArgumentException("codec '" + name + "': tensor '" + spec.name()
                + "' holds NaN or infinite values; keep it with a lossless codec");
    }

    /** Throws {@link #nonFinite} unless every value is finite (for codecs with no statistics pass to fold it into). */
    protected final void requireFinite(TensorSpec spec, float[] v) {
        for (float x : v) {
            if (!Float.isFinite(x)) {
                throw nonFinite(spec);
            }
        }
    }

    /**
     * The decoder's first step: the common header, checked against {@code limits}, this codec's name and format
     * version, and its dtypes (CorruptPayloadException at the offending offset otherwise).
     */
    protected final PayloadHeader readHeader(PayloadReader in, DecodeLimits limits) {
        PayloadHeader h = PayloadHeader.read(in, limits);
        h.requireCodec(name, formatVersion);
        if (!dtypes.contains(h.dtype())) {
            throw new CorruptPayloadException(h.bodyOffset(), "codec '" + name + "' cannot hold dtype " + h.dtype());
        }
        return h;
    }

    @Override
    public String toString() {
        return name;
    }
}
