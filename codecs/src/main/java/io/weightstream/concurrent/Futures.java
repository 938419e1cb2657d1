package io.weightstream.concurrent;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * Waiting for a task of a thread pool as if it had run on the calling thread: its {@link RuntimeException} or
 * {@link Error} is rethrown as it is (the caller's own exception types, e.g. {@code CorruptPayloadException}, keep
 * their type and message), a checked exception is wrapped in an {@link IllegalStateException}; an interrupt sets the
 * thread's flag again and becomes an {@link IllegalStateException} saying what was waited for.
 *
 * <pre>{@code
 * Future<byte[]> part = pool.submit(() -> encode(block));
 * byte[] bytes = Futures.join(part, "encoding");
 * }</pre>
 */
public final class Futures {
    private Futures() {
    }

    /**
     * The task's result.
     *
     * @param what what the task does, for the message of an interrupt ("interrupted while " + what)
     */
    public static <T> T join(Future<T> future, String what) {
        try {
            return future.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while " + what, e);
        }
    }
}
