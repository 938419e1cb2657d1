package io.weightstream.bench;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs versions of a model through the real pipeline (publisher, Kafka, the Flink compression job, a decoder
 * replica) and reports publish-to-serving per version. The bench module knows no stack; the CLI supplies this
 * ({@code weightstream bench} runs it on a local stack it starts and stops).
 *
 * <pre>{@code
 * List<PipelineRun> runs = probe.run(modelFile, "all-minilm-l6-v2",
 *         List.of(new PipelineProbe.Version("v1", "rtn", BenchSetting.of("bits", "8"))), log);
 * }</pre>
 */
@FunctionalInterface
public interface PipelineProbe {
    /** A version to publish: its name, method and setting. */
    record Version(String version, String method, BenchSetting setting) {
    }

    /**
     * Publishes each version in order, waiting until the replica serves it.
     *
     * @throws Exception when the stack, the job or the replica fails; the bench reports it and goes on
     */
    List<PipelineRun> run(Path modelFile, String model, List<Version> versions, Consumer<String> log) throws Exception;
}
