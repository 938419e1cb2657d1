package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.common.utils.AppInfoParser;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes manifests of {@code deploy/k8s} parsed as YAML and checked against the code they deploy: the topics
 * equal {@link Topics#specs(int)}, versions equal the pinned ones, the job's endpoints name the Kafka and registry
 * services, the GPU TaskManagers ask Kubernetes for as many GPUs as they declare to Flink, the decoder runs replicas.
 */
class K8sManifestsTest {
    static final Path K8S = Path.of("k8s");
    static final String NAMESPACE = "weightstream";
    static List<JsonNode> docs;

    @BeforeAll
    static void parse() throws IOException {
        docs = new ArrayList<>();
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        try (Stream<Path> files = Files.list(K8S)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                try (MappingIterator<JsonNode> it = yaml.readerFor(JsonNode.class).readValues(f.toFile())) {
                    while (it.hasNext()) {
                        JsonNode doc = it.next();
                        if (doc != null && !doc.isNull() && !doc.isEmpty()) {
                            docs.add(doc);
                        }
                    }
                }
            }
        }
    }

    static List<JsonNode> kind(String kind) {
        return docs.stream().filter(d -> kind.equals(d.path("kind").asText())).toList();
    }

    static JsonNode one(String kind, String name) {
        List<JsonNode> found = kind(kind).stream().filter(d -> name.equals(d.path("metadata").path("name").asText())).toList();
        assertThat(found).as(kind + " " + name).hasSize(1);
        return found.get(0);
    }

    @Test
    void everyResourceHasAKnownKindAndLivesInTheNamespace() {
        assertThat(docs).extracting(d -> d.path("kind").asText()).containsOnly("Namespace", "KafkaNodePool", "Kafka",
                "KafkaTopic", "Deployment", "Service", "FlinkDeployment");
        assertThat(one("Namespace", NAMESPACE)).isNotNull();
        for (JsonNode d : docs) {
            assertThat(d.path("apiVersion").asText()).as("apiVersion of " + d.path("kind")).isNotEmpty();
            if (!d.path("kind").asText().equals("Namespace")) {
                assertThat(d.path("metadata").path("namespace").asText()).as(d.path("kind") + " " + d.path("metadata").path("name"))
                        .isEqualTo(NAMESPACE);
            }
        }
    }

    @Test
    void kafkaIsThePinnedVersionInKraftModeForRecordsOf16MiBAndReplicated() {
        JsonNode kafka = one("Kafka", "weightstream");
        assertThat(kafka.path("apiVersion").asText()).isEqualTo("kafka.strimzi.io/v1beta2");
        assertThat(kafka.path("metadata").path("annotations").path("strimzi.io/kraft").asText()).isEqualTo("enabled");
        assertThat(kafka.path("metadata").path("annotations").path("strimzi.io/node-pools").asText()).isEqualTo("enabled");
        assertThat(kafka.path("spec").path("kafka").path("version").asText()).isEqualTo(AppInfoParser.getVersion());
        JsonNode config = kafka.path("spec").path("kafka").path("config");
        assertThat(config.path("message.max.bytes").asLong()).isEqualTo(KafkaBroker.MAX_MESSAGE_BYTES);
        assertThat(config.path("replica.fetch.max.bytes").asLong()).isEqualTo(KafkaBroker.MAX_MESSAGE_BYTES);
        assertThat(config.path("transaction.max.timeout.ms").asLong()).isEqualTo(900_000);
        assertThat(config.path("min.insync.replicas").asInt()).isEqualTo(2);
        assertThat(config.path("transaction.state.log.min.isr").asInt()).isEqualTo(2);
        assertThat(kafka.path("spec").path("entityOperator").has("topicOperator")).isTrue();

        JsonNode pool = one("KafkaNodePool", "dual-role");
        assertThat(pool.path("metadata").path("labels").path("strimzi.io/cluster").asText()).isEqualTo("weightstream");
        assertThat(pool.path("spec").path("replicas").asInt()).isEqualTo(3);
        assertThat(pool.path("spec").path("roles")).extracting(JsonNode::asText).containsExactlyInAnyOrder("controller", "broker");
    }

    @Test
    void theTopicsAreTopicsSpecsWithMorePartitionsOnTheChunkTopics() {
        List<JsonNode> topics = kind("KafkaTopic");
        int chunkPartitions = one("KafkaTopic", Topics.LAYERS).path("spec").path("partitions").asInt();
        List<TopicSpec> declared = new ArrayList<>();
        for (JsonNode t : topics) {
            assertThat(t.path("metadata").path("labels").path("strimzi.io/cluster").asText()).isEqualTo("weightstream");
            assertThat(t.path("spec").path("replicas").asInt()).as("replicas").isEqualTo(3);
            Map<String, String> configs = new HashMap<>();
            t.path("spec").path("config").fields().forEachRemaining(e -> configs.put(e.getKey(), e.getValue().asText()));
            declared.add(new TopicSpec(t.path("metadata").path("name").asText(), t.path("spec").path("partitions").asInt(), configs));
        }
        assertThat(declared).containsExactlyInAnyOrderElementsOf(Topics.specs(chunkPartitions));
        assertThat(chunkPartitions).as("partitions of the chunk topics at scale").isGreaterThan(Topics.DEFAULT_CHUNK_PARTITIONS);
    }

    @Test
    void theFlinkDeploymentRunsTheJobJarWithCheckpointsAndGpuTaskManagers() throws IOException {
        JsonNode flink = one("FlinkDeployment", "weightstream-compression");
        assertThat(flink.path("apiVersion").asText()).isEqualTo("flink.apache.org/v1beta1");
        JsonNode spec = flink.path("spec");
        String[] flinkVersion = FlinkCluster.JvmOptions.flinkVersion().split("\\.");
        assertThat(spec.path("flinkVersion").asText()).isEqualTo("v" + flinkVersion[0] + "_" + flinkVersion[1]);
        assertThat(spec.path("image").asText()).matches("[a-z0-9./-]+/flink-job:[0-9][0-9A-Za-z.-]*");

        // the job jar: where the Dockerfile puts it, with the job's main class
        JsonNode job = spec.path("job");
        String jar = job.path("jarURI").asText();
        assertThat(jar).startsWith("local:///").endsWith("-job.jar");
        Matcher copy = Pattern.compile("(?m)^COPY flink-jobs/target/weightstream-flink-jobs-\\S+-job\\.jar (\\S+)$")
                .matcher(Files.readString(K8S.resolve("Dockerfile.flink")));
        assertThat(copy.find()).as("Dockerfile.flink copies the job jar").isTrue();
        assertThat(jar).isEqualTo("local://" + copy.group(1));
        assertThat(Files.readString(K8S.resolve("Dockerfile.flink")))
                .contains("FROM flink:" + FlinkCluster.JvmOptions.flinkVersion() + "-java17")
                .contains("/opt/flink/plugins/gpu/");
        assertThat(job.path("entryClass").asText()).isEqualTo("io.weightstream.job.CompressionJobMain");
        assertThat(job.path("state").asText()).isEqualTo("running");
        assertThat(job.path("upgradeMode").asText()).isIn("last-state", "savepoint");

        Map<String, String> args = new HashMap<>();
        JsonNode a = job.path("args");
        for (int i = 0; i + 1 < a.size(); i += 2) {
            assertThat(a.get(i).asText()).startsWith("--");
            args.put(a.get(i).asText().substring(2), a.get(i + 1).asText());
        }
        assertThat(args.get("bootstrap.servers")).isEqualTo(kafkaBootstrap());
        assertThat(args.get("registry.url")).isEqualTo(registryUrl());
        assertThat(args.get("gpu.resource")).isEqualTo("true");
        int parallelism = Integer.parseInt(args.get("parallelism"));
        assertThat(job.path("parallelism").asInt()).isEqualTo(parallelism);
        // more readers than partitions would idle (SCALING.md)
        assertThat(parallelism).isLessThanOrEqualTo(one("KafkaTopic", Topics.LAYERS).path("spec").path("partitions").asInt());

        // checkpoints: durable storage, kept on cancellation; the job's own option agrees with the cluster's
        JsonNode conf = spec.path("flinkConfiguration");
        assertThat(conf.path("execution.checkpointing.dir").asText()).startsWith("s3://").isEqualTo(args.get("checkpoint.dir"));
        assertThat(conf.path("execution.checkpointing.externalized-checkpoint-retention").asText()).isEqualTo("RETAIN_ON_CANCELLATION");
        assertThat(conf.path("high-availability.type").asText()).isEqualTo("kubernetes");
        assertThat(conf.path("state.backend.type").asText()).isEqualTo("hashmap");

        // GPU TaskManagers: the pod gets a GPU from Kubernetes; Flink is told one share of it per slot (as the local
        // stack's GPU TaskManagers, see FlinkCluster.taskManagerProperties) and finds it with our driver
        assertThat(conf.path("external-resources").asText().split(";")).contains(FlinkCluster.GPU_RESOURCE);
        assertThat(conf.path("external-resource.gpu.driver-factory.class").asText()).isEqualTo(FlinkCluster.GPU_DRIVER_FACTORY);
        assertThat(conf.path("external-resource.gpu.amount").asInt()).isEqualTo(conf.path("taskmanager.numberOfTaskSlots").asInt());
        // Flink would ask Kubernetes for `amount` GPUs per pod
        assertThat(conf.has("external-resource.gpu.kubernetes.config-key")).isFalse();
        JsonNode tmContainer = container(spec.path("taskManager").path("podTemplate"), "flink-main-container");
        int gpus = tmContainer.path("resources").path("limits").path("nvidia.com/gpu").asInt();
        assertThat(gpus).isPositive().isLessThanOrEqualTo(conf.path("external-resource.gpu.amount").asInt());
        assertThat(spec.path("taskManager").path("resource").path("cpu").asDouble()).isGreaterThanOrEqualTo(1.0);
        // DJL for inr: in Flink's lib/ (the job jar leaves it out), offline, one OpenMP thread
        String dockerfile = Files.readString(K8S.resolve("Dockerfile.flink"));
        List<String> intoLib = dockerfile.replace("\\\n", " ").lines()
                .filter(l -> l.startsWith("COPY ") && l.strip().endsWith(" /opt/flink/lib/"))
                .flatMap(l -> Stream.of(l.split("\\s+"))).map(f -> f.substring(f.lastIndexOf('/') + 1)).toList();
        for (String djl : List.of("api-", "pytorch-engine-", "pytorch-jni-")) {
            assertThat(intoLib).as("Dockerfile.flink copies %s*.jar into /opt/flink/lib", djl)
                    .anySatisfy(f -> assertThat(f).startsWith(djl).endsWith(".jar"));
        }
        // ... and the CUDA libtorch of exactly the version DJL's JNI library was built for (pytorch-jni-V-DJL.jar):
        // another version breaks tensor creation (seen with 2.11 on a GPU machine)
        Matcher jni = Pattern.compile("pytorch-jni-(\\d+\\.\\d+\\.\\d+)-").matcher(String.join(" ", intoLib));
        assertThat(jni.find()).isTrue();
        String torch = jni.group(1);
        assertThat(dockerfile).contains("torch==" + torch + " ");
        String flavor = env(tmContainer, "PYTORCH_FLAVOR");
        assertThat(flavor).matches("cu\\d+");
        assertThat(dockerfile).contains("download.pytorch.org/whl/" + flavor);
        assertThat(env(tmContainer, "PYTORCH_VERSION")).isEqualTo(torch);
        String libtorch = env(tmContainer, "PYTORCH_LIBRARY_PATH");
        assertThat(dockerfile).containsPattern("(?m)^COPY --from=\\S+ \\S+ " + Pattern.quote(libtorch.endsWith("/") ? libtorch : libtorch + "/") + "$");
        assertThat(conf.path("env.java.opts.taskmanager").asText()).contains("-Dai.djl.offline=true");
        assertThat(env(tmContainer, "OMP_NUM_THREADS")).isEqualTo("1");
        // the s3 file system for the checkpoints is enabled in every pod
        assertThat(env(container(spec.path("podTemplate"), "flink-main-container"), "ENABLE_BUILT_IN_PLUGINS"))
                .startsWith("flink-s3-fs-").endsWith("-" + FlinkCluster.JvmOptions.flinkVersion() + ".jar");
    }

    @Test
    void theDecoderRunsReplicasEachWithItsOwnIdAgainstTheSameKafkaAndRegistry() {
        JsonNode decoder = one("Deployment", "decoder");
        JsonNode spec = decoder.path("spec");
        assertThat(spec.path("replicas").asInt()).isGreaterThanOrEqualTo(2);
        assertThat(spec.path("selector").path("matchLabels")).isEqualTo(spec.path("template").path("metadata").path("labels"));
        JsonNode c = container(spec.path("template"), "decoder");
        assertThat(c.path("image").asText()).matches("[a-z0-9./-]+/weightstream:[0-9][0-9A-Za-z.-]*");
        List<String> args = new ArrayList<>();
        c.path("args").forEach(n -> args.add(n.asText()));
        assertThat(args.get(0)).isEqualTo("serve");
        assertThat(after(args, "--replica")).isEqualTo("$(POD_NAME)");
        assertThat(c.path("env").findValues("fieldPath")).extracting(JsonNode::asText).contains("metadata.name");
        assertThat(after(args, "--bootstrap")).isEqualTo(kafkaBootstrap());
        assertThat(after(args, "--registry")).isEqualTo(registryUrl());
        int port = Integer.parseInt(after(args, "--http-port"));
        assertThat(c.path("ports").get(0).path("containerPort").asInt()).isEqualTo(port);
        assertThat(c.path("readinessProbe").path("httpGet").path("path").asText()).isEqualTo("/readyz");
        assertThat(one("Service", "decoder").path("spec").path("selector")).isEqualTo(spec.path("selector").path("matchLabels"));
    }

    @Test
    void theRegistryIsThePinnedApicurioWithDurableStorage() {
        JsonNode registry = one("Deployment", "registry");
        JsonNode c = container(registry.path("spec").path("template"), "registry");
        String version = StackHome.APICURIO_JAR.replace("apicurio-registry-app-", "").replace("-runner.jar", "");
        assertThat(c.path("image").asText()).isEqualTo("apicurio/apicurio-registry:" + version);
        assertThat(env(c, "APICURIO_STORAGE_KIND")).isEqualTo("kafkasql");
        assertThat(env(c, "APICURIO_KAFKASQL_BOOTSTRAP_SERVERS")).isEqualTo(kafkaBootstrap());
        assertThat(c.path("readinessProbe").path("httpGet").path("path").asText()).isEqualTo(ApicurioRegistry.CCOMPAT_PATH + "/subjects");
        JsonNode service = one("Service", "registry");
        assertThat(service.path("spec").path("ports").get(0).path("port").asInt()).isEqualTo(c.path("ports").get(0).path("containerPort").asInt());
    }

    /** {@code <kafka>-kafka-bootstrap.<namespace>.svc:<plain listener port>}: the service Strimzi creates. */
    static String kafkaBootstrap() {
        JsonNode kafka = one("Kafka", "weightstream");
        int port = 0;
        for (JsonNode l : kafka.path("spec").path("kafka").path("listeners")) {
            if (!l.path("tls").asBoolean() && "internal".equals(l.path("type").asText())) {
                port = l.path("port").asInt();
            }
        }
        assertThat(port).as("a plain internal listener").isPositive();
        return kafka.path("metadata").path("name").asText() + "-kafka-bootstrap." + NAMESPACE + ".svc:" + port;
    }

    static String registryUrl() {
        JsonNode service = one("Service", "registry");
        return "http://registry." + NAMESPACE + ".svc:" + service.path("spec").path("ports").get(0).path("port").asInt()
                + ApicurioRegistry.CCOMPAT_PATH;
    }

    static JsonNode container(JsonNode podTemplate, String name) {
        for (JsonNode c : podTemplate.path("spec").path("containers")) {
            if (name.equals(c.path("name").asText())) {
                return c;
            }
        }
        throw new AssertionError("no container " + name + " in " + podTemplate);
    }

    static String env(JsonNode container, String name) {
        for (JsonNode e : container.path("env")) {
            if (name.equals(e.path("name").asText())) {
                return e.path("value").asText();
            }
        }
        throw new AssertionError("no env " + name + " in container " + container.path("name"));
    }

    static String after(List<String> args, String flag) {
        int i = args.indexOf(flag);
        assertThat(i).as(flag).isNotNegative().isLessThan(args.size() - 1);
        return args.get(i + 1);
    }
}
