package io.weightstream.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The PNG plots of a bench run, drawn headless with XChart: per model a rate-distortion chart (ratio vs the quality
 * metric, one line per method), a throughput bar chart (encode and decode MB/s, one thread and all cores, log
 * scale) and a per-layer heat strip (one row per lossy setting, one cell per weight matrix, colour = log10 of its
 * relative L2 error).
 *
 * <pre>{@code
 * Map<String, List<Path>> files = BenchPlots.writeAll(report, dir);   // model -> its PNG files
 * }</pre>
 */
public final class BenchPlots {
    /** Heat strip colour range: log10(relL2) from 1e-4 (or better) to 1 (or worse). */
    static final double LOG_MIN = -4;
    static final double LOG_MAX = 0;
    private static final int WIDTH = 1000;
    private static final int HEIGHT = 600;

    private BenchPlots() {
    }

    /** Writes every plot of {@code report} into {@code dir}; returns the files per model, in model order. */
    public static Map<String, List<Path>> writeAll(BenchReport report, Path dir) {
        System.setProperty("java.awt.headless", "true");
        Map<String, List<Path>> out = new LinkedHashMap<>();
        for (ModelInfo m : report.models()) {
            List<BenchRow> rows = report.rowsOf(m.id());
            if (rows.isEmpty()) {
                continue;
            }
            List<Path> files = new ArrayList<>();
            files.add(save(rateDistortion(m, rows), dir.resolve("rate-distortion-" + m.id() + ".png")));
            List<BenchRow> timed = rows.stream().filter(BenchRow::timed).toList();
            if (!timed.isEmpty()) {
                files.add(save(throughput(m, timed, timed.get(0).threads()), dir.resolve("throughput-" + m.id() + ".png")));
            }
            List<LayerError> layers = report.layers().stream().filter(l -> l.model().equals(m.id()) && l.isWeightMatrix())
                    .toList();
            HeatMapChart strip = layerStrip(m, rows, layers);
            if (strip != null) {
                files.add(save(strip, dir.resolve("layers-" + m.id() + ".png")));
            }
            out.put(m.id(), files);
        }
        return out;
    }

