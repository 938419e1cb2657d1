package io.weightstream.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class PayloadReaderTest {
    @Test
    void readsWhatTheWriterWrote() {
        PayloadWriter w = new PayloadWriter(1);
        w.u8(200).u16(65000).i32(-5).i64(Long.MIN_VALUE).f32(1.5f).f64(-2.25).varint(0).varint(127).varint(128)
                .varint(Long.MAX_VALUE).varint(-1L).bytes(new byte[] {1, 2, 3});
        int patch = w.position();
        w.i32(0);
        w.i32At(patch, 77);
        PayloadReader r = PayloadReader.of(w.toByteArray());
        assertThat(r.u8()).isEqualTo(200);
        assertThat(r.u16()).isEqualTo(65000);
        assertThat(r.i32()).isEqualTo(-5);
        assertThat(r.i64()).isEqualTo(Long.MIN_VALUE);
        assertThat(r.f32()).isEqualTo(1.5f);
        assertThat(r.f64()).isEqualTo(-2.25);
        assertThat(r.varint()).isZero();
        assertThat(r.varint()).isEqualTo(127);
        assertThat(r.varint()).isEqualTo(128);
        assertThat(r.varint()).isEqualTo(Long.MAX_VALUE);
        assertThat(r.varint()).isEqualTo(-1L);
        byte[] three = new byte[3];
        r.bytes(three, 0, 3);
        assertThat(three).containsExactly(1, 2, 3);
        assertThat(r.i32()).isEqualTo(77);
        r.requireEnd("test");
        assertThat(PayloadWriter.varintSize(Long.MAX_VALUE)).isEqualTo(9);
        assertThat(PayloadWriter.varintSize(-1L)).isEqualTo(10);
    }

    @Test
    void failuresCarryThePayloadOffset() {
        ByteBuffer b = ByteBuffer.allocate(20);
        b.position(10);
        b.put(new byte[] {5, (byte) 0x80, (byte) 0x80});
        b.position(10).limit(13);
        PayloadReader r = PayloadReader.of(b);
        assertThat(r.u8()).isEqualTo(5);
        assertThatThrownBy(r::varint).isInstanceOf(CorruptPayloadException.class)
                .satisfies(e -> assertThat(((CorruptPayloadException) e).offset()).isEqualTo(1));
        PayloadReader tooLong = PayloadReader.of(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1, -1, 2});
        assertThatThrownBy(tooLong::varint).hasMessageContaining("longer than 64 bits");
        PayloadReader range = PayloadReader.of(new byte[] {(byte) 200, 1});
        assertThatThrownBy(() -> range.varintInt(100, "count")).hasMessageContaining("count 200 out of range [0, 100]");
        PayloadReader slice = PayloadReader.of(new byte[] {1, 2, 3, 4, 5});
        slice.u8();
        PayloadReader sub = slice.slice(2, "part");
        assertThat(sub.position()).isEqualTo(1);
        assertThat(sub.limit()).isEqualTo(3);
        sub.u16();
        assertThatThrownBy(sub::u8).isInstanceOf(CorruptPayloadException.class)
                .satisfies(e -> assertThat(((CorruptPayloadException) e).offset()).isEqualTo(3));
        assertThat(slice.position()).isEqualTo(3);
        assertThatThrownBy(() -> slice.requireEnd("x")).hasMessageContaining("2 unexpected trailing bytes");
    }

    @Test
    void readOnlyAndDirectBuffersAreCopied() {
        byte[] data = {9, 8, 7};
        assertThat(PayloadReader.of(ByteBuffer.wrap(data).asReadOnlyBuffer()).u8()).isEqualTo(9);
        ByteBuffer direct = ByteBuffer.allocateDirect(3).put(data).flip();
        PayloadReader r = PayloadReader.of(direct);
        assertThat(r.u16()).isEqualTo(8 << 8 | 9);
        assertThat(direct.position()).isZero();
    }
}
