package io.weightstream.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultsCsvTest {
    @TempDir
    Path dir;

    private static BenchRow row(String setting, double mean) {
        return new BenchRow("m", "rtn", setting, 1000, 250, 990, 240, "embedding_cosine", mean, mean - 0.01, Double.NaN,
                false, 0.0073, 0.021, 400.5, 1200, 700, 2000, 90, 300, 2, 0.9, 1.1, Double.NaN, 2.5);
    }

    @Test
    void rowsRoundTripThroughTheDocumentedHeaderWithEmptyFieldsForMissingFigures() {
        Path csv = dir.resolve("results.csv");
        ResultsCsv.write(csv, List.of(row("bits=8", 0.99937256), row("bits=4 group.size=64", 0.97)));
        List<Map<String, String>> rows = ResultsCsv.read(csv, ResultsCsv.HEADER);
        assertThat(rows).hasSize(2);
        Map<String, String> r = rows.get(0);
        assertThat(r.get("setting")).isEqualTo("bits=8");
        assertThat(Double.parseDouble(r.get("ratio"))).isEqualTo(4.0);
        assertThat(Double.parseDouble(r.get("weights_ratio"))).isEqualTo(990.0 / 240, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(r.get("quality_mean")).isEqualTo("0.99937256");
        assertThat(r.get("accuracy")).isEmpty();
        assertThat(r.get("publish_to_serving_s")).isEmpty();
        assertThat(r.get("rel_l2")).isEqualTo("0.0073");
        assertThat(r.get("threads")).isEqualTo("2");
    }

    @Test
    void fieldsWithCommasOrQuotesAreQuoted() {
        assertThat(ResultsCsv.parseLine("a,\"b,c\",\"say \"\"hi\"\"\",")).containsExactly("a", "b,c", "say \"hi\"", "");
        Path csv = dir.resolve("layers.csv");
        ResultsCsv.writeLayers(csv, List.of(new LayerError("m", "rtn", "bits=8", "weird,name", "w", "F32", "2x3", 6, 24, 10,
                "rtn", 0.01, 0.9999)));
        assertThat(ResultsCsv.read(csv, ResultsCsv.LAYERS_HEADER).get(0).get("tensor")).isEqualTo("weird,name");
    }

    @Test
    void aFileWithAnotherHeaderOrARaggedLineIsRejected() throws Exception {
        Path csv = dir.resolve("x.csv");
        Files.writeString(csv, "model,method\nm,rtn\n");
        assertThatThrownBy(() -> ResultsCsv.read(csv, ResultsCsv.HEADER)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("header");
        Files.writeString(csv, String.join(",", ResultsCsv.LAYERS_HEADER) + "\nm,rtn\n");
        assertThatThrownBy(() -> ResultsCsv.read(csv, ResultsCsv.LAYERS_HEADER)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line 2");
    }

    @Test
    void numbersKeepEightSignificantDigitsAndNothingForNaN() {
        assertThat(ResultsCsv.num(0.999999871)).isEqualTo("0.99999987");
        assertThat(ResultsCsv.num(3.0)).isEqualTo("3");
        assertThat(ResultsCsv.num(1.5e-5)).isEqualTo("1.5e-05");
        assertThat(ResultsCsv.num(Double.NaN)).isEmpty();
        assertThat(ResultsCsv.num(123456.789)).isEqualTo("123456.79");
    }
}
