package io.weightstream.decoder;

/**
 * An append that would take the staging area over its disk budget ({@code staging.budget.bytes}). Nothing was
 * written; the decoder sends the record to the dead-letter topic and fails its version, which then never serves.
 */
public class StageFullException extends RuntimeException {
    private final long budgetBytes;
    private final long usedBytes;
    private final long requestedBytes;

    public StageFullException(String what, long budgetBytes, long usedBytes, long requestedBytes) {
        super("staging budget of " + budgetBytes + " bytes is exhausted: " + usedBytes + " bytes are staged and "
                + what + " needs " + requestedBytes + " more; raise staging.budget.bytes (serve --staging-budget)"
                + " or let the versions in flight finish");
        this.budgetBytes = budgetBytes;
        this.usedBytes = usedBytes;
        this.requestedBytes = requestedBytes;
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    public long usedBytes() {
        return usedBytes;
    }

    public long requestedBytes() {
        return requestedBytes;
    }
}
