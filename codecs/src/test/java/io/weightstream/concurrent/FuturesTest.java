package io.weightstream.concurrent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class FuturesTest {
    @Test
    void resultsAndTheTasksOwnExceptionsComeBackAsOnTheCallingThread() {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            assertThat(Futures.join(pool.submit(() -> 42), "answering")).isEqualTo(42);
            Future<Object> runtime = pool.submit(() -> {
                throw new IllegalArgumentException("bad block 3");
            });
            assertThatThrownBy(() -> Futures.join(runtime, "x")).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("bad block 3");
            Future<Object> error = pool.submit(() -> {
                throw new OutOfMemoryError("big");
            });
            assertThatThrownBy(() -> Futures.join(error, "x")).isExactlyInstanceOf(OutOfMemoryError.class);
            Future<Object> checked = pool.submit(() -> {
                throw new IOException("disk");
            });
            assertThatThrownBy(() -> Futures.join(checked, "x")).isExactlyInstanceOf(IllegalStateException.class)
                    .hasCauseExactlyInstanceOf(IOException.class);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anInterruptSaysWhatWasWaitedForAndKeepsTheFlag() {
        Thread.currentThread().interrupt();
        try {
            assertThatThrownBy(() -> Futures.join(new CompletableFuture<>(), "encoding"))
                    .isInstanceOf(IllegalStateException.class).hasMessage("interrupted while encoding");
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
    }
}
