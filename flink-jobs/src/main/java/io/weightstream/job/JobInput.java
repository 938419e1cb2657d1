package io.weightstream.job;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.LayerChunk;
import java.util.Objects;

/**
 * One record read by the job's source: exactly one of {@link #manifest}, {@link #chunk} or {@link #deadLetter} is
 * set, decided by the Kafka topic the record came from ({@link JobInputDeserializer}); a record that cannot be read
 * becomes a dead letter instead of failing the job. Carries where it was read, for later dead letters.
 * A Flink POJO (public fields, no-arg constructor), so Flink serializes it field by field, the Avro records with
 * Flink's Avro serializer.
 *
 * <pre>{@code
 * JobInput in = JobInput.chunk(layerChunk, "weightstream.layers", 2, 1041L);
 * if (in.chunk != null) { ... }
 * }</pre>
 */
public class JobInput {
    public CheckpointManifest manifest;
    public LayerChunk chunk;
    public DeadLetter deadLetter;
    /** Kafka topic, partition and offset the record was read from ("", -1, -1 when unknown). */
    public String topic = "";
    public int partition = -1;
    public long offset = -1;

    public JobInput() {
    }

    public static JobInput manifest(CheckpointManifest manifest, String topic, int partition, long offset) {
        JobInput in = at(topic, partition, offset);
        in.manifest = Objects.requireNonNull(manifest, "manifest");
        return in;
    }

    public static JobInput chunk(LayerChunk chunk, String topic, int partition, long offset) {
        JobInput in = at(topic, partition, offset);
        in.chunk = Objects.requireNonNull(chunk, "chunk");
        return in;
    }

    public static JobInput deadLetter(DeadLetter deadLetter) {
        JobInput in = at(deadLetter.getSourceTopic(), deadLetter.getPartition(), deadLetter.getOffset());
        in.deadLetter = deadLetter;
        return in;
    }

    private static JobInput at(String topic, int partition, long offset) {
        JobInput in = new JobInput();
        in.topic = topic == null ? "" : topic;
        in.partition = partition;
        in.offset = offset;
        return in;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JobInput j && Objects.equals(manifest, j.manifest) && Objects.equals(chunk, j.chunk)
                && Objects.equals(deadLetter, j.deadLetter) && Objects.equals(topic, j.topic)
                && partition == j.partition && offset == j.offset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, partition, offset);
    }

    @Override
    public String toString() {
        String what = manifest != null ? "manifest " + manifest.getModel() + "/" + manifest.getVersion()
                : chunk != null ? "chunk " + chunk.getChunkIndex() + "/" + chunk.getChunkCount() + " of "
                        + chunk.getModel() + "/" + chunk.getVersion() + "/" + chunk.getTensor()
                : deadLetter != null ? "dead letter: " + deadLetter.getReason() : "empty";
        return "JobInput(" + what + " @ " + topic + "-" + partition + ":" + offset + ")";
    }
}
