package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a local run keeps its checkpoints and which one a restarted run resumes from. */
class LocalResumeTest {
    @TempDir
    Path dir;

    @Test
    void theNewestCompleteCheckpointOfAnyEarlierRunIsChosen() throws Exception {
        assertThat(CompressionJob.latestCheckpoint(dir.toUri())).isEmpty();
        assertThat(CompressionJob.latestCheckpoint(dir.resolve("missing").toUri())).isEmpty();
        Path old = Files.createDirectories(dir.resolve("job-a/chk-7"));
        Files.write(old.resolve("_metadata"), new byte[] {1});
        Files.setLastModifiedTime(old.resolve("_metadata"), FileTime.fromMillis(1_000_000));
        Path newer = Files.createDirectories(dir.resolve("job-b/chk-3"));
        Files.write(newer.resolve("_metadata"), new byte[] {1});
        Files.setLastModifiedTime(newer.resolve("_metadata"), FileTime.fromMillis(2_000_000));
        Files.createDirectories(dir.resolve("job-b/chk-4")); // being written: no _metadata yet
        Files.createDirectories(dir.resolve("job-b/shared"));
        assertThat(CompressionJob.latestCheckpoint(dir.toUri())).contains(newer);
        assertThat(CompressionJob.latestCheckpoint(java.net.URI.create("hdfs://nn/checkpoints"))).isEmpty();
    }

    @Test
    void theDefaultDirectoryIsPerConsumerGroup() {
        Configuration c = CompressionJobOptions.parse(Map.of("group.id", "g1"));
        assertThat(CompressionJob.localCheckpointDir(c).getPath()).matches(".*/weightstream-checkpoints/g1/?");
        Configuration explicit = CompressionJobOptions.parse(Map.of("checkpoint.dir", dir.toUri().toString()));
        assertThat(CompressionJob.localCheckpointDir(explicit)).isEqualTo(dir.toUri());
    }
}
