package io.weightstream.serving;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * The serving metrics of one replica in the Prometheus text exposition format 0.0.4, written by hand (counters,
 * gauges and fixed-bucket histograms need no client library).
 *
 * <ul>
 *   <li>{@code weightstream_swaps_total{model}} and {@code weightstream_swap_seconds{model}} (histogram): versions
 *       swapped in and how long each swap took, as measured by the caller;</li>
 *   <li>{@code weightstream_swap_failures_total{model,reason}}: versions that were not swapped in;</li>
 *   <li>{@code weightstream_decoded_bytes_total}, {@code weightstream_decode_seconds_total} and the gauge
 *       {@code weightstream_decode_megabytes_per_second} (their ratio since start; 1 MB = 10^6 bytes);</li>
 *   <li>{@code weightstream_http_request_seconds{route,status}} (histogram): the latency of every HTTP request,
 *       by route template ({@code /v1/models/{name}/embed}) so that model names do not multiply the series;</li>
 *   <li>with {@link #scrape(ServingModels)}: {@code weightstream_model_serving{model,version}} (1 for the version
 *       serving), {@code weightstream_model_serving_since_seconds{model}}, {@code weightstream_model_leases{model}}
 *       (requests in flight on the serving version) and {@code weightstream_model_swaps{model}}.</li>
 * </ul>
 *
 * <p>All methods are thread-safe and cheap (adders, no locks); {@link #scrape()} reads a moment's values, in which
 * each histogram's {@code _count} equals its {@code +Inf} bucket.
 *
 * <pre>{@code
 * ServingMetrics metrics = new ServingMetrics();
 * metrics.request("/v1/models/{name}/embed", 200, 0.012);
 * metrics.swapped("all-minilm-l6-v2", 0.35);
 * String body = metrics.scrape();   // serve as text/plain; version=0.0.4
 * }</pre>
 */
public final class ServingMetrics {
    /** The content type of {@link #scrape()}. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    /** Upper bounds of the swap latency buckets, in seconds. */
    static final double[] SWAP_BUCKETS = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    /** Upper bounds of the request latency buckets, in seconds. */
    static final double[] REQUEST_BUCKETS =
            {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    private final ConcurrentMap<List<String>, LongAdder> swaps = new ConcurrentHashMap<>();
    private final ConcurrentMap<List<String>, Histogram> swapSeconds = new ConcurrentHashMap<>();
    private final ConcurrentMap<List<String>, LongAdder> swapFailures = new ConcurrentHashMap<>();
    private final ConcurrentMap<List<String>, Histogram> requestSeconds = new ConcurrentHashMap<>();
    private final LongAdder decodedBytes = new LongAdder();
    private final DoubleAdder decodeSeconds = new DoubleAdder();

    /** A version of {@code model} was swapped in; the swap took {@code swapSeconds}. */
    public void swapped(String model, double swapSeconds) {
        List<String> key = List.of(Objects.requireNonNull(model, "model"));
        swaps.computeIfAbsent(key, k -> new LongAdder()).increment();
        this.swapSeconds.computeIfAbsent(key, k -> new Histogram(SWAP_BUCKETS)).observe(swapSeconds);
    }

    /**
     * A version of {@code model} was not swapped in.
     *
     * @param reason a short, fixed token ({@code hash_mismatch}, {@code load_failed}), not a free-text message:
     *     every distinct reason is a time series
     */
    public void swapFailed(String model, String reason) {
        List<String> key = List.of(Objects.requireNonNull(model, "model"), Objects.requireNonNull(reason, "reason"));
        swapFailures.computeIfAbsent(key, k -> new LongAdder()).increment();
    }

    /** {@code bytes} of tensors were decoded in {@code seconds}. */
    public void decoded(long bytes, double seconds) {
        if (bytes < 0 || !(seconds >= 0)) {
            throw new IllegalArgumentException("decoded bytes and seconds must be >= 0, got " + bytes + " bytes in "
                    + seconds + " s");
        }
        decodedBytes.add(bytes);
        decodeSeconds.add(seconds);
    }

    /** An HTTP request to {@code route} (a route template, not the raw path) answered {@code status}. */
    public void request(String route, int status, double seconds) {
        List<String> key = List.of(Objects.requireNonNull(route, "route"), Integer.toString(status));
        requestSeconds.computeIfAbsent(key, k -> new Histogram(REQUEST_BUCKETS)).observe(seconds);
    }

    /** Requests answered so far for {@code route} with {@code status} (for tests and status pages). */
    public long requests(String route, int status) {
        Histogram h = requestSeconds.get(List.of(route, Integer.toString(status)));
        return h == null ? 0 : h.snapshot().count();
    }

    /** The metrics in text format 0.0.4. */
    public String scrape() {
        StringBuilder out = new StringBuilder(4096);
        counter(out, "weightstream_swaps_total", "Model versions swapped into serving.", List.of("model"), swaps);
        histogram(out, "weightstream_swap_seconds", "Time to swap a version into serving, in seconds.",
                List.of("model"), swapSeconds);
        counter(out, "weightstream_swap_failures_total", "Model versions that failed to be swapped in, by reason.",
                List.of("model", "reason"), swapFailures);
        long bytes = decodedBytes.sum();
        double seconds = decodeSeconds.sum();
        family(out, "weightstream_decoded_bytes_total", "Tensor bytes decoded.", "counter");
        sample(out, "weightstream_decoded_bytes_total", List.of(), List.of(), bytes);
        family(out, "weightstream_decode_seconds_total", "Seconds spent decoding tensors.", "counter");
        sample(out, "weightstream_decode_seconds_total", List.of(), List.of(), seconds);
        family(out, "weightstream_decode_megabytes_per_second",
                "Decode throughput since start (decoded bytes / decode seconds / 1e6).", "gauge");
        sample(out, "weightstream_decode_megabytes_per_second", List.of(), List.of(),
                seconds > 0 ? bytes / seconds / 1e6 : 0);
        histogram(out, "weightstream_http_request_seconds", "HTTP request latency in seconds, by route and status.",
                List.of("route", "status"), requestSeconds);
        return out.toString();
    }

    /** {@link #scrape()} followed by gauges of what each model of {@code models} serves now. */
    public String scrape(ServingModels models) {
        StringBuilder out = new StringBuilder(scrape());
        List<ModelManager> managers = new ArrayList<>();
        for (String name : models.models()) {
            models.find(name).ifPresent(managers::add);
        }
        family(out, "weightstream_model_serving", "1 for the version of each model serving on this replica.", "gauge");
        for (ModelManager m : managers) {
            Optional<ServedModel.Info> info = m.current();
            info.ifPresent(i -> sample(out, "weightstream_model_serving", List.of("model", "version"),
                    List.of(m.model(), i.version()), 1));
        }
        family(out, "weightstream_model_serving_since_seconds",
                "When the serving version of each model was swapped in (Unix time, seconds).", "gauge");
        for (ModelManager m : managers) {
            m.current().ifPresent(i -> sample(out, "weightstream_model_serving_since_seconds", List.of("model"),
                    List.of(m.model()), i.servingSinceMs() / 1000.0));
        }
        family(out, "weightstream_model_leases", "Requests in flight on the serving version of each model.", "gauge");
        for (ModelManager m : managers) {
            sample(out, "weightstream_model_leases", List.of("model"), List.of(m.model()), m.leasesInFlight());
        }
        family(out, "weightstream_model_swaps", "Swaps applied by each model's manager since start.", "gauge");
        for (ModelManager m : managers) {
            sample(out, "weightstream_model_swaps", List.of("model"), List.of(m.model()), m.swaps());
        }
        return out.toString();
    }

    // ---- text format 0.0.4 ----

    private static void counter(StringBuilder out, String name, String help, List<String> labels,
            Map<List<String>, LongAdder> series) {
        family(out, name, help, "counter");
        series.entrySet().stream()
                .sorted(Map.Entry.comparingByKey(ServingMetrics::compareKeys))
                .forEach(e -> sample(out, name, labels, e.getKey(), e.getValue().sum()));
    }

    private static void histogram(StringBuilder out, String name, String help, List<String> labels,
            Map<List<String>, Histogram> series) {
        family(out, name, help, "histogram");
        List<String> bucketLabels = new ArrayList<>(labels);
        bucketLabels.add("le");
        series.entrySet().stream()
                .sorted(Map.Entry.comparingByKey(ServingMetrics::compareKeys))
                .forEach(e -> {
                    Histogram.Snapshot s = e.getValue().snapshot();
                    long cumulative = 0;
                    for (int i = 0; i < s.bounds().length; i++) {
                        cumulative += s.counts()[i];
                        sample(out, name + "_bucket", bucketLabels, with(e.getKey(), le(s.bounds()[i])), cumulative);
                    }
                    sample(out, name + "_bucket", bucketLabels, with(e.getKey(), "+Inf"), s.count());
                    sample(out, name + "_sum", labels, e.getKey(), s.sum());
                    sample(out, name + "_count", labels, e.getKey(), s.count());
                });
    }

    private static int compareKeys(List<String> a, List<String> b) {
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            int c = a.get(i).compareTo(b.get(i));
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.size(), b.size());
    }

    private static List<String> with(List<String> values, String last) {
        List<String> out = new ArrayList<>(values);
        out.add(last);
        return out;
    }

    private static void family(StringBuilder out, String name, String help, String type) {
        out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void sample(StringBuilder out, String name, List<String> labels, List<String> values,
            double value) {
        out.append(name);
        if (!labels.isEmpty()) {
            out.append('{');
            for (int i = 0; i < labels.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                out.append(labels.get(i)).append("=\"").append(escapeLabelValue(values.get(i))).append('"');
            }
            out.append('}');
        }
        out.append(' ').append(formatValue(value)).append('\n');
    }

    /** Label values escape backslash, double quote and line feed. */
    static String escapeLabelValue(String value) {
        StringBuilder sb = new StringBuilder(value.length());
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '"' -> sb.append("\\\"");
                case '\n' -> sb.append("\\n");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }

    /** HELP text escapes backslash and line feed. */
    static String escapeHelp(String help) {
        return help.replace("\\", "\\\\").replace("\n", "\\n");
    }

    /** Integers without a fraction, other values as Java writes doubles (Go's ParseFloat reads both). */
    static String formatValue(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    /** A bucket bound as a plain decimal ({@code 0.0005}, {@code 1}, {@code 2.5}). */
    static String le(double bound) {
        return BigDecimal.valueOf(bound).stripTrailingZeros().toPlainString();
    }

    /** Fixed buckets; each observation lands in the first bucket whose upper bound is >= the value. */
    static final class Histogram {
        private final double[] bounds;
        private final LongAdder[] counts;   // per bucket, not cumulative; the last one is +Inf
        private final DoubleAdder sum = new DoubleAdder();

        Histogram(double[] bounds) {
            this.bounds = bounds.clone();
            this.counts = new LongAdder[bounds.length + 1];
            for (int i = 0; i < counts.length; i++) {
                counts[i] = new LongAdder();
            }
        }

        void observe(double value) {
            int i = Arrays.binarySearch(bounds, value);
            int bucket = i >= 0 ? i : -i - 1;   // NaN lands in +Inf
            counts[bucket].increment();
            sum.add(value);
        }

        Snapshot snapshot() {
            long[] c = new long[counts.length];
            long total = 0;
            for (int i = 0; i < c.length; i++) {
                c[i] = counts[i].sum();
                total += c[i];
            }
            return new Snapshot(bounds, Arrays.copyOf(c, bounds.length), total, sum.sum());
        }

        /** Non-cumulative counts of the finite buckets; {@code count} includes the +Inf bucket. */
        record Snapshot(double[] bounds, long[] counts, long count, double sum) {
        }
    }
}
