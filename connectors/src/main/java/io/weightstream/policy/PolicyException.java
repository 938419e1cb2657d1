package io.weightstream.policy;

import java.util.List;

/**
 * A compression policy that cannot be used: every problem found, in one message, so that a user fixes the
 * policy file once rather than once per error.
 *
 * <pre>{@code
 * try {
 *     Policies.validate(policy);
 * } catch (PolicyException e) {
 *     e.problems().forEach(System.err::println);
 * }
 * }</pre>
 */
public class PolicyException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    public PolicyException(String source, List<String> problems) {
        super(message(source, problems));
        this.problems = List.copyOf(problems);
    }

    private static String message(String source, List<String> problems) {
        StringBuilder b = new StringBuilder("invalid compression policy");
        if (source != null) {
            b.append(" (").append(source).append(')');
        }
        b.append(": ").append(problems.size()).append(problems.size() == 1 ? " problem" : " problems");
        for (String p : problems) {
            b.append("\n  - ").append(p);
        }
        return b.toString();
    }

    /** The problems, one sentence each. */
    public List<String> problems() {
        return problems;
    }
}
