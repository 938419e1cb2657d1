package io.weightstream.job;

import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;

/**
 * A tensor whose chunks are all in, checked against its manifest entry (CRC-32C of each chunk, SHA-256 of the
 * whole): the raw little-endian bytes, the entry and the policy, ready for {@link TensorCompressOperator}.
 *
 * <pre>{@code
 * Tensor t = assembled.toTensor();   // IllegalArgumentException for an unknown dtype or a size mismatch
 * }</pre>
 */
public class AssembledTensor {
    public String model;
    public String version;
    public TensorEntry entry;
    public CompressionPolicy policy;
    public long publishedAtMs;
    public byte[] data;

    public AssembledTensor() {
    }

    public static AssembledTensor of(ExpectedTensor expected, byte[] data) {
        AssembledTensor t = new AssembledTensor();
        t.model = expected.model;
        t.version = expected.version;
        t.entry = expected.entry;
        t.policy = expected.policy;
        t.publishedAtMs = expected.publishedAtMs;
        t.data = data;
        return t;
    }

    /**
     * The bytes as a codec tensor named after the entry (shared, not copied).
     *
     * @throws IllegalArgumentException if the dtype is unknown to this job or the bytes do not fit dtype x shape
     */
    public Tensor toTensor() {
        if (entry.getDtype() == null || entry.getDtype() == io.weightstream.schemas.DType.UNKNOWN) {
            throw new IllegalArgumentException("tensor '" + entry.getName() + "' has a dtype this job does not know ("
                    + entry.getDtype() + ")");
        }
        long[] shape = entry.getShape().stream().mapToLong(Long::longValue).toArray();
        TensorSpec spec = new TensorSpec(entry.getName(), DType.valueOf(entry.getDtype().name()), shape);
        return new Tensor(spec, ByteBuffer.wrap(data));
    }

    /** {@code model/version}. */
    public String versionKey() {
        return model + "/" + version;
    }

    @Override
    public String toString() {
        return "AssembledTensor(" + model + "/" + version + "/" + entry.getName() + ", " + (data == null ? 0 : data.length)
                + " bytes)";
    }
}
