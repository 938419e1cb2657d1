package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The HTTP API on a free port, over real HTTP, with a tiny real ONNX model and the real all-MiniLM-L6-v2 with its
 * tokenizer. Tests that swap versions run last, in order.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HttpApiTest {
    private static final String TOKEN = "s3cret-admin-token";
    private static final String MINILM = "all-minilm-l6-v2";
    private static final ObjectMapper JSON = new ObjectMapper();

    private static ServingModels models;
    private static ServingFixtures.KeptVersions kept;
    private static ServingMetrics metrics;
    private static final AtomicBoolean READY = new AtomicBoolean();
    private static HttpApi api;
    private static HttpClient client;
    private static URI base;

    @BeforeAll
    static void start() {
        models = new ServingModels();
        kept = new ServingFixtures.KeptVersions(models);
        for (int v = 1; v <= 3; v++) {
            int version = v;
            kept.keep("tiny", Integer.toString(v), 400, () -> ServingFixtures.tiny("tiny", version));
        }
        kept.keep(MINILM, "v1", 90_000_000, () -> ServingFixtures.minilm(MINILM, "v1"));
        kept.keep(MINILM, "v2", 90_000_000, () -> ServingFixtures.minilm(MINILM, "v2"));
        models.swap(ServingFixtures.tiny("tiny", 1));
        models.swap(ServingFixtures.minilm(MINILM, "v1"));
        models.manager("empty");   // known here, nothing serving yet
        metrics = new ServingMetrics();
        api = HttpApi.start("127.0.0.1", 0, models, kept, metrics, TOKEN, READY::get);
        base = URI.create("http://127.0.0.1:" + api.port());
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterAll
    static void stop() {
        if (api != null) {
            api.close();
            api.close();
        }
        if (models != null) {
            models.close();
        }
    }

    record Reply(int status, String contentType, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }

        String error() {
            JsonNode e = json().get("error");
            assertThat(e).as("error field in %s", body).isNotNull();
            return e.asText();
        }
    }

    private static Reply send(HttpRequest.Builder request) {
        try {
            HttpResponse<String> r = client.send(request.timeout(Duration.ofSeconds(60)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
        } catch (IOException e) {
            throw new AssertionError("request failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static Reply get(String path) {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET());
    }

    private static Reply post(String path, String body) {
        return send(HttpRequest.newBuilder(base.resolve(path)).POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private static Reply post(String path, Object body) {
        try {
            return post(path, JSON.writeValueAsString(body));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static Reply activate(String model, String version, String authorization) {
        HttpRequest.Builder r = HttpRequest.newBuilder(base.resolve("/v1/models/" + model + "/versions/" + version
                + "/activate")).POST(HttpRequest.BodyPublishers.noBody());
        if (authorization != null) {
            r.header("Authorization", authorization);
        }
        return send(r);
    }

    private static float[] vector(JsonNode row) {
        float[] v = new float[row.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = row.get(i).floatValue();
        }
        return v;
    }

    // ---- probes and listing ----

    @Test
    @Order(1)
    void healthAndReadiness() {
        Reply health = get("/healthz");
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.json().get("status").asText()).isEqualTo("ok");
        READY.set(false);
        Reply notReady = get("/readyz");
        assertThat(notReady.status()).isEqualTo(503);
        assertThat(notReady.error()).contains("not ready");
        READY.set(true);
        assertThat(get("/readyz").status()).isEqualTo(200);
    }

    @Test
    @Order(1)
    void listsTheModelsAndTheVersionEachServes() {
        Reply r = get("/v1/models");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.contentType()).startsWith("application/json");
        JsonNode list = r.json().get("models");
        Map<String, JsonNode> byName = new java.util.HashMap<>();
        list.forEach(m -> byName.put(m.get("name").asText(), m));
        assertThat(byName).containsOnlyKeys("tiny", MINILM, "empty");
        assertThat(byName.get("tiny").get("version").asText()).isEqualTo("1");
        assertThat(byName.get(MINILM).get("version").asText()).isEqualTo("v1");
        assertThat(byName.get(MINILM).get("ratio").asDouble()).isEqualTo(4.0);
        assertThat(byName.get("empty").get("version").isNull()).isTrue();
    }

    @Test
    @Order(1)
    void describesTheActiveVersionAndTheKeptOnes() {
        Reply r = get("/v1/models/" + MINILM);
        assertThat(r.status()).isEqualTo(200);
        JsonNode body = r.json();
        assertThat(body.get("name").asText()).isEqualTo(MINILM);
        JsonNode active = body.get("active");
        assertThat(active.get("version").asText()).isEqualTo("v1");
        assertThat(active.get("fileBytes").asLong()).isEqualTo(TestModels.minilm().toFile().length());
        assertThat(active.get("encodedBytes").asLong()).isEqualTo(active.get("fileBytes").asLong() / 4);
        assertThat(active.get("ratio").asDouble()).isEqualTo(4.0);
        assertThat(active.get("methods").get("rtn").asInt()).isEqualTo(2);
        assertThat(active.get("methods").get("lossless").asInt()).isEqualTo(1);
        assertThat(active.get("servingSinceMs").asLong()).isPositive();
        assertThat(active.get("publishedAtMs").asLong()).isEqualTo(1_700_000_000_000L);
        assertThat(active.get("embeddingDimension").asInt()).isEqualTo(384);
        assertThat(active.get("inputs").toString()).contains("input_ids INT64[batch_size, sequence_length]");
        assertThat(active.get("outputs").toString()).contains("last_hidden_state FLOAT[batch_size, sequence_length, 384]");
        List<String> keptVersions = new ArrayList<>();
        body.get("kept").forEach(k -> keptVersions.add(k.get("version").asText()));
        assertThat(keptVersions).containsExactly("v1", "v2");
        assertThat(body.get("leases").asInt()).isZero();

        JsonNode empty = get("/v1/models/empty").json();
        assertThat(empty.get("active").isNull()).isTrue();
        assertThat(empty.get("kept")).isEmpty();

        Reply unknown = get("/v1/models/no-such-model");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.error()).contains("unknown model 'no-such-model'").contains("tiny");
    }

    // ---- embed ----

    @Test
    @Order(1)
    void embedsTextsWithTheModelsTokenizer() {
        List<String> texts = List.of("A man is eating food.", "A man is eating a piece of bread.",
                "The girl is carrying a baby.");
        Reply r = post("/v1/models/" + MINILM + "/embed", Map.of("texts", texts));
        assertThat(r.status()).isEqualTo(200);
        JsonNode body = r.json();
        assertThat(body.get("model").asText()).isEqualTo(MINILM);
        assertThat(body.get("version").asText()).isEqualTo("v1");
        assertThat(body.get("dimension").asInt()).isEqualTo(384);
        JsonNode embeddings = body.get("embeddings");
        assertThat(embeddings).hasSize(3);
        float[][] got = new float[3][];
        for (int i = 0; i < 3; i++) {
            got[i] = vector(embeddings.get(i));
            assertThat(got[i]).hasSize(384);
        }
        // the same floats as embedding in process: JSON carries each float exactly
        try (ModelManager.Lease lease = models.manager(MINILM).acquire()) {
            float[][] direct = lease.model().embedder().orElseThrow().embed(texts);
            for (int i = 0; i < 3; i++) {
                assertThat(got[i]).containsExactly(direct[i]);
            }
        }
        assertThat(TextEmbedder.cosine(got[0], got[0])).isCloseTo(1.0, within(1e-5));   // L2-normalized
        assertThat(TextEmbedder.cosine(got[0], got[1])).isGreaterThan(TextEmbedder.cosine(got[0], got[2]) + 0.3);
    }

    @Test
    @Order(1)
    void embedRejectsBadRequestsWithAMessage() {
        String embed = "/v1/models/" + MINILM + "/embed";
        Reply malformed = post(embed, "{\"texts\": [\"a\",");
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(malformed.error()).startsWith("malformed JSON");
        assertThat(post(embed, "{\"texts\": [\"a\"]} trailing").error()).startsWith("malformed JSON");
        Reply deep = post(embed, "{\"texts\": " + "[".repeat(200) + "]".repeat(200) + "}");
        assertThat(deep.status()).isEqualTo(400);
        assertThat(deep.error()).startsWith("malformed JSON").contains("nesting depth");
        Reply empty = post(embed, "");
        assertThat(empty.status()).isEqualTo(400);
        assertThat(empty.error()).contains("empty");
        Reply array = post(embed, "[\"a\"]");
        assertThat(array.status()).isEqualTo(400);
        assertThat(array.error()).contains("expected a JSON object").contains("array");
        Reply missing = post(embed, "{}");
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.error()).contains("'texts' must be an array of strings");
        Reply typo = post(embed, "{\"text\": [\"a\"]}");
        assertThat(typo.status()).isEqualTo(400);
        assertThat(typo.error()).contains("unknown field 'text'");
        Reply notStrings = post(embed, "{\"texts\": [\"a\", 3]}");
        assertThat(notStrings.status()).isEqualTo(400);
        assertThat(notStrings.error()).contains("texts[1] must be a string").contains("number");
        Reply none = post(embed, "{\"texts\": []}");
        assertThat(none.status()).isEqualTo(400);
        assertThat(none.error()).contains("'texts' is empty");
        Reply tooMany = post(embed, Map.of("texts", Collections.nCopies(257, "x")));
        assertThat(tooMany.status()).isEqualTo(413);
        assertThat(tooMany.error()).contains("257 texts").contains("at most 256");
        Reply unknown = post("/v1/models/nope/embed", Map.of("texts", List.of("a")));
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.error()).contains("unknown model 'nope'");
        Reply notText = post("/v1/models/tiny/embed", Map.of("texts", List.of("a")));
        assertThat(notText.status()).isEqualTo(400);
        assertThat(notText.error()).contains("not a text model");
        Reply nothingServing = post("/v1/models/empty/embed", Map.of("texts", List.of("a")));
        assertThat(nothingServing.status()).isEqualTo(503);
        assertThat(nothingServing.error()).contains("'empty' has no version serving");
    }

    @Test
    @Order(1)
    void oversizedBodiesAreRefusedWith413() {
        String embed = "/v1/models/" + MINILM + "/embed";
        String big = "{\"texts\": [\"" + "a".repeat((1 << 20) + 10) + "\"]}";
        Reply declared = post(embed, big);   // Content-Length over the limit
        assertThat(declared.status()).isEqualTo(413);
        assertThat(declared.error()).contains("the limit is 1048576 bytes");
        // chunked: no declared length, refused once more than the limit arrived
        byte[] bytes = big.getBytes(StandardCharsets.UTF_8);
        Reply chunked = send(HttpRequest.newBuilder(base.resolve(embed))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes))));
        assertThat(chunked.status()).isEqualTo(413);
        assertThat(chunked.error()).contains("over the limit of 1048576 bytes");
        // and the server still answers afterwards
        assertThat(post(embed, Map.of("texts", List.of("still here"))).status()).isEqualTo(200);
    }

    // ---- infer ----

    private static Map<String, Object> tensor(List<?> shape, String dtype, List<?> data) {
        return Map.of("shape", shape, "dtype", dtype, "data", data);
    }

    @Test
    @Order(1)
    void infersNamedTensors() {
        // tiny version 1: every weight 1, so y[j] = x0 + x1 + x2 + bias[j]
        Reply r = post("/v1/models/tiny/infer", Map.of("inputs", Map.of(
                "x", tensor(List.of(2, 3), "float32", List.of(1, 2, 3, 0.5, 0.25, 0.125)),
                "bias", tensor(List.of(2, 4), "float32", List.of(0, 1, 2, 3, 0, 0, 0, -1)))));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode body = r.json();
        assertThat(body.get("model").asText()).isEqualTo("tiny");
        assertThat(body.get("version").asText()).isEqualTo("1");
        JsonNode y = body.get("outputs").get("y");
        assertThat(y.get("dtype").asText()).isEqualTo("float32");
        assertThat(y.get("shape").toString()).isEqualTo("[2,4]");
        assertThat(vector(y.get("data"))).containsExactly(6, 7, 8, 9, 0.875f, 0.875f, 0.875f, -0.125f);

        // the real model with int64 token ids ([CLS] hello world [SEP]), asking for its one output by name
        Reply real = post("/v1/models/" + MINILM + "/infer", Map.of("inputs", Map.of(
                "input_ids", tensor(List.of(1, 4), "int64", List.of(101, 7592, 2088, 102)),
                "attention_mask", tensor(List.of(1, 4), "int64", List.of(1, 1, 1, 1)),
                "token_type_ids", tensor(List.of(1, 4), "int64", List.of(0, 0, 0, 0))),
                "outputs", List.of("last_hidden_state")));
        assertThat(real.status()).as(real.body()).isEqualTo(200);
        JsonNode hidden = real.json().get("outputs").get("last_hidden_state");
        assertThat(hidden.get("shape").toString()).isEqualTo("[1,4,384]");
        assertThat(hidden.get("data")).hasSize(4 * 384);
    }

    @Test
    @Order(1)
    void inferRejectsBadTensorsWithTheModelsMessage() {
        String infer = "/v1/models/tiny/infer";
        Map<String, Object> bias = tensor(List.of(1, 4), "float32", List.of(0, 0, 0, 0));
        Reply wrongDim = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 2), "float32", List.of(1, 2)), "bias", bias)));
        assertThat(wrongDim.status()).isEqualTo(400);
        assertThat(wrongDim.error()).contains("input 'x'").contains("dimension 1 must be 3");
        Reply unknownInput = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 3), "float32", List.of(1, 2, 3)), "bias", bias,
                "z", tensor(List.of(1), "float32", List.of(1)))));
        assertThat(unknownInput.status()).isEqualTo(400);
        assertThat(unknownInput.error()).contains("unknown input 'z'").contains("[x, bias]");
        Reply missing = post(infer, Map.of("inputs", Map.of("x", tensor(List.of(1, 3), "float32", List.of(1, 2, 3)))));
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.error()).contains("missing input [bias]");
        Reply wrongType = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 3), "int64", List.of(1, 2, 3)), "bias", bias)));
        assertThat(wrongType.status()).isEqualTo(400);
        assertThat(wrongType.error()).contains("input 'x'").contains("expects FLOAT");
        Reply count = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 3), "float32", List.of(1, 2)), "bias", bias)));
        assertThat(count.status()).isEqualTo(400);
        assertThat(count.error()).contains("input 'x' has 2 values").contains("needs 3");
        Reply dtype = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 3), "complex128", List.of(1, 2, 3)), "bias", bias)));
        assertThat(dtype.status()).isEqualTo(400);
        assertThat(dtype.error()).contains("dtype 'complex128'").contains("float32");
        Reply notNumber = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 3), "float32", List.of(1, "two", 3)), "bias", bias)));
        assertThat(notNumber.status()).isEqualTo(400);
        assertThat(notNumber.error()).contains("data[1] must be a number");
        Reply negative = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, -3), "float32", List.of(1, 2, 3)), "bias", bias)));
        assertThat(negative.status()).isEqualTo(400);
        assertThat(negative.error()).contains("shape[1] must be a non-negative integer");
        Reply huge = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(100_000, 100_000), "float32", List.of(1)), "bias", bias)));
        assertThat(huge.status()).isEqualTo(413);
        assertThat(huge.error()).contains("the limit per tensor");
        Reply overflow = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(4_000_000_000L), "float32", List.of(1)), "bias", bias)));
        assertThat(overflow.status()).isEqualTo(413);
        Reply unknownOutput = post(infer, Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 3), "float32", List.of(1, 2, 3)), "bias", bias), "outputs", List.of("w")));
        assertThat(unknownOutput.status()).isEqualTo(400);
        assertThat(unknownOutput.error()).contains("unknown output 'w'");
        Reply noInputs = post(infer, "{\"inputs\": {}}");
        assertThat(noInputs.status()).isEqualTo(400);
        assertThat(noInputs.error()).contains("'inputs' must be an object of named tensors");
        Reply badJson = post(infer, "{\"inputs\": ");
        assertThat(badJson.status()).isEqualTo(400);
        assertThat(badJson.error()).startsWith("malformed JSON");
        assertThat(post("/v1/models/nope/infer", "{}").status()).isEqualTo(404);
    }

    // ---- routes, metrics ----

    @Test
    @Order(1)
    void unknownRoutesAndWrongMethodsAreJsonErrors() {
        Reply notFound = get("/v2/whatever");
        assertThat(notFound.status()).isEqualTo(404);
        assertThat(notFound.error()).contains("no route GET /v2/whatever");
        Reply wrongMethod = get("/v1/models/tiny/embed");
        assertThat(wrongMethod.status()).isEqualTo(405);
        assertThat(wrongMethod.error()).contains("GET is not allowed");
        Reply deep = post("/v1/models/tiny/versions/1/activate/now", "");
        assertThat(deep.status()).isEqualTo(404);
    }

    @Test
    @Order(2)
    void metricsExposeRequestLatencyAndTheServingVersions() {
        get("/healthz");
        post("/v1/models/" + MINILM + "/embed", Map.of("texts", List.of("counted")));
        get("/v2/nothing");
        Reply r = get("/metrics");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.contentType()).isEqualTo(ServingMetrics.CONTENT_TYPE);
        ServingMetricsTest.Exposition e = ServingMetricsTest.parse(r.body());
        ServingMetricsTest.checkHistogram(e, "weightstream_http_request_seconds");
        assertThat(e.value("weightstream_http_request_seconds_count",
                Map.of("route", HttpApi.ROUTE_EMBED, "status", "200"))).isGreaterThanOrEqualTo(1);
        assertThat(e.value("weightstream_http_request_seconds_count",
                Map.of("route", HttpApi.ROUTE_HEALTH, "status", "200"))).isGreaterThanOrEqualTo(1);
        assertThat(e.value("weightstream_http_request_seconds_count",
                Map.of("route", HttpApi.ROUTE_UNMATCHED, "status", "404"))).isGreaterThanOrEqualTo(1);
        assertThat(e.named("weightstream_model_serving").stream()
                .anyMatch(s -> s.labels().equals(Map.of("model", "tiny", "version", "1")))).isTrue();
        assertThat(metrics.requests(HttpApi.ROUTE_EMBED, 200)).isGreaterThanOrEqualTo(1);
    }

    // ---- admin ----

    @Test
    @Order(3)
    void activationNeedsTheAdminToken() {
        Reply none = activate("tiny", "2", null);
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.error()).contains("Authorization: Bearer");
        Reply wrong = activate("tiny", "2", "Bearer not-the-token");
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.error()).contains("wrong admin token");
        Reply basic = activate("tiny", "2", "Basic " + TOKEN);
        assertThat(basic.status()).isEqualTo(401);
        assertThat(models.manager("tiny").current().orElseThrow().version()).isEqualTo("1");

        ServingModels others = new ServingModels();
        try (HttpApi noAdmin = HttpApi.start("127.0.0.1", 0, others, new ServingFixtures.KeptVersions(others),
                new ServingMetrics(), null, () -> true)) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + noAdmin.port()
                    + "/v1/models/tiny/versions/2/activate")).header("Authorization", "Bearer " + TOKEN)
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(403);
            assertThat(r.body()).contains("admin endpoints are disabled");
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        } finally {
            others.close();
        }
    }

    @Test
    @Order(4)
    void activationRollsBackAndForward() throws InterruptedException {
        ServedModel v1;
        try (ModelManager.Lease lease = models.manager("tiny").acquire()) {
            v1 = lease.model();
        }
        Reply forward = activate("tiny", "3", "Bearer " + TOKEN);
        assertThat(forward.status()).as(forward.body()).isEqualTo(200);
        assertThat(forward.json().get("version").asText()).isEqualTo("3");
        assertThat(forward.json().get("active").get("servingSinceMs").asLong()).isPositive();
        assertThat(models.manager("tiny").current().orElseThrow().version()).isEqualTo("3");
        assertThat(models.awaitRetired(Duration.ofSeconds(30))).isTrue();
        assertThatThrownBy(() -> ServingFixtures.whichVersion(v1)).isInstanceOf(IllegalStateException.class);
        Reply y = post("/v1/models/tiny/infer", Map.of("inputs", Map.of(
                "x", tensor(List.of(1, 3), "float32", List.of(1, 0, 0)),
                "bias", tensor(List.of(1, 4), "float32", List.of(0, 0, 0, 0)))));
        assertThat(y.json().get("version").asText()).isEqualTo("3");
        assertThat(vector(y.json().get("outputs").get("y").get("data"))).containsOnly(3f);

        Reply back = activate("tiny", "1", "bearer " + TOKEN);   // the scheme is case-insensitive
        assertThat(back.status()).isEqualTo(200);
        assertThat(models.manager("tiny").current().orElseThrow().version()).isEqualTo("1");

        Reply unknownVersion = activate("tiny", "9", "Bearer " + TOKEN);
        assertThat(unknownVersion.status()).isEqualTo(404);
        assertThat(unknownVersion.error()).contains("no version '9'");
        Reply unknownModel = activate("nope", "1", "Bearer " + TOKEN);
        assertThat(unknownModel.status()).isEqualTo(404);
        assertThat(unknownModel.error()).contains("'nope'");
        assertThat(models.manager("tiny").current().orElseThrow().version()).isEqualTo("1");
    }

    // ---- a swap in the middle of a burst ----

    @Test
    @Order(5)
    void aSwapDuringABurstOfConcurrentRequestsFailsNone() throws Exception {
        List<String> sentences = RealTexts.paragraphs(40).stream()
                .map(p -> p.split("(?<=\\.) ")[0])
                .toList();
        String embed = "/v1/models/" + MINILM + "/embed";
        // steady state, one request at a time: one sentence per request
        List<long[]> sequential = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            long t0 = System.nanoTime();
            Reply r = post(embed, Map.of("texts", List.of(sentences.get(i % sentences.size()))));
            sequential.add(new long[] {t0, System.nanoTime() - t0, r.status()});
            assertThat(r.status()).isEqualTo(200);
        }

        ServedModel old;
        try (ModelManager.Lease lease = models.manager(MINILM).acquire()) {
            old = lease.model();
        }
        int threads = 4;
        int perThread = 75;
        List<long[]> timings = Collections.synchronizedList(new ArrayList<>());   // start, latency, status
        Set<String> versions = Collections.synchronizedSet(new HashSet<>());
        AtomicInteger done = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        long[] window = new long[3];   // load starts, swap starts, swap returned
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < perThread; i++) {
                        String text = sentences.get((thread * perThread + i) % sentences.size());
                        long t0 = System.nanoTime();
                        Reply r = post(embed, Map.of("texts", List.of(text)));
                        timings.add(new long[] {t0, System.nanoTime() - t0, r.status()});
                        if (r.status() == 200) {
                            versions.add(r.json().get("version").asText());
                        }
                        done.incrementAndGet();
                    }
                    return null;
                }));
            }
            go.countDown();
            while (done.get() < threads * perThread / 3) {
                Thread.sleep(5);
            }
            // what the decoder does: load and warm the next version while serving, then swap it in
            window[0] = System.nanoTime();
            ServedModel next = ServingFixtures.minilm(MINILM, "v2");
            window[1] = System.nanoTime();
            ServedModel.Info info = models.swap(next);
            window[2] = System.nanoTime();
            assertThat(info.version()).isEqualTo("v2");
            for (Future<?> f : futures) {
                f.get(300, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }

        assertThat(timings).hasSize(threads * perThread);
        assertThat(timings.stream().filter(t -> t[2] != 200).count()).as("failed requests").isZero();
        assertThat(versions).containsExactlyInAnyOrder("v1", "v2");   // the swap happened mid-burst
        assertThat(models.manager(MINILM).current().orElseThrow().version()).isEqualTo("v2");
        // the old version was closed once its last request finished
        assertThat(models.awaitRetired(Duration.ofSeconds(60))).isTrue();
        assertThatThrownBy(() -> old.embedder().orElseThrow().embed("late")).isInstanceOf(IllegalStateException.class);
        assertThat(models.manager(MINILM).leasesInFlight()).isZero();

        // figures for the report (no timing assertions: the machine is shared)
        long[] steady = timings.stream().filter(t -> t[0] + t[1] < window[0]).mapToLong(t -> t[1]).sorted().toArray();
        long[] loading = inFlight(timings, window[0], window[1]);
        long swapEnd = window[2] + 500_000_000L;   // the swap, and the old version's close in the background
        long[] swapping = inFlight(timings, window[1], swapEnd);
        long[] after = timings.stream().filter(t -> t[0] > swapEnd).mapToLong(t -> t[1]).sorted().toArray();
        long[] single = sequential.stream().mapToLong(t -> t[1]).sorted().toArray();
        System.out.printf("HttpApiTest /embed one sentence, one request at a time: %s%n", summary(single));
        System.out.printf("HttpApiTest /embed %d threads, steady state before: %s%n", threads, summary(steady));
        System.out.printf("HttpApiTest /embed %d threads, while the next version loads and warms up (%.0f ms): %s%n",
                threads, (window[1] - window[0]) / 1e6, summary(loading));
        System.out.printf("HttpApiTest /embed %d threads, swap + 500 ms: %s%n", threads, summary(swapping));
        System.out.printf("HttpApiTest /embed %d threads, after: %s%n", threads, summary(after));
    }

    private static long[] inFlight(List<long[]> timings, long from, long to) {
        return timings.stream().filter(t -> t[0] < to && t[0] + t[1] > from).mapToLong(t -> t[1]).sorted().toArray();
    }

    private static String summary(long[] sorted) {
        return String.format(java.util.Locale.ROOT, "n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms", sorted.length,
                ms(sorted, 50), ms(sorted, 99), ms(sorted, 100));
    }

    /** Nearest-rank percentile of sorted nanoseconds, in milliseconds. */
    private static double ms(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length, rank) - 1)] / 1e6;
    }

    @Test
    void limitsAreChecked() {
        assertThatThrownBy(() -> new HttpApi.Limits(0, 1, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxBodyBytes");
        assertThatThrownBy(() -> new HttpApi.Limits(1, 0, 1)).hasMessageContaining("maxTexts");
        assertThatThrownBy(() -> HttpApi.start("127.0.0.1", 70000, models, kept, metrics, TOKEN, () -> true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port");
        assertThatThrownBy(() -> HttpApi.start("127.0.0.1", api.port(), models, kept, metrics, TOKEN, () -> true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("cannot start the HTTP API");
        assertThat(get("/healthz").status()).isEqualTo(200);   // the running one is unharmed
    }
}
