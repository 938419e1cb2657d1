package io.weightstream.codec;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A bounds-checked little-endian cursor over an encoded payload. Every read past the end, and every
 * declared length that does not fit, throws {@link CorruptPayloadException} with the payload offset, so
 * decoders never see an {@code IndexOutOfBoundsException}. Offsets are counted from the start of the payload.
 *
 * <p>Hot loops may read {@link #array()} directly between {@link #arrayIndex()} and
 * {@code arrayIndex() + remaining()} after one {@link #require} check, then {@link #skip} what they consumed.
 *
 * <pre>{@code
 * PayloadReader in = PayloadReader.of(payload);
 * PayloadHeader header = PayloadHeader.read(in, limits);
 * int blocks = in.varintInt(1 << 20, "block count");
 * }</pre>
 */
public final class PayloadReader {
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final byte[] buf;
    private final int origin; // array index of payload offset 0
    private final int limit;  // array index one past the last readable byte
    private int pos;          // array index of the next byte

    private PayloadReader(byte[] buf, int origin, int start, int limit) {
        this.buf = buf;
        this.origin = origin;
        this.pos = start;
        this.limit = limit;
    }

    /** Reads {@code payload} between its position and limit; heap buffers are read in place, others copied. */
    public static PayloadReader of(ByteBuffer payload) {
        if (payload.hasArray() && !payload.isReadOnly()) {
            int start = payload.arrayOffset() + payload.position();
            return new PayloadReader(payload.array(), start, start, start + payload.remaining());
        }
        byte[] copy = new byte[payload.remaining()];
        payload.duplicate().get(copy);
        return new PayloadReader(copy, 0, 0, copy.length);
    }

    public static PayloadReader of(byte[] payload) {
        return new PayloadReader(payload, 0, 0, payload.length);
    }

    public static PayloadReader of(byte[] payload, int offset, int length) {
        if (offset < 0 || length < 0 || offset > payload.length - length) {
            throw new IndexOutOfBoundsException("offset " + offset + ", length " + length + ", array " + payload.length);
        }
        return new PayloadReader(payload, offset, offset, offset + length);
    }

    /** The backing array (not a copy): for hot loops that checked {@link #require} first. */
    public byte[] array() {
        return buf;
    }

    /** Array index of the next byte. */
    public int arrayIndex() {
        return pos;
    }

    /** Payload offset of the next byte. */
    public int position() {
        return pos - origin;
    }

    /** Payload offset one past the last readable byte. */
    public int limit() {
        return limit - origin;
    }

    public int remaining() {
        return limit - pos;
    }

    public boolean hasRemaining() {
        return pos < limit;
    }

    /** Array index of a payload offset. */
    public int arrayIndexOf(int payloadOffset) {
        return origin + payloadOffset;
    }

    /** @throws CorruptPayloadException naming {@code what} if fewer than {@code n} bytes remain */
    public void require(long n, String what) {
        if (n < 0 || n > limit - pos) {
            throw new CorruptPayloadException(position(), "truncated " + what + ": needs " + n + " bytes, "
                    + (limit - pos) + " left");
        }
    }

    public void skip(int n) {
        require(n, "data");
        pos += n;
    }

    /**
     * A reader over the next {@code length} bytes, reporting the same payload offsets; this reader moves past them.
     */
    public PayloadReader slice(int length, String what) {
        require(length, what);
        PayloadReader r = new PayloadReader(buf, origin, pos, pos + length);
        pos += length;
        return r;
    }

    /** Fails unless every byte was consumed (trailing garbage is corruption too). */
    public void requireEnd(String what) {
        if (pos != limit) {
            throw new CorruptPayloadException(position(), (limit - pos) + " unexpected trailing bytes after " + what);
        }
    }

    public int u8() {
        require(1, "byte");
        return buf[pos++] & 0xff;
    }

    /** A byte in [{@code min}, {@code max}]; else corrupt at its offset: "{@code what} V not in [min, max]". */
    public int u8In(int min, int max, String what) {
        int at = position();
        int v = u8();
        if (v < min || v > max) {
            throw new CorruptPayloadException(at, what + " " + v + " not in [" + min + ", " + max + "]");
        }
        return v;
    }

    /** A flags byte with no bit outside {@code known}; else corrupt at its offset: "unknown flags BITS" (binary). */
    public int flags(int known) {
        int at = position();
        int flags = u8();
        if ((flags & ~known) != 0) {
            throw new CorruptPayloadException(at, "unknown flags " + Integer.toBinaryString(flags));
        }
        return flags;
    }

    public int u16() {
        require(2, "16-bit value");
        int v = (short) SHORT.get(buf, pos) & 0xffff;
        pos += 2;
        return v;
    }

    public int i32() {
        require(4, "32-bit value");
        int v = (int) INT.get(buf, pos);
        pos += 4;
        return v;
    }

    public long i64() {
        require(8, "64-bit value");
        long v = (long) LONG.get(buf, pos);
        pos += 8;
        return v;
    }

    public float f32() {
        return Float.intBitsToFloat(i32());
    }

    public double f64() {
        return Double.longBitsToDouble(i64());
    }

    /** An unsigned LEB128 varint of at most 64 bits. */
    public long varint() {
        int start = pos;
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= limit) {
                throw new CorruptPayloadException(start - origin, "truncated varint");
            }
            int b = buf[pos++];
            if (shift == 63 && (b & 0x7e) != 0) {
                break;
            }
            v |= (long) (b & 0x7f) << shift;
            if (b >= 0) {
                return v;
            }
        }
        throw new CorruptPayloadException(start - origin, "varint longer than 64 bits");
    }

    /**
     * A varint that must lie in {@code [0, max]}.
     *
     * @throws CorruptPayloadException naming {@code what} otherwise
     */
    public int varintInt(int max, String what) {
        int at = position();
        long v = varint();
        if (v < 0 || v > max) {
            throw new CorruptPayloadException(at, what + " " + Long.toUnsignedString(v) + " out of range [0, " + max + "]");
        }
        return (int) v;
    }

    /** A varint that must lie in {@code [0, max]}. */
    public long varintLong(long max, String what) {
        int at = position();
        long v = varint();
        if (v < 0 || v > max) {
            throw new CorruptPayloadException(at, what + " " + Long.toUnsignedString(v) + " out of range [0, " + max + "]");
        }
        return v;
    }

    /** Copies the next {@code n} bytes out. */
    public void bytes(byte[] dst, int dstOffset, int n) {
        require(n, "bytes");
        System.arraycopy(buf, pos, dst, dstOffset, n);
        pos += n;
    }

    /** An exception at the current position. */
    public CorruptPayloadException corrupt(String message) {
        return new CorruptPayloadException(position(), message);
    }
}
