package io.weightstream.tensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * Name, element type and shape of a tensor: everything but its bytes.
 *
 * <pre>{@code
 * TensorSpec spec = new TensorSpec("encoder.layer.0.weight", DType.F32, 384, 1536);
 * spec.numel();    // 589824
 * spec.byteSize(); // 2359296
 * }</pre>
 */
public final class TensorSpec {
    private final String name;
    private final DType dtype;
    private final long[] shape;

    public TensorSpec(String name, DType dtype, long... shape) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        long n = 1;
        for (long d : this.shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        dtype.byteSize(n); // overflow check
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteSize() {
        return dtype.byteSize(numel());
    }

    /** Rows of the 2-D view (first dimension; 1 for a scalar). */
    public long rows() {
        return shape.length == 0 ? 1 : shape[0];
    }

    /** Columns of the 2-D view (product of the dimensions after the first). */
    public long cols() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) {
            n *= shape[i];
        }
        return n;
    }

    public TensorSpec withName(String newName) {
        return new TensorSpec(newName, dtype, shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
