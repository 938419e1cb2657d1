package io.weightstream.codec.inr;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * Hears how the training of a layer goes: the Flink job turns it into metrics, the command line into log lines.
 * The codec's {@code encode} has no room for a listener, so the caller installs one for the current thread around
 * the work that encodes:
 *
 * <pre>{@code
 * CompressedTensor c = InrProgress.during(listener, () -> compressor.compress(tensor, alias));
 * }</pre>
 *
 * Methods are called on the encoding thread and must be quick.
 */
public interface InrProgress {
    /** Ignores everything. */
    InrProgress NONE = new InrProgress() {
    };

    /**
     * Training has advanced.
     *
     * @param tensor    the tensor's name
     * @param step      steps taken
     * @param maxSteps  the step budget
     * @param relL2     relative L2 error of the float network at the last measurement
     * @param elapsedMs milliseconds since training started
     */
    default void step(String tensor, int step, int maxSteps, double relL2, long elapsedMs) {
    }

    /**
     * The layer is done.
     *
     * @param fit       how training went
     * @param relL2     relative L2 error of the decoded (quantized) layer
     * @param accepted  false if the fallback rule rejected the network
     */
    default void finished(String tensor, InrFit fit, double relL2, boolean accepted) {
    }

    /** The listener installed for the current thread, else {@link #NONE}. */
    static InrProgress current() {
        InrProgress p = Holder.CURRENT.get();
        return p == null ? NONE : p;
    }

    /** Runs {@code work} with {@code listener} installed for the current thread. */
    static <T> T during(InrProgress listener, Supplier<T> work) {
        Objects.requireNonNull(listener, "listener");
        InrProgress before = Holder.CURRENT.get();
        Holder.CURRENT.set(listener);
        try {
            return work.get();
        } finally {
            if (before == null) {
                Holder.CURRENT.remove();
            } else {
                Holder.CURRENT.set(before);
            }
        }
    }

    /** The per-thread slot (interfaces cannot have private static fields). */
    final class Holder {
        private static final ThreadLocal<InrProgress> CURRENT = new ThreadLocal<>();

        private Holder() {
        }
    }
}
