package io.weightstream.codec;

/**
 * Hard limits a decoder checks the sizes declared in a payload against <em>before</em> it allocates anything,
 * so a corrupt or hostile payload cannot make it allocate gigabytes or loop for ages.
 *
 * <pre>{@code
 * DecodeLimits limits = DecodeLimits.builder().maxOutputBytes(256L << 20).build();
 * Tensor t = codec.decode(payload, limits);   // throws CorruptPayloadException above 256 MiB
 * }</pre>
 */
public final class DecodeLimits {
    /** The largest Java array the VM reliably allocates. */
    public static final long MAX_ARRAY_BYTES = Integer.MAX_VALUE - 8;

    /** Limits allowing any tensor that fits one Java array: (2^31 - 9) bytes, rank 32. */
    public static final DecodeLimits DEFAULT = builder().build();

    private final long maxOutputBytes;
    private final long maxElements;
    private final int maxRank;

    private DecodeLimits(Builder b) {
        this.maxOutputBytes = b.maxOutputBytes;
        this.maxElements = b.maxElements;
        this.maxRank = b.maxRank;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Largest decoded tensor, in bytes; also the largest single temporary buffer a decoder may allocate. */
    public long maxOutputBytes() {
        return maxOutputBytes;
    }

    /** Largest number of elements of a decoded tensor. */
    public long maxElements() {
        return maxElements;
    }

    /** Largest number of dimensions. */
    public int maxRank() {
        return maxRank;
    }

    /**
     * Checks a declared tensor size.
     *
     * @param offset the payload offset of the declaration, for the exception
     * @throws CorruptPayloadException if the tensor is larger than these limits allow
     */
    public void checkTensor(long numel, long byteSize, long offset) {
        if (numel < 0 || numel > maxElements) {
            throw new CorruptPayloadException(offset, "declared tensor of " + numel
                    + " elements exceeds the limit of " + maxElements);
        }
        if (byteSize < 0 || byteSize > maxOutputBytes) {
            throw new CorruptPayloadException(offset, "declared tensor of " + byteSize
                    + " bytes exceeds the limit of " + maxOutputBytes);
        }
    }

    /**
     * Checks the size of a buffer a decoder is about to allocate because the payload says so.
     *
     * @return {@code bytes} as an int, ready for {@code new byte[...]}
     * @throws CorruptPayloadException naming {@code what} if it is negative or above {@link #maxOutputBytes()}
     */
    public int checkAllocation(long bytes, long offset, String what) {
        if (bytes < 0 || bytes > maxOutputBytes || bytes > MAX_ARRAY_BYTES) {
            throw new CorruptPayloadException(offset, "declared size of " + what + " (" + bytes
                    + " bytes) exceeds the limit of " + Math.min(maxOutputBytes, MAX_ARRAY_BYTES));
        }
        return (int) bytes;
    }

    @Override
    public String toString() {
        return "DecodeLimits(maxOutputBytes=" + maxOutputBytes + ", maxElements=" + maxElements
                + ", maxRank=" + maxRank + ")";
    }

    /** Fluent builder; {@link #build()} checks that every limit is positive. */
    public static final class Builder {
        private long maxOutputBytes = MAX_ARRAY_BYTES;
        private long maxElements = MAX_ARRAY_BYTES;
        private int maxRank = 32;

        private Builder() {
        }

        public Builder maxOutputBytes(long bytes) {
            this.maxOutputBytes = bytes;
            return this;
        }

        public Builder maxElements(long elements) {
            this.maxElements = elements;
            return this;
        }

        public Builder maxRank(int rank) {
            this.maxRank = rank;
            return this;
        }

        public DecodeLimits build() {
            if (maxOutputBytes < 0) {
                throw new IllegalArgumentException("maxOutputBytes must be >= 0, got " + maxOutputBytes);
            }
            if (maxElements < 0) {
                throw new IllegalArgumentException("maxElements must be >= 0, got " + maxElements);
            }
            if (maxRank < 0 || maxRank > 255) {
                throw new IllegalArgumentException("maxRank must be in [0, 255], got " + maxRank);
            }
            return new DecodeLimits(this);
        }
    }
}
