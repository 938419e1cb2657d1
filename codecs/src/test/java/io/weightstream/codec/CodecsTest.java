package io.weightstream.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.tensor.DType;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class CodecsTest {
    @Test
    void findsCodecsByName() {
        assertThat(Codecs.names()).contains("lossless").isSorted();
        assertThat(Codecs.get("lossless").name()).isEqualTo("lossless");
        assertThat(Codecs.find("nope")).isEmpty();
        assertThat(Codecs.all()).extracting(Codec::name).containsExactlyElementsOf(Codecs.names());
        assertThatThrownBy(() -> Codecs.get("nope")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown codec 'nope'").hasMessageContaining("lossless");
    }

    @Test
    void decodeRejectsPayloadsOfUnknownCodecs() {
        PayloadWriter w = new PayloadWriter(16);
        PayloadHeader.of("no-such-codec", 1, DType.F32, new long[] {1}).write(w);
        assertThatThrownBy(() -> Codecs.decode(ByteBuffer.wrap(w.toByteArray())))
                .isInstanceOf(CorruptPayloadException.class).hasMessageContaining("no-such-codec");
    }
}