    /** Ratio vs mean quality, one series per method (lines through its settings in ratio order). */
    static XYChart rateDistortion(ModelInfo model, List<BenchRow> rows) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(model.id() + ": rate-distortion")
                .xAxisTitle("compression ratio (original file / compressed)")
                .yAxisTitle(model.metric().equals("embedding_cosine") ? "mean cosine of sentence embeddings"
                        : "top-1 agreement with the original")
                .build();
        style(chart.getStyler());
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setMarkerSize(9);
        Map<String, List<BenchRow>> byMethod = new LinkedHashMap<>();
        for (BenchRow r : rows) {
            if (Double.isFinite(r.ratio()) && Double.isFinite(r.qualityMean())) {
                byMethod.computeIfAbsent(r.method(), k -> new ArrayList<>()).add(r);
            }
        }
        for (Map.Entry<String, List<BenchRow>> e : byMethod.entrySet()) {
            List<BenchRow> pts = new ArrayList<>(e.getValue());
            pts.sort((a, b) -> Double.compare(a.ratio(), b.ratio()));
            double[] x = pts.stream().mapToDouble(BenchRow::ratio).toArray();
            double[] y = pts.stream().mapToDouble(BenchRow::qualityMean).toArray();
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            if (pts.size() == 1) {
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            }
            if (e.getKey().equals(BenchMethods.ZSTD) || e.getKey().equals(BenchMethods.ORT_INT8)) {
                s.setMarker(SeriesMarkers.DIAMOND);
            }
        }
        if (byMethod.isEmpty()) {
            chart.addSeries("no data", new double[] {1}, new double[] {1});
        }
        return chart;
    }

    /** Encode and decode MB/s per setting: one thread and all cores, log scale. */
    static CategoryChart throughput(ModelInfo model, List<BenchRow> rows, int threads) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title(model.id() + ": throughput (MB/s of tensor bytes, log scale)")
                .xAxisTitle("method and setting").yAxisTitle("MB/s").build();
        style(chart.getStyler());
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setXAxisLabelRotation(30);
        chart.getStyler().setAvailableSpaceFill(0.8);
        // bar charts start at 0 unless told otherwise, which a log axis cannot show: start at the decade below the
        // smallest figure
        double min = rows.stream().flatMap(r -> java.util.stream.Stream.of(r.encMbps1t(), r.decMbps1t(), r.encMbpsAll(),
                r.decMbpsAll())).filter(v -> Double.isFinite(v) && v > 0).mapToDouble(Double::doubleValue).min().orElse(1);
        chart.getStyler().setYAxisMin(Math.pow(10, Math.floor(Math.log10(min))));
        List<String> labels = unique(rows.stream().map(BenchRow::label).toList());
        String all = threads + (threads == 1 ? " thread" : " threads");
        chart.addSeries("encode, 1 thread", labels, positive(rows.stream().map(BenchRow::encMbps1t).toList()));
        chart.addSeries("decode, 1 thread", labels, positive(rows.stream().map(BenchRow::decMbps1t).toList()));
        chart.addSeries("encode, " + all, labels, positive(rows.stream().map(BenchRow::encMbpsAll).toList()));
        chart.addSeries("decode, " + all, labels, positive(rows.stream().map(BenchRow::decMbpsAll).toList()));
        return chart;
    }

    /**
     * One row per lossy setting, one cell per weight matrix (floating point, at least 2-D) in file order, colour =
     * log10(relL2) clamped to [{@value #LOG_MIN}, {@value #LOG_MAX}]; null when the model has no lossy row.
     */
    static HeatMapChart layerStrip(ModelInfo model, List<BenchRow> rows, List<LayerError> layers) {
        List<BenchRow> lossy = rows.stream().filter(r -> !r.exact()
                && layers.stream().anyMatch(l -> l.method().equals(r.method()) && l.setting().equals(r.setting()))).toList();
        if (lossy.isEmpty()) {
            return null;
        }
        List<String> tensors = new ArrayList<>();
        Map<String, String> labelOf = new LinkedHashMap<>();
        for (LayerError l : layers) {
            if (!labelOf.containsKey(l.tensor())) {
                tensors.add(l.tensor());
                labelOf.put(l.tensor(), l.label());
            }
        }
        List<String> xLabels = unique(tensors.stream().map(labelOf::get).toList());
        List<String> yLabels = unique(lossy.stream().map(BenchRow::label).toList());
        List<Number[]> heat = new ArrayList<>();
        for (int y = 0; y < lossy.size(); y++) {
            BenchRow r = lossy.get(y);
            for (LayerError l : layers) {
                if (l.method().equals(r.method()) && l.setting().equals(r.setting())) {
                    double v = l.relL2() > 0 ? Math.log10(l.relL2()) : LOG_MIN;
                    v = Math.max(LOG_MIN, Math.min(LOG_MAX, v));
                    heat.add(new Number[] {tensors.indexOf(l.tensor()), y, v});
                }
            }
        }
        int width = Math.max(WIDTH, 260 + 24 * xLabels.size());
        int height = Math.max(360, 200 + 30 * yLabels.size() + 8 * xLabels.stream().mapToInt(String::length).max().orElse(0));
        HeatMapChart chart = new HeatMapChartBuilder().width(width).height(height)
                .title(model.id() + ": per-layer relative L2 error, log10 (one cell per weight matrix)")
                .xAxisTitle("layer").yAxisTitle("").build();
        style(chart.getStyler());
        chart.getStyler().setXAxisLabelRotation(90);
        chart.getStyler().setShowValue(false);
        chart.getStyler().setMin(LOG_MIN);
        chart.getStyler().setMax(LOG_MAX);
        chart.getStyler().setRangeColors(new Color[] {new Color(0x2c, 0x7b, 0xb6), new Color(0xab, 0xd9, 0xe9),
                new Color(0xff, 0xff, 0xbf), new Color(0xfd, 0xae, 0x61), new Color(0xd7, 0x19, 0x1c)});
        chart.getStyler().setHeatMapDecimalValueFormatter(v -> String.format(java.util.Locale.ROOT, "%.1f", v));
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.addSeries("log10 relL2", xLabels, yLabels, heat);
        return chart;
    }

    private static void style(Styler s) {
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        s.setAntiAlias(true);
        if (s instanceof org.knowm.xchart.style.AxesChartStyler a) {
            a.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            a.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            a.setPlotGridLinesStroke(new BasicStroke(0.5f));
        }
    }

    /** Bars need positive values on a log axis: a missing figure becomes a bar that is not drawn. */
    private static List<Double> positive(List<Double> values) {
        return values.stream().map(v -> Double.isFinite(v) && v > 0 ? v : null).map(v -> v == null ? Double.NaN : v).toList();
    }

    /** Category labels must be unique: a repeated label gets " (2)", " (3)", ... */
    private static List<String> unique(List<String> labels) {
        Set<String> seen = new LinkedHashSet<>();
        List<String> out = new ArrayList<>();
        for (String l : labels) {
            String u = l;
            for (int i = 2; !seen.add(u); i++) {
                u = l + " (" + i + ")";
            }
            out.add(u);
        }
        return out;
    }

    private static Path save(Chart<?, ?> chart, Path file) {
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return file;
    }
}
