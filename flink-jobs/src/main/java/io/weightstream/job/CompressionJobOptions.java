package io.weightstream.job;

import static org.apache.flink.configuration.ConfigOptions.key;

import io.weightstream.registry.AvroSerdeOptions;
import io.weightstream.registry.RegistryOption;
import io.weightstream.registry.RegistryOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.description.TextElement;

/**
 * The options of the compression job, each with a key, a default and a description; {@code flink-jobs/README.md}
 * holds the table {@link #markdownTable()} generates (a test keeps the two equal). The schema-registry
 * connection takes the {@link RegistryOptions} keys ({@code registry.*}) in the same map.
 *
 * <pre>{@code
 * Configuration options = CompressionJobOptions.parse(Map.of(
 *         "bootstrap.servers", "127.0.0.1:9092",
 *         "registry.url", "http://127.0.0.1:8080/apis/ccompat/v7",
 *         "parallelism", "2"));
 * Duration timeout = options.get(CompressionJobOptions.ASSEMBLY_TIMEOUT);
 * }</pre>
 */
public final class CompressionJobOptions {
    /** Where the starting offsets come from when the job starts without a checkpoint. */
    public enum StartingOffsets {
        /** The group's committed offsets, else the earliest (a restarted job resumes, a new one reads it all). */
        COMMITTED,
        /** Everything in the topics. */
        EARLIEST,
        /** Only what is published after the job starts. */
        LATEST
    }

    public static final ConfigOption<String> BOOTSTRAP_SERVERS = key("bootstrap.servers").stringType().noDefaultValue()
            .withDescription("Kafka bootstrap servers, host:port[,host:port...]. Required.");
    public static final ConfigOption<String> REGISTRY_URL = key(RegistryOptions.URL.key()).stringType().noDefaultValue()
            .withDescription("Schema registry URL (Confluent REST API). Required. Every other registry.* and avro.*"
                    + " option of the connectors module is passed to the serializers too.");
    public static final ConfigOption<String> GROUP_ID = key("group.id").stringType()
            .defaultValue("weightstream-compression")
            .withDescription("Kafka consumer group of the source; offsets are committed on each checkpoint.");
    public static final ConfigOption<StartingOffsets> STARTING_OFFSETS = key("starting.offsets")
            .enumType(StartingOffsets.class).defaultValue(StartingOffsets.COMMITTED)
            .withDescription("Where to start without a checkpoint: COMMITTED (the group's offsets, else earliest),"
                    + " EARLIEST or LATEST.");
    public static final ConfigOption<Integer> PARALLELISM = key("parallelism").intType().defaultValue(2)
            .withDescription("Parallelism of every operator; more than the partitions of weightstream.layers leaves"
                    + " source readers idle.");
    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL = key("checkpoint.interval").durationType()
            .defaultValue(Duration.ofSeconds(1))
            .withDescription("Checkpoint interval (EXACTLY_ONCE). Compressed records become visible to read_committed"
                    + " consumers when the checkpoint after them completes, so this bounds the added latency.");
    public static final ConfigOption<String> CHECKPOINT_DIR = key("checkpoint.dir").stringType().noDefaultValue()
            .withDescription("Checkpoint directory URI, e.g. file:///var/lib/weightstream/checkpoints. Unset: the"
                    + " cluster's execution.checkpointing.dir; for the local MiniCluster"
                    + " java.io.tmpdir/weightstream-checkpoints/<group.id> (./weightstream job: the stack's state directory).");
    public static final ConfigOption<MemorySize> MAX_TENSOR_BYTES = key("max.tensor.bytes").memoryType()
            .defaultValue(MemorySize.ofMebiBytes(256))
            .withDescription("Largest tensor (or row-block part) the job assembles; larger ones go to the dead-letter"
                    + " topic before anything is buffered. Bounds the keyed state of one tensor.");
    public static final ConfigOption<Duration> ASSEMBLY_TIMEOUT = key("assembly.timeout").durationType()
            .defaultValue(Duration.ofMinutes(5))
            .withDescription("How long a tensor may wait for its next chunk or its manifest entry before it goes to"
                    + " the dead-letter topic with the missing chunks named, and its state is dropped.");
    public static final ConfigOption<Duration> VERSION_TIMEOUT = key("version.timeout").durationType()
            .defaultValue(Duration.ofMinutes(15))
            .withDescription("How long a version may wait for its next tensor result before it is declared"
                    + " incomplete (dead letter, no version record).");
    public static final ConfigOption<Duration> VERSION_RETENTION = key("version.retention").durationType()
            .defaultValue(Duration.ofDays(7))
            .withDescription("How long the job remembers that a version was emitted (or failed), so that a replayed"
                    + " or re-published manifest does not emit it twice.");
    public static final ConfigOption<MemorySize> COMPRESSED_CHUNK_BYTES = key("compressed.chunk.bytes").memoryType()
            .defaultValue(MemorySize.ofMebiBytes(1))
            .withDescription("Largest payload piece of one CompressedLayerChunk record.");
    public static final ConfigOption<MemorySize> VERSION_MAX_RECORD_BYTES = key("versions.max.record.bytes")
            .memoryType().defaultValue(MemorySize.ofMebiBytes(15))
            .withDescription("Largest ModelVersionCompressed record written (it carries the manifest, the model skeleton"
                    + " and attachments); keep it below max.message.bytes of weightstream.versions and the producers'"
                    + " max.request.size (16 MiB). A larger record goes to the dead-letter topic instead of failing the"
                    + " sink.");
    public static final ConfigOption<String> TRANSACTIONAL_ID_PREFIX = key("transactional.id.prefix").stringType()
            .defaultValue("weightstream-compression")
            .withDescription("Prefix of the Kafka transactional ids of the EXACTLY_ONCE sinks (-compressed,"
                    + " -versions, -dlq are appended). Unique per job on a cluster.");
    public static final ConfigOption<Duration> TRANSACTION_TIMEOUT = key("transaction.timeout").durationType()
            .defaultValue(Duration.ofMinutes(10))
            .withDescription("transaction.timeout.ms of the sinks' producers; at most the broker's"
                    + " transaction.max.timeout.ms (15 min by default). Must exceed the longest checkpoint.");
    public static final ConfigOption<List<String>> GPU_METHODS = key("gpu.methods").stringType().asList()
            .defaultValues("inr")
            .withDescription("Methods that need a GPU. Tensors whose policy picks one of them (and whose codec is on"
                    + " the class path) are compressed by a second compress operator in the slot-sharing group 'gpu';"
                    + " all others in the default group.");
    public static final ConfigOption<Boolean> GPU_RESOURCE = key("gpu.resource").booleanType().defaultValue(false)
            .withDescription("Let the 'gpu' slot-sharing group request the external resource 'gpu' (1 per slot, with"
                    + " 1 CPU core and 1 GiB task heap); needs fine-grained resource management and GPU task managers."
                    + " Also on when the cluster configuration lists 'gpu' in external-resources. Off: those tensors"
                    + " run on any slot (CPU fallback).");
    public static final ConfigOption<Boolean> LOCAL_RESUME = key("local.resume").booleanType().defaultValue(true)
            .withDescription("Local MiniCluster runs only: keep the last checkpoint when the job is stopped and resume"
                    + " from the newest one under checkpoint.dir (state and offsets together, so tensors and versions in"
                    + " progress are not lost across a restart).");
    public static final ConfigOption<String> JOB_NAME = key("job.name").stringType()
            .defaultValue("weightstream-compression").withDescription("Flink job name.");

