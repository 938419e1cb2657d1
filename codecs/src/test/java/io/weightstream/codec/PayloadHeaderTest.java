package io.weightstream.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.tensor.DType;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PayloadHeaderTest {
    private static byte[] write(PayloadHeader h) {
        PayloadWriter w = new PayloadWriter(8);
        h.write(w);
        return w.toByteArray();
    }

    @Test
    void roundTripsEveryDTypeAndRank() {
        for (DType d : DType.values()) {
            for (long[] shape : new long[][] {{}, {0}, {7}, {384, 1536}, {2, 3, 0, 5}, {1, 1, 1, 1, 1, 1, 1, 1}}) {
                PayloadHeader h = PayloadHeader.of("lossless", 3, d, shape);
                byte[] b = write(h);
                assertThat(b).hasSize(h.size());
                assertThat(b.length).isLessThanOrEqualTo(PayloadHeader.maxSize(shape.length));
                PayloadReader in = PayloadReader.of(b);
                PayloadHeader back = PayloadHeader.read(in, DecodeLimits.DEFAULT);
                assertThat(back.codecName()).isEqualTo("lossless");
                assertThat(back.formatVersion()).isEqualTo(3);
                assertThat(back.dtype()).isEqualTo(d);
                assertThat(back.shape()).containsExactly(shape);
                assertThat(back.bodyOffset()).isEqualTo(b.length);
                assertThat(in.remaining()).isZero();
                assertThat(back.spec("w").byteSize()).isEqualTo(back.byteSize());
            }
        }
    }

    @Test
    void layoutIsAsDocumented() {
        byte[] b = write(PayloadHeader.of("rtn", 2, DType.F32, new long[] {300, 2}));
        assertThat(b).containsExactly('W', 'S', 'C', 1, 3, 'r', 't', 'n', 2, 1, 2, 0xac - 256, 0x02, 2);
    }

    @Test
    void rejectsBadInputWithOffsets() {
        byte[] good = write(PayloadHeader.of("lossless", 1, DType.F32, new long[] {10, 20}));
        assertRejected(new byte[0], 0, "truncated");
        assertRejected(new byte[] {'X', 'S', 'C', 1}, 0, "magic");
        byte[] version = good.clone();
        version[3] = 9;
        assertRejected(version, 3, "container version 9");
        byte[] nameLength = good.clone();
        nameLength[4] = 0;
        assertRejected(nameLength, 4, "name length");
        byte[] name = good.clone();
        name[5] = 'L';
        assertRejected(name, 4, "malformed codec name");
        byte[] dtype = good.clone();
        dtype[14] = 99;
        assertRejected(dtype, 14, "dtype code 99");
        for (int cut = 0; cut < good.length; cut++) {
            byte[] c = Arrays.copyOf(good, cut);
            assertThatThrownBy(() -> PayloadHeader.read(PayloadReader.of(c), DecodeLimits.DEFAULT))
                    .isInstanceOf(CorruptPayloadException.class);
        }
    }

    private static void assertRejected(byte[] b, long offset, String message) {
        assertThatThrownBy(() -> PayloadHeader.read(PayloadReader.of(b), DecodeLimits.DEFAULT))
                .isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining(message)
                .satisfies(e -> assertThat(((CorruptPayloadException) e).offset()).isEqualTo(offset));
    }

    @Test
    void declaredShapesAreCheckedAgainstTheLimits() {
        byte[] b = write(PayloadHeader.of("lossless", 1, DType.F64, new long[] {1000, 1000}));
        DecodeLimits tiny = DecodeLimits.builder().maxOutputBytes(7_999_999).build();
        assertThatThrownBy(() -> PayloadHeader.read(PayloadReader.of(b), tiny)).hasMessageContaining("8000000 bytes");
        DecodeLimits fewElements = DecodeLimits.builder().maxElements(999_999).build();
        assertThatThrownBy(() -> PayloadHeader.read(PayloadReader.of(b), fewElements)).hasMessageContaining("elements");
        DecodeLimits rank1 = DecodeLimits.builder().maxRank(1).build();
        assertThatThrownBy(() -> PayloadHeader.read(PayloadReader.of(b), rank1)).hasMessageContaining("rank 2");
        assertThat(PayloadHeader.read(PayloadReader.of(b), DecodeLimits.builder().maxOutputBytes(8_000_000).build())
                .byteSize()).isEqualTo(8_000_000);
    }

    @Test
    void zeroDimensionsMakeEmptyTensorsWhateverTheOtherDimensions() {
        PayloadWriter w = new PayloadWriter(8);
        PayloadHeader.of("lossless", 1, DType.F32, new long[0]).write(w);
        byte[] head = w.toByteArray();
        PayloadWriter forged = new PayloadWriter(8);
        forged.bytes(head, 0, head.length - 1).u8(3).varint(1L << 40).varint(0).varint(1L << 40);
        // each dimension is over the element limit on its own: rejected even though the product is 0
        assertThatThrownBy(() -> PayloadHeader.read(PayloadReader.of(forged.toByteArray()), DecodeLimits.DEFAULT))
                .isInstanceOf(CorruptPayloadException.class);
        PayloadWriter ok = new PayloadWriter(8);
        ok.bytes(head, 0, head.length - 1).u8(3).varint(1L << 20).varint(0).varint(1L << 20);
        assertThat(PayloadHeader.read(PayloadReader.of(ok.toByteArray()), DecodeLimits.DEFAULT).numel()).isZero();
    }

    @Test
    void requireCodecChecksNameAndVersion() {
        PayloadHeader h = PayloadHeader.read(PayloadReader.of(write(PayloadHeader.of("rtn", 2, DType.F32, new long[] {4}))),
                DecodeLimits.DEFAULT);
        h.requireCodec("rtn", 1, 2);
        assertThatThrownBy(() -> h.requireCodec("lossless", 2)).hasMessageContaining("'rtn', not 'lossless'");
        assertThatThrownBy(() -> h.requireCodec("rtn", 1)).hasMessageContaining("version 2");
    }

    @Test
    void peekDoesNotMoveTheBuffer() {
        ByteBuffer b = ByteBuffer.wrap(write(PayloadHeader.of("lossless", 1, DType.BF16, new long[] {3})));
        assertThat(PayloadHeader.peek(b, DecodeLimits.DEFAULT).dtype()).isEqualTo(DType.BF16);
        assertThat(b.position()).isZero();
    }

    @Test
    void rejectsBadCodecNames() {
        assertThatThrownBy(() -> PayloadHeader.of("Lossless", 1, DType.F32, new long[0])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PayloadHeader.of("x".repeat(33), 1, DType.F32, new long[0])).isInstanceOf(IllegalArgumentException.class);
    }
}
