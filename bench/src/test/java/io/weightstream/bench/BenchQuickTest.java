package io.weightstream.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quick bench on the real models (all-MiniLM-L6-v2 as staged by the deploy module, the MNIST MLP trained here
 * with DJL on the real digits unless cached under target/mnist-models), into a temporary folder: checks the shape
 * of what it writes, never its timings.
 */
class BenchQuickTest {
    private static final String MINILM = BenchModels.MINILM;
    private static final String MLP = BenchModels.MNIST_MLP;
    /** One row per (model, method, setting) of a quick run. */
    private static final List<String> EXPECTED_ROWS = List.of(
            MINILM + "/lossless/default",
            MINILM + "/rtn/bits=8",
            MINILM + "/rtn/bits=4 group.size=64",
            MINILM + "/zstd/level=3",
            MINILM + "/ort-int8/dynamic-int8",
            MLP + "/lossless/default",
            MLP + "/rtn/bits=8",
            MLP + "/rtn/bits=4 group.size=64",
            MLP + "/zstd/level=3");

    @TempDir
    static Path dir;

    private static BenchReport report;
    private static List<Path> files;
    private static List<String> log = new ArrayList<>();

    @BeforeAll
    static void runQuickBench() {
        BenchOptions options = BenchOptions.builder().quick(true).outputDir(dir)
                .stackHome(Path.of(System.getProperty("weightstream.stack.home", "../deploy/target/stack")))
                .mnistCacheDir(Path.of("target", "mnist-models"))
                .command("BenchQuickTest").build();
        report = new Bench(options, null).run(log::add);
        files = report.write(dir);
    }

    @Test
    void measuresEveryModelMethodAndSettingOfAQuickRunWithoutFailures() {
        assertThat(report.notes()).as("notes of the run: %s", log).isEmpty();
        assertThat(report.rows()).extracting(r -> r.model() + "/" + r.method() + "/" + r.setting())
                .containsExactlyElementsOf(EXPECTED_ROWS);
        assertThat(report.models()).extracting(ModelInfo::id).containsExactly(MINILM, MLP);
        assertThat(report.pipeline()).isEmpty();
    }

    @Test
    void reportHasTheTablesWithTheirColumnsAndOneLinePerRow() throws Exception {
        String md = Files.readString(dir.resolve("report.md"));
        assertThat(md).startsWith("# weightstream bench: quick run").contains("## Models", "## Pipeline: publish -> serving",
                "## Per-layer relative error", "## How the figures are measured");
        assertThat(tableRows(md, BenchReport.QUALITY_COLUMNS)).containsExactlyElementsOf(EXPECTED_ROWS);
        assertThat(tableRows(md, BenchReport.SPEED_COLUMNS)).containsExactlyElementsOf(EXPECTED_ROWS);
        for (String model : List.of(MINILM, MLP)) {
            for (String plot : List.of("rate-distortion-", "throughput-", "layers-")) {
                assertThat(md).contains("](" + plot + model + ".png)");
            }
        }
        // the tables printed by the command are those of the report
        assertThat(md).contains(report.tables().substring(report.tables().indexOf("## Models")));
    }

    @Test
    void resultsCsvParsesWithTheDocumentedHeader() throws Exception {
        Path csv = dir.resolve("results.csv");
        assertThat(Files.readAllLines(csv).get(0)).isEqualTo(String.join(",", ResultsCsv.HEADER));
        List<Map<String, String>> rows = ResultsCsv.read(csv, ResultsCsv.HEADER);
        assertThat(rows).extracting(r -> r.get("model") + "/" + r.get("method") + "/" + r.get("setting"))
                .containsExactlyElementsOf(EXPECTED_ROWS);
        for (Map<String, String> r : rows) {
            String what = r.get("model") + " " + r.get("method") + " " + r.get("setting");
            assertThat(Double.parseDouble(r.get("ratio"))).as(what).isGreaterThan(1.0);
            double mean = Double.parseDouble(r.get("quality_mean"));
            assertThat(mean).as(what).isBetween(0.0, 1.0);
            assertThat(Double.parseDouble(r.get("quality_min"))).as(what).isBetween(0.0, mean);
            if (r.get("method").equals("lossless") || r.get("method").equals("zstd")) {
                assertThat(r.get("exact")).as(what).isEqualTo("true");
                assertThat(mean).as(what).isEqualTo(1.0);
            } else {
                assertThat(r.get("exact")).as(what).isEqualTo("false");
            }
            if (r.get("method").equals("ort-int8")) {
                assertThat(r.get("enc_mbps_1t")).as(what).isEmpty();
            } else {
                assertThat(Double.parseDouble(r.get("enc_mbps_1t"))).as(what).isPositive();
                assertThat(Double.parseDouble(r.get("dec_mbps_all"))).as(what).isPositive();
                assertThat(Double.parseDouble(r.get("enc_vs_zstd3"))).as(what).isPositive();
            }
            assertThat(r.get("quality_metric")).isEqualTo(r.get("model").equals(MLP) ? "top1_agreement" : "embedding_cosine");
            assertThat(r.get("accuracy").isEmpty()).as(what).isEqualTo(!r.get("model").equals(MLP));
        }
        // rtn's quality falls with its bits, and 4-bit groups compress more than 8 bits per channel
        Map<String, String> rtn8 = rows.get(1);
        Map<String, String> rtn4 = rows.get(2);
        assertThat(Double.parseDouble(rtn4.get("ratio"))).isGreaterThan(Double.parseDouble(rtn8.get("ratio")));
        assertThat(Double.parseDouble(rtn4.get("quality_mean"))).isLessThan(Double.parseDouble(rtn8.get("quality_mean")));
    }

