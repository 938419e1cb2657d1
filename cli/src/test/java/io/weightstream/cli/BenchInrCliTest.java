package io.weightstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench --inr SECTION}: the inr section through the CLI, on a tiny crop of the real MiniLM layer. */
class BenchInrCliTest {
    @TempDir
    Path dir;

    @Test
    void theAblationRunsOnARealLayerAndWritesItsTable() throws Exception {
        CliTest.Run r = CliTest.run("bench", "--inr", "ablation", "--inr-steps", "3", "--inr-crop", "16",
                "--threads", "1", "-o", dir.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String table = Files.readString(dir.resolve("inr.md"));
        // the five loss variants of the paper's Table IV, each with the bits and steps actually used
        for (String variant : new String[] {"| w/o preprocessing", "| MSE |", "| MSE + grad |", "| MSE + freq |",
                "| MSE + grad + freq |"}) {
            assertThat(table).contains(variant);
        }
        assertThat(table).contains("16-bit, ratio 2, 3 steps").contains("first 16 rows");
    }

    @Test
    void inrIsNotATableRowAndABadSectionIsRefused() {
        CliTest.Run m = CliTest.run("bench", "--methods", "inr", "-o", dir.toString());
        assertThat(m.code()).isEqualTo(1);
        assertThat(m.err()).contains("--inr ablation|mnist|minilm|all");
        CliTest.Run s = CliTest.run("bench", "--inr", "everything", "-o", dir.toString());
        assertThat(s.code()).isEqualTo(1);
        assertThat(s.err()).contains("usage: InrBench");
    }
}
