package io.weightstream.policy;

import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * Compresses one tensor as a policy says: encodes with the first {@link CodecChoice}, decodes the payload
 * again, measures the error and falls back to the next choice when the codec rejects the tensor (e.g. NaN
 * for a quantizer) or the relative L2 error exceeds the policy's {@code maxRelL2}. The last choice (the
 * keep method, lossless) is always accepted. Used by the offline {@code compress} command and by the Flink
 * job alike, so it knows nothing of Kafka or Flink. Stateless and thread-safe.
 *
 * <pre>{@code
 * TensorCompressor compressor = new TensorCompressor(new PolicyResolver(Policies.of("rtn", Map.of("bits", "8"))));
 * CompressedTensor c = compressor.compress(tensor, alias);
 * record.setMethod(c.method()); record.setParams(c.params()); record.setMetrics(c.toLayerMetrics());
 * }</pre>
 */
public final class TensorCompressor {
    private final PolicyResolver resolver;

    public TensorCompressor(PolicyResolver resolver) {
        this.resolver = Objects.requireNonNull(resolver, "resolver");
    }

    public PolicyResolver resolver() {
        return resolver;
    }

    /**
     * Compresses {@code tensor} with the choices the policy gives for its name and {@code alias} (may be null).
     *
     * @throws IllegalArgumentException if even the lossless last resort rejects the tensor (e.g. too large)
     */
    public CompressedTensor compress(Tensor tensor, String alias) {
        List<CodecChoice> choices = resolver.resolve(tensor.name(), alias, tensor.spec());
        return compress(tensor, choices, resolver.maxRelL2());
    }

    /** Compresses with explicit choices, tried in order; the last one is accepted whatever its error. */
    public static CompressedTensor compress(Tensor tensor, List<CodecChoice> choices, OptionalDouble maxRelL2) {
        if (choices.isEmpty()) {
            throw new IllegalArgumentException("no codec to compress tensor '" + tensor.name() + "' with");
        }
        List<CompressedTensor.Rejection> rejected = new ArrayList<>();
        for (int i = 0; i < choices.size(); i++) {
            CodecChoice c = choices.get(i);
            boolean last = i == choices.size() - 1;
            Codec codec = c.codec();
            CodecParams params = c.params();
            byte[] payload;
            long t0 = System.nanoTime();
            try {
                payload = codec.encode(tensor, params);
            } catch (IllegalArgumentException e) {
                if (last) {
                    throw new IllegalArgumentException("tensor '" + tensor.name() + "': every codec rejected it; last, "
                            + codec.name() + ": " + e.getMessage(), e);
                }
                rejected.add(new CompressedTensor.Rejection(codec.name(), params.toMap(true), "rejected: " + e.getMessage()));
                continue;
            }
            long t1 = System.nanoTime();
            Tensor back = codec.decode(ByteBuffer.wrap(payload));
            long t2 = System.nanoTime();
            TensorMetrics m = TensorMetrics.compare(tensor, back);
            byte[] bytes = back.toBytes();
            if (codec.isLossless() && !java.util.Arrays.equals(bytes, tensor.toBytes())) {
                throw new IllegalStateException("codec '" + codec.name() + "' claims to be lossless but changed tensor '"
                        + tensor.name() + "'");
            }
            if (!last && !codec.isLossless() && maxRelL2.isPresent() && !(m.relL2() <= maxRelL2.getAsDouble())) {
                rejected.add(new CompressedTensor.Rejection(codec.name(), params.toMap(true),
                        "relL2 " + m.relL2() + " > maxRelL2 " + maxRelL2.getAsDouble()));
                continue;
            }
            return new CompressedTensor(codec.name(), params.toMap(true), codec.formatVersion(), payload,
                    tensor.spec().byteSize(), m, (t1 - t0) / 1e6, (t2 - t1) / 1e6, sha256(bytes), rejected);
        }
        throw new IllegalStateException("unreachable");
    }

    /** Lower-case hex SHA-256 of {@code bytes}. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
