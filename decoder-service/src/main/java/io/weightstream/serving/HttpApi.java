package io.weightstream.serving;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API of a serving replica, on Javalin (Jetty): JSON in and out, errors as {@code {"error": "..."}}.
 *
 * <table>
 *   <caption>Routes</caption>
 *   <tr><td>{@code GET /v1/models}</td><td>the models of this replica and the version each serves</td></tr>
 *   <tr><td>{@code GET /v1/models/{name}}</td><td>the active version (sizes, ratio, tensors per method), its inputs
 *       and outputs, and the versions kept for rollback</td></tr>
 *   <tr><td>{@code POST /v1/models/{name}/embed}</td><td>{@code {"texts": ["..."]}} to {@code {"model", "version",
 *       "dimension", "embeddings": [[...]]}} with the model's own tokenizer</td></tr>
 *   <tr><td>{@code POST /v1/models/{name}/infer}</td><td>{@code {"inputs": {"x": {"shape": [1, 3], "dtype":
 *       "float32", "data": [...]}}, "outputs": ["y"]}} ({@code outputs} optional) to {@code {"model", "version",
 *       "outputs": {"y": {"shape", "dtype", "data"}}}}; dtypes float32, float64, int64, int32, int16, int8, uint8,
 *       bool, with {@code data} flat in row-major order</td></tr>
 *   <tr><td>{@code POST /v1/models/{name}/versions/{v}/activate}</td><td>admin: roll back or forward to a kept
 *       version; needs {@code Authorization: Bearer <admin token>}</td></tr>
 *   <tr><td>{@code GET /metrics}</td><td>Prometheus text format 0.0.4 ({@link ServingMetrics})</td></tr>
 *   <tr><td>{@code GET /healthz}, {@code GET /readyz}</td><td>200 while the process runs; 200 when ready, else
 *       503</td></tr>
 * </table>
 *
 * <p>Every model request holds a {@link ModelManager.Lease} from before it reads the model until its answer is
 * built, so a swap in the middle never fails it: it finishes on the version it started with. Statuses: 400 for bad
 * JSON, fields, names, shapes or dtypes; 401 for a missing or wrong admin token; 403 for admin calls when no token
 * is configured; 404 for unknown routes, models and versions; 405 for a wrong method; 413 for bodies, batches or
 * tensors over the {@link Limits}; 503 when the model has nothing serving yet or the replica is not ready.
 * Every request's latency is recorded in {@link ServingMetrics} by route template and status.
 *
 * <pre>{@code
 * try (HttpApi api = HttpApi.start("127.0.0.1", 8080, models, activator, metrics, adminToken, () -> caughtUp)) {
 *     // curl -s localhost:8080/v1/models/all-minilm-l6-v2/embed -d '{"texts": ["A man is eating food."]}'
 * }
 * }</pre>
 */
