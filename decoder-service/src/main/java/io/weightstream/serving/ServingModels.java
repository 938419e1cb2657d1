package io.weightstream.serving;

import java.time.Duration;
import java.util.Collections;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The models one replica serves, by name: one {@link ModelManager} each, created when the first version of a model
 * is swapped in (or when someone asks for its manager).
 *
 * <pre>{@code
 * ServingModels models = new ServingModels();
 * models.swap(servedModel);                                        // the decoder, for each new version
 * try (ModelManager.Lease lease = models.manager("all-minilm-l6-v2").acquire()) { ... }   // a request
 * }</pre>
 */
public final class ServingModels implements AutoCloseable {
    private final ConcurrentMap<String, ModelManager> managers = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /**
     * The manager of {@code model}, created on first use.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public ModelManager manager(String model) {
        Objects.requireNonNull(model, "model");
        if (closed) {
            throw new IllegalStateException("the serving models of this replica are closed");
        }
        ModelManager manager = managers.computeIfAbsent(model, ModelManager::new);
        if (closed) {
            manager.close();   // lost a race with close(): do not hand out a manager nobody will close
            throw new IllegalStateException("the serving models of this replica are closed");
        }
        return manager;
    }

    /**
     * The manager of {@code model} if one exists; unlike {@link #manager} it never creates one, so a request for
     * an unknown name leaves nothing behind.
     */
    public Optional<ModelManager> find(String model) {
        return Optional.ofNullable(managers.get(Objects.requireNonNull(model, "model")));
    }

    /** The names of the models that have a manager, sorted. */
    public Set<String> models() {
        return Collections.unmodifiableSet(new TreeSet<>(managers.keySet()));
    }

    /**
     * Swaps {@code next} in as the version of its model that this replica serves.
     *
     * @see ModelManager#swap(ServedModel)
     */
    public ServedModel.Info swap(ServedModel next) {
        return manager(next.model()).swap(next);
    }

    /**
     * Waits until every version retired so far by every manager has been closed.
     *
     * @return false if some are still open after {@code timeout}
     */
    public boolean awaitRetired(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (ModelManager manager : managers.values()) {
            if (!manager.awaitRetired(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
                return false;
            }
        }
        return true;
    }

    /**
     * Closes every manager; each closes its model after its last lease is released, in the background
     * ({@link #awaitRetired}). Idempotent.
     */
    @Override
    public void close() {
        closed = true;
        for (ModelManager manager : managers.values()) {
            manager.close();
        }
    }
}
