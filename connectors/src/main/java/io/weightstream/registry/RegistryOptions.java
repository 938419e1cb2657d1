package io.weightstream.registry;

import java.util.List;
import java.util.Map;

/**
 * The options of a schema-registry connection, as keys of a plain configuration map (the same keys in Kafka
 * client properties, Flink job parameters and the CLI).
 *
 * <pre>{@code
 * Map<String, Object> config = Map.of(
 *         RegistryOptions.URL.key(), "http://localhost:8080/apis/ccompat/v7",
 *         RegistryOptions.TIMEOUT_MS.key(), 10_000);
 * SchemaRegistry registry = SchemaRegistry.fromConfig(config);
 * String docs = RegistryOptions.markdownTable(RegistryOptions.all());
 * }</pre>
 */
public final class RegistryOptions {
    public static final RegistryOption<String> URL = RegistryOption.string("registry.url", null,
            "Base URL of the Confluent-compatible REST API: http://host:8081 for Confluent, Karapace and"
            + " Redpanda, http://host:8080/apis/ccompat/v7 for Apicurio. Several URLs separated by commas are"
            + " tried in order while one is unreachable. mem://<name> selects an in-process registry"
            + " (tests, single-process tools).");
    public static final RegistryOption<String> BASIC_AUTH_USER = RegistryOption.string(
            "registry.basic.auth.user", null, "User name for HTTP basic authentication; set with the password.");
    public static final RegistryOption<String> BASIC_AUTH_PASSWORD = RegistryOption.secret(
            "registry.basic.auth.password", "Password for HTTP basic authentication.");
    public static final RegistryOption<String> TRUSTSTORE_PATH = RegistryOption.string(
            "registry.tls.truststore.path", null,
            "Key store file with the certificates to trust for an https registry; unset: the JDK's default"
            + " trust store.");
    public static final RegistryOption<String> TRUSTSTORE_PASSWORD = RegistryOption.secret(
            "registry.tls.truststore.password", "Password of the trust store file.");
    public static final RegistryOption<String> TRUSTSTORE_TYPE = RegistryOption.string(
            "registry.tls.truststore.type", "PKCS12", "Type of the trust store file: PKCS12 or JKS.");
    public static final RegistryOption<String> KEYSTORE_PATH = RegistryOption.string(
            "registry.tls.keystore.path", null,
            "Key store file with the client certificate and key, for registries that require mutual TLS.");
    public static final RegistryOption<String> KEYSTORE_PASSWORD = RegistryOption.secret(
            "registry.tls.keystore.password", "Password of the key store file.");
    public static final RegistryOption<String> KEYSTORE_TYPE = RegistryOption.string(
            "registry.tls.keystore.type", "PKCS12", "Type of the key store file: PKCS12 or JKS.");
    public static final RegistryOption<String> KEY_PASSWORD = RegistryOption.secret(
            "registry.tls.keystore.key.password",
            "Password of the private key in the key store; unset: the key store's password.");
    public static final RegistryOption<Long> TIMEOUT_MS = RegistryOption.longValue("registry.timeout.ms", 30_000,
            "Connect timeout and timeout of each request to the registry, in milliseconds.");

    private static final List<RegistryOption<?>> ALL = List.of(URL, BASIC_AUTH_USER, BASIC_AUTH_PASSWORD,
            TRUSTSTORE_PATH, TRUSTSTORE_PASSWORD, TRUSTSTORE_TYPE, KEYSTORE_PATH, KEYSTORE_PASSWORD, KEYSTORE_TYPE,
            KEY_PASSWORD, TIMEOUT_MS);

    private RegistryOptions() {}

    /** Every registry connection option, in documentation order. */
    public static List<RegistryOption<?>> all() {
        return ALL;
    }

    /** A Markdown table (key, default, description) of {@code options}: the reference docs of the keys. */
    public static String markdownTable(List<RegistryOption<?>> options) {
        StringBuilder table = new StringBuilder("| key | default | description |\n|---|---|---|\n");
        for (RegistryOption<?> option : options) {
            table.append("| `").append(option.key()).append("` | ")
                    .append(option.defaultValue() == null ? "" : "`" + option.defaultValue() + "`").append(" | ")
                    .append(option.description().replace("|", "\\|")).append(" |\n");
        }
        return table.toString();
    }

    /** Reads every option once so that a wrongly typed value fails early, at the entry that took the map. */
    static void validate(Map<String, ?> config, List<RegistryOption<?>> options) {
        for (RegistryOption<?> option : options) {
            option.get(config);
        }
    }
}
