package io.weightstream.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.weightstream.schemas.LayerChunk;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client's HTTP side: settings checked in build(), basic authentication over mutual TLS with key stores
 * made by the JDK's keytool, fail-over, and the messages of registry errors. The server is the JDK's own
 * HTTP(S) server answering what a Confluent-compatible registry answers; the registry's real behaviour is
 * tested against Apicurio in SchemaRegistryITCase.
 */
class SchemaRegistryClientTest {
    private static final String PASSWORD = "changeit";
    @TempDir
    static Path dir;
    private static Path serverKeys;
    private static Path clientKeys;
    private static Path trustServer;
    private static Path trustClient;

    private HttpServer server;
    private final Map<String, String[]> answers = new ConcurrentHashMap<>();
    private final List<String> requests = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void makeKeyStores() throws Exception {
        serverKeys = identity("server");
        clientKeys = identity("client");
        trustServer = trustStoreFor("server");
        trustClient = trustStoreFor("client");
    }

    private static Path identity(String name) throws Exception {
        Path store = dir.resolve(name + ".p12");
        keytool("-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + name,
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12",
                "-keystore", store.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-rfc", "-alias", name, "-keystore", store.toString(), "-storepass", PASSWORD,
                "-file", dir.resolve(name + ".pem").toString());
        return store;
    }

