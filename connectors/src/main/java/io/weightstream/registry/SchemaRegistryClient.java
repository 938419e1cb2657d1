package io.weightstream.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small client of the Confluent Schema Registry REST API, which Confluent Schema Registry, Apicurio Registry
 * ({@code /apis/ccompat/v7}), Karapace and Redpanda all serve.
 *
 * <p>Why our own client: Confluent's client jars ({@code io.confluent:kafka-schema-registry-client},
 * {@code kafka-avro-serializer}) are not on Maven Central (DESIGN.md), and the project needs only this subset
 * of the API: register, look up, get by id, latest version, compatibility level and test. It is built on
 * {@link HttpClient} and Jackson, which the module has anyway.
 *
 * <p>Successful registrations and lookups are cached per subject (schema to id) and ids are cached globally
 * (id to schema), so a serializer or deserializer makes HTTP calls only for the first record of a schema;
 * {@link #requestCount()} counts the calls. Thread-safe.
 *
 * <pre>{@code
 * SchemaRegistryClient registry = SchemaRegistryClient.builder()
 *         .url("http://localhost:8080/apis/ccompat/v7")
 *         .basicAuth("svc-weightstream", password)
 *         .timeout(Duration.ofSeconds(10))
 *         .build();
 * registry.setCompatibility("weightstream.layers-value", CompatibilityLevel.BACKWARD);
 * int id = registry.register("weightstream.layers-value", LayerChunk.getClassSchema());
 * }</pre>
 */
public final class SchemaRegistryClient implements SchemaRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(SchemaRegistryClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final String ACCEPT =
            "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5";
    /** How much of a non-JSON error body (a proxy's HTML page) goes into an exception message. */
    private static final int MAX_BODY_IN_MESSAGE = 300;

    private final List<URI> urls;
    private final HttpClient http;
    private final Duration timeout;
    private final String authorization;
    private final AtomicLong requests = new AtomicLong();
    private final Map<String, Map<Schema, Integer>> idsBySubject = new ConcurrentHashMap<>();
    private final Map<String, Map<Schema, RegisteredSchema>> lookupsBySubject = new ConcurrentHashMap<>();
    private final Map<Integer, Schema> schemasById = new ConcurrentHashMap<>();

    private SchemaRegistryClient(Builder builder, List<URI> urls, SSLContext sslContext) {
        this.urls = List.copyOf(urls);
        this.timeout = builder.timeout;
        this.authorization = builder.user == null ? null : "Basic " + Base64.getEncoder().encodeToString(
                (builder.user + ":" + builder.password).getBytes(StandardCharsets.UTF_8));
        HttpClient.Builder http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER);
        if (sslContext != null) {
            http.sslContext(sslContext);
        }
        this.http = http.build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The base URLs, in the order they are tried. */
    public List<URI> urls() {
        return urls;
    }

    /** Number of HTTP requests this client has sent (attempts, including failed ones). */
    public long requestCount() {
        return requests.get();
    }

    @Override
    public int register(String subject, Schema schema) {
        requireSubject(subject);
        Objects.requireNonNull(schema, "schema");
        Integer cached = idsBySubject.getOrDefault(subject, Map.of()).get(schema);
        if (cached != null) {
            return cached;
        }
        String action = "registering a schema under subject '" + subject + "'";
        Response response = send("POST", subjectPath(subject) + "/versions", schemaBody(schema), action);
        if (response.status == 409) {
            throw error(response, "schema is incompatible with the compatibility level" + levelOf(subject)
                    + " of subject '" + subject + "'", subject, null);
        }
        JsonNode answer = expectOk(response, action, subject, -1);
        int id = intField(response, answer, "id", action, subject);
        cacheId(subject, schema, id);
        return id;
    }

    @Override
    public Optional<RegisteredSchema> lookup(String subject, Schema schema) {
        requireSubject(subject);
        Objects.requireNonNull(schema, "schema");
        RegisteredSchema cached = lookupsBySubject.getOrDefault(subject, Map.of()).get(schema);
        if (cached != null) {
            return Optional.of(cached);
        }
        String action = "looking up a schema under subject '" + subject + "'";
        Response response = send("POST", subjectPath(subject), schemaBody(schema), action);
        if (response.status == 404 && (response.errorCode() == SchemaRegistryException.SUBJECT_NOT_FOUND
                || response.errorCode() == SchemaRegistryException.SCHEMA_NOT_FOUND)) {
            return Optional.empty();
        }
        JsonNode answer = expectOk(response, action, subject, -1);
        RegisteredSchema found = new RegisteredSchema(subject, intField(response, answer, "id", action, subject),
                intField(response, answer, "version", action, subject), schema);
        lookupsBySubject.computeIfAbsent(subject, s -> new ConcurrentHashMap<>()).put(schema, found);
        cacheId(subject, schema, found.id());
        return Optional.of(found);
    }

    @Override
    public Schema schemaById(int id) {
        Schema cached = schemasById.get(id);
        if (cached != null) {
            return cached;
        }
        if (id < 0) {
            throw new IllegalArgumentException("schema id must be >= 0, got " + id);
        }
        String action = "fetching schema id " + id;
        Response response = send("GET", "/schemas/ids/" + id, null, action);
        JsonNode answer = expectOk(response, action, null, id);
        Schema schema = parseSchema(response, answer, action, null);
        schemasById.putIfAbsent(id, schema);
        return schema;
    }

    @Override
    public RegisteredSchema latest(String subject) {
        requireSubject(subject);
        String action = "fetching the latest version of subject '" + subject + "'";
        Response response = send("GET", subjectPath(subject) + "/versions/latest", null, action);
        JsonNode answer = expectOk(response, action, subject, -1);
        int id = intField(response, answer, "id", action, subject);
        Schema schema = schemasById.computeIfAbsent(id, i -> parseSchema(response, answer, action, subject));
        return new RegisteredSchema(subject, id, intField(response, answer, "version", action, subject), schema);
    }

    @Override
    public void setCompatibility(String subject, CompatibilityLevel level) {
        requireSubject(subject);
        Objects.requireNonNull(level, "level");
        String action = "setting the compatibility level of subject '" + subject + "' to " + level;
        ObjectNode body = JSON.createObjectNode().put("compatibility", level.name());
        expectOk(send("PUT", "/config/" + encode(subject), body, action), action, subject, -1);
    }

    @Override
    public CompatibilityLevel compatibility(String subject) {
        requireSubject(subject);
        String action = "fetching the compatibility level of subject '" + subject + "'";
        Response response = send("GET", "/config/" + encode(subject) + "?defaultToGlobal=true", null, action);
        JsonNode answer = expectOk(response, action, subject, -1);
        // GET answers compatibilityLevel; some registries (and PUT) answer compatibility
        String level = answer.path("compatibilityLevel").asText(answer.path("compatibility").asText(""));
        try {
            return CompatibilityLevel.valueOf(level);
        } catch (IllegalArgumentException e) {
            throw error(response, action + ": unknown compatibility level '" + level + "'", subject, null);
        }
    }

    @Override
    public CompatibilityResult testCompatibility(String subject, Schema schema) {
        requireSubject(subject);
        Objects.requireNonNull(schema, "schema");
        String action = "testing a schema's compatibility with subject '" + subject + "'";
        Response response = send("POST", "/compatibility" + subjectPath(subject) + "/versions/latest?verbose=true",
                schemaBody(schema), action);
        if (response.status == 404 && (response.errorCode() == SchemaRegistryException.SUBJECT_NOT_FOUND
                || response.errorCode() == SchemaRegistryException.VERSION_NOT_FOUND)) {
            return new CompatibilityResult(true, List.of("subject '" + subject + "' has no versions yet"));
        }
        JsonNode answer = expectOk(response, action, subject, -1);
        JsonNode compatible = answer.get("is_compatible");
        if (compatible == null || !compatible.isBoolean()) {
            throw error(response, action + ": the answer has no boolean is_compatible", subject, null);
        }
        List<String> messages = new ArrayList<>();
        answer.path("messages").forEach(m -> messages.add(m.asText()));
        return new CompatibilityResult(compatible.booleanValue(), messages);
    }

    @Override
    public String toString() {
        return "SchemaRegistryClient" + urls;
    }

    // ---------------------------------------------------------------- HTTP

    private record Response(int status, String body, JsonNode json, URI url, String method) {
        int errorCode() {
            return json.path("error_code").asInt(0);
        }

        /** The registry's own words: its message field, else the start of the body. */
        String registryMessage() {
            String message = json.path("message").asText("");
            if (!message.isEmpty()) {
                return message;
            }
            return body.length() > MAX_BODY_IN_MESSAGE ? body.substring(0, MAX_BODY_IN_MESSAGE) + "..." : body;
        }
    }

    /** Sends one request, trying the URLs in order while they are unreachable. */
    private Response send(String method, String path, JsonNode body, String action) {
        IOException lastFailure = null;
        URI url = null;
        for (URI base : urls) {
            url = URI.create(base + path);
            HttpRequest.Builder request = HttpRequest.newBuilder(url)
                    .timeout(timeout)
                    .header("Accept", ACCEPT);
            if (authorization != null) {
                request.header("Authorization", authorization);
            }
            if (body != null) {
                request.header("Content-Type", CONTENT_TYPE)
                        .method(method, HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8));
            } else {
                request.method(method, HttpRequest.BodyPublishers.noBody());
            }
            requests.incrementAndGet();
            try {
                HttpResponse<String> response = http.send(request.build(),
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                return new Response(response.statusCode(), response.body(), parseJson(response.body()), url, method);
            } catch (IOException e) {
                lastFailure = e;
                LOG.debug("schema registry at {} failed while {}: {}", url, action, e.toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SchemaRegistryException("interrupted while " + action + " at " + url, 0, 0,
                        url.toString(), null, e);
            }
        }
        String where = urls.size() == 1 ? url.toString() : "any of " + urls + " (last tried " + url + ")";
        String what;
        String check;
        if (lastFailure instanceof HttpTimeoutException) {
            what = "schema registry did not answer within " + timeout.toMillis() + " ms at " + where;
            check = RegistryOptions.URL.key() + " and " + RegistryOptions.TIMEOUT_MS.key();
        } else if (lastFailure instanceof SSLException) {
            what = "TLS handshake with the schema registry failed at " + where;
            check = "registry.tls.truststore.* and registry.tls.keystore.*";
        } else {
            what = "schema registry unreachable at " + where;
            check = RegistryOptions.URL.key();
        }
        String cause = lastFailure instanceof ConnectException && lastFailure.getMessage() == null
                ? "connection refused" : String.valueOf(lastFailure);
        throw new SchemaRegistryException(what + " while " + action + ": " + cause + " (check " + check + ")", 0, 0,
                url.toString(), null, lastFailure);
    }

    private static JsonNode parseJson(String body) {
        if (body == null || body.isBlank()) {
            return NullNode.getInstance();
        }
        try {
            return JSON.readTree(body);
        } catch (JsonProcessingException e) {
            return NullNode.getInstance(); // a proxy's error page: the raw body goes into the message
        }
    }

    /** The JSON answer of a 2xx response, else the exception that explains the failure. */
    private JsonNode expectOk(Response response, String action, String subject, int schemaId) {
        if (response.status / 100 == 2 && response.json.isObject()) {
            return response.json;
        }
        if (response.status / 100 == 2) {
            throw error(response, action + ": the registry's answer is not a JSON object", subject, null);
        }
        String detail;
        int code = response.errorCode();
        if (response.status == 404 && code == SchemaRegistryException.SCHEMA_NOT_FOUND && schemaId >= 0) {
            detail = "schema id " + schemaId + " not found at " + response.url;
        } else if (response.status == 404 && code == SchemaRegistryException.SUBJECT_NOT_FOUND) {
            detail = "subject '" + subject + "' not found at " + response.url + " (while " + action + ")";
        } else if (response.status == 401 || response.status == 403) {
            detail = action + ": not authorized by the registry at " + response.url + "; check "
                    + RegistryOptions.BASIC_AUTH_USER.key() + " and " + RegistryOptions.BASIC_AUTH_PASSWORD.key();
        } else if (response.status == 422) {
            detail = action + ": the registry rejected the request as invalid";
        } else {
            detail = action + " failed";
        }
        throw error(response, detail, subject, null);
    }

    /** " BACKWARD" when the subject's level can be fetched, for the message of a rejected registration. */
    private String levelOf(String subject) {
        try {
            return " " + compatibility(subject);
        } catch (RuntimeException e) {
            return "";
        }
    }

    private static SchemaRegistryException error(Response response, String detail, String subject, Throwable cause) {
        int code = response.errorCode();
        String message = detail + " [HTTP " + response.status
                + (code != 0 ? ", registry error " + code : "") + ": " + response.registryMessage() + "; "
                + response.method + " " + response.url + "]";
        return new SchemaRegistryException(message, response.status, code, response.url.toString(), subject, cause);
    }

    private static int intField(Response response, JsonNode answer, String field, String action, String subject) {
        JsonNode value = answer.get(field);
        if (value == null || !value.canConvertToInt()) {
            throw error(response, action + ": the answer has no integer '" + field + "'", subject, null);
        }
        return value.intValue();
    }

    private static Schema parseSchema(Response response, JsonNode answer, String action, String subject) {
        String type = answer.path("schemaType").asText("AVRO");
        if (!type.equals("AVRO")) {
            throw error(response, action + ": the schema is of type " + type + ", not AVRO", subject, null);
        }
        JsonNode text = answer.get("schema");
        if (text == null || !text.isTextual()) {
            throw error(response, action + ": the answer has no schema text", subject, null);
        }
        try {
            return new Schema.Parser().parse(text.asText());
        } catch (SchemaParseException e) {
            throw error(response, action + ": the registry's schema is not valid Avro: " + e.getMessage(), subject, e);
        }
    }

    private void cacheId(String subject, Schema schema, int id) {
        idsBySubject.computeIfAbsent(subject, s -> new ConcurrentHashMap<>()).put(schema, id);
        schemasById.putIfAbsent(id, schema);
    }

    private static ObjectNode schemaBody(Schema schema) {
        // schemaType is left out: AVRO is its default everywhere, and older registries reject the field
        return JSON.createObjectNode().put("schema", schema.toString());
    }

    private static String subjectPath(String subject) {
        return "/subjects/" + encode(subject);
    }

    private static String encode(String pathSegment) {
        return URLEncoder.encode(pathSegment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static void requireSubject(String subject) {
        if (subject == null || subject.isBlank()) {
            throw new IllegalArgumentException("subject must not be blank");
        }
    }

    // ---------------------------------------------------------------- builder

    /**
     * Builds a {@link SchemaRegistryClient}; {@link #build()} checks the settings and loads the key stores,
     * so a wrong path or password fails there, not on the first record.
     */
    public static final class Builder {
        private final List<String> urls = new ArrayList<>();
        private String user;
        private String password;
        private Path trustStore;
        private String trustStorePassword;
        private String trustStoreType = RegistryOptions.TRUSTSTORE_TYPE.defaultValue();
        private Path keyStore;
        private String keyStorePassword;
        private String keyStoreType = RegistryOptions.KEYSTORE_TYPE.defaultValue();
        private String keyPassword;
        private Duration timeout = Duration.ofMillis(RegistryOptions.TIMEOUT_MS.defaultValue());

        private Builder() {}

        /** Base URL(s) of the Confluent-compatible API; several separated by commas are tried in order. */
        public Builder url(String url) {
            urls.clear();
            if (url != null) {
                for (String part : url.split(",")) {
                    if (!part.isBlank()) {
                        urls.add(part.trim());
                    }
                }
            }
            return this;
        }

        public Builder basicAuth(String user, String password) {
            this.user = user;
            this.password = password;
            return this;
        }

        /** Certificates to trust for https; {@code type} PKCS12 or JKS ({@code null}: PKCS12). */
        public Builder trustStore(Path path, String password, String type) {
            this.trustStore = path;
            this.trustStorePassword = password;
            this.trustStoreType = type != null ? type : RegistryOptions.TRUSTSTORE_TYPE.defaultValue();
            return this;
        }

        /** Client certificate and key for mutual TLS; {@code keyPassword} {@code null}: the store's password. */
        public Builder keyStore(Path path, String password, String type, String keyPassword) {
            this.keyStore = path;
            this.keyStorePassword = password;
            this.keyStoreType = type != null ? type : RegistryOptions.KEYSTORE_TYPE.defaultValue();
            this.keyPassword = keyPassword;
            return this;
        }

        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** Takes every {@link RegistryOptions} key set in {@code config}; keys of other components are ignored. */
        public Builder options(Map<String, ?> config) {
            RegistryOptions.validate(config, RegistryOptions.all());
            url(RegistryOptions.URL.get(config));
            basicAuth(RegistryOptions.BASIC_AUTH_USER.get(config), RegistryOptions.BASIC_AUTH_PASSWORD.get(config));
            String trust = RegistryOptions.TRUSTSTORE_PATH.get(config);
            trustStore(trust == null ? null : Path.of(trust), RegistryOptions.TRUSTSTORE_PASSWORD.get(config),
                    RegistryOptions.TRUSTSTORE_TYPE.get(config));
            String key = RegistryOptions.KEYSTORE_PATH.get(config);
            keyStore(key == null ? null : Path.of(key), RegistryOptions.KEYSTORE_PASSWORD.get(config),
                    RegistryOptions.KEYSTORE_TYPE.get(config), RegistryOptions.KEY_PASSWORD.get(config));
            timeout(Duration.ofMillis(RegistryOptions.TIMEOUT_MS.get(config)));
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the option that is missing or wrong
         */
        public SchemaRegistryClient build() {
            if (urls.isEmpty()) {
                throw new IllegalArgumentException(RegistryOptions.URL.key() + " is not set: give the base URL of"
                        + " the registry's Confluent-compatible API, e.g. http://localhost:8081 or"
                        + " http://localhost:8080/apis/ccompat/v7");
            }
            List<URI> parsed = new ArrayList<>();
            for (String url : urls) {
                parsed.add(parseUrl(url));
            }
            if ((user == null) != (password == null)) {
                throw new IllegalArgumentException(user == null
                        ? RegistryOptions.BASIC_AUTH_PASSWORD.key() + " is set but " + RegistryOptions.BASIC_AUTH_USER.key() + " is not"
                        : RegistryOptions.BASIC_AUTH_USER.key() + " is set but " + RegistryOptions.BASIC_AUTH_PASSWORD.key() + " is not");
            }
            if (user != null && user.contains(":")) {
                throw new IllegalArgumentException(RegistryOptions.BASIC_AUTH_USER.key()
                        + " must not contain ':' (HTTP basic authentication separates user and password with it)");
            }
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException(RegistryOptions.TIMEOUT_MS.key() + " must be > 0, got "
                        + (timeout == null ? null : timeout.toMillis()));
            }
            boolean anyHttps = parsed.stream().anyMatch(u -> u.getScheme().equals("https"));
            if ((trustStore != null || keyStore != null) && !anyHttps) {
                throw new IllegalArgumentException((trustStore != null ? RegistryOptions.TRUSTSTORE_PATH.key()
                        : RegistryOptions.KEYSTORE_PATH.key()) + " is set but " + RegistryOptions.URL.key() + " "
                        + urls + " has no https URL");
            }
            if (user != null && !anyHttps) {
                LOG.warn("schema registry basic authentication over plain http sends the password unencrypted: {}", urls);
            }
            SSLContext ssl = trustStore == null && keyStore == null ? null : sslContext();
            return new SchemaRegistryClient(this, parsed, ssl);
        }

        private static URI parseUrl(String url) {
            URI uri;
            try {
                uri = new URI(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException(RegistryOptions.URL.key() + " '" + url + "' is not a URL: "
                        + e.getMessage());
            }
            if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                    || uri.getHost() == null) {
                throw new IllegalArgumentException(RegistryOptions.URL.key() + " '" + url
                        + "' must be an http:// or https:// URL with a host");
            }
            if (uri.getQuery() != null || uri.getFragment() != null) {
                throw new IllegalArgumentException(RegistryOptions.URL.key() + " '" + url
                        + "' must not have a query or fragment");
            }
            return uri;
        }

        private SSLContext sslContext() {
            try {
                TrustManagerFactory tmf = null;
                if (trustStore != null) {
                    KeyStore trusted = load(trustStore, trustStorePassword, trustStoreType,
                            RegistryOptions.TRUSTSTORE_PATH.key());
                    tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                    tmf.init(trusted);
                }
                KeyManagerFactory kmf = null;
                if (keyStore != null) {
                    KeyStore keys = load(keyStore, keyStorePassword, keyStoreType, RegistryOptions.KEYSTORE_PATH.key());
                    String keyPass = keyPassword != null ? keyPassword : keyStorePassword;
                    kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                    try {
                        kmf.init(keys, keyPass == null ? null : keyPass.toCharArray());
                    } catch (GeneralSecurityException e) {
                        throw new IllegalArgumentException("cannot read the private key in " + keyStore + " ("
                                + RegistryOptions.KEY_PASSWORD.key() + " wrong?): " + e.getMessage(), e);
                    }
                }
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(),
                        null);
                return context;
            } catch (GeneralSecurityException e) {
                throw new IllegalArgumentException("cannot set up TLS for the schema registry: " + e.getMessage(), e);
            }
        }

        private static KeyStore load(Path path, String password, String type, String option) {
            if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
                throw new IllegalArgumentException(option + " '" + path + "' is not a readable file");
            }
            try (InputStream in = Files.newInputStream(path)) {
                KeyStore store = KeyStore.getInstance(type);
                store.load(in, password == null ? null : password.toCharArray());
                return store;
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalArgumentException("cannot read " + option + " '" + path + "' as " + type
                        + " (wrong password or type?): " + e.getMessage(), e);
            }
        }
    }
}
