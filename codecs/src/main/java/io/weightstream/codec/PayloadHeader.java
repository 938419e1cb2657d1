package io.weightstream.codec;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.TensorSpec;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The common start of every encoded payload, written and read here so that codecs do not each reinvent it:
 *
 * <pre>
 *   offset 0  3 bytes  magic "WSC"
 *            1 byte   container version (1)
 *            1 byte   codec name length n (1..32), then n ASCII bytes ("lossless", "rtn", ...)
 *            varint   codec format version (the codec's own body layout)
 *            1 byte   dtype, as its ONNX TensorProto.DataType number
 *            1 byte   rank r, then r varints: the dimensions
 *   then the codec's body
 * </pre>
 *
 * The tensor name is not stored: the caller knows it (Kafka key, manifest). {@link #read} checks the declared
 * shape against the {@link DecodeLimits} before anyone allocates for it.
 *
 * <pre>{@code
 * // encoder
 * PayloadHeader.of(this, tensor.spec()).write(out);
 * // decoder
 * PayloadHeader h = PayloadHeader.read(in, limits);
 * h.requireCodec(name(), FORMAT_VERSION);
 * }</pre>
 */
public final class PayloadHeader {
    static final byte[] MAGIC = {'W', 'S', 'C'};
    /** Version of this header layout. */
    public static final int CONTAINER_VERSION = 1;
    /** Codec names: lower case, digits, '.', '_', '-'; 1 to 32 characters. */
    public static final Pattern CODEC_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,31}");

    private final String codecName;
    private final int formatVersion;
    private final DType dtype;
    private final long[] shape;
    private final int versionOffset;
    private final int bodyOffset;

    private PayloadHeader(String codecName, int formatVersion, DType dtype, long[] shape, int versionOffset, int bodyOffset) {
        this.codecName = codecName;
        this.formatVersion = formatVersion;
        this.dtype = dtype;
        this.shape = shape;
        this.versionOffset = versionOffset;
        this.bodyOffset = bodyOffset;
    }

    /** The header of a payload that {@code codec} writes for a tensor of {@code spec}. */
    public static PayloadHeader of(Codec codec, TensorSpec spec) {
        return of(codec.name(), codec.formatVersion(), spec.dtype(), spec.shape());
    }

    public static PayloadHeader of(String codecName, int formatVersion, DType dtype, long[] shape) {
        Objects.requireNonNull(codecName, "codecName");
        if (!CODEC_NAME.matcher(codecName).matches()) {
            throw new IllegalArgumentException("codec name '" + codecName + "' must match " + CODEC_NAME);
        }
        if (formatVersion < 0) {
            throw new IllegalArgumentException("codec '" + codecName + "': negative format version " + formatVersion);
        }
        if (shape.length > 255) {
            throw new IllegalArgumentException("rank " + shape.length + " > 255");
        }
        // validates dimensions and overflow
        new TensorSpec("", dtype, shape);
        return new PayloadHeader(codecName, formatVersion, dtype, shape.clone(), -1, -1);
    }

    /** Bytes {@link #write} produces. */
    public int size() {
        int n = MAGIC.length + 1 + 1 + codecName.length() + PayloadWriter.varintSize(formatVersion) + 1 + 1;
        for (long d : shape) {
            n += PayloadWriter.varintSize(d);
        }
        return n;
    }

    /** Upper bound of {@link #size()} for any codec name and version and this rank. */
    public static int maxSize(int rank) {
        return MAGIC.length + 1 + 1 + 32 + 5 + 1 + 1 + 10 * rank;
    }

    public void write(PayloadWriter out) {
        for (byte b : MAGIC) {
            out.u8(b);
        }
        out.u8(CONTAINER_VERSION);
        byte[] name = codecName.getBytes(StandardCharsets.US_ASCII);
        out.u8(name.length).bytes(name);
        out.varint(formatVersion);
        out.u8(dtype.onnxDataType());
        out.u8(shape.length);
        for (long d : shape) {
            out.varint(d);
        }
    }

    /**
     * Reads and validates a header: magic, container version, a well-formed codec name, a known dtype and a
     * shape within {@code limits}.
     */
    public static PayloadHeader read(PayloadReader in, DecodeLimits limits) {
        in.require(MAGIC.length + 1, "header");
        int start = in.position();
        for (byte b : MAGIC) {
            if (in.u8() != (b & 0xff)) {
                throw new CorruptPayloadException(start, "not a weightstream payload (bad magic)");
            }
        }
        int containerAt = in.position();
        int container = in.u8();
        if (container != CONTAINER_VERSION) {
            throw new CorruptPayloadException(containerAt, "unsupported payload container version " + container
                    + " (this build reads " + CONTAINER_VERSION + ")");
        }
        int nameAt = in.position();
        int len = in.u8();
        if (len < 1 || len > 32) {
            throw new CorruptPayloadException(nameAt, "codec name length " + len + " not in [1, 32]");
        }
        byte[] name = new byte[len];
        in.bytes(name, 0, len);
        String codecName = new String(name, StandardCharsets.US_ASCII);
        if (!CODEC_NAME.matcher(codecName).matches()) {
            throw new CorruptPayloadException(nameAt, "malformed codec name");
        }
        int versionAt = in.position();
        int version = in.varintInt(Integer.MAX_VALUE, "codec format version");
        int dtypeAt = in.position();
        int code = in.u8();
        DType dtype;
        try {
            dtype = DType.fromOnnx(code);
        } catch (IllegalArgumentException e) {
            throw new CorruptPayloadException(dtypeAt, "unknown dtype code " + code);
        }
        int rankAt = in.position();
        int rank = in.u8();
        if (rank > limits.maxRank()) {
            throw new CorruptPayloadException(rankAt, "rank " + rank + " exceeds the limit of " + limits.maxRank());
        }
        long[] shape = new long[rank];
        boolean empty = false;
        for (int i = 0; i < rank; i++) {
            shape[i] = in.varintLong(limits.maxElements(), "dimension " + i);
            empty |= shape[i] == 0;
        }
        long numel = 1;
        if (empty) {
            numel = 0;
        } else {
            for (long d : shape) {
                if (numel > limits.maxElements() / d) {
                    throw new CorruptPayloadException(rankAt, "shape " + Arrays.toString(shape)
                            + " exceeds the limit of " + limits.maxElements() + " elements");
                }
                numel *= d;
            }
        }
        // numel <= maxElements; saturate instead of overflowing for absurd limits
        long bytes = numel > Long.MAX_VALUE / dtype.size() ? Long.MAX_VALUE : numel * dtype.size();
        limits.checkTensor(numel, bytes, rankAt);
        return new PayloadHeader(codecName, version, dtype, shape, versionAt, in.position());
    }

    /** Reads the header of a payload without consuming the buffer. */
    public static PayloadHeader peek(java.nio.ByteBuffer payload, DecodeLimits limits) {
        return read(PayloadReader.of(payload.duplicate()), limits);
    }

    /**
     * Fails unless this payload was written by codec {@code name} in one of {@code supportedVersions}.
     */
    public void requireCodec(String name, int... supportedVersions) {
        if (!codecName.equals(name)) {
            throw new CorruptPayloadException(MAGIC.length + 1, "payload was written by codec '" + codecName
                    + "', not '" + name + "'");
        }
        for (int v : supportedVersions) {
            if (v == formatVersion) {
                return;
            }
        }
        throw new CorruptPayloadException(Math.max(versionAt(), 0), "codec '" + name + "' format version "
                + formatVersion + " is not supported by this build (supports " + Arrays.toString(supportedVersions) + ")");
    }

    private int versionAt() {
        return versionOffset;
    }

    public String codecName() {
        return codecName;
    }

    public int formatVersion() {
        return formatVersion;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteSize() {
        return numel() * dtype.size();
    }

    /** The tensor spec this payload decodes to, under the caller's name. */
    public TensorSpec spec(String name) {
        return new TensorSpec(name, dtype, shape);
    }

    /** Payload offset where the codec's body starts (read headers only; -1 for built ones). */
    public int bodyOffset() {
        return bodyOffset;
    }

    @Override
    public String toString() {
        return codecName + " v" + formatVersion + " " + dtype + Arrays.toString(shape);
    }
}
