package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.codec.Codecs;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.job.Fixtures.Published;
import io.weightstream.job.Fixtures.RawTensor;
import io.weightstream.policy.Policies;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.operators.SlotSharingGroup;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalResourceOptions;
import org.apache.flink.connector.datagen.functions.FromElementsGeneratorFunction;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code inr} through the whole {@link CompressionJob} on a MiniCluster, with the real DJL trainer on the CPU: a
 * layer the network can represent is trained and kept, a layer whose time budget stops training after a step falls
 * back to the policy's next method ({@code rtn}), a bias stays lossless; the inr tensors go through the compress
 * operator of the {@code gpu} slot-sharing group, and the training metrics are registered and counted there.
 */
class InrCompressionJobTest {
    static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .setConfiguration(REPORTER.addToConfiguration(new Configuration()))
            .build());

    /** A 64 x 128 layer with weight-like scale and a smooth structure a small network can learn in a few seconds. */
    static RawTensor smoothLayer(String name) {
        int rows = 64;
        int cols = 128;
        SplittableRandom rnd = new SplittableRandom(3);
        ByteBuffer b = ByteBuffer.allocate(4 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double x = 2.0 * r / (rows - 1) - 1;
                double y = 2.0 * c / (cols - 1) - 1;
                b.putFloat((float) (0.05 * (Math.sin(3 * x) * Math.cos(2 * y) + 0.3 * x)
                        + 0.0005 * (rnd.nextDouble() - 0.5)));
            }
        }
        return new RawTensor(name, new long[] {rows, cols}, b.array());
    }

    @Test
    void inrLayersTrainInTheGpuGroupFallBackWhenTheBudgetRunsOutAndReportMetrics() throws Exception {
        String policy = """
                {"defaultMethod": "inr",
                 "defaultParams": {"min.bytes": "0", "device": "cpu", "block.rows": "0", "tile": "8", "ratio": "4",
                                   "bits": "8", "steps": "400", "target.rel.l2": "0.02", "time.budget.s": "0"},
                 "rules": [{"pattern": "*.budget_too_small", "method": "inr",
                            "params": {"min.bytes": "0", "device": "cpu", "tile": "8", "ratio": "4",
                                       "steps": "100000", "time.budget.s": "0.001"}}],
                 "fallbackMethods": ["rtn:bits=8"]}
                """;
        RawTensor smooth = smoothLayer("fc.weight");
        RawTensor hard = Fixtures.floats("fc.budget_too_small", 7, 64, 128);
        RawTensor bias = Fixtures.floats("fc.bias", 8, 128);
        Published published = Fixtures.publish("m", "v1", Policies.parse(policy, "test"), 8192, smooth, hard, bias);
        List<JobInput> inputs = published.inputs();

        CollectingSink<CompressedLayerChunk> compressedSink = new CollectingSink<>("inr-compressed");
        CollectingSink<ModelVersionCompressed> versionSink = new CollectingSink<>("inr-versions");
        CollectingSink<DeadLetter> dlqSink = new CollectingSink<>("inr-dlq");
        TypeInformation<JobInput> type = TypeInformation.of(JobInput.class);
        DataGeneratorSource<JobInput> source = new DataGeneratorSource<>(
                new FromElementsGeneratorFunction<>(type, inputs.toArray(new JobInput[0])), inputs.size(), type);
        Configuration options = CompressionJobOptions.parse(Map.of("parallelism", "1",
                "checkpoint.interval", "200 ms"));
        assertThat(CompressionJob.gpuMethods(options)).containsExactly("inr");
        CompressionJob job = new CompressionJob(source, compressedSink, versionSink, dlqSink, options);

        JobExecutionResult result = job.execute(StreamExecutionEnvironment.getExecutionEnvironment());

        assertThat(dlqSink.records()).isEmpty();
        Map<String, List<CompressedLayerChunk>> byTensor = compressedSink.records().stream()
                .collect(Collectors.groupingBy(CompressedLayerChunk::getTensor));
        assertThat(byTensor.keySet()).containsExactlyInAnyOrder("fc.weight", "fc.budget_too_small", "fc.bias");
        Map<String, Tensor> decoded = new HashMap<>();
        for (var e : byTensor.entrySet()) {
            List<CompressedLayerChunk> records = e.getValue();
            records.sort(Comparator.comparingInt(CompressedLayerChunk::getChunkIndex));
            byte[] payload = new byte[(int) records.get(0).getEncodedBytes()];
            for (CompressedLayerChunk c : records) {
                c.getData().duplicate().get(payload, (int) c.getOffset(), c.getData().remaining());
            }
            Tensor back = Codecs.decode(ByteBuffer.wrap(payload));
            assertThat(Fixtures.sha256(back.toBytes())).isEqualTo(records.get(0).getReconstructionSha256());
            decoded.put(e.getKey(), back);
        }
        // the smooth layer: a network at ratio ~4, close to the original
        CompressedLayerChunk fc = byTensor.get("fc.weight").get(0);
        assertThat(fc.getMethod()).isEqualTo("inr");
        assertThat((double) fc.getOriginalBytes() / fc.getEncodedBytes()).isGreaterThan(3.5);
        Tensor original = Tensor.ofFloats(new TensorSpec("fc.weight", DType.F32, 64, 128), floats(smooth.data()));
        assertThat(TensorMetrics.compare(original, decoded.get("fc.weight")).relL2()).isLessThan(0.03);
        // the layer whose budget stopped training: the policy's next method took it
        assertThat(byTensor.get("fc.budget_too_small").get(0).getMethod()).isEqualTo("rtn");
        assertThat(byTensor.get("fc.bias").get(0).getMethod()).isEqualTo("lossless");
        assertThat(versionSink.records()).singleElement()
                .satisfies(v -> assertThat(v.getTensorCount()).isEqualTo(3));

        // both inr tensors went through the gpu group's operator, the bias through the other one
        assertThat(counter(result, "compress \\(gpu\\)", "tensorsCompressed")).isEqualTo(2);
        assertThat(counter(result, "compress", "tensorsCompressed")).isEqualTo(1);
        // the training metrics, registered in the operator's "inr" group
        Map<String, Metric> inr = inrMetrics(result);
        assertThat(inr.keySet()).contains("layersTrained", "trainingSteps", "fallbacks", "lastLayerSeconds",
                "stepsPerSecond", "lastLayerRelL2", "currentLayerProgress");
        assertThat(((Counter) inr.get("layersTrained")).getCount()).isEqualTo(2);
        assertThat(((Counter) inr.get("fallbacks")).getCount()).isEqualTo(1);
        assertThat(((Counter) inr.get("trainingSteps")).getCount()).isPositive();
        assertThat((Double) ((Gauge<?>) inr.get("lastLayerSeconds")).getValue()).isGreaterThanOrEqualTo(0.0);
    }

    @Test
    void theGpuGroupRequestsTheGpuResourceOnlyWhenAskedOrDeclared() {
        Configuration plain = CompressionJobOptions.parse(Map.of());
        Configuration cluster = new Configuration();
        assertThat(CompressionJob.gpuGroup(plain, cluster).getExternalResources()).isEmpty();
        cluster.set(ExternalResourceOptions.EXTERNAL_RESOURCE_LIST, List.of("fpga", "gpu"));
        SlotSharingGroup declared = CompressionJob.gpuGroup(plain, cluster);
        assertThat(declared.getExternalResources()).containsEntry("gpu", 1.0);
        Configuration asked = CompressionJobOptions.parse(Map.of("gpu.resource", "true"));
        assertThat(CompressionJob.gpuGroup(asked, new Configuration()).getExternalResources()).containsEntry("gpu", 1.0);
    }

    /** Sum of a counter over the subtasks of the operator whose name matches {@code operator} exactly. */
    private static long counter(JobExecutionResult result, String operator, String name) {
        long sum = 0;
        for (var group : REPORTER.findOperatorMetricGroups(result.getJobID(), operator)) {
            if (group.getAllVariables().get("<operator_name>").matches(operator)
                    && REPORTER.getMetricsByGroup(group).get(name) instanceof Counter c) {
                sum += c.getCount();
            }
        }
        return sum;
    }

    /** The metrics of the "inr" groups of the job's operators, summed by name (counters) or the last seen (gauges). */
    private static Map<String, Metric> inrMetrics(JobExecutionResult result) {
        Map<String, Metric> out = new HashMap<>();
        Map<String, Long> counts = new HashMap<>();
        for (var g : REPORTER.getMetricsByGroup().entrySet()) {
            String[] scope = g.getKey().getScopeComponents();
            if (scope.length == 0 || !"inr".equals(scope[scope.length - 1])
                    || !result.getJobID().toString().equals(g.getKey().getAllVariables().get("<job_id>"))) {
                continue;
            }
            for (var e : g.getValue().entrySet()) {
                if (e.getValue() instanceof Counter c) {
                    counts.merge(e.getKey(), c.getCount(), Long::sum);
                } else {
                    out.put(e.getKey(), e.getValue());
                }
            }
        }
        counts.forEach((name, n) -> {
            org.apache.flink.metrics.SimpleCounter c = new org.apache.flink.metrics.SimpleCounter();
            c.inc(n);
            out.put(name, c);
        });
        return out;
    }

    private static float[] floats(byte[] data) {
        float[] v = new float[data.length / 4];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }
}
