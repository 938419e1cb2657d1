package io.weightstream.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class ConfluentWireFormatTest {

    @Test
    void headerIsMagicByteThenBigEndianId() {
        assertThat(ConfluentWireFormat.header(0x01020304)).containsExactly(0, 1, 2, 3, 4);
        assertThat(ConfluentWireFormat.header(Integer.MAX_VALUE)).containsExactly(0, 0x7f, 0xff, 0xff, 0xff);
        assertThat(ConfluentWireFormat.header(0)).containsExactly(0, 0, 0, 0, 0);
    }

    @Test
    void frameRoundTrip() {
        byte[] payload = {10, 20, 30};
        byte[] framed = ConfluentWireFormat.frame(258, payload);
        assertThat(framed).containsExactly(0, 0, 0, 1, 2, 10, 20, 30);
        assertThat(ConfluentWireFormat.schemaId(framed)).isEqualTo(258);
        ByteBuffer view = ConfluentWireFormat.payload(framed);
        assertThat(view.remaining()).isEqualTo(3);
        assertThat(view.get(0)).isEqualTo((byte) 10);
        assertThat(ConfluentWireFormat.schemaId(ConfluentWireFormat.header(7))).isEqualTo(7);
    }

    @Test
    void writeHeaderAtOffset() {
        byte[] target = new byte[8];
        ConfluentWireFormat.writeHeader(65_536, target, 3);
        assertThat(target).containsExactly(0, 0, 0, 0, 0, 1, 0, 0);
        assertThatThrownBy(() -> ConfluentWireFormat.writeHeader(1, target, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offset 4");
        assertThatThrownBy(() -> ConfluentWireFormat.header(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(">= 0");
    }

    @Test
    void shortRecordIsRejectedWithItsLength() {
        for (int n = 0; n < ConfluentWireFormat.HEADER_BYTES; n++) {
            byte[] record = new byte[n];
            assertThatThrownBy(() -> ConfluentWireFormat.schemaId(record))
                    .isInstanceOf(RecordFormatException.class)
                    .hasMessageContaining("record has " + n + " bytes")
                    .satisfies(e -> assertThat(((RecordFormatException) e).offset()).isEqualTo(record.length));
        }
    }

    @Test
    void wrongMagicByteIsRejectedAtOffsetZero() {
        byte[] record = {1, 0, 0, 0, 1, 2};
        assertThatThrownBy(() -> ConfluentWireFormat.schemaId(record))
                .isInstanceOf(RecordFormatException.class)
                .hasMessageContaining("at byte 0")
                .hasMessageContaining("magic byte 0x01")
                .satisfies(e -> assertThat(((RecordFormatException) e).offset()).isZero());
        byte[] json = "{\"model\":1}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertThatThrownBy(() -> ConfluentWireFormat.payload(json))
                .isInstanceOf(RecordFormatException.class).hasMessageContaining("magic byte 0x7b");
    }

    @Test
    void negativeIdIsRejected() {
        byte[] record = {0, (byte) 0x80, 0, 0, 0};
        assertThatThrownBy(() -> ConfluentWireFormat.schemaId(record))
                .isInstanceOf(RecordFormatException.class).hasMessageContaining("negative schema id");
    }
}
