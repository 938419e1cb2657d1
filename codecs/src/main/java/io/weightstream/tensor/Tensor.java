package io.weightstream.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * A tensor: its spec and its raw little-endian bytes (possibly a view of a memory-mapped file).
 *
 * <pre>{@code
 * Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 2, 2), new float[] {1, 2, 3, 4});
 * float[] values = t.toFloats();
 * }</pre>
 */
public final class Tensor {
    private final TensorSpec spec;
    private final ByteBuffer data;

    /**
     * @param data exactly {@code spec.byteSize()} bytes between position and limit; not copied
     */
    public Tensor(TensorSpec spec, ByteBuffer data) {
        this.spec = Objects.requireNonNull(spec, "spec");
        if (data.remaining() != spec.byteSize()) {
            throw new IllegalArgumentException("tensor '" + spec.name() + "': " + data.remaining()
                    + " bytes given but " + spec.dtype() + " x " + java.util.Arrays.toString(spec.shape())
                    + " needs " + spec.byteSize());
        }
        this.data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    public TensorSpec spec() {
        return spec;
    }

    public String name() {
        return spec.name();
    }

    public DType dtype() {
        return spec.dtype();
    }

    /** A read-only little-endian view of the raw bytes, positioned at 0. */
    public ByteBuffer data() {
        return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The same bytes (shared, not copied) under another name. */
    public Tensor withName(String newName) {
        return new Tensor(spec.withName(newName), data);
    }

    /** A copy of the raw bytes. */
    public byte[] toBytes() {
        byte[] out = new byte[Math.toIntExact(spec.byteSize())];
        data().get(out);
        return out;
    }

    /** The values as float32, widened from F16/BF16 or narrowed from F64; floating-point dtypes only. */
    public float[] toFloats() {
        return FloatConversions.toFloats(spec.dtype(), data(), Math.toIntExact(spec.numel()));
    }

    /** A tensor of {@code spec}'s dtype holding {@code values} (rounded to nearest-even for F16/BF16). */
    public static Tensor ofFloats(TensorSpec spec, float[] values) {
        if (values.length != spec.numel()) {
            throw new IllegalArgumentException("tensor '" + spec.name() + "': " + values.length
                    + " values for " + spec.numel() + " elements");
        }
        return new Tensor(spec, FloatConversions.fromFloats(spec.dtype(), values));
    }

    @Override
    public String toString() {
        return "Tensor(" + spec + ")";
    }
}
