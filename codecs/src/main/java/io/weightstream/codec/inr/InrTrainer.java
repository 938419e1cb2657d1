package io.weightstream.codec.inr;

import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Fits the network of an {@link InrProblem}: the part of the {@code inr} codec that needs a neural-network
 * engine, kept out of the codecs module (which decodes in pure Java) and found with {@link ServiceLoader}. The
 * implementation lives in the {@code inr-trainer} module (DJL, PyTorch engine, CUDA when there is one); list it in
 * {@code META-INF/services/io.weightstream.codec.inr.InrTrainer}.
 *
 * <pre>{@code
 * InrTrainer trainer = InrTrainer.find().orElseThrow();
 * InrFit fit = trainer.train(problem, InrProgress.NONE);
 * }</pre>
 */
public interface InrTrainer {
    /** A short name for logs, e.g. {@code "djl-pytorch"}. */
    String name();

    /**
     * Trains until the problem's settings say stop (steps, time budget or target error).
     *
     * @param progress called from the training thread every few steps
     */
    InrFit train(InrProblem problem, InrProgress progress);

    /**
     * The first trainer on the class path of this interface, else on the thread's context class loader (a Flink
     * job's user code).
     */
    static Optional<InrTrainer> find() {
        Optional<InrTrainer> t = ServiceLoader.load(InrTrainer.class, InrTrainer.class.getClassLoader()).findFirst();
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        if (t.isEmpty() && context != null && context != InrTrainer.class.getClassLoader()) {
            t = ServiceLoader.load(InrTrainer.class, context).findFirst();
        }
        return t;
    }
}