    private static final List<ConfigOption<?>> ALL = List.of(BOOTSTRAP_SERVERS, REGISTRY_URL, GROUP_ID, STARTING_OFFSETS,
            PARALLELISM, CHECKPOINT_INTERVAL, CHECKPOINT_DIR, MAX_TENSOR_BYTES, ASSEMBLY_TIMEOUT, VERSION_TIMEOUT,
            VERSION_RETENTION, COMPRESSED_CHUNK_BYTES, VERSION_MAX_RECORD_BYTES, TRANSACTIONAL_ID_PREFIX,
            TRANSACTION_TIMEOUT, GPU_METHODS, GPU_RESOURCE, LOCAL_RESUME, JOB_NAME);

    /** The broker's default {@code transaction.max.timeout.ms}. */
    static final Duration MAX_TRANSACTION_TIMEOUT = Duration.ofMinutes(15);

    private CompressionJobOptions() {
    }

    /** Every job option, in documentation order. */
    public static List<ConfigOption<?>> all() {
        return ALL;
    }

    /**
     * Reads string settings ({@code --key value} on the command line) into a configuration, checking every key and
     * value.
     *
     * @throws IllegalArgumentException naming each unknown key or bad value
     */
    public static Configuration parse(Map<String, String> settings) {
        Set<String> known = ALL.stream().map(ConfigOption::key).collect(Collectors.toSet());
        Set<String> passThrough = passThroughKeys();
        List<String> problems = new ArrayList<>();
        for (String k : settings.keySet()) {
            if (!known.contains(k) && !passThrough.contains(k)) {
                problems.add("unknown option '" + k + "'");
            }
        }
        Configuration config = Configuration.fromMap(settings);
        for (ConfigOption<?> o : ALL) {
            try {
                config.get(o);
            } catch (RuntimeException e) {
                problems.add(o.key() + ": " + e.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("compression job options: " + String.join("; ", problems)
                    + " (known: " + String.join(", ", new TreeSet<>(known)) + ", and the registry options "
                    + String.join(", ", new TreeSet<>(passThrough)) + ")");
        }
        return config;
    }

    /**
     * Checks what the Kafka wiring needs: both endpoints and sane values.
     *
     * @throws IllegalArgumentException listing every problem
     */
    public static void validate(Configuration config) {
        List<String> problems = new ArrayList<>();
        if (isBlank(config.get(BOOTSTRAP_SERVERS))) {
            problems.add(BOOTSTRAP_SERVERS.key() + " is not set");
        }
        if (isBlank(config.get(REGISTRY_URL))) {
            problems.add(REGISTRY_URL.key() + " is not set");
        }
        problems.addAll(checkValues(config));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("compression job options: " + String.join("; ", problems));
        }
    }

    /** The checks that do not need the endpoints (also made by the job's constructor). */
    static List<String> checkValues(Configuration config) {
        List<String> problems = new ArrayList<>();
        if (config.get(PARALLELISM) < 1) {
            problems.add(PARALLELISM.key() + " must be >= 1");
        }
        if (config.get(CHECKPOINT_INTERVAL).toMillis() < 10) {
            problems.add(CHECKPOINT_INTERVAL.key() + " must be at least 10 ms");
        }
        long maxTensor = config.get(MAX_TENSOR_BYTES).getBytes();
        if (maxTensor < 1 || maxTensor > Integer.MAX_VALUE - 8) {
            problems.add(MAX_TENSOR_BYTES.key() + " must be in [1 byte, 2 GiB) (one Java array), was " + maxTensor);
        }
        if (config.get(ASSEMBLY_TIMEOUT).toMillis() < 1) {
            problems.add(ASSEMBLY_TIMEOUT.key() + " must be positive");
        }
        if (config.get(VERSION_TIMEOUT).toMillis() < 1) {
            problems.add(VERSION_TIMEOUT.key() + " must be positive");
        }
        if (config.get(VERSION_RETENTION).toMillis() < 1) {
            problems.add(VERSION_RETENTION.key() + " must be positive");
        }
        long chunk = config.get(COMPRESSED_CHUNK_BYTES).getBytes();
        if (chunk < 1024 || chunk > (8 << 20)) {
            problems.add(COMPRESSED_CHUNK_BYTES.key() + " must be in [1 KiB, 8 MiB], was " + chunk);
        }
        if (config.get(VERSION_MAX_RECORD_BYTES).getBytes() < 1024) {
            problems.add(VERSION_MAX_RECORD_BYTES.key() + " must be at least 1 KiB");
        }
        Duration tx = config.get(TRANSACTION_TIMEOUT);
        if (tx.compareTo(MAX_TRANSACTION_TIMEOUT) > 0 || tx.toMillis() < 1000) {
            problems.add(TRANSACTION_TIMEOUT.key() + " must be in [1 s, 15 min] (the broker's maximum), was " + tx);
        }
        if (isBlank(config.get(TRANSACTIONAL_ID_PREFIX))) {
            problems.add(TRANSACTIONAL_ID_PREFIX.key() + " is empty");
        }
        return problems;
    }

    /**
     * The schema-registry and Avro serde settings of {@code config}: {@code registry.*} and {@code avro.*} keys, for
     * the serialization schemas of the connectors module.
     */
    public static Map<String, String> registryConfig(Configuration config) {
        Map<String, String> out = new LinkedHashMap<>();
        config.toMap().forEach((k, v) -> {
            if (k.startsWith("registry.") || k.startsWith("avro.")) {
                out.put(k, v);
            }
        });
        return out;
    }

    private static Set<String> passThroughKeys() {
        return Stream.concat(RegistryOptions.all().stream(), AvroSerdeOptions.all().stream())
                .map(RegistryOption::key).collect(Collectors.toSet());
    }

    /** A Markdown table of the options: key, default, description. */
    public static String markdownTable() {
        StringBuilder b = new StringBuilder("| key | default | description |\n|---|---|---|\n");
        for (ConfigOption<?> o : ALL) {
            Object d = o.hasDefaultValue() ? o.defaultValue() : null;
            String shown = d == null ? "(none)" : d instanceof List<?> l ? String.join(";", l.stream().map(String::valueOf).toList())
                    : d instanceof Duration du ? formatDuration(du) : d.toString();
            b.append("| `").append(o.key()).append("` | ").append(shown).append(" | ")
                    .append(description(o).replace("|", "\\|")).append(" |\n");
        }
        return b.toString();
    }

    /** The plain text of an option's description (every option here is one text block). */
    static String description(ConfigOption<?> o) {
        return o.description().getBlocks().stream()
                .map(b -> b instanceof TextElement t ? t.getFormat() : b.toString())
                .collect(Collectors.joining(" "));
    }

    private static String formatDuration(Duration d) {
        if (d.toMillis() % 86_400_000 == 0) {
            return d.toDays() + " d";
        }
        if (d.toMillis() % 60_000 == 0) {
            return d.toMinutes() + " min";
        }
        if (d.toMillis() % 1000 == 0) {
            return d.toSeconds() + " s";
        }
        return d.toMillis() + " ms";
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }
}
