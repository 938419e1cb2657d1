package io.weightstream.policy;

import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.PolicyRule;
import io.weightstream.tensor.TensorSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * Turns a {@link CompressionPolicy} into the ordered list of codecs to try for one tensor:
 * <ol>
 *   <li>tensors the policy keeps exact get only the keep method: non-float dtypes (I64, ...) always,
 *       rank 0 and 1 tensors when {@code keepOneDimensional}, tensors under {@code keepUnderBytes};</li>
 *   <li>otherwise the first rule whose glob matches the tensor's name or alias, else the default method;</li>
 *   <li>then the fallback methods in order;</li>
 *   <li>then the keep method, the last resort.</li>
 * </ol>
 * Repeated choices (same codec, same parameter values) and codecs that do not take the tensor's dtype are
 * skipped, and the list ends at its first lossless choice (nothing after it can be needed). The policy is
 * validated once, here; {@link #resolve} is cheap and thread-safe.
 *
 * <pre>{@code
 * PolicyResolver resolver = new PolicyResolver(manifest.getPolicy());
 * List<CodecChoice> choices = resolver.resolve(t.name(), t.alias(), t.spec());
 * CompressedTensor c = new TensorCompressor(resolver).compress(tensor, t.alias());
 * }</pre>
 */
public final class PolicyResolver {
    private final CompressionPolicy policy;
    private final CodecChoice keep;
    private final CodecChoice defaultChoice;
    private final List<Rule> rules;
    private final List<CodecChoice> fallbacks;

    private record Rule(TensorGlob glob, CodecChoice choice) {
    }

    /** @throws PolicyException listing every problem of an invalid policy */
    public PolicyResolver(CompressionPolicy policy) {
        this.policy = Objects.requireNonNull(policy, "policy");
        Policies.validate(policy);
        this.keep = choice(policy.getKeepMethod(), java.util.Map.of(), "keep");
        this.defaultChoice = choice(policy.getDefaultMethod(), policy.getDefaultParams(), "default");
        List<Rule> rs = new ArrayList<>();
        for (PolicyRule r : policy.getRules()) {
            rs.add(new Rule(TensorGlob.of(r.getPattern()), choice(r.getMethod(), r.getParams(), "rule " + r.getPattern())));
        }
        this.rules = List.copyOf(rs);
        List<CodecChoice> fs = new ArrayList<>();
        for (int i = 0; i < policy.getFallbackMethods().size(); i++) {
            MethodSpec spec = MethodSpec.parse(policy.getFallbackMethods().get(i));
            fs.add(choice(spec.method(), spec.params(), "fallback " + (i + 1)));
        }
        this.fallbacks = List.copyOf(fs);
    }

    private static CodecChoice choice(String method, java.util.Map<String, String> params, String reason) {
        Codec codec = Codecs.get(method);
        return new CodecChoice(codec, CodecParams.parse(codec, params), reason);
    }

    public CompressionPolicy policy() {
        return policy;
    }

    /** The relative L2 error above which the next choice is tried, if the policy sets one. */
    public OptionalDouble maxRelL2() {
        Double m = policy.getMaxRelL2();
        return m == null ? OptionalDouble.empty() : OptionalDouble.of(m);
    }

    /**
     * The codecs to try for a tensor, best first; never empty, ends with a lossless choice.
     *
     * @param alias the tensor's readable alias, or null
     */
    public List<CodecChoice> resolve(String name, String alias, TensorSpec spec) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(spec, "spec");
        if (!spec.dtype().isFloatingPoint()) {
            return List.of(withReason(keep, "keep: " + spec.dtype() + " is not floating-point"));
        }
        if (policy.getKeepOneDimensional() && spec.rank() <= 1) {
            return List.of(withReason(keep, "keep: rank " + spec.rank()));
        }
        if (spec.byteSize() < policy.getKeepUnderBytes()) {
            return List.of(withReason(keep, "keep: " + spec.byteSize() + " bytes < keepUnderBytes "
                    + policy.getKeepUnderBytes()));
        }
        List<CodecChoice> out = new ArrayList<>();
        add(out, primary(name, alias), spec);
        for (CodecChoice f : fallbacks) {
            add(out, f, spec);
        }
        add(out, withReason(keep, "keep: last resort"), spec);
        if (out.isEmpty() || !out.get(out.size() - 1).codec().isLossless()) {
            // the keep method does not take this dtype: nothing exact is possible, say so now
            throw new IllegalArgumentException("tensor '" + name + "': keep method '" + keep.method()
                    + "' does not support dtype " + spec.dtype());
        }
        return List.copyOf(out);
    }

    /** The rule (or default) choice for a tensor, without fallbacks or keep handling. */
    public CodecChoice primary(String name, String alias) {
        for (Rule r : rules) {
            if (r.glob().matches(name, alias)) {
                return r.choice();
            }
        }
        return defaultChoice;
    }

    private static void add(List<CodecChoice> out, CodecChoice c, TensorSpec spec) {
        if (!out.isEmpty() && out.get(out.size() - 1).codec().isLossless()) {
            return;
        }
        if (!c.codec().supportedDTypes().contains(spec.dtype())) {
            return;
        }
        for (CodecChoice o : out) {
            if (o.sameAs(c)) {
                return;
            }
        }
        out.add(c);
    }

    private static CodecChoice withReason(CodecChoice c, String reason) {
        return new CodecChoice(c.codec(), c.params(), reason);
    }
}
