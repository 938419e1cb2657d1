package io.weightstream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class LoadGeneratorTest {
    private static final long MS = 1_000_000L;

    @Test
    void nearestRankPercentiles() {
        long[] hundred = LongStream.rangeClosed(1, 100).toArray();
        assertThat(LoadGenerator.percentile(hundred, 50)).isEqualTo(50);
        assertThat(LoadGenerator.percentile(hundred, 99)).isEqualTo(99);
        assertThat(LoadGenerator.percentile(hundred, 99.5)).isEqualTo(100);
        assertThat(LoadGenerator.percentile(hundred, 100)).isEqualTo(100);
        assertThat(LoadGenerator.percentile(hundred, 0)).isEqualTo(1);
        assertThat(LoadGenerator.percentile(hundred, 1)).isEqualTo(1);
        // 10 values: p99 is the largest, p50 the 5th
        long[] ten = LongStream.rangeClosed(1, 10).map(i -> i * 10).toArray();
        assertThat(LoadGenerator.percentile(ten, 50)).isEqualTo(50);
        assertThat(LoadGenerator.percentile(ten, 51)).isEqualTo(60);
        assertThat(LoadGenerator.percentile(ten, 99)).isEqualTo(100);
        assertThat(LoadGenerator.percentile(new long[] {7}, 50)).isEqualTo(7);
        assertThat(LoadGenerator.percentile(new long[] {7}, 99)).isEqualTo(7);
        assertThat(LoadGenerator.percentile(new long[0], 50)).isNaN();
        assertThatThrownBy(() -> LoadGenerator.percentile(hundred, 101)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LoadGenerator.percentile(hundred, Double.NaN))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void statsSortTheirInputAndReportMilliseconds() {
        long[] shuffled = {9 * MS, 1 * MS, 5 * MS, 3 * MS, 7 * MS, 2 * MS, 10 * MS, 4 * MS, 8 * MS, 6 * MS};
        LoadGenerator.Stats s = LoadGenerator.Stats.of(shuffled, 2);
        assertThat(s.count()).isEqualTo(10);
        assertThat(s.failures()).isEqualTo(2);
        assertThat(s.p50Millis()).isEqualTo(5.0);
        assertThat(s.p99Millis()).isEqualTo(10.0);
        assertThat(s.maxMillis()).isEqualTo(10.0);
        assertThat(shuffled[0]).isEqualTo(9 * MS);   // the caller's array is left alone
        assertThat(s.toString()).isEqualTo("n=10 failed=2 p50=5.0 ms p99=10.0 ms max=10.0 ms");
        LoadGenerator.Stats none = LoadGenerator.Stats.of(new long[0], 0);
        assertThat(none.count()).isZero();
        assertThat(none.p99Millis()).isNaN();
    }

    @Test
    void aWindowHoldsTheRequestsInFlightDuringIt() {
        LoadGenerator.Log log = new LoadGenerator.Log();
        // steady state: 100 requests of 10 ms, one every 10 ms from t = 0
        for (int i = 0; i < 100; i++) {
            log.add(i * 10 * MS, 10 * MS, 200);
        }
        // a swap window [1000, 1100) ms: a slow request straddles its start, a failed one lies inside
        log.add(995 * MS, 40 * MS, 200);
        log.add(1050 * MS, 5 * MS, 503);
        log.add(1200 * MS, 1 * MS, 0);   // after the window, no answer
        LoadGenerator.Stats steady = log.stats(0, 990 * MS);
        assertThat(steady.count()).isEqualTo(99);
        assertThat(steady.failures()).isZero();
        assertThat(steady.p99Millis()).isEqualTo(10.0);
        LoadGenerator.Stats swap = log.stats(1000 * MS, 1100 * MS);
        assertThat(swap.count()).isEqualTo(2);   // the request ending exactly at 1000 ms is not in flight then
        assertThat(swap.failures()).isEqualTo(1);
        assertThat(swap.maxMillis()).isEqualTo(40.0);
        assertThat(log.stats(1100 * MS, 2000 * MS).failures()).isEqualTo(1);
        assertThat(log.stats(Long.MIN_VALUE, Long.MAX_VALUE).count()).isEqualTo(103);
        // grows past its first capacity
        for (int i = 0; i < 5000; i++) {
            log.add(3000 * MS + i, 1, 200);
        }
        assertThat(log.size()).isEqualTo(5103);
    }

    @Test
    void sendsRealSentencesInAClosedLoopAndCountsFailures() throws Exception {
        AtomicInteger served = new AtomicInteger();
        Set<String> bodies = ConcurrentHashMap.newKeySet();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.createContext("/v1/models/m/embed", exchange -> {
            bodies.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            int n = served.incrementAndGet();
            byte[] answer = "{}".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(n % 5 == 0 ? 503 : 200, answer.length);   // every 5th fails
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(answer);
            }
        });
        server.start();
        List<String> sentences = LoadGenerator.sentences(8);
        assertThat(sentences).hasSize(8).allMatch(s -> s.length() >= 20 && s.length() <= 300);
        Instant before = Instant.now();
        try (LoadGenerator load = LoadGenerator.builder()
                .baseUri(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/"))
                .model("m").threads(3).texts(sentences).maxRequests(60).duration(Duration.ofSeconds(60)).start()) {
            assertThat(load.await(Duration.ofSeconds(60))).isTrue();
            LoadGenerator.Stats total = load.total();
            assertThat(total.count()).isEqualTo(60);
            assertThat(total.failures()).isEqualTo(12);
            assertThat(total.p50Millis()).isPositive();
            assertThat(total.maxMillis()).isGreaterThanOrEqualTo(total.p99Millis());
            assertThat(load.snapshot(before, Instant.now().plusSeconds(1)).count()).isEqualTo(60);
            assertThat(load.snapshot(before.minusSeconds(60), before.minusSeconds(30)).count()).isZero();
            assertThat(load.startedAt()).isBetween(before, Instant.now());
        } finally {
            server.stop(0);
        }
        assertThat(served.get()).isEqualTo(60);
        assertThat(bodies).hasSize(8);   // every sentence sent, as {"texts": [sentence]}
        assertThat(bodies).allMatch(b -> b.startsWith("{\"texts\":[\"") && b.endsWith("\"]}"));
    }

    @Test
    void refusesIncompleteOptions() {
        assertThatThrownBy(() -> LoadGenerator.builder().model("m").start()).hasMessageContaining("baseUri");
        assertThatThrownBy(() -> LoadGenerator.builder().baseUri(URI.create("http://127.0.0.1:1")).start())
                .hasMessageContaining("model");
        assertThatThrownBy(() -> LoadGenerator.builder().baseUri(URI.create("http://127.0.0.1:1")).model("m")
                .threads(0).start()).hasMessageContaining("threads");
        assertThatThrownBy(() -> LoadGenerator.builder().baseUri(URI.create("http://127.0.0.1:1")).model("m")
                .texts(List.of()).start()).hasMessageContaining("texts");
    }
}
