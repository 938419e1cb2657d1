package io.weightstream.codec;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A growable little-endian byte sink for encoders, the mirror of {@link PayloadReader}.
 *
 * <pre>{@code
 * PayloadWriter out = new PayloadWriter(1024);
 * PayloadHeader.of(codec, tensor.spec()).write(out);
 * out.varint(blocks);
 * byte[] payload = out.toByteArray();
 * }</pre>
 */
public final class PayloadWriter {
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private byte[] buf;
    private int pos;

    public PayloadWriter(int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    /** Makes room for {@code n} more bytes; returns the (possibly new) backing array for direct writes. */
    public byte[] ensureCapacity(int n) {
        if (n > buf.length - pos) {
            long want = Math.max((long) pos + n, Math.min(2L * buf.length, DecodeLimits.MAX_ARRAY_BYTES));
            if (want > DecodeLimits.MAX_ARRAY_BYTES) {
                throw new IllegalStateException("payload larger than " + DecodeLimits.MAX_ARRAY_BYTES + " bytes");
            }
            buf = Arrays.copyOf(buf, (int) want);
        }
        return buf;
    }

    /** The backing array; valid until the next write that grows it. */
    public byte[] array() {
        return buf;
    }

    /** Number of bytes written so far (the offset of the next byte). */
    public int position() {
        return pos;
    }

    /** Moves past {@code n} bytes written directly into {@link #array()} after {@link #ensureCapacity}. */
    public void advance(int n) {
        if (n < 0 || n > buf.length - pos) {
            throw new IndexOutOfBoundsException("advance " + n + " at " + pos + " of " + buf.length);
        }
        pos += n;
    }

    public PayloadWriter u8(int v) {
        ensureCapacity(1);
        buf[pos++] = (byte) v;
        return this;
    }

    public PayloadWriter u16(int v) {
        ensureCapacity(2);
        SHORT.set(buf, pos, (short) v);
        pos += 2;
        return this;
    }

    public PayloadWriter i32(int v) {
        ensureCapacity(4);
        INT.set(buf, pos, v);
        pos += 4;
        return this;
    }

    /** Overwrites 4 bytes at an earlier offset (for lengths known only afterwards). */
    public void i32At(int offset, int v) {
        if (offset < 0 || offset > pos - 4) {
            throw new IndexOutOfBoundsException("offset " + offset + " of " + pos);
        }
        INT.set(buf, offset, v);
    }

    public PayloadWriter i64(long v) {
        ensureCapacity(8);
        LONG.set(buf, pos, v);
        pos += 8;
        return this;
    }

    public PayloadWriter f32(float v) {
        return i32(Float.floatToRawIntBits(v));
    }

    public PayloadWriter f64(double v) {
        return i64(Double.doubleToRawLongBits(v));
    }

    /** Unsigned LEB128. */
    public PayloadWriter varint(long v) {
        ensureCapacity(10);
        while ((v & ~0x7fL) != 0) {
            buf[pos++] = (byte) ((v & 0x7f) | 0x80);
            v >>>= 7;
        }
        buf[pos++] = (byte) v;
        return this;
    }

    /** Bytes a varint of {@code v} takes. */
    public static int varintSize(long v) {
        int n = 1;
        while ((v & ~0x7fL) != 0) {
            v >>>= 7;
            n++;
        }
        return n;
    }

    public PayloadWriter bytes(byte[] src, int offset, int length) {
        ensureCapacity(length);
        System.arraycopy(src, offset, buf, pos, length);
        pos += length;
        return this;
    }

    public PayloadWriter bytes(byte[] src) {
        return bytes(src, 0, src.length);
    }

    /** A copy of the bytes written. */
    public byte[] toByteArray() {
        return Arrays.copyOf(buf, pos);
    }
}
