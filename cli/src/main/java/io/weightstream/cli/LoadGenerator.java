package io.weightstream.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weightstream.serving.RealTexts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closed-loop HTTP load for the demo: each of N threads sends {@code POST /v1/models/{name}/embed} with one real
 * sentence, waits for the answer, and sends the next, for a duration, a number of requests, or until stopped.
 * Every request's start, latency and status are kept, so the demo can compare the steady state with a swap:
 * {@code snapshot(t0, t1)} summarizes the requests that were in flight at any moment of {@code [t0, t1)}.
 *
 * <p>A request fails when it gets no answer (connection error, timeout) or a status outside 2xx. Percentiles are
 * nearest-rank over every request of the window, failed ones included (a failure is never hidden from the
 * latency figures, and it is counted on its own).
 *
 * <pre>{@code
 * try (LoadGenerator load = LoadGenerator.builder().baseUri(URI.create("http://127.0.0.1:8080"))
 *         .model("all-minilm-l6-v2").threads(4).texts(LoadGenerator.sentences(64)).start()) {
 *     Thread.sleep(10_000);
 *     Instant t0 = Instant.now();
 *     ... publish a new version, wait until GET /v1/models/{name} shows it ...
 *     Instant t1 = Instant.now();
 *     Thread.sleep(5_000);
 *     LoadGenerator.Stats steady = load.snapshot(load.startedAt().plusSeconds(2), t0);
 *     LoadGenerator.Stats swap = load.snapshot(t0, t1);
 *     System.out.println("steady " + steady + ", during the swap " + swap);
 * }
 * }</pre>
 */
