package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RealTextsTest {

    @Test
    void licenseParagraphsAreRealNormalizedAndDeterministic() {
        List<String> paragraphs = RealTexts.paragraphs(64);
        assertThat(paragraphs).hasSize(64);
        assertThat(RealTexts.paragraphs(64)).isEqualTo(paragraphs);
        assertThat(new HashSet<>(paragraphs)).hasSize(64);
        for (String p : paragraphs) {
            assertThat(p.length()).isGreaterThanOrEqualTo(RealTexts.MIN_PARAGRAPH_CHARS);
            assertThat(p).doesNotContain("\n", "\t", "  ", "\f").isEqualTo(p.strip());
        }
        // round-robin over the files: the first paragraphs come from different licenses (Apache-2.0, Artistic, BSD)
        assertThat(paragraphs.get(0)).contains("Apache License");
        assertThat(paragraphs.subList(0, 6)).anyMatch(p -> p.contains("Regents of the University of California"))
                .anyMatch(p -> p.contains("CREATIVE COMMONS"));
        assertThat(String.join(" ", paragraphs)).contains("GNU", "Free Software Foundation");
        // a prefix of a longer request is the shorter request
        assertThat(RealTexts.paragraphs(10)).isEqualTo(paragraphs.subList(0, 10));
    }

    @Test
    void readsTheWholeDirectoryAndSkipsSymlinkedDuplicates() {
        List<String> all = RealTexts.paragraphs(100_000);
        assertThat(all.size()).isGreaterThan(300).isLessThan(100_000);
        assertThat(new HashSet<>(all)).hasSameSizeAs(all);
    }

    @Test
    void splitsParagraphsOnBlankAndWhitespaceOnlyLines(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("b.txt"), "first   paragraph of file b,\n  which goes on for a while here\n"
                + "   \n\fsecond paragraph of file b is also long enough to keep\n\nshort\n");
        Files.writeString(dir.resolve("a.txt"), "the only paragraph of file a, long enough to be kept\n");
        Files.createSymbolicLink(dir.resolve("c.txt"), dir.resolve("a.txt"));
        assertThat(RealTexts.paragraphs(dir, 10)).containsExactly(
                "the only paragraph of file a, long enough to be kept",
                "first paragraph of file b, which goes on for a while here",
                "second paragraph of file b is also long enough to keep");
    }

    @Test
    void textsFileIsOneTextPerLineOrParagraphs(@TempDir Path dir) throws Exception {
        Path lines = Files.writeString(dir.resolve("lines.txt"), "A man is eating food.\n\nhi\n  hello   there \n");
        // a blank line makes it a paragraph file
        assertThat(RealTexts.fromFile(lines, 10)).containsExactly("A man is eating food.", "hi hello there");
        Path perLine = Files.writeString(dir.resolve("per-line.txt"), "A man is eating food.\nhi\n  hello   there \n");
        assertThat(RealTexts.fromFile(perLine, 10)).containsExactly("A man is eating food.", "hi", "hello there");
        assertThat(RealTexts.fromFile(perLine, 2)).containsExactly("A man is eating food.", "hi");

        Path empty = Files.writeString(dir.resolve("empty.txt"), "\n  \n");
        assertThatThrownBy(() -> RealTexts.fromFile(empty, 5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holds no text");
        assertThatThrownBy(() -> RealTexts.fromFile(dir.resolve("absent.txt"), 5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no such texts file");
        assertThatThrownBy(() -> RealTexts.paragraphs(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RealTexts.paragraphs(dir.resolve("nope"), 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no text directory");
    }
}
