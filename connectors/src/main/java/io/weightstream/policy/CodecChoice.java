package io.weightstream.policy;

import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import java.util.Objects;

/**
 * One way to compress a tensor: a codec, its parameters and why the policy chose it ({@code "rule *query*"},
 * {@code "default"}, {@code "fallback 1"}, {@code "keep: 1-D"}, ...).
 *
 * <pre>{@code
 * for (CodecChoice c : resolver.resolve("onnx::MatMul_798", alias, spec)) {
 *     byte[] payload = c.codec().encode(tensor, c.params());
 * }
 * }</pre>
 */
public record CodecChoice(Codec codec, CodecParams params, String reason) {
    public CodecChoice {
        Objects.requireNonNull(codec, "codec");
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(reason, "reason");
        params.requireFor(codec);
    }

    /** The codec's name. */
    public String method() {
        return codec.name();
    }

    /** Same codec and same parameter values (defaults included). */
    boolean sameAs(CodecChoice other) {
        return method().equals(other.method()) && params.equals(other.params);
    }

    @Override
    public String toString() {
        return params + " (" + reason + ")";
    }
}
