package io.weightstream.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class FileNamesTest {
    @Test
    void commonNamesStayReadableAndEveryNameRoundTrips() {
        assertThat(FileNames.encode("all-minilm-l6-v2")).isEqualTo("all-minilm-l6-v2");
        assertThat(FileNames.encode("v1.2_rc-3")).isEqualTo("v1.2_rc-3");
        for (String name : List.of("20240101T000000Z", "a/b", "..", ".", ".hidden", "with space", "ünïcödé/✓",
                "%41", "x%", "C:\\win")) {
            String encoded = FileNames.encode(name);
            assertThat(encoded).as(name).doesNotContain("/").doesNotContain("\\").doesNotStartWith(".");
            assertThat(FileNames.decode(encoded)).as(name).isEqualTo(name);
        }
    }

    @Test
    void foreignFileNamesAreNotMistakenForEncodings() {
        assertThat(FileNames.decode(".tmp-v1-1234")).isNull();   // a leading dot is never produced
        assertThat(FileNames.decode("bad%2")).isNull();
        assertThat(FileNames.decode("bad%zz")).isNull();
        assertThat(FileNames.decode("%61")).isNull();            // 'a' is written plainly: not our encoding
        assertThat(FileNames.decode("LAST_GOOD")).isEqualTo("LAST_GOOD");
    }

    @Test
    void emptyAndOverlongNamesAreRefused() {
        assertThatThrownBy(() -> FileNames.encode("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FileNames.encode("x".repeat(FileNames.MAX_BYTES + 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too long");
    }
}
