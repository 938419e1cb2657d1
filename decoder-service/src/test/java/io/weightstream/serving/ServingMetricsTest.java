package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ServingMetricsTest {
    /** One sample line of the exposition. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    /** What a Prometheus scraper reads: families with their type, and samples that must belong to one. */
    record Exposition(Map<String, String> types, Map<String, String> helps, List<Sample> samples) {
        List<Sample> named(String name) {
            return samples.stream().filter(s -> s.name().equals(name)).toList();
        }

        double value(String name, Map<String, String> labels) {
            List<Sample> found = samples.stream()
                    .filter(s -> s.name().equals(name) && s.labels().equals(labels)).toList();
            assertThat(found).as("%s%s", name, labels).hasSize(1);
            return found.get(0).value();
        }
    }

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");

    /** A strict parser of text format 0.0.4: fails on anything a Prometheus server would reject. */
    static Exposition parse(String text) {
        assertThat(text).endsWith("\n");
        Map<String, String> types = new LinkedHashMap<>();
        Map<String, String> helps = new LinkedHashMap<>();
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP ")) {
                String[] parts = line.substring(7).split(" ", 2);
                assertThat(helps.put(parts[0], parts[1])).as("one HELP per family: %s", parts[0]).isNull();
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] parts = line.substring(7).split(" ");
                assertThat(parts).hasSize(2);
                assertThat(parts[1]).isIn("counter", "gauge", "histogram", "summary", "untyped");
                assertThat(types.put(parts[0], parts[1])).as("one TYPE per family: %s", parts[0]).isNull();
                continue;
            }
            assertThat(line).doesNotStartWith("#").isNotBlank();
            Matcher m = NAME.matcher(line);
            assertThat(m.lookingAt()).as("metric name in %s", line).isTrue();
            String name = m.group();
            int i = m.end();
            Map<String, String> labels = new LinkedHashMap<>();
            if (line.charAt(i) == '{') {
                i++;
                while (line.charAt(i) != '}') {
                    Matcher l = NAME.matcher(line).region(i, line.length());
                    assertThat(l.lookingAt()).as("label name in %s", line).isTrue();
                    String label = l.group();
                    i = l.end();
                    assertThat(line.substring(i, i + 2)).isEqualTo("=\"");
                    i += 2;
                    StringBuilder value = new StringBuilder();
                    while (line.charAt(i) != '"') {
                        char c = line.charAt(i++);
                        if (c == '\\') {
                            char e = line.charAt(i++);
                            assertThat(e).as("escape in %s", line).isIn('\\', '"', 'n');
                            value.append(e == 'n' ? '\n' : e);
                        } else {
                            value.append(c);
                        }
                    }
                    i++;
                    assertThat(labels.put(label, value.toString())).isNull();
                    if (line.charAt(i) == ',') {
                        i++;
                    }
                }
                i++;
            }
            assertThat(line.charAt(i)).isEqualTo(' ');
            String v = line.substring(i + 1);
            double value = switch (v) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                case "NaN" -> Double.NaN;
                default -> Double.parseDouble(v);
            };
            String family = familyOf(name, types);
            assertThat(family).as("sample %s belongs to a declared family", name).isNotNull();
            samples.add(new Sample(name, labels, value));
        }
        return new Exposition(types, helps, samples);
    }

    private static String familyOf(String name, Map<String, String> types) {
        if (types.containsKey(name)) {
            return name;
        }
        for (String suffix : List.of("_bucket", "_sum", "_count")) {
            if (name.endsWith(suffix)) {
                String base = name.substring(0, name.length() - suffix.length());
                if ("histogram".equals(types.get(base))) {
                    return base;
                }
            }
        }
        return null;
    }

    /** Buckets ascending and cumulative, +Inf bucket equal to _count, for every series of a histogram. */
    static void checkHistogram(Exposition e, String name) {
        assertThat(e.types()).containsEntry(name, "histogram");
        Map<Map<String, String>, List<Sample>> bySeries = new LinkedHashMap<>();
        for (Sample s : e.named(name + "_bucket")) {
            Map<String, String> series = new HashMap<>(s.labels());
            series.remove("le");
            bySeries.computeIfAbsent(series, k -> new ArrayList<>()).add(s);
        }
        for (Map.Entry<Map<String, String>, List<Sample>> series : bySeries.entrySet()) {
            double previousLe = Double.NEGATIVE_INFINITY;
            double previousCount = 0;
            for (Sample b : series.getValue()) {
                String le = b.labels().get("le");
                double bound = le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le);
                assertThat(bound).isGreaterThan(previousLe);
                assertThat(b.value()).isGreaterThanOrEqualTo(previousCount);
                previousLe = bound;
                previousCount = b.value();
            }
            assertThat(previousLe).isEqualTo(Double.POSITIVE_INFINITY);
            assertThat(e.value(name + "_count", series.getKey())).isEqualTo(previousCount);
            assertThat(e.named(name + "_sum").stream().anyMatch(s -> s.labels().equals(series.getKey()))).isTrue();
        }
    }

    @Test
    void requestLatencyIsAHistogramByRouteAndStatus() {
        ServingMetrics metrics = new ServingMetrics();
        metrics.request("/v1/models/{name}/embed", 200, 0.003);
        metrics.request("/v1/models/{name}/embed", 200, 0.004);
        metrics.request("/v1/models/{name}/embed", 200, 0.2);
        metrics.request("/v1/models/{name}/embed", 413, 0.0001);
        metrics.request("/healthz", 200, 20);   // beyond the last bucket
        Exposition e = parse(metrics.scrape());
        checkHistogram(e, "weightstream_http_request_seconds");
        Map<String, String> ok = Map.of("route", "/v1/models/{name}/embed", "status", "200");
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(ok, "le", "0.0025"))).isZero();
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(ok, "le", "0.005"))).isEqualTo(2);
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(ok, "le", "0.1"))).isEqualTo(2);
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(ok, "le", "0.25"))).isEqualTo(3);
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(ok, "le", "+Inf"))).isEqualTo(3);
        assertThat(e.value("weightstream_http_request_seconds_count", ok)).isEqualTo(3);
        assertThat(e.value("weightstream_http_request_seconds_sum", ok)).isCloseTo(0.207, within(1e-9));
        Map<String, String> tooLarge = Map.of("route", "/v1/models/{name}/embed", "status", "413");
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(tooLarge, "le", "0.0005"))).isEqualTo(1);
        Map<String, String> health = Map.of("route", "/healthz", "status", "200");
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(health, "le", "10"))).isZero();
        assertThat(e.value("weightstream_http_request_seconds_bucket", with(health, "le", "+Inf"))).isEqualTo(1);
        assertThat(metrics.requests("/v1/models/{name}/embed", 200)).isEqualTo(3);
        assertThat(metrics.requests("/nothing", 200)).isZero();
    }

    @Test
    void swapsFailuresAndDecodeThroughput() {
        ServingMetrics metrics = new ServingMetrics();
        metrics.swapped("minilm", 0.3);
        metrics.swapped("minilm", 1.7);
        metrics.swapped("tiny", 0.002);
        String reason = "bad \"hash\" \\ at\nchunk 3";   // every character the format must escape
        metrics.swapFailed("minilm", reason);
        metrics.swapFailed("minilm", reason);
        metrics.decoded(10_000_000, 1.5);
        metrics.decoded(5_000_000, 0.5);
        Exposition e = parse(metrics.scrape());
        assertThat(e.types()).containsEntry("weightstream_swaps_total", "counter")
                .containsEntry("weightstream_swap_failures_total", "counter")
                .containsEntry("weightstream_decoded_bytes_total", "counter")
                .containsEntry("weightstream_decode_seconds_total", "counter")
                .containsEntry("weightstream_decode_megabytes_per_second", "gauge");
        assertThat(e.helps().keySet()).containsAll(e.types().keySet());
        assertThat(e.value("weightstream_swaps_total", Map.of("model", "minilm"))).isEqualTo(2);
        assertThat(e.value("weightstream_swaps_total", Map.of("model", "tiny"))).isEqualTo(1);
        checkHistogram(e, "weightstream_swap_seconds");
        assertThat(e.value("weightstream_swap_seconds_bucket", Map.of("model", "minilm", "le", "1"))).isEqualTo(1);
        assertThat(e.value("weightstream_swap_seconds_bucket", Map.of("model", "minilm", "le", "2.5"))).isEqualTo(2);
        assertThat(e.value("weightstream_swap_seconds_sum", Map.of("model", "minilm"))).isCloseTo(2.0, within(1e-9));
        assertThat(e.value("weightstream_swap_failures_total", Map.of("model", "minilm", "reason", reason)))
                .isEqualTo(2);
        assertThat(e.value("weightstream_decoded_bytes_total", Map.of())).isEqualTo(15_000_000);
        assertThat(e.value("weightstream_decode_seconds_total", Map.of())).isEqualTo(2.0);
        assertThat(e.value("weightstream_decode_megabytes_per_second", Map.of())).isEqualTo(7.5);
        assertThatThrownBy(() -> metrics.decoded(-1, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anEmptyRegistryIsAValidExposition() {
        Exposition e = parse(new ServingMetrics().scrape());
        assertThat(e.types()).containsKeys("weightstream_swaps_total", "weightstream_http_request_seconds");
        assertThat(e.value("weightstream_decode_megabytes_per_second", Map.of())).isZero();
        assertThat(e.named("weightstream_http_request_seconds_count")).isEmpty();
    }

    @Test
    void modelGaugesShowTheServingVersionAndItsLeases() {
        ServingMetrics metrics = new ServingMetrics();
        try (ServingModels models = new ServingModels()) {
            ServedModel.Info info = models.swap(ServingFixtures.tiny("tiny", 3));
            models.manager("nothing-yet");
            try (ModelManager.Lease lease = models.manager("tiny").acquire()) {
                Exposition e = parse(metrics.scrape(models));
                assertThat(e.value("weightstream_model_serving", Map.of("model", "tiny", "version", "3"))).isEqualTo(1);
                assertThat(e.named("weightstream_model_serving")).hasSize(1);
                assertThat(e.value("weightstream_model_leases", Map.of("model", "tiny"))).isEqualTo(1);
                assertThat(e.value("weightstream_model_leases", Map.of("model", "nothing-yet"))).isZero();
                assertThat(e.value("weightstream_model_swaps", Map.of("model", "tiny"))).isEqualTo(1);
                assertThat(e.value("weightstream_model_serving_since_seconds", Map.of("model", "tiny")))
                        .isEqualTo(info.servingSinceMs() / 1000.0);
                assertThat(lease.info().version()).isEqualTo("3");
            }
        }
    }

    @Test
    void valuesAndBoundsAreWrittenTheWayPrometheusReadsThem() {
        assertThat(ServingMetrics.formatValue(3)).isEqualTo("3");
        assertThat(ServingMetrics.formatValue(0.25)).isEqualTo("0.25");
        assertThat(ServingMetrics.formatValue(Double.POSITIVE_INFINITY)).isEqualTo("+Inf");
        assertThat(ServingMetrics.formatValue(Double.NEGATIVE_INFINITY)).isEqualTo("-Inf");
        assertThat(ServingMetrics.formatValue(Double.NaN)).isEqualTo("NaN");
        assertThat(Double.parseDouble(ServingMetrics.formatValue(1.5e-7))).isEqualTo(1.5e-7);
        assertThat(ServingMetrics.le(0.0005)).isEqualTo("0.0005");
        assertThat(ServingMetrics.le(1)).isEqualTo("1");
        assertThat(ServingMetrics.le(2.5)).isEqualTo("2.5");
        assertThat(ServingMetrics.le(60)).isEqualTo("60");
        assertThat(ServingMetrics.escapeLabelValue("a\"b\\c\nd")).isEqualTo("a\\\"b\\\\c\\nd");
        assertThat(ServingMetrics.escapeHelp("x\\y\nz")).isEqualTo("x\\\\y\\nz");
    }

    private static Map<String, String> with(Map<String, String> labels, String key, String value) {
        Map<String, String> out = new HashMap<>(labels);
        out.put(key, value);
        return out;
    }
}