    @Test
    void layersCsvHasOneLinePerTensorOfEachCodecRow() {
        List<Map<String, String>> layers = ResultsCsv.read(dir.resolve("layers.csv"), ResultsCsv.LAYERS_HEADER);
        Set<String> rows = new LinkedHashSet<>();
        layers.forEach(l -> rows.add(l.get("model") + "/" + l.get("method") + "/" + l.get("setting")));
        assertThat(rows).containsExactly(MINILM + "/lossless/default", MINILM + "/rtn/bits=8",
                MINILM + "/rtn/bits=4 group.size=64", MLP + "/lossless/default", MLP + "/rtn/bits=8",
                MLP + "/rtn/bits=4 group.size=64");
        // all-MiniLM-L6-v2 has 248 tensors; rtn codes its 39 weight matrices, the rest stays lossless
        assertThat(layers.stream().filter(l -> l.get("model").equals(MINILM) && l.get("setting").equals("bits=8"))).hasSize(248);
        assertThat(layers.stream().filter(l -> l.get("model").equals(MINILM) && l.get("setting").equals("bits=8")
                && l.get("codec").equals("rtn"))).hasSize(39);
        assertThat(layers.stream().filter(l -> l.get("model").equals(MLP) && l.get("setting").equals("bits=8")))
                .extracting(l -> l.get("label")).containsExactlyInAnyOrder("fc1", "fc1.bias", "fc2", "fc2.bias", "fc3", "fc3.bias");
    }

    @Test
    void plotsAreValidPngs() throws Exception {
        for (String model : List.of(MINILM, MLP)) {
            for (String plot : List.of("rate-distortion-", "throughput-", "layers-")) {
                Path png = dir.resolve(plot + model + ".png");
                assertThat(files).contains(png);
                byte[] head = new byte[8];
                try (var in = Files.newInputStream(png)) {
                    assertThat(in.read(head)).isEqualTo(8);
                }
                assertThat(head).startsWith(0x89, 'P', 'N', 'G');
                BufferedImage image = ImageIO.read(png.toFile());
                assertThat(image).as(png.toString()).isNotNull();
                assertThat(image.getWidth()).isGreaterThanOrEqualTo(600);
                assertThat(image.getHeight()).isGreaterThanOrEqualTo(300);
            }
        }
    }

    /** The model/method/setting of each line of the markdown table whose header has {@code columns}. */
    private static List<String> tableRows(String md, List<String> columns) {
        String header = "| " + String.join(" | ", columns) + " |";
        List<String> lines = md.lines().toList();
        int at = lines.indexOf(header);
        assertThat(at).as("table with header %s", header).isNotNegative();
        assertThat(lines.get(at + 1)).matches("\\|(---:?\\|){" + columns.size() + "}");
        List<String> out = new ArrayList<>();
        for (int i = at + 2; i < lines.size() && lines.get(i).startsWith("| "); i++) {
            String[] cells = lines.get(i).substring(2, lines.get(i).length() - 2).split(" \\| ", -1);
            assertThat(cells).as(lines.get(i)).hasSize(columns.size());
            out.add(cells[0] + "/" + cells[1] + "/" + cells[2]);
        }
        return out;
    }
}
