package io.weightstream.codec;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A named tensor compression method: {@code encode(tensor, params) -> payload}, {@code decode(payload) -> tensor}.
 * Implementations are stateless and thread-safe, are discovered by {@link Codecs} through
 * {@link java.util.ServiceLoader} (list the class in {@code META-INF/services/io.weightstream.codec.Codec}) and
 * live in a package {@code io.weightstream.codec.<name>} holding the public codec class, package-private
 * kernels and the format constants.
 *
 * <p>Contract, checked for every codec by {@code AbstractCodecContractTest}:
 * <ul>
 *   <li>Every payload starts with a {@link PayloadHeader} (codec name, {@link #formatVersion()}, dtype, shape).</li>
 *   <li>{@code decode} returns the original dtype and shape (named "", see {@link Tensor#withName}); it is pure
 *       Java and deterministic: the same payload decodes to bit-identical values on every machine (no
 *       {@code Math.fma}, no {@code Math} functions that may differ across platforms — use {@code StrictMath} —,
 *       no parallel reductions).</li>
 *   <li>Corrupt, truncated or oversized input throws {@link CorruptPayloadException} (with the byte offset) and
 *       nothing else; declared sizes are checked against {@link DecodeLimits} before allocating.</li>
 *   <li>Encoding is deterministic too: the same tensor and params give the same bytes.</li>
 *   <li>The payload is at most {@link #maxEncodedLength} bytes.</li>
 * </ul>
 *
 * <pre>{@code
 * Codec codec = Codecs.get("lossless");
 * CodecParams params = CodecParams.parse(codec, Map.of("block.size", "262144"));
 * byte[] payload = codec.encode(tensor, params);
 * Tensor back = codec.decode(ByteBuffer.wrap(payload)).withName(tensor.name());
 * TensorMetrics m = TensorMetrics.compare(tensor, back);
 * }</pre>
 */
public interface Codec {
    /** The name used in payloads, policies and on the command line: {@code "lossless"}, {@code "rtn"}, ... */
    String name();

    /** Version of this codec's body layout, written into every payload; bump it when the layout changes. */
    int formatVersion();

    /** One line for help texts. */
    String description();

    /** The parameters this codec takes, each with its default. */
    List<CodecParameter<?>> parameters();

    /** The dtypes {@link #encode} accepts. */
    Set<DType> supportedDTypes();

    /** True if decode(encode(t)) is bit-identical to t for every supported tensor and every parameter value. */
    boolean isLossless();

    /** An upper bound of the payload length of a tensor of {@code spec} under {@code params}. */
    long maxEncodedLength(TensorSpec spec, CodecParams params);

    /**
     * Encodes a tensor.
     *
     * @throws IllegalArgumentException if the dtype is not supported or {@code params} belong to another codec
     */
    byte[] encode(Tensor tensor, CodecParams params);

    /**
     * Encodes into {@code out} at {@code offset}, which must have {@link #maxEncodedLength} bytes of room.
     *
     * @return the payload length
     */
    default int encode(Tensor tensor, CodecParams params, byte[] out, int offset) {
        long bound = maxEncodedLength(tensor.spec(), params);
        if (offset < 0 || offset > out.length || out.length - offset < bound) {
            throw new IllegalArgumentException("codec '" + name() + "': output needs " + bound + " bytes at offset "
                    + offset + ", array has " + out.length);
        }
        byte[] payload = encode(tensor, params);
        System.arraycopy(payload, 0, out, offset, payload.length);
        return payload.length;
    }

    /**
     * Decodes a payload (between its position and limit; the buffer is not moved) into a tensor of the
     * original dtype and shape, named "".
     *
     * @throws CorruptPayloadException if the payload is not valid for this codec or exceeds {@code limits}
     */
    Tensor decode(ByteBuffer payload, DecodeLimits limits);

    default Tensor decode(ByteBuffer payload) {
        return decode(payload, DecodeLimits.DEFAULT);
    }

    default Tensor decode(byte[] payload) {
        return decode(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT);
    }

    /** Every parameter at its default. */
    default CodecParams defaultParams() {
        return CodecParams.defaults(this);
    }

    /** Parses string settings; see {@link CodecParams#parse}. */
    default CodecParams params(Map<String, String> settings) {
        return CodecParams.parse(this, settings);
    }
}