    private static Path trustStoreFor(String name) throws Exception {
        Path store = dir.resolve("trust-" + name + ".p12");
        keytool("-importcert", "-noprompt", "-alias", name, "-file", dir.resolve(name + ".pem").toString(),
                "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", PASSWORD);
        return store;
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor()).as("keytool %s: %s", args[0], output).isZero();
    }

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.stop(0);
        }
    }

    /** Starts a server answering {@link #answers} ("METHOD path" -> status, body) to requests with {@code auth}. */
    private String start(boolean https, String expectedAuthorization) throws Exception {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        if (https) {
            HttpsServer tls = HttpsServer.create(address, 0);
            SSLContext context = serverContext();
            tls.setHttpsConfigurator(new HttpsConfigurator(context) {
                @Override
                public void configure(HttpsParameters params) {
                    SSLParameters parameters = context.getDefaultSSLParameters();
                    parameters.setNeedClientAuth(true);
                    params.setSSLParameters(parameters);
                }
            });
            server = tls;
        } else {
            server = HttpServer.create(address, 0);
        }
        server.createContext("/", exchange -> answer(exchange, expectedAuthorization));
        server.start();
        return (https ? "https" : "http") + "://127.0.0.1:" + server.getAddress().getPort() + "/apis/ccompat/v7";
    }

    private void answer(HttpExchange exchange, String expectedAuthorization) throws IOException {
        try (InputStream body = exchange.getRequestBody()) {
            String key = exchange.getRequestMethod() + " " + exchange.getRequestURI();
            requests.add(key + " " + new String(body.readAllBytes(), StandardCharsets.UTF_8));
            String[] answer = answers.getOrDefault(key, new String[] {"404", "{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}"});
            if (expectedAuthorization != null
                    && !expectedAuthorization.equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                answer = new String[] {"401", "{\"error_code\":401,\"message\":\"Unauthorized\"}"};
            }
            if (answer[0].equals("sleep")) {
                sleep(2000);
                answer = new String[] {"200", "{}"};
            }
            byte[] bytes = answer[1].getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/vnd.schemaregistry.v1+json");
            exchange.sendResponseHeaders(Integer.parseInt(answer[0]), bytes.length);
            exchange.getResponseBody().write(bytes);
        } finally {
            exchange.close();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static SSLContext serverContext() throws Exception {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(serverKeys)) {
            keys.load(in, PASSWORD.toCharArray());
        }
        KeyStore trusted = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(trustClient)) {
            trusted.load(in, PASSWORD.toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, PASSWORD.toCharArray());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trusted);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return context;
    }

    private static Map<String, Object> tlsOptions(String url) {
        Map<String, Object> options = new HashMap<>();
        options.put("registry.url", url);
        options.put("registry.basic.auth.user", "svc");
        options.put("registry.basic.auth.password", "pa:ss");
        options.put("registry.tls.truststore.path", trustServer.toString());
        options.put("registry.tls.truststore.password", PASSWORD);
        options.put("registry.tls.keystore.path", clientKeys.toString());
        options.put("registry.tls.keystore.password", PASSWORD);
        options.put("registry.timeout.ms", "5000");
        return options;
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void basicAuthOverMutualTlsRegistersAndCaches() throws Exception {
        String url = start(true, basic("svc", "pa:ss"));
        answers.put("POST /apis/ccompat/v7/subjects/weightstream.layers-value/versions", new String[] {"200", "{\"id\":5}"});
        SchemaRegistryClient client = SchemaRegistryClient.builder().options(tlsOptions(url)).build();

        assertThat(client.register("weightstream.layers-value", LayerChunk.getClassSchema())).isEqualTo(5);
        assertThat(client.register("weightstream.layers-value", LayerChunk.getClassSchema())).isEqualTo(5);
        assertThat(client.schemaById(5)).isEqualTo(LayerChunk.getClassSchema()); // from the registration
        assertThat(client.requestCount()).isEqualTo(1);
        assertThat(requests).singleElement().asString().contains("{\"schema\":\"{\\\"type\\\":\\\"record\\\"");
    }

    @Test
    void withoutTheClientCertificateTheHandshakeFails() throws Exception {
        String url = start(true, null);
        Map<String, Object> options = tlsOptions(url);
        options.remove("registry.tls.keystore.path");
        SchemaRegistryClient client = SchemaRegistryClient.builder().options(options).build();
        assertThatThrownBy(() -> client.schemaById(1))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining(" at " + url + "/schemas/ids/1 while fetching schema id 1")
                .satisfies(e -> assertThat(((SchemaRegistryException) e).status()).isZero());
        assertThat(requests).isEmpty();
    }

    @Test
    void aServerCertificateNotInTheTrustStoreIsRefused() throws Exception {
        String url = start(true, null);
        Map<String, Object> options = tlsOptions(url);
        options.put("registry.tls.truststore.path", trustClient.toString()); // trusts the client, not the server
        SchemaRegistryClient client = SchemaRegistryClient.builder().options(options).build();
        assertThatThrownBy(() -> client.schemaById(1))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("TLS handshake with the schema registry failed at " + url + "/schemas/ids/1")
                .hasMessageContaining("registry.tls.truststore")
                .hasCauseInstanceOf(javax.net.ssl.SSLHandshakeException.class);
    }

    @Test
    void aWrongPasswordIsReportedAsNotAuthorized() throws Exception {
        String url = start(false, basic("svc", "right"));
        SchemaRegistryClient client = SchemaRegistryClient.builder().url(url).basicAuth("svc", "wrong").build();
        assertThatThrownBy(() -> client.latest("weightstream.layers-value"))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("not authorized by the registry at " + url + "/subjects/weightstream.layers-value/versions/latest")
                .hasMessageContaining("registry.basic.auth.user")
                .hasMessageContaining("HTTP 401")
                .satisfies(e -> assertThat(((SchemaRegistryException) e).status()).isEqualTo(401));
    }

    @Test
    void registryErrorsCarryStatusCodeUrlAndTheRegistrysWords() throws Exception {
        String url = start(false, null);
        answers.put("GET /apis/ccompat/v7/schemas/ids/6",
                new String[] {"404", "{\"error_code\":40403,\"message\":\"Schema 6 not found\"}"});
        answers.put("GET /apis/ccompat/v7/schemas/ids/7", new String[] {"502", "<html><body>Bad Gateway</body></html>"});
        answers.put("GET /apis/ccompat/v7/schemas/ids/8", new String[] {"200", "[1,2]"});
        answers.put("GET /apis/ccompat/v7/schemas/ids/9", new String[] {"200", "{\"schema\":\"{not avro\"}"});
        answers.put("GET /apis/ccompat/v7/schemas/ids/10", new String[] {"200", "{\"schema\":\"syntax = \\\"proto3\\\";\",\"schemaType\":\"PROTOBUF\"}"});
        answers.put("POST /apis/ccompat/v7/subjects/a%20b%2Fc-value", new String[] {"404",
                "{\"error_code\":40403,\"message\":\"Schema not found\"}"});
        SchemaRegistryClient client = SchemaRegistryClient.builder().url(url + "/").build();

        assertThatThrownBy(() -> client.schemaById(6))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageStartingWith("schema id 6 not found at " + url + "/schemas/ids/6")
                .hasMessageContaining("HTTP 404, registry error 40403: Schema 6 not found")
                .satisfies(e -> {
                    SchemaRegistryException error = (SchemaRegistryException) e;
                    assertThat(error.status()).isEqualTo(404);
                    assertThat(error.errorCode()).isEqualTo(40403);
                    assertThat(error.endpoint()).isEqualTo(url + "/schemas/ids/6");
                });
        assertThatThrownBy(() -> client.schemaById(7))
                .hasMessageContaining("fetching schema id 7 failed [HTTP 502: <html><body>Bad Gateway");
        assertThatThrownBy(() -> client.schemaById(8)).hasMessageContaining("not a JSON object");
        assertThatThrownBy(() -> client.schemaById(9)).hasMessageContaining("not valid Avro");
        assertThatThrownBy(() -> client.schemaById(10)).hasMessageContaining("of type PROTOBUF, not AVRO");
        // subjects are URL-encoded into the path; an unknown schema under a subject is an empty lookup
        assertThat(client.lookup("a b/c-value", LayerChunk.getClassSchema())).isEmpty();
        assertThat(client.requestCount()).isEqualTo(6);
    }

    @Test
    void aSlowRegistryTimesOut() throws Exception {
        String url = start(false, null);
        answers.put("GET /apis/ccompat/v7/schemas/ids/1", new String[] {"sleep", ""});
        SchemaRegistryClient client = SchemaRegistryClient.builder().url(url).timeout(Duration.ofMillis(200)).build();
        assertThatThrownBy(() -> client.schemaById(1))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("did not answer within 200 ms at " + url + "/schemas/ids/1");
    }

    @Test
    void anUnreachableRegistryIsNamedAndTheNextUrlIsTried() throws Exception {
        String dead = "http://127.0.0.1:" + freePort();
        SchemaRegistryClient deadOnly = SchemaRegistryClient.builder().url(dead).build();
        assertThatThrownBy(() -> deadOnly.register("s-value", LayerChunk.getClassSchema()))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("schema registry unreachable at " + dead + "/subjects/s-value/versions")
                .hasMessageContaining("registering a schema under subject 's-value'")
                .satisfies(e -> assertThat(((SchemaRegistryException) e).endpoint()).isEqualTo(dead + "/subjects/s-value/versions"));

        String live = start(false, null);
        answers.put("GET /apis/ccompat/v7/config/s-value?defaultToGlobal=true",
                new String[] {"200", "{\"compatibilityLevel\":\"FULL_TRANSITIVE\"}"});
        SchemaRegistryClient client = SchemaRegistryClient.builder().url(dead + ", " + live).build();
        assertThat(client.urls()).hasSize(2);
        assertThat(client.compatibility("s-value")).isEqualTo(CompatibilityLevel.FULL_TRANSITIVE);
        assertThat(client.requestCount()).isEqualTo(2);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    @Test
    void buildRejectsWrongSettingsNamingTheOption() {
        assertThatThrownBy(() -> SchemaRegistryClient.builder().build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("registry.url is not set");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("localhost:8081").build())
                .hasMessageContaining("must be an http:// or https:// URL");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("http://r:8081?x=1").build())
                .hasMessageContaining("must not have a query");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("http://r:8081").basicAuth("u", null).build())
                .hasMessage("registry.basic.auth.user is set but registry.basic.auth.password is not");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("http://r:8081").basicAuth(null, "p").build())
                .hasMessage("registry.basic.auth.password is set but registry.basic.auth.user is not");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("http://r:8081").timeout(Duration.ZERO).build())
                .hasMessageContaining("registry.timeout.ms must be > 0");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("http://r:8081")
                .trustStore(trustServer, PASSWORD, null).build())
                .hasMessageContaining("registry.tls.truststore.path is set but registry.url [http://r:8081] has no https URL");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("https://r:8081")
                .trustStore(dir.resolve("missing.p12"), PASSWORD, null).build())
                .hasMessageContaining("registry.tls.truststore.path '" + dir.resolve("missing.p12") + "' is not a readable file");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("https://r:8081")
                .trustStore(trustServer, "wrong", null).build())
                .hasMessageContaining("cannot read registry.tls.truststore.path").hasMessageContaining("wrong password or type?");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().url("https://r:8081")
                .keyStore(clientKeys, PASSWORD, "NOSUCHTYPE", null).build())
                .hasMessageContaining("cannot read registry.tls.keystore.path").hasMessageContaining("as NOSUCHTYPE");
        assertThatThrownBy(() -> SchemaRegistryClient.builder().options(Map.of("registry.url", "http://r", "registry.timeout.ms", "x")))
                .hasMessageContaining("registry.timeout.ms must be an integer");
        assertThat(SchemaRegistryClient.builder().url("https://r:8081/apis/ccompat/v7/").trustStore(trustServer, PASSWORD, "PKCS12")
                .keyStore(clientKeys, PASSWORD, null, null).build().urls())
                .extracting(Object::toString).containsExactly("https://r:8081/apis/ccompat/v7");
    }
}
