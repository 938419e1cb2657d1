package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;

/** The job's typed options: parsing, checks, the registry pass-through, and the README table kept in sync. */
class CompressionJobOptionsTest {

    @Test
    void parsesTypedValuesAndPassesRegistryOptionsThrough() {
        Configuration c = CompressionJobOptions.parse(Map.of(
                "bootstrap.servers", "127.0.0.1:9092",
                "registry.url", "http://127.0.0.1:8080/apis/ccompat/v7",
                "registry.timeout.ms", "5000",
                "parallelism", "3",
                "checkpoint.interval", "250 ms",
                "max.tensor.bytes", "64mb",
                "gpu.methods", "inr;rtn"));
        CompressionJobOptions.validate(c);
        assertThat(c.get(CompressionJobOptions.PARALLELISM)).isEqualTo(3);
        assertThat(c.get(CompressionJobOptions.CHECKPOINT_INTERVAL)).isEqualTo(Duration.ofMillis(250));
        assertThat(c.get(CompressionJobOptions.MAX_TENSOR_BYTES).getBytes()).isEqualTo(64L << 20);
        assertThat(c.get(CompressionJobOptions.ASSEMBLY_TIMEOUT)).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.get(CompressionJobOptions.GPU_METHODS)).containsExactly("inr", "rtn");
        assertThat(CompressionJobOptions.registryConfig(c)).isEqualTo(Map.of(
                "registry.url", "http://127.0.0.1:8080/apis/ccompat/v7", "registry.timeout.ms", "5000"));
        // both codecs are on the class path (inr through weightstream-inr-trainer): both run in the gpu group
        assertThat(CompressionJob.gpuMethods(c)).containsExactly("inr", "rtn");
    }

    @Test
    void unknownKeysAndBadValuesAreNamed() {
        assertThatThrownBy(() -> CompressionJobOptions.parse(Map.of("paralelism", "2", "checkpoint.interval", "soon")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown option 'paralelism'")
                .hasMessageContaining("checkpoint.interval");
        Configuration c = CompressionJobOptions.parse(Map.of("transaction.timeout", "20 min", "parallelism", "0"));
        assertThatThrownBy(() -> CompressionJobOptions.validate(c))
                .hasMessageContaining("bootstrap.servers is not set")
                .hasMessageContaining("registry.url is not set")
                .hasMessageContaining("parallelism must be >= 1")
                .hasMessageContaining("transaction.timeout must be in [1 s, 15 min]");
    }

    @Test
    void theReadmeTableIsTheGeneratedOne() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        String table = CompressionJobOptions.markdownTable();
        assertThat(readme).as("flink-jobs/README.md must contain this table:\n" + table).contains(table);
        for (var o : CompressionJobOptions.all()) {
            assertThat(CompressionJobOptions.description(o)).as(o.key()).isNotBlank();
        }
    }

    @Test
    void argumentsAreKeyValuePairs() {
        assertThat(CompressionJobMain.arguments(new String[] {"--parallelism", "2", "--registry.url=mem://x"}))
                .isEqualTo(Map.of("parallelism", "2", "registry.url", "mem://x"));
    }
}
