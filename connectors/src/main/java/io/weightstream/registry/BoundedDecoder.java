package io.weightstream.registry;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.avro.SystemLimitException;
import org.apache.avro.io.Decoder;
import org.apache.avro.util.Utf8;

/**
 * An Avro binary {@link Decoder} over one byte array that never allocates more than the input can hold.
 *
 * <p>Why not Avro's {@code BinaryDecoder}: it allocates a string, bytes or collection of the length the
 * input <em>declares</em> before reading it. Its only guard is the JVM-wide system properties
 * {@code org.apache.avro.limits.bytes.maxLength}, {@code org.apache.avro.limits.string.maxLength} and
 * {@code org.apache.avro.limits.collectionItems.maxLength} (Avro 1.11.4+/1.12), which default to about
 * 2^31 and are read once per JVM, so five corrupt bytes can make a consumer allocate 2 GiB. Here every
 * declared length is checked against the bytes that are actually left, and every collection block against
 * them as well (each item of our records takes at least one byte; the total count of items in one record is
 * capped at the record's length). Avro's properties are honoured too, when set lower.
 *
 * <p>Every violation throws {@link RecordFormatException} with the offset in the framed record.
 */
final class BoundedDecoder extends Decoder {
    private final byte[] buf;
    private final int start;
    private final int limit;
    private int pos;
    private long collectionItems;

    BoundedDecoder(byte[] buf, int offset, int length) {
        this.buf = buf;
        this.start = offset;
        this.pos = offset;
        this.limit = offset + length;
    }

    /** Offset of the next unread byte in the array. */
    int position() {
        return pos;
    }

    /** Throws unless every byte was read: trailing bytes mean the writer schema or the framing is wrong. */
    void requireEnd() {
        if (pos != limit) {
            throw new RecordFormatException(pos, (limit - pos) + " trailing bytes after the end of the record");
        }
    }

    private int remaining() {
        return limit - pos;
    }

    private void need(int n, String what) {
        if (n > limit - pos) {
            throw new RecordFormatException(pos, "truncated: " + what + " needs " + n + " bytes but only "
                    + remaining() + " remain");
        }
    }

    @Override
    public void readNull() {}

    @Override
    public boolean readBoolean() {
        need(1, "boolean");
        int b = buf[pos];
        if (b != 0 && b != 1) {
            throw new RecordFormatException(pos, "invalid boolean byte " + (b & 0xff) + ", expected 0 or 1");
        }
        pos++;
        return b == 1;
    }

    @Override
    public int readInt() {
        int at = pos;
        int raw = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            need(1, "int");
            int b = buf[pos++] & 0xff;
            raw |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return (raw >>> 1) ^ -(raw & 1);
            }
        }
        throw new RecordFormatException(at, "malformed int: varint longer than 5 bytes");
    }

    @Override
    public long readLong() {
        int at = pos;
        long raw = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            need(1, "long");
            long b = buf[pos++] & 0xff;
            raw |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return (raw >>> 1) ^ -(raw & 1);
            }
        }
        throw new RecordFormatException(at, "malformed long: varint longer than 10 bytes");
    }

    @Override
    public float readFloat() {
        need(4, "float");
        int bits = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16
                | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    @Override
    public double readDouble() {
        need(8, "double");
        long bits = 0;
        for (int i = 7; i >= 0; i--) {
            bits = bits << 8 | (buf[pos + i] & 0xff);
        }
        pos += 8;
        return Double.longBitsToDouble(bits);
    }

    /** Reads a declared length and checks it against the bytes left before anything is allocated. */
    private int length(String what) {
        int at = pos;
        long n = readLong();
        if (n < 0) {
            throw new RecordFormatException(at, "negative " + what + " length " + n);
        }
        if (n > remaining()) {
            throw new RecordFormatException(at, what + " declares " + n + " bytes but only " + remaining()
                    + " remain");
        }
        return (int) n;
    }

    @Override
    public Utf8 readString(Utf8 old) {
        int n = SystemLimitException.checkMaxStringLength(length("string"));
        Utf8 result = old != null ? old : new Utf8();
        result.setByteLength(n);
        System.arraycopy(buf, pos, result.getBytes(), 0, n);
        pos += n;
        return result;
    }

    @Override
    public String readString() {
        int n = SystemLimitException.checkMaxStringLength(length("string"));
        String s = new String(buf, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    @Override
    public void skipString() {
        pos += length("string");
    }

    @Override
    public ByteBuffer readBytes(ByteBuffer old) {
        int n = SystemLimitException.checkMaxBytesLength(length("bytes"));
        ByteBuffer result;
        if (old != null && n <= old.capacity()) {
            result = old;
            result.clear();
        } else {
            result = ByteBuffer.allocate(n);
        }
        result.put(buf, pos, n).flip();
        pos += n;
        return result;
    }

    @Override
    public void skipBytes() {
        pos += length("bytes");
    }

    @Override
    public void readFixed(byte[] bytes, int offset, int length) {
        need(length, "fixed");
        System.arraycopy(buf, pos, bytes, offset, length);
        pos += length;
    }

    @Override
    public void skipFixed(int length) {
        need(length, "fixed");
        pos += length;
    }

    @Override
    public int readEnum() {
        return readInt();
    }

    @Override
    public long readArrayStart() {
        return readItemCount("array");
    }

    @Override
    public long arrayNext() {
        return readItemCount("array");
    }

    @Override
    public long skipArray() {
        return skipItems("array");
    }

    @Override
    public long readMapStart() {
        return readItemCount("map");
    }

    @Override
    public long mapNext() {
        return readItemCount("map");
    }

    @Override
    public long skipMap() {
        return skipItems("map");
    }

    @Override
    public int readIndex() {
        return readInt();
    }

    /**
     * A block's item count. A negative count is followed by the block's byte size (which a reader ignores).
     */
    private long readItemCount(String what) {
        int at = pos;
        long n = readLong();
        if (n < 0) {
            if (n == Long.MIN_VALUE) {
                throw new RecordFormatException(at, what + " block count out of range");
            }
            n = -n;
            blockByteSize(what);
        }
        return checkItems(at, n, what);
    }

    /** Like {@link #readItemCount} but skips whole blocks whose byte size is known. */
    private long skipItems(String what) {
        while (true) {
            int at = pos;
            long n = readLong();
            if (n >= 0) {
                return checkItems(at, n, what);
            }
            if (n == Long.MIN_VALUE) {
                throw new RecordFormatException(at, what + " block count out of range");
            }
            pos += blockByteSize(what);
        }
    }

    private int blockByteSize(String what) {
        return length(what + " block");
    }

    private long checkItems(int at, long n, String what) {
        if (n > remaining()) {
            throw new RecordFormatException(at, what + " block declares " + n + " items but only " + remaining()
                    + " bytes remain");
        }
        collectionItems += n;
        if (collectionItems > limit - start) {
            throw new RecordFormatException(at, "record declares " + collectionItems
                    + " collection items in total, more than its " + (limit - start) + " bytes");
        }
        SystemLimitException.checkMaxCollectionLength(collectionItems - n, n);
        return n;
    }
}
