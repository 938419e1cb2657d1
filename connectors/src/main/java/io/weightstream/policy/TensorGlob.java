package io.weightstream.policy;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A glob on tensor names and aliases: {@code *} matches any run of characters, {@code /} and {@code .}
 * included (ONNX names such as {@code /encoder/layer.0/attention/self/query/MatMul} are paths), {@code ?}
 * matches one character, everything else matches itself. The whole name must match.
 *
 * <pre>{@code
 * TensorGlob g = TensorGlob.of("*attention/self/*MatMul");
 * g.matches("/encoder/layer.0/attention/self/query/MatMul");   // true
 * g.matches("onnx::MatMul_798", "/encoder/layer.0/attention/self/query/MatMul");   // name or alias
 * }</pre>
 */
public final class TensorGlob {
    private final String glob;
    private final Pattern regex;

    private TensorGlob(String glob, Pattern regex) {
        this.glob = glob;
        this.regex = regex;
    }

    /** @throws IllegalArgumentException for an empty glob */
    public static TensorGlob of(String glob) {
        Objects.requireNonNull(glob, "glob");
        if (glob.isEmpty()) {
            throw new IllegalArgumentException("empty tensor pattern");
        }
        StringBuilder re = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '*' || c == '?') {
                if (literal.length() > 0) {
                    re.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                re.append(c == '*' ? ".*" : ".");
            } else {
                literal.append(c);
            }
        }
        if (literal.length() > 0) {
            re.append(Pattern.quote(literal.toString()));
        }
        return new TensorGlob(glob, Pattern.compile(re.toString(), Pattern.DOTALL));
    }

    /** True if {@code text} (non-null) matches as a whole. */
    public boolean matches(String text) {
        return text != null && regex.matcher(text).matches();
    }

    /** True if the tensor's name or its alias (may be null) matches. */
    public boolean matches(String name, String alias) {
        return matches(name) || matches(alias);
    }

    public String glob() {
        return glob;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorGlob g && glob.equals(g.glob);
    }

    @Override
    public int hashCode() {
        return glob.hashCode();
    }

    @Override
    public String toString() {
        return glob;
    }
}
