package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/** The attached stack against the real broker and registry staged by the build. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalStackITCase {
    @TempDir
    static Path dir;
    static RunningStack stack;

    @BeforeAll
    static void start() {
        stack = LocalStack.start(dir);
        System.out.printf("LocalStackITCase: stack ready in %d ms (kafka %s, registry %s)%n",
                stack.startTime().toMillis(), stack.bootstrapServers(), stack.registryUrl());
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    @Order(1)
    void startCreatesEveryTopicWithItsConfig() throws Exception {
        assertThat(stack.createdTopics()).containsExactlyInAnyOrderElementsOf(Topics.ALL);
        try (Admin admin = Admin.create(Topics.adminProperties(stack.bootstrapServers()))) {
            Map<String, TopicDescription> topics = admin.describeTopics(Topics.ALL).allTopicNames().get(30, TimeUnit.SECONDS);
            assertThat(topics.get(Topics.LAYERS).partitions()).hasSize(Topics.DEFAULT_CHUNK_PARTITIONS);
            assertThat(topics.get(Topics.COMPRESSED).partitions()).hasSize(Topics.DEFAULT_CHUNK_PARTITIONS);
            assertThat(topics.get(Topics.CHECKPOINTS).partitions()).hasSize(1);
            assertThat(topics.get(Topics.DLQ).partitions()).hasSize(1);

            List<ConfigResource> resources = Topics.ALL.stream()
                    .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
            Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get(30, TimeUnit.SECONDS);
            Map<String, String> policy = configs.entrySet().stream().collect(Collectors.toMap(
                    e -> e.getKey().name(), e -> e.getValue().get("cleanup.policy").value()));
            Map<String, String> maxBytes = configs.entrySet().stream().collect(Collectors.toMap(
                    e -> e.getKey().name(), e -> e.getValue().get("max.message.bytes").value()));
            assertThat(policy).containsEntry(Topics.LAYERS, "delete").containsEntry(Topics.COMPRESSED, "delete")
                    .containsEntry(Topics.CHECKPOINTS, "delete").containsEntry(Topics.DLQ, "delete")
                    .containsEntry(Topics.VERSIONS, "compact").containsEntry(Topics.FLEET, "compact");
            assertThat(maxBytes).containsEntry(Topics.LAYERS, Integer.toString(16 << 20))
                    .containsEntry(Topics.FLEET, Integer.toString(1 << 20));
        }
    }

    @Test
    @Order(2)
    void ensureTopicsAgainCreatesNothing() {
        assertThat(Topics.ensure(stack.bootstrapServers())).isEmpty();
    }

    @Test
    @Order(3)
    void aFiveMebibyteRecordRoundTripsTransactionallyThroughTheLayersTopic() throws Exception {
        byte[] value = new byte[5 << 20];
        new Random(42).nextBytes(value);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(16 << 20));
        // a transaction exercises the transaction-state topic of a single node (replication factor 1, min ISR 1)
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "itcase-publisher");
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "600000");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(Topics.LAYERS, "minilm/encoder.layer.0.weight", value));
            producer.commitTransaction();
        }
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "itcase-reader"); // a group exercises the offsets topic
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(16 << 20));
        c.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(64 << 20));
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<String, byte[]>> got = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.LAYERS));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (got.isEmpty() && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(got::add);
            }
            consumer.commitSync(Duration.ofSeconds(30));
            TopicPartition tp = new TopicPartition(Topics.LAYERS, got.get(0).partition());
            assertThat(consumer.committed(java.util.Set.of(tp), Duration.ofSeconds(30)).get(tp).offset())
                    .isEqualTo(got.get(0).offset() + 2); // the record and the transaction's commit marker
        }
        assertThat(got).hasSize(1);
        assertThat(got.get(0).key()).isEqualTo("minilm/encoder.layer.0.weight");
        assertThat(got.get(0).value()).isEqualTo(value);
    }

    @Test
    @Order(4)
    void registryRefusesASchemaThatBreaksBackwardCompatibilityWith409() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String subject = Topics.valueSubject("itcase.compat");
        String base = stack.registryUrl();

        assertThat(send(http, "PUT", base + "/config/" + subject, "{\"compatibility\":\"BACKWARD\"}").statusCode()).isEqualTo(200);
        HttpResponse<String> v1 = send(http, "POST", base + "/subjects/" + subject + "/versions",
                schema("[{\"name\":\"a\",\"type\":\"int\"}]"));
        assertThat(v1.statusCode()).isEqualTo(200);
        assertThat(v1.body()).contains("\"id\"");

        // a new field without a default cannot read old records: not BACKWARD compatible
        HttpResponse<String> broken = send(http, "POST", base + "/subjects/" + subject + "/versions",
                schema("[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}]"));
        assertThat(broken.statusCode()).isEqualTo(409);

        HttpResponse<String> compatible = send(http, "POST", base + "/subjects/" + subject + "/versions",
                schema("[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}]"));
        assertThat(compatible.statusCode()).isEqualTo(200);
        assertThat(send(http, "GET", base + "/config/" + subject, null).body()).contains("BACKWARD");
    }

    @Test
    @Order(4)
    void everyTopicSubjectIsBackwardCompatibleFromTheStart() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (String topic : Topics.ALL) {
            HttpResponse<String> cfg = send(http, "GET", stack.registryUrl() + "/config/" + Topics.valueSubject(topic), null);
            assertThat(cfg.statusCode()).as(topic).isEqualTo(200);
            assertThat(cfg.body()).as(topic).contains("BACKWARD");
        }
    }

    @Test
    @Order(100)
    void closeStopsBothServersAndFreesTheirPorts() {
        long kafkaPid = stack.kafka().process().pid();
        long registryPid = stack.registry().process().pid();
        int[] ports = {stack.kafka().port(), stack.kafka().controllerPort(), stack.registry().port()};

        stack.close();

        assertThat(ProcessHandle.of(kafkaPid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        assertThat(ProcessHandle.of(registryPid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        for (int port : ports) {
            assertThat(Ports.isFree(port)).as("port %d is free", port).isTrue();
        }
        stack.close(); // idempotent
    }

    private static String schema(String fields) {
        String avro = "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"itcase\",\"fields\":" + fields + "}";
        return "{\"schema\":\"" + avro.replace("\"", "\\\"") + "\"}";
    }

    private static HttpResponse<String> send(HttpClient http, String method, String url, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