public final class LoadGenerator implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What happened in a window of time.
     *
     * @param count requests in the window
     * @param failures requests that got no answer or a status outside 2xx
     * @param p50Millis median latency (NaN when {@code count} is 0)
     * @param p99Millis 99th percentile latency, nearest rank (NaN when {@code count} is 0)
     * @param maxMillis the slowest request (NaN when {@code count} is 0)
     */
    public record Stats(long count, long failures, double p50Millis, double p99Millis, double maxMillis) {
        /** Stats of these latencies (any order), {@code failures} of which failed. */
        public static Stats of(long[] latencyNanos, long failures) {
            long[] sorted = latencyNanos.clone();
            Arrays.sort(sorted);
            return new Stats(sorted.length, failures, percentile(sorted, 50) / 1e6, percentile(sorted, 99) / 1e6,
                    percentile(sorted, 100) / 1e6);
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "n=%d failed=%d p50=%.1f ms p99=%.1f ms max=%.1f ms", count,
                    failures, p50Millis, p99Millis, maxMillis);
        }
    }

    /**
     * The nearest-rank percentile: the smallest value with at least {@code p} percent of the values at or below it.
     *
     * @param sorted values in ascending order
     * @param p in (0, 100]; 0 gives the smallest value
     * @return NaN for no values
     */
    static double percentile(long[] sorted, double p) {
        if (!(p >= 0 && p <= 100)) {
            throw new IllegalArgumentException("percentile must be in [0, 100], got " + p);
        }
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);   // 1-based
        return sorted[Math.max(rank, 1) - 1];
    }

    /** Every request's start (Unix epoch nanoseconds), latency and status, appended by the load threads. */
    static final class Log {
        private long[] starts = new long[1024];
        private long[] latencies = new long[1024];
        private int[] statuses = new int[1024];
        private int size;

        /** @param status the HTTP status, or 0 when no answer came */
        synchronized void add(long startEpochNanos, long latencyNanos, int status) {
            if (size == starts.length) {
                starts = Arrays.copyOf(starts, size * 2);
                latencies = Arrays.copyOf(latencies, size * 2);
                statuses = Arrays.copyOf(statuses, size * 2);
            }
            starts[size] = startEpochNanos;
            latencies[size] = latencyNanos;
            statuses[size] = status;
            size++;
        }

        /** The requests in flight at any moment of {@code [from, to)}: started before {@code to}, ended after {@code from}. */
        synchronized Stats stats(long fromEpochNanos, long toEpochNanos) {
            long[] picked = new long[size];
            int n = 0;
            long failures = 0;
            for (int i = 0; i < size; i++) {
                long end = starts[i] + latencies[i];
                if (starts[i] < toEpochNanos && end > fromEpochNanos) {
                    picked[n++] = latencies[i];
                    if (statuses[i] < 200 || statuses[i] > 299) {
                        failures++;
                    }
                }
            }
            return Stats.of(Arrays.copyOf(picked, n), failures);
        }

        synchronized int size() {
            return size;
        }
    }

    private final HttpClient client;
    private final URI embedUri;
    private final List<String> texts;
    private final Duration requestTimeout;
    private final long deadlineNanos;       // Long.MAX_VALUE: no duration
    private final AtomicLong budget;        // requests left to send; Long.MAX_VALUE: unlimited
    private final Log log = new Log();
    private final Instant startedAt;
    private final long startedNanos;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;

    private LoadGenerator(Builder b) {
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(b.requestTimeout).build();
        String base = b.baseUri.toString();
        this.embedUri = URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base)
                + "/v1/models/" + b.model + "/embed");
        this.texts = List.copyOf(b.texts);
        this.requestTimeout = b.requestTimeout;
        this.budget = new AtomicLong(b.maxRequests > 0 ? b.maxRequests : Long.MAX_VALUE);
        this.startedAt = Instant.now();
        this.startedNanos = System.nanoTime();
        this.deadlineNanos = b.duration == null ? Long.MAX_VALUE : startedNanos + b.duration.toNanos();
        for (int t = 0; t < b.threads; t++) {
            int index = t;
            Thread thread = new Thread(() -> loop(index), "load-" + t);
            thread.setDaemon(true);
            threads.add(thread);
        }
        threads.forEach(Thread::start);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** When the load started. */
    public Instant startedAt() {
        return startedAt;
    }

    /** The requests that were in flight at any moment of {@code [from, to)}. */
    public Stats snapshot(Instant from, Instant to) {
        return log.stats(epochNanos(from), epochNanos(to));
    }

    /** Every request so far. */
    public Stats total() {
        return log.stats(Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /** Requests completed so far. */
    public long completed() {
        return log.size();
    }

    /** Asks the threads to stop after their current request. */
    public void stop() {
        stopping = true;
    }

    /**
     * Waits until every thread has stopped (by itself at the end of the duration or the request budget, or after
     * {@link #stop()}).
     *
     * @return false if some are still running after {@code timeout}
     */
    public boolean await(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread t : threads) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return !anyAlive();
            }
            TimeUnit.NANOSECONDS.timedJoin(t, left);
        }
        return !anyAlive();
    }

    private boolean anyAlive() {
        return threads.stream().anyMatch(Thread::isAlive);
    }

    /** Stops and waits for the threads (each finishes its request, within the request timeout). */
    @Override
    public void close() {
        stop();
        try {
            await(requestTimeout.plusSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void loop(int thread) {
        int next = thread;   // threads start at different texts
        while (!stopping && System.nanoTime() < deadlineNanos && budget.getAndDecrement() > 0) {
            String text = texts.get(next % texts.size());
            next += threads.size();
            HttpRequest request = HttpRequest.newBuilder(embedUri).timeout(requestTimeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body(text))).build();
            long t0 = System.nanoTime();
            int status;
            try {
                status = client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (IOException e) {
                status = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long t1 = System.nanoTime();
            log.add(epochNanos(startedAt) + (t0 - startedNanos), t1 - t0, status);
        }
    }

    private static byte[] body(String text) {
        try {
            return JSON.writeValueAsBytes(Map.of("texts", List.of(text)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long epochNanos(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
    }

    /**
     * Real single sentences: the first sentence of each license paragraph of {@link RealTexts#paragraphs(int)},
     * those of 20 to 300 characters.
     */
    public static List<String> sentences(int max) {
        List<String> out = new ArrayList<>();
        for (String paragraph : RealTexts.paragraphs(Math.max(max * 2, 16))) {
            String first = paragraph.split("(?<=[.;:!?]) ", 2)[0];
            if (first.length() >= 20 && first.length() <= 300) {
                out.add(first);
                if (out.size() == max) {
                    break;
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no sentences of 20 to 300 characters in " + RealTexts.COMMON_LICENSES);
        }
        return out;
    }

    /** Options of a {@link LoadGenerator}; {@link #start()} checks them and starts the threads. */
    public static final class Builder {
        private URI baseUri;
        private String model;
        private int threads = 4;
        private List<String> texts;
        private Duration duration;
        private long maxRequests;
        private Duration requestTimeout = Duration.ofSeconds(30);

        private Builder() {
        }

        /** The serving replica, e.g. {@code http://127.0.0.1:8080}. */
        public Builder baseUri(URI uri) {
            this.baseUri = Objects.requireNonNull(uri, "uri");
            return this;
        }

        public Builder model(String name) {
            this.model = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Concurrent requests (closed loop: each thread has one in flight). Default 4. */
        public Builder threads(int count) {
            this.threads = count;
            return this;
        }

        /** The texts to send, one per request, in turn. Default: {@link LoadGenerator#sentences(int) sentences(64)}. */
        public Builder texts(List<String> sentences) {
            this.texts = List.copyOf(sentences);
            return this;
        }

        /** Stop after this long. Default: run until {@link LoadGenerator#stop()}. */
        public Builder duration(Duration d) {
            this.duration = Objects.requireNonNull(d, "d");
            return this;
        }

        /** Stop after this many requests in all. Default 0: no limit. */
        public Builder maxRequests(long count) {
            this.maxRequests = count;
            return this;
        }

        /** How long one request may take before it counts as failed. Default 30 s. */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * @throws IllegalArgumentException for a missing URI or model, threads below 1, a negative request count,
         *     a non-positive duration or timeout, or an empty text list
         */
        public LoadGenerator start() {
            if (baseUri == null || baseUri.getScheme() == null || !baseUri.getScheme().startsWith("http")) {
                throw new IllegalArgumentException("set baseUri(...) to the replica's http:// address, got " + baseUri);
            }
            if (model == null || model.isBlank() || model.contains("/")) {
                throw new IllegalArgumentException("set model(...) to a model name, got " + model);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1, got " + threads);
            }
            if (maxRequests < 0) {
                throw new IllegalArgumentException("maxRequests must be >= 0 (0 = no limit), got " + maxRequests);
            }
            if (duration != null && (duration.isNegative() || duration.isZero())) {
                throw new IllegalArgumentException("duration must be positive, got " + duration);
            }
            if (requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new IllegalArgumentException("requestTimeout must be positive, got " + requestTimeout);
            }
            if (texts == null) {
                texts = sentences(64);
            }
            if (texts.isEmpty()) {
                throw new IllegalArgumentException("texts must not be empty");
            }
            return new LoadGenerator(this);
        }
    }
}
