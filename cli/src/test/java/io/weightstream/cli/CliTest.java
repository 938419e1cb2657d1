package io.weightstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.checkpoint.safetensors.SafetensorsWriter;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line without servers: help, inspect, errors and exit codes. */
class CliTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        CommandLine cmd = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        int code = cmd.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void everyCommandHasHelp() {
        CommandLine root = Main.commandLine();
        assertThat(root.getSubcommands()).containsKeys("demo", "inspect", "publish", "generate", "stack", "eval");
        for (String name : root.getSubcommands().keySet()) {
            if (name.equals("help")) {
                continue;
            }
            Run r = run(name, "--help");
            assertThat(r.code()).as(name).isZero();
            assertThat(r.out()).as(name).contains("Usage: weightstream " + name);
        }
        for (String sub : List.of("up", "down", "status")) {
            Run r = run("stack", sub, "--help");
            assertThat(r.code()).as(sub).isZero();
            assertThat(r.out()).contains("Usage: weightstream stack " + sub);
        }
    }

    @Test
    void inspectListsEveryTensorThenTotals() throws Exception {
        Path file = dir.resolve("m.safetensors");
        Tensor a = Tensor.ofFloats(new TensorSpec("layer.0.weight", DType.F32, 2, 3), new float[] {1, 2, 3, 4, 5, 6});
        Tensor b = Tensor.ofFloats(new TensorSpec("layer.0.bias", DType.BF16, 3), new float[] {0.5f, -1, 2});
        SafetensorsWriter.write(List.of(a, b), Map.of(), file);

        Run r = run("inspect", file.toString(), "--sha256");
        assertThat(r.code()).isZero();
        String[] lines = r.out().strip().split("\n");
        assertThat(lines).hasSize(3);
        assertThat(lines[2]).isEqualTo("tensors=2 params=9 bytes=30");
        String weightLine = lines[0].startsWith("layer.0.weight") ? lines[0] : lines[1];
        assertThat(weightLine).contains("F32").contains("[2, 3]").contains("24")
                .contains(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(a.toBytes())));
    }

    @Test
    void missingFileIsANonZeroExitNamingIt() {
        Run r = run("inspect", dir.resolve("nope.safetensors").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("nope.safetensors");
    }

    @Test
    void corruptFileIsANonZeroExitWithTheOffset() throws Exception {
        Path file = dir.resolve("bad.safetensors");
        // header length says 1000 bytes, the file has 12
        Files.write(file, new byte[] {(byte) 0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '});
        Run r = run("inspect", file.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("bad.safetensors").contains("at byte");
    }

    @Test
    void sizesParse() {
        assertThat(Sizes.parse("1M")).isEqualTo(1 << 20);
        assertThat(Sizes.parse("2G")).isEqualTo(2L << 30);
        assertThat(Sizes.parse("512k")).isEqualTo(512 << 10);
        assertThat(Sizes.parse("1000")).isEqualTo(1000);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Sizes.parse("lots"))
                .hasMessageContaining("not a size");
    }
}
