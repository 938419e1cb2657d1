package io.weightstream.serving;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The version of one model that this replica serves, swapped without stopping requests, in the manner of Lucene's
 * {@code ReferenceManager}.
 *
 * <p>The served version sits in a reference-counted holder behind an {@link AtomicReference}. The manager owns one
 * reference; every {@link Lease} owns another. {@link #acquire()} is lock-free: it reads the holder and increments
 * its count unless the count already reached zero (then the holder was swapped out and closed between the read and
 * the increment, and the loop reads its successor). {@link #swap} runs under a lock: it publishes the new holder,
 * then drops the manager's reference to the old one. Whoever drops the last reference (the swapping thread, or
 * the request that held the last lease) retires the old model, exactly once. So a request that acquired the old
 * version finishes on it, no request ever sees a closed model, and since the caller hands in a model that is
 * already loaded and warmed, no request ever sees a half-loaded one.
 *
 * <p>Unlike Lucene, a retired model is closed on a background thread ({@code weightstream-model-retire}, one per
 * JVM), not by whoever released it last: closing all-MiniLM-L6-v2's ONNX Runtime session takes 20 to 50 ms, which
 * would otherwise land on the latency of the request that happened to hold the last lease.
 * {@link #awaitRetired(Duration)} waits for those closes.
 *
 * <pre>{@code
 * ModelManager manager = new ModelManager("all-minilm-l6-v2");
 * manager.swap(new ServedModel(info, onnx, embedder));          // loaded and warmed by the caller
 * try (ModelManager.Lease lease = manager.acquire()) {          // per request
 *     float[][] v = lease.model().embedder().orElseThrow().embed(texts);
 * }
 * }</pre>
 */
public final class ModelManager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelManager.class);

    // one thread for every manager of the JVM: retirements are rare and each close is short
    static final ExecutorService RETIRER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "weightstream-model-retire");
        t.setDaemon(true);
        return t;
    });

    private final String model;
    private final Consumer<ServedModel> closer;
    private final Executor retirer;
    private final Object retiring = new Object();
    private int pendingRetirements;   // guarded by retiring
    private final AtomicReference<Holder> current = new AtomicReference<>();
    // swaps and close are serialized; acquire never takes it
    private final ReentrantLock swapLock = new ReentrantLock();
    private final AtomicLong swaps = new AtomicLong();
    private volatile boolean closed;

    /** A manager for {@code model} with nothing serving yet: {@link #acquire()} fails until the first swap. */
    public ModelManager(String model) {
        this(model, ServedModel::close, RETIRER);
    }

    /**
     * For tests: {@code closer} is called instead of {@link ServedModel#close()} when a version is retired, on
     * {@code retirer} ({@code Runnable::run}: in the thread that released the last reference).
     */
    ModelManager(String model, Consumer<ServedModel> closer, Executor retirer) {
        this.model = Objects.requireNonNull(model, "model");
        this.closer = Objects.requireNonNull(closer, "closer");
        this.retirer = Objects.requireNonNull(retirer, "retirer");
    }

    /** The model name this manager serves. */
    public String model() {
        return model;
    }

    /**
     * A lease on the version serving now. Release it (try-with-resources) when the request is done; until then the
     * version stays open even if it is swapped out.
     *
     * @throws NoModelServingException when no version is serving (before the first swap, or after {@link #close()})
     */
    public Lease acquire() {
        while (true) {
            Holder h = current.get();
            if (h == null) {
                throw new NoModelServingException(model, closed
                        ? "model '" + model + "' is shutting down on this replica"
                        : "model '" + model + "' has no version serving on this replica yet");
            }
            if (h.tryIncRef()) {
                return new HolderLease(h);
            }
            // h reached zero after we read it: it was swapped out and its successor is already published
            if (current.get() == h) {
                throw new IllegalStateException("served version " + h.info.version() + " of '" + model
                        + "' was released more often than acquired");
            }
        }
    }

    /** What is serving now, with the time it was swapped in. */
    public Optional<ServedModel.Info> current() {
        Holder h = current.get();
        return h == null ? Optional.empty() : Optional.of(h.info);
    }

    /**
     * Serves {@code next} from now on. Requests already holding a lease on the previous version finish on it; the
     * previous version is closed after its last lease is released (in the background). Never blocks
     * {@link #acquire()}; concurrent swaps are applied one after the other.
     *
     * @param next a version of this model, loaded and warmed up; the manager owns it from now on
     * @return {@code next}'s info with {@code servingSinceMs} set
     * @throws IllegalArgumentException when {@code next} is of another model or is the version serving now
     * @throws IllegalStateException after {@link #close()} (the caller still owns {@code next} then)
     */
    public ServedModel.Info swap(ServedModel next) {
        Objects.requireNonNull(next, "next");
        if (!next.model().equals(model)) {
            throw new IllegalArgumentException("cannot swap version " + next.version() + " of model '" + next.model()
                    + "' into the manager of model '" + model + "'");
        }
        Holder fresh = new Holder(next, next.info().servingSince(System.currentTimeMillis()));
        Holder old;
        swapLock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the manager of model '" + model + "' is closed");
            }
            old = current.get();
            if (old != null && old.model == next) {
                throw new IllegalArgumentException("version " + next.version() + " of '" + model
                        + "' is the instance serving now; load a new ServedModel to swap");
            }
            current.set(fresh);
            swaps.incrementAndGet();
        } finally {
            swapLock.unlock();
        }
        if (old != null) {
            old.decRef();
        }
        return fresh.info;
    }

    /** How many swaps this manager has applied. */
    public long swaps() {
        return swaps.get();
    }

    /** Leases out on the version serving now (not counting leases still held on retired versions). */
    public int leasesInFlight() {
        Holder h = current.get();
        return h == null ? 0 : Math.max(0, h.refs.get() - 1);
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Waits until every version this manager retired so far (swapped out or closed, with its last lease released)
     * has been closed.
     *
     * @return false if some are still open after {@code timeout}
     */
    public boolean awaitRetired(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (retiring) {
            while (pendingRetirements > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                retiring.wait(Math.max(1, left / 1_000_000));
            }
            return true;
        }
    }

    /**
     * Stops serving: later {@link #acquire()} calls fail with {@link NoModelServingException}; the version serving
     * now is closed after its last lease is released (in the background: see {@link #awaitRetired}). Idempotent.
     */
    @Override
    public void close() {
        Holder old;
        swapLock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            old = current.getAndSet(null);
        } finally {
            swapLock.unlock();
        }
        if (old != null) {
            old.decRef();
        }
    }

    @Override
    public String toString() {
        return "ModelManager(" + model + ", serving " + current().map(ServedModel.Info::version).orElse("nothing")
                + ")";
    }

    /**
     * A request's hold on one version. The version stays open until every lease on it is closed, even after it is
     * swapped out. Closing a lease twice has no further effect.
     */
    public interface Lease extends AutoCloseable {
        /**
         * The leased version.
         *
         * @throws IllegalStateException after {@link #close()}
         */
        ServedModel model();

        /** The leased version's info, {@code servingSinceMs} included. */
        ServedModel.Info info();

        @Override
        void close();
    }

    private final class Holder {
        final ServedModel model;
        final ServedModel.Info info;
        // 1 for the manager while this holder is current, plus 1 per open lease; 0 = retired and closed
        final AtomicInteger refs = new AtomicInteger(1);

        Holder(ServedModel model, ServedModel.Info info) {
            this.model = model;
            this.info = info;
        }

        boolean tryIncRef() {
            int count;
            while ((count = refs.get()) > 0) {
                if (refs.compareAndSet(count, count + 1)) {
                    return true;
                }
            }
            return false;
        }

        void decRef() {
            int left = refs.decrementAndGet();
            if (left == 0) {
                retire();
            } else if (left < 0) {
                throw new IllegalStateException("served version " + info.version() + " of '" + info.model()
                        + "' was released more often than acquired");
            }
        }

        private void retire() {
            synchronized (retiring) {
                pendingRetirements++;
            }
            try {
                retirer.execute(this::closeModel);
            } catch (RejectedExecutionException e) {
                closeModel();
            }
        }

        private void closeModel() {
            try {
                closer.accept(model);
            } catch (RuntimeException e) {
                // the version is out of service either way; a failing native close must not fail anyone
                LOG.warn("closing retired version {} of '{}' failed: {}", info.version(), info.model(),
                        e.toString(), e);
            } finally {
                synchronized (retiring) {
                    pendingRetirements--;
                    retiring.notifyAll();
                }
            }
        }
    }

    private static final class HolderLease implements Lease {
        private final Holder holder;
        private final AtomicBoolean released = new AtomicBoolean();

        HolderLease(Holder holder) {
            this.holder = holder;
        }

        @Override
        public ServedModel model() {
            if (released.get()) {
                throw new IllegalStateException("lease on " + holder.model + " was already released");
            }
            return holder.model;
        }

        @Override
        public ServedModel.Info info() {
            return holder.info;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                holder.decRef();
            }
        }
    }
}
