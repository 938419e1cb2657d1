package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.codec.Codecs;
import io.weightstream.job.Fixtures.Published;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.TensorEntry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.functions.FromElementsGeneratorFunction;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The whole topology of {@link CompressionJob} on a Flink MiniCluster, fed from memory and collected in memory
 * (the Kafka wiring is {@code CompressionJobITCase}): records shuffled and duplicated, a garbage record, a version
 * with an unknown method, and rtn routed to the "gpu" slot-sharing group.
 */
class CompressionJobTest {
    static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(4)
            .setConfiguration(REPORTER.addToConfiguration(new Configuration()))
            .build());

    @Test
    void compressesEveryTensorOnceEmitsCompleteVersionsOnlyAndRoutesGpuMethods() throws Exception {
        Published good = Fixtures.publish("m", "v1", Fixtures.policy("rtn", Map.of("bits", "8")), 4096,
                Fixtures.floats("attn.q", 1, 64, 64), Fixtures.floats("attn.k", 2, 64, 64),
                Fixtures.floats("ln.bias", 3, 64), Fixtures.floats("emb", 4, 100, 48));
        Published bad = Fixtures.publish("m", "v2", Fixtures.policy("nosuchmethod", Map.of()), 4096,
                Fixtures.floats("attn.q", 5, 32, 32), Fixtures.floats("ln.bias", 6, 32));
        List<JobInput> inputs = new ArrayList<>(good.inputs());
        inputs.addAll(good.inputs().subList(0, 5)); // duplicates, as after a producer retry
        inputs.addAll(bad.inputs());
        inputs.add(JobInput.deadLetter(DeadLetters.forRecord("weightstream.layers", 2, 9, null,
                "garbage".getBytes(StandardCharsets.UTF_8), DeadLetters.DESERIALIZE, "not avro", null, 0)));
        Collections.shuffle(inputs, new Random(42));

        CollectingSink<CompressedLayerChunk> compressedSink = new CollectingSink<>("compressed");
        CollectingSink<ModelVersionCompressed> versionSink = new CollectingSink<>("versions");
        CollectingSink<DeadLetter> dlqSink = new CollectingSink<>("dlq");
        TypeInformation<JobInput> type = TypeInformation.of(JobInput.class);
        DataGeneratorSource<JobInput> source = new DataGeneratorSource<>(
                new FromElementsGeneratorFunction<>(type, inputs.toArray(new JobInput[0])), inputs.size(), type);
        Configuration options = CompressionJobOptions.parse(Map.of("parallelism", "2", "gpu.methods", "rtn;inr",
                "compressed.chunk.bytes", "2kb", "checkpoint.interval", "200 ms"));
        CompressionJob job = new CompressionJob(source, compressedSink, versionSink, dlqSink, options);

        JobExecutionResult result = job.execute(StreamExecutionEnvironment.getExecutionEnvironment());

        // every tensor of v1 exactly once, its payload decoding to the hash the encoder announced
        Map<String, List<CompressedLayerChunk>> byTensor = compressedSink.records().stream()
                .collect(Collectors.groupingBy(c -> c.getVersion() + "/" + c.getTensor()));
        assertThat(byTensor.keySet()).containsExactlyInAnyOrder("v1/attn.q", "v1/attn.k", "v1/ln.bias", "v1/emb");
        for (TensorEntry e : good.manifest().getTensors()) {
            List<CompressedLayerChunk> records = byTensor.get("v1/" + e.getName());
            records.sort(java.util.Comparator.comparingInt(CompressedLayerChunk::getChunkIndex));
            assertThat(records).extracting(CompressedLayerChunk::getChunkIndex)
                    .containsExactlyElementsOf(java.util.stream.IntStream.range(0, records.get(0).getChunkCount())
                            .boxed().toList());
            byte[] payload = new byte[(int) records.get(0).getEncodedBytes()];
            for (CompressedLayerChunk c : records) {
                assertThat(c.getData().remaining()).isLessThanOrEqualTo(2048);
                c.getData().duplicate().get(payload, (int) c.getOffset(), c.getData().remaining());
            }
            byte[] decoded = Codecs.decode(ByteBuffer.wrap(payload)).toBytes();
            assertThat(Fixtures.sha256(decoded)).isEqualTo(records.get(0).getReconstructionSha256());
            assertThat(records.get(0).getMethod()).isEqualTo(e.getShape().size() == 1 ? "lossless" : "rtn");
        }

        // one version record, for v1 only
        assertThat(versionSink.records()).singleElement().satisfies(v -> {
            assertThat(v.getVersion()).isEqualTo("v1");
            assertThat(v.getTensorCount()).isEqualTo(4);
            assertThat(v.getRatio()).isGreaterThan(3.0);
            assertThat(v.getMethods()).extracting(m -> m.getMethod()).containsExactly("lossless", "rtn");
        });

        // the garbage, both v2 tensors and the incomplete v2 in the dead-letter topic
        List<DeadLetter> dlq = dlqSink.records();
        assertThat(dlq).anySatisfy(d -> assertThat(d.getReason()).isEqualTo("not avro"));
        // an invalid policy fails every tensor of the version, even those it would keep exact
        assertThat(dlq).filteredOn(d -> DeadLetters.ENCODE.equals(d.getStage())).hasSize(2)
                .allSatisfy(d -> assertThat(d.getReason()).contains("unknown method 'nosuchmethod'"));
        assertThat(dlq).filteredOn(d -> DeadLetters.VERSION.equals(d.getStage())).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("m/v2 is incomplete").contains("nosuchmethod"));
        assertThat(dlq).hasSize(4);

        // rtn tensors went through the compress operator of the "gpu" group, the lossless ones through the other
        assertThat(counter(result, "compress \\(gpu\\)", "tensorsCompressed")).isEqualTo(3);
        assertThat(counter(result, "compress", "tensorsCompressed")).isEqualTo(1); // v1 ln.bias
        assertThat(counter(result, "compress", "tensorsFailed")).isEqualTo(2); // v2: invalid policy
        assertThat(counter(result, "assemble", "duplicateChunks")).isPositive();
        assertThat(counter(result, "assemble", "tensorsAssembled")).isEqualTo(6);
    }

    /** Sum of a counter over the subtasks of the operator whose name matches {@code operator} exactly. */
    static long counter(JobExecutionResult result, String operator, String name) {
        long sum = 0;
        for (var group : REPORTER.findOperatorMetricGroups(result.getJobID(), operator)) {
            if (!group.getAllVariables().get("<operator_name>").matches(operator)) {
                continue;
            }
            Metric m = REPORTER.getMetricsByGroup(group).get(name);
            if (m instanceof Counter c) {
                sum += c.getCount();
            }
        }
        return sum;
    }
}
