package io.weightstream.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's first command, end to end on the real stack: a real Kafka broker and Apicurio Registry started as
 * processes, the compression job on a Flink MiniCluster, one decoder replica with its HTTP API, the real
 * all-MiniLM-L6-v2 published twice (lossless, then rtn 8-bit under load). The demo checks what matters itself
 * (embeddings through HTTP equal the original within each codec's tolerance, no failed request, both versions
 * swapped in) and exits non-zero otherwise; this test holds it to that and to its table.
 */
class DemoITCase {
    @TempDir
    Path work;

    @Test
    void theDemoPassesEveryCheckAndPrintsOneRowPerVersion() {
        picocli.CommandLine cmd = Main.commandLine();
        StringWriter out = new StringWriter();
        cmd.setOut(new PrintWriter(out, true));
        int code = cmd.execute("demo", "--work-dir", work.toString(), "--texts", "16");
        String text = out.toString();
        System.out.println(text);
        assertThat(code).as(text).isZero();
        assertThat(text).contains("demo: every check held");
        List<String> lines = Arrays.asList(text.split("\n"));
        String v1 = lines.stream().filter(l -> l.startsWith("v1 ")).findFirst().orElseThrow();
        String v2 = lines.stream().filter(l -> l.startsWith("v2 ")).findFirst().orElseThrow();
        assertThat(v1).contains("lossless").contains("1.000000");
        assertThat(v2).contains("rtn bits=8");
        // columns: version method(2 words for v2) ratio publish->serving mean min requests failed
        String[] f = v2.trim().split("\\s+");
        assertThat(Double.parseDouble(f[3])).isGreaterThan(3.9);
        assertThat(Double.parseDouble(f[5])).isGreaterThanOrEqualTo(0.999);
        assertThat(Long.parseLong(f[7])).isPositive();
        assertThat(Long.parseLong(f[8])).isZero();
    }
}
