package io.weightstream.policy;

import io.weightstream.codec.TensorMetrics;
import io.weightstream.schemas.LayerMetrics;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What {@link TensorCompressor} produced for one tensor: the payload, the method and every parameter value
 * (defaults included) that made it, how far the encoder's own decoding of it is from the original, and the
 * SHA-256 of that decoding's raw bytes (in the original dtype), which every decoder must reproduce.
 *
 * @param method               codec name
 * @param params               all parameter values as canonical strings (what the Avro record carries)
 * @param formatVersion        the codec's payload format version
 * @param payload              the encoded bytes (header included)
 * @param originalBytes        byte size of the original tensor
 * @param metrics              original vs reconstruction
 * @param encodeMs             time to encode, milliseconds
 * @param decodeMs             time to decode it again, milliseconds
 * @param reconstructionSha256 lower-case hex SHA-256 of the reconstruction's raw little-endian bytes
 * @param rejected             earlier choices that were tried and why they were not kept, in order
 */
public record CompressedTensor(String method, Map<String, String> params, int formatVersion, byte[] payload,
                               long originalBytes, TensorMetrics metrics, double encodeMs, double decodeMs,
                               String reconstructionSha256, List<Rejection> rejected) {

    public CompressedTensor {
        Objects.requireNonNull(method, "method");
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(reconstructionSha256, "reconstructionSha256");
        rejected = List.copyOf(rejected);
    }

    /** A choice that was not kept: its method and parameters, and the reason. */
    public record Rejection(String method, Map<String, String> params, String reason) {
        public Rejection {
            params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
        }
    }

    /** Payload length. */
    public long encodedBytes() {
        return payload.length;
    }

    /** Original bytes / encoded bytes. */
    public double ratio() {
        return payload.length == 0 ? Double.POSITIVE_INFINITY : (double) originalBytes / payload.length;
    }

    /** The per-layer metrics record of {@code CompressedLayerChunk}. */
    public LayerMetrics toLayerMetrics() {
        return LayerMetrics.newBuilder().setRelL2(metrics.relL2()).setMaxAbsError(metrics.maxAbs())
                .setCosine(metrics.cosine()).setEncodeMs(encodeMs).setDecodeMs(decodeMs).build();
    }

    @Override
    public String toString() {
        return "CompressedTensor(" + method + params + ", " + originalBytes + " -> " + payload.length + " bytes, relL2="
                + metrics.relL2() + ", rejected=" + rejected + ")";
    }
}
