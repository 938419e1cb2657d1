package io.weightstream.job;

import io.weightstream.schemas.LayerChunk;
import java.util.Objects;

/**
 * What {@link ChunkAssembler} receives for one tensor, keyed by {@code model/version/tensor}: either the
 * {@link #expected} entry from the manifest or one {@link #chunk} with where it was read. They arrive in any order.
 *
 * <pre>{@code
 * stream.keyBy(AssemblerInput::key).process(new ChunkAssembler(maxTensorBytes, timeoutMs));
 * }</pre>
 */
public class AssemblerInput {
    public ExpectedTensor expected;
    public LayerChunk chunk;
    public String topic = "";
    public int partition = -1;
    public long offset = -1;

    public AssemblerInput() {
    }

    public static AssemblerInput expected(ExpectedTensor expected) {
        AssemblerInput in = new AssemblerInput();
        in.expected = Objects.requireNonNull(expected, "expected");
        return in;
    }

    public static AssemblerInput chunk(LayerChunk chunk, String topic, int partition, long offset) {
        AssemblerInput in = new AssemblerInput();
        in.chunk = Objects.requireNonNull(chunk, "chunk");
        in.topic = topic == null ? "" : topic;
        in.partition = partition;
        in.offset = offset;
        return in;
    }

    /** {@code model/version/tensor}; model and version never contain '/', so the key is unambiguous. */
    public static String key(String model, String version, String tensor) {
        return model + "/" + version + "/" + tensor;
    }

    public String key() {
        return expected != null ? expected.key() : key(chunk.getModel(), chunk.getVersion(), chunk.getTensor());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AssemblerInput a && Objects.equals(expected, a.expected) && Objects.equals(chunk, a.chunk)
                && Objects.equals(topic, a.topic) && partition == a.partition && offset == a.offset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(key(), offset);
    }

    @Override
    public String toString() {
        return expected != null ? expected.toString()
                : "Chunk(" + key() + " #" + chunk.getChunkIndex() + "/" + chunk.getChunkCount() + " @" + chunk.getOffset() + ")";
    }
}
