package io.weightstream.decoder;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The options of a {@link DecoderService}: each has a key, a type, a default and a description. The builder has a
 * typed setter per option and {@link DecoderService.Builder#configure(Map)} reads them from a plain map (CLI
 * flags, a properties file); the docs are generated with {@link #markdownTable()}.
 *
 * <pre>{@code
 * DecoderService s = DecoderService.builder()
 *         .configure(Map.of(DecoderServiceOptions.REPLICA_ID.key(), "r1",
 *                           DecoderServiceOptions.KEEP_VERSIONS.key(), "5"))
 *         .bootstrapServers(bootstrap).registryUrl(url)
 *         .start();
 * }</pre>
 */
public final class DecoderServiceOptions {
    /**
     * One typed option.
     *
     * @param <T> String, Integer, Long or Boolean
     */
    public record Option<T>(String key, Class<T> type, T defaultValue, String description, boolean secret) {
        public Option {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(description, "description");
        }

        /**
         * The value in {@code config}: the default when absent or blank.
         *
         * @throws IllegalArgumentException naming the key if the value is not of this option's type
         */
        public T get(Map<String, ?> config) {
            Object raw = config.get(key);
            if (raw == null || raw.toString().isBlank()) {
                return defaultValue;
            }
            if (type.isInstance(raw)) {
                return type.cast(raw);
            }
            String text = raw.toString().trim();
            try {
                if (type == String.class) {
                    return type.cast(text);
                }
                if (type == Integer.class) {
                    return type.cast(Integer.parseInt(text));
                }
                if (type == Long.class) {
                    return type.cast(Long.parseLong(text));
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(key + " must be an integer, got '" + text + "'");
            }
            if (type == Boolean.class) {
                if (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")) {
                    return type.cast(Boolean.parseBoolean(text));
                }
                throw new IllegalArgumentException(key + " must be true or false, got '" + text + "'");
            }
            throw new IllegalStateException("unsupported option type " + type.getName());
        }

        @Override
        public String toString() {
            return key + " (" + type.getSimpleName() + (defaultValue != null && !secret ? ", default " + defaultValue : "") + ")";
        }
    }

    public static final Option<String> BOOTSTRAP_SERVERS = new Option<>("bootstrap.servers", String.class, null,
            "Kafka bootstrap servers (required).", false);
    public static final Option<String> REGISTRY_URL = new Option<>("registry.url", String.class, null,
            "Schema registry URL, Confluent REST API (required unless a registry client is given).", false);
    public static final Option<String> REPLICA_ID = new Option<>("replica.id", String.class, null,
            "This replica's id (required): letters, digits, '.', '_' and '-'. Names its consumer group and its"
            + " events on weightstream.fleet.", false);
    public static final Option<String> GROUP_ID = new Option<>("group.id", String.class, null,
            "Kafka consumer group; default weightstream-decoder-<replica.id>, so every replica consumes every version.",
            false);
    public static final Option<String> REPOSITORY_DIR = new Option<>("repository.dir", String.class, null,
            "Versioned model repository: <dir>/<model>/<version>/ and <dir>/<model>/LAST_GOOD (required).", false);
    public static final Option<String> STAGING_DIR = new Option<>("staging.dir", String.class, null,
            "Where compressed records are staged durably until their version is complete; default"
            + " <repository.dir>/../staging.", false);
    public static final Option<Long> STAGING_BUDGET_BYTES = new Option<>("staging.budget.bytes", Long.class, 8L << 30,
            "Most bytes the staging area may hold; a record beyond it goes to the dead-letter topic and fails its"
            + " version.", false);
    public static final Option<Integer> KEEP_VERSIONS = new Option<>("keep.versions", Integer.class,
            ModelRepository.DEFAULT_KEEP, "Versions kept per model in the repository (the serving one is never"
            + " deleted).", false);
    public static final Option<Integer> DECODE_THREADS = new Option<>("decode.threads", Integer.class,
            Runtime.getRuntime().availableProcessors(), "Threads that decode the tensors of a version in parallel.",
            false);
    public static final Option<Integer> INFERENCE_THREADS = new Option<>("inference.threads", Integer.class,
            Runtime.getRuntime().availableProcessors(), "ONNX Runtime intra-op threads of each served model.", false);
    public static final Option<String> MODELS = new Option<>("models", String.class, "",
            "Comma-separated models this replica serves; empty: all.", false);
    public static final Option<Integer> WARM_UP_TEXTS = new Option<>("warm.up.texts", Integer.class, 8,
            "Real paragraphs a text model embeds before it is swapped in (other models run synthetic inputs).", false);
    public static final Option<String> ADMIN_TOKEN = new Option<>("admin.token", String.class, null,
            "Bearer token the admin routes (rollback, activate) require; unset: admin routes are refused.", true);
    public static final Option<String> HTTP_HOST = new Option<>("http.host", String.class, "127.0.0.1",
            "Address the HTTP API listens on.", false);
    public static final Option<Integer> HTTP_PORT = new Option<>("http.port", Integer.class, 8090,
            "Port of the HTTP API; 0: any free port; -1: no HTTP API.", false);

    private static final List<Option<?>> ALL = List.of(BOOTSTRAP_SERVERS, REGISTRY_URL, REPLICA_ID, GROUP_ID,
            REPOSITORY_DIR, STAGING_DIR, STAGING_BUDGET_BYTES, KEEP_VERSIONS, DECODE_THREADS, INFERENCE_THREADS, MODELS,
            WARM_UP_TEXTS, ADMIN_TOKEN, HTTP_HOST, HTTP_PORT);

    private DecoderServiceOptions() {
    }

    /** Every option, in documentation order. */
    public static List<Option<?>> all() {
        return ALL;
    }

    /** A Markdown table (key, default, description) of every option: the reference docs. */
    public static String markdownTable() {
        StringBuilder t = new StringBuilder("| key | default | description |\n|---|---|---|\n");
        for (Option<?> o : ALL) {
            String def = o.defaultValue() == null || o.secret() ? "" : "`" + o.defaultValue() + "`";
            if (o == DECODE_THREADS || o == INFERENCE_THREADS) {
                def = "available processors";
            }
            t.append("| `").append(o.key()).append("` | ").append(def).append(" | ")
                    .append(o.description().replace("|", "\\|")).append(" |\n");
        }
        return t.toString();
    }
}