public final class HttpApi implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);

    /** Route templates, also the {@code route} label of the request metrics. */
    public static final String ROUTE_MODELS = "/v1/models";
    public static final String ROUTE_MODEL = "/v1/models/{name}";
    public static final String ROUTE_EMBED = "/v1/models/{name}/embed";
    public static final String ROUTE_INFER = "/v1/models/{name}/infer";
    public static final String ROUTE_ACTIVATE = "/v1/models/{name}/versions/{version}/activate";
    public static final String ROUTE_METRICS = "/metrics";
    public static final String ROUTE_HEALTH = "/healthz";
    public static final String ROUTE_READY = "/readyz";
    /** The route label of requests that matched no route (404) or a route with another method (405). */
    public static final String ROUTE_UNMATCHED = "unmatched";

    private static final String JSON = "application/json";
    private static final String START_NANOS = "weightstream.startNanos";
    private static final int MAX_RANK = 8;
    private static final ObjectMapper WRITER = new ObjectMapper();

    /**
     * Request limits, checked before anything is allocated for the request.
     *
     * @param maxBodyBytes the largest request body (413 above)
     * @param maxTexts the most texts one {@code /embed} request may carry (413 above)
     * @param maxTensorElements the most elements of one {@code /infer} input tensor (413 above)
     */
    public record Limits(long maxBodyBytes, int maxTexts, long maxTensorElements) {
        /** 1 MiB bodies, 256 texts, 4 Mi elements per tensor. */
        public static final Limits DEFAULT = new Limits(1L << 20, 256, 1L << 22);

        public Limits {
            if (maxBodyBytes < 1 || maxBodyBytes > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("maxBodyBytes must be in [1, 2^31 - 9], got " + maxBodyBytes);
            }
            if (maxTexts < 1) {
                throw new IllegalArgumentException("maxTexts must be at least 1, got " + maxTexts);
            }
            if (maxTensorElements < 1) {
                throw new IllegalArgumentException("maxTensorElements must be at least 1, got " + maxTensorElements);
            }
        }
    }

    private final Javalin app;
    private final ServingModels models;
    private final VersionActivator activator;
    private final ServingMetrics metrics;
    private final byte[] adminToken;
    private final BooleanSupplier ready;
    private final Limits limits;
    private final ObjectMapper mapper;
    private final AtomicBoolean closed = new AtomicBoolean();

    private HttpApi(ServingModels models, VersionActivator activator, ServingMetrics metrics, String adminToken,
            BooleanSupplier ready, Limits limits) {
        this.models = models;
        this.activator = activator;
        this.metrics = metrics;
        this.adminToken = adminToken == null || adminToken.isBlank() ? null : adminToken.getBytes(StandardCharsets.UTF_8);
        this.ready = ready;
        this.limits = limits;
        this.mapper = JsonMapper.builder()
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .build();
        // numbers and strings of a body under the size limit are never a problem; nesting is (stack depth)
        mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
        this.app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.startupWatcherEnabled = false;
            config.http.prefer405over404 = true;
            config.http.defaultContentType = JSON;
            // bodies are read by readBody with our own limit; Javalin's must not be the smaller one
            config.http.maxRequestSize = limits.maxBodyBytes();
        });
        app.before(ctx -> ctx.attribute(START_NANOS, System.nanoTime()));
        app.exception(HttpResponseException.class, (e, ctx) -> {
            // Javalin's own 404 (no such route) and 405 (wrong method)
            String message = e.getStatus() == 404 ? "no route " + ctx.method() + " " + ctx.path()
                    : e.getStatus() == 405 ? "method " + ctx.method() + " is not allowed on " + ctx.path()
                    : e.getMessage();
            writeJson(ctx, e.getStatus(), error(message));
            Long start = ctx.attribute(START_NANOS);
            metrics.request(ROUTE_UNMATCHED, e.getStatus(), start == null ? 0 : (System.nanoTime() - start) / 1e9);
        });
        route("GET", ROUTE_HEALTH, ctx -> Reply.json(200, Map.of("status", "ok")));
        route("GET", ROUTE_READY, this::readyz);
        route("GET", ROUTE_METRICS, ctx -> new Reply(200, ServingMetrics.CONTENT_TYPE,
                metrics.scrape(models).getBytes(StandardCharsets.UTF_8)));
        route("GET", ROUTE_MODELS, ctx -> listModels());
        route("GET", ROUTE_MODEL, ctx -> describeModel(ctx.pathParam("name")));
        route("POST", ROUTE_EMBED, this::embed);
        route("POST", ROUTE_INFER, this::infer);
        route("POST", ROUTE_ACTIVATE, this::activate);
    }

    /** Starts the API with {@link Limits#DEFAULT}. */
    public static HttpApi start(String host, int port, ServingModels models, VersionActivator activator,
            ServingMetrics metrics, String adminToken, BooleanSupplier ready) {
        return start(host, port, models, activator, metrics, adminToken, ready, Limits.DEFAULT);
    }

    /**
     * Starts the API on {@code host:port}.
     *
     * @param host the address to bind, e.g. {@code 127.0.0.1} (only this machine) or {@code 0.0.0.0}
     * @param port the port, 0 for a free one (see {@link #port()})
     * @param adminToken the bearer token of the admin endpoints; {@code null} or blank disables them (403)
     * @param ready whether the replica is ready for traffic ({@code /readyz})
     * @throws IllegalArgumentException for a port outside [0, 65535]
     * @throws IllegalStateException when the server cannot bind
     */
    public static HttpApi start(String host, int port, ServingModels models, VersionActivator activator,
            ServingMetrics metrics, String adminToken, BooleanSupplier ready, Limits limits) {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(models, "models");
        Objects.requireNonNull(activator, "activator");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(ready, "ready");
        Objects.requireNonNull(limits, "limits");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        HttpApi api = new HttpApi(models, activator, metrics, adminToken, ready, limits);
        try {
            api.app.start(host, port);
        } catch (RuntimeException e) {
            api.app.stop();
            throw new IllegalStateException("cannot start the HTTP API on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        LOG.info("HTTP API listening on {}:{} (admin endpoints {})", host, api.port(),
                api.adminToken == null ? "disabled" : "enabled");
        return api;
    }

    /** The port the server listens on (the chosen one when started with port 0). */
    public int port() {
        return app.port();
    }

    /** Stops accepting requests and stops the server. Idempotent. The models stay open (their owner closes them). */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            app.stop();
        }
    }

    // ---- routes ----

    private Reply readyz(Context ctx) {
        boolean isReady;
        try {
            isReady = ready.getAsBoolean();
        } catch (RuntimeException e) {
            return Reply.json(503, error("not ready: the readiness check failed: " + e.getMessage()));
        }
        return isReady ? Reply.json(200, Map.of("status", "ready"))
                : Reply.json(503, error("not ready: this replica is still starting or catching up"));
    }

    private Reply listModels() {
        List<Map<String, Object>> list = new ArrayList<>();
        for (String name : models.models()) {
            models.find(name).ifPresent(m -> {
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("name", name);
                Optional<ServedModel.Info> info = m.current();
                entry.put("version", info.map(ServedModel.Info::version).orElse(null));
                entry.put("servingSinceMs", info.map(ServedModel.Info::servingSinceMs).orElse(null));
                entry.put("ratio", info.map(ServedModel.Info::ratio).orElse(null));
                list.add(entry);
            });
        }
        return Reply.json(200, Map.of("models", list));
    }

    private Reply describeModel(String name) {
        Optional<ModelManager> manager = models.find(name);
        List<ServedModel.Info> kept = keptVersions(name);
        if (manager.isEmpty() && kept.isEmpty()) {
            throw unknownModel(name);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        Map<String, Object> active = null;
        if (manager.isPresent()) {
            try (ModelManager.Lease lease = manager.get().acquire()) {
                active = infoJson(lease.info());
                OnnxModel onnx = lease.model().onnx();
                active.put("inputs", onnx.inputs().stream().map(OnnxModel.Port::toString).toList());
                active.put("outputs", onnx.outputs().stream().map(OnnxModel.Port::toString).toList());
                active.put("embeddingDimension", lease.model().embedder().map(TextEmbedder::dimension).orElse(null));
            } catch (NoModelServingException e) {
                active = null;   // known here, nothing serving yet
            }
        }
        body.put("active", active);
        body.put("kept", kept.stream().map(HttpApi::infoJson).toList());
        body.put("leases", manager.map(ModelManager::leasesInFlight).orElse(0));
        body.put("swaps", manager.map(ModelManager::swaps).orElse(0L));
        return Reply.json(200, body);
    }

    private List<ServedModel.Info> keptVersions(String name) {
        try {
            List<ServedModel.Info> kept = activator.keptVersions(name);
            return kept == null ? List.of() : kept;
        } catch (NoSuchElementException e) {
            return List.of();
        }
    }

    private Reply embed(Context ctx) {
        String name = ctx.pathParam("name");
        ModelManager manager = models.find(name).orElseThrow(() -> unknownModel(name));
        JsonNode body = readJson(ctx);
        List<String> texts = parseTexts(body);
        try (ModelManager.Lease lease = manager.acquire()) {
            ServedModel served = lease.model();
            TextEmbedder embedder = served.embedder().orElseThrow(() -> new ApiError(400, "model '" + name
                    + "' version " + served.version() + " is not a text model; use " + ROUTE_INFER));
            float[][] vectors = embedder.embed(texts);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", name);
            out.put("version", served.version());
            out.put("dimension", embedder.dimension());
            out.put("embeddings", vectors);
            return Reply.json(200, out);
        }
    }

    private List<String> parseTexts(JsonNode body) {
        if (!body.isObject()) {
            throw new ApiError(400, "expected a JSON object {\"texts\": [\"...\"]}, got " + kind(body));
        }
        checkFields(body, List.of("texts"));
        JsonNode texts = body.get("texts");
        if (texts == null || !texts.isArray()) {
            throw new ApiError(400, "field 'texts' must be an array of strings, got " + kind(texts));
        }
        if (texts.isEmpty()) {
            throw new ApiError(400, "field 'texts' is empty; give 1 to " + limits.maxTexts() + " texts");
        }
        if (texts.size() > limits.maxTexts()) {
            throw new ApiError(413, "field 'texts' holds " + texts.size() + " texts; at most " + limits.maxTexts()
                    + " per request");
        }
        List<String> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            JsonNode t = texts.get(i);
            if (!t.isTextual()) {
                throw new ApiError(400, "texts[" + i + "] must be a string, got " + kind(t));
            }
            out.add(t.textValue());
        }
        return out;
    }

    private Reply infer(Context ctx) {
        String name = ctx.pathParam("name");
        ModelManager manager = models.find(name).orElseThrow(() -> unknownModel(name));
        JsonNode body = readJson(ctx);
        if (!body.isObject()) {
            throw new ApiError(400, "expected a JSON object {\"inputs\": {...}}, got " + kind(body));
        }
        checkFields(body, List.of("inputs", "outputs"));
        JsonNode inputsNode = body.get("inputs");
        if (inputsNode == null || !inputsNode.isObject() || inputsNode.isEmpty()) {
            throw new ApiError(400, "field 'inputs' must be an object of named tensors"
                    + " {\"name\": {\"shape\": [...], \"dtype\": \"float32\", \"data\": [...]}}, got " + kind(inputsNode));
        }
        Map<String, Object> inputs = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = inputsNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            inputs.put(e.getKey(), InferTensors.parse(e.getKey(), e.getValue(), limits.maxTensorElements(), MAX_RANK));
        }
        List<String> requested = null;
        JsonNode outputsNode = body.get("outputs");
        if (outputsNode != null && !outputsNode.isNull()) {
            if (!outputsNode.isArray() || outputsNode.isEmpty()) {
                throw new ApiError(400, "field 'outputs' must be a non-empty array of output names, got "
                        + kind(outputsNode));
            }
            requested = new ArrayList<>();
            for (JsonNode o : outputsNode) {
                if (!o.isTextual()) {
                    throw new ApiError(400, "field 'outputs' must hold output names (strings), got " + kind(o));
                }
                requested.add(o.textValue());
            }
        }
        try (ModelManager.Lease lease = manager.acquire()) {
            OnnxModel onnx = lease.model().onnx();
            Map<String, Object> result;
            try {
                result = requested == null ? onnx.run(inputs) : onnx.run(inputs, new LinkedHashSet<>(requested));
            } catch (OnnxModelException e) {
                // the version was loaded and warmed up, so a failing run is down to these inputs' values
                throw new ApiError(400, e.getMessage());
            }
            Map<String, Object> outputs = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : result.entrySet()) {
                OnnxModel.Port port = onnx.outputs().stream().filter(p -> p.name().equals(e.getKey())).findFirst()
                        .orElse(null);
                outputs.put(e.getKey(), InferTensors.toJson(e.getKey(), e.getValue(), port));
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", name);
            out.put("version", lease.info().version());
            out.put("outputs", outputs);
            return Reply.json(200, out);
        }
    }

    private Reply activate(Context ctx) {
        requireAdmin(ctx);
        String name = ctx.pathParam("name");
        String version = ctx.pathParam("version");
        ServedModel.Info info;
        try {
            info = activator.activate(name, version);
        } catch (NoSuchElementException e) {
            throw new ApiError(404, e.getMessage() != null ? e.getMessage()
                    : "model '" + name + "' has no version '" + version + "' kept on this replica");
        } catch (IllegalStateException e) {
            throw new ApiError(500, "version " + version + " of '" + name + "' could not be activated ("
                    + e.getMessage() + "); the previous version keeps serving");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", name);
        out.put("version", info.version());
        out.put("active", infoJson(info));
        return Reply.json(200, out);
    }

    private void requireAdmin(Context ctx) {
        if (adminToken == null) {
            throw new ApiError(403, "admin endpoints are disabled: no admin token is configured on this replica");
        }
        String header = ctx.header("Authorization");
        if (header == null || header.isBlank()) {
            throw new ApiError(401, "admin endpoint: send 'Authorization: Bearer <admin token>'");
        }
        String prefix = "bearer ";
        if (header.length() <= prefix.length() || !header.regionMatches(true, 0, prefix, 0, prefix.length())) {
            throw new ApiError(401, "admin endpoint: the Authorization header must be 'Bearer <admin token>'");
        }
        byte[] given = header.substring(prefix.length()).trim().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(given, adminToken)) {   // constant time: the token is a secret
            throw new ApiError(401, "admin endpoint: wrong admin token");
        }
    }

    // ---- plumbing ----

    private interface Endpoint {
        Reply handle(Context ctx) throws Exception;
    }

    /** A response: status, content type and the body bytes. */
    private record Reply(int status, String contentType, byte[] body) {
        static Reply json(int status, Object body) {
            return new Reply(status, JSON, writeJson(body));
        }
    }

    /** An answer with a 4xx/5xx status and a message saying what is wrong. */
    static final class ApiError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;

        ApiError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private void route(String method, String path, Endpoint endpoint) {
        Handler handler = ctx -> {
            long start = System.nanoTime();
            Reply reply;
            try {
                reply = endpoint.handle(ctx);
            } catch (Exception e) {
                reply = errorReply(method, path, e);
            }
            ctx.status(reply.status()).contentType(reply.contentType()).result(reply.body());
            if (reply.status() == 401) {
                ctx.header("WWW-Authenticate", "Bearer");
            }
            metrics.request(path, reply.status(), (System.nanoTime() - start) / 1e9);
        };
        if (method.equals("GET")) {
            app.get(path, handler);
        } else {
            app.post(path, handler);
        }
    }

    private Reply errorReply(String method, String path, Exception e) {
        int status;
        String message;
        if (e instanceof ApiError a) {
            status = a.status;
            message = a.getMessage();
        } else if (e instanceof NoModelServingException) {
            status = 503;
            message = e.getMessage();
        } else if (e instanceof IllegalArgumentException) {
            status = 400;   // OnnxModel and TextEmbedder name the input, dimension or text that is wrong
            message = e.getMessage();
        } else {
            status = 500;
            message = "internal error: " + e;
            LOG.warn("{} {} failed", method, path, e);
        }
        return Reply.json(status, error(message));
    }

    private static Map<String, String> error(String message) {
        return Map.of("error", message == null ? "unknown error" : message);
    }

    static byte[] writeJson(Object body) {
        try {
            return WRITER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a response as JSON: " + e.getMessage(), e);
        }
    }

    private void writeJson(Context ctx, int status, Object body) {
        ctx.status(status).contentType(JSON).result(writeJson(body));
    }

    private JsonNode readJson(Context ctx) {
        byte[] bytes = readBody(ctx);
        if (bytes.length == 0) {
            throw new ApiError(400, "the request body is empty; expected JSON");
        }
        try {
            JsonNode node = mapper.readTree(bytes);
            if (node == null || node.isMissingNode()) {
                throw new ApiError(400, "the request body holds no JSON value");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new ApiError(400, "malformed JSON: " + e.getOriginalMessage() + locationOf(e));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String locationOf(JsonProcessingException e) {
        return e.getLocation() == null ? ""
                : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }

    /** The body, refused with 413 before it is buffered when it declares or turns out to be over the limit. */
    private byte[] readBody(Context ctx) {
        long max = limits.maxBodyBytes();
        long declared = ctx.req().getContentLengthLong();
        if (declared > max) {
            throw new ApiError(413, "the request body has " + declared + " bytes; the limit is " + max + " bytes");
        }
        try (InputStream in = ctx.req().getInputStream()) {
            byte[] bytes = in.readNBytes((int) max + 1);   // chunked bodies declare no length
            if (bytes.length > max) {
                throw new ApiError(413, "the request body is over the limit of " + max + " bytes");
            }
            return bytes;
        } catch (IOException e) {
            throw new ApiError(400, "cannot read the request body: " + e.getMessage());
        }
    }

    private static void checkFields(JsonNode object, List<String> allowed) {
        for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!allowed.contains(field)) {
                throw new ApiError(400, "unknown field '" + field + "'; expected " + allowed);
            }
        }
    }

    static String kind(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        return node.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    private ApiError unknownModel(String name) {
        return new ApiError(404, "unknown model '" + name + "'; this replica serves " + models.models());
    }

    private static Map<String, Object> infoJson(ServedModel.Info info) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", info.version());
        m.put("file", info.file() == null ? null : info.file().toString());
        m.put("fileBytes", info.fileBytes());
        m.put("encodedBytes", info.encodedBytes());
        m.put("ratio", info.ratio());
        m.put("methods", new TreeMap<>(info.methods()));
        m.put("publishedAtMs", info.publishedAtMs());
        m.put("servingSinceMs", info.servingSinceMs());
        return m;
    }
}
