package io.weightstream.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a bench run measured, and the files it becomes: {@code report.md} (the tables and the plots),
 * {@code results.csv} ({@link ResultsCsv#HEADER}), {@code layers.csv} ({@link ResultsCsv#LAYERS_HEADER}) and, per
 * model, {@code rate-distortion-<model>.png}, {@code throughput-<model>.png} and {@code layers-<model>.png}.
 *
 * <pre>{@code
 * BenchReport report = new Bench(options, null).run(log);
 * List<Path> files = report.write(options.outputDir());
 * System.out.print(report.tables());
 * }</pre>
 *
 * @param machine   where it ran
 * @param options   what it measured
 * @param started   when
 * @param seconds   how long it took
 * @param loadAtEnd the 1-minute load average at the end
 * @param models    the models
 * @param rows      one per model x method x setting
 * @param layers    per-tensor errors of the codec rows
 * @param pipeline  the versions that went through the pipeline
 * @param notes     what failed or was not run
 */
public record BenchReport(MachineInfo machine, BenchOptions options, Instant started, double seconds, double loadAtEnd,
                          List<ModelInfo> models, List<BenchRow> rows, List<LayerError> layers, List<PipelineRun> pipeline,
                          List<String> notes) {
    /** Columns of the rate-and-quality table of report.md. */
    public static final List<String> QUALITY_COLUMNS = List.of("model", "method", "setting", "ratio", "weights ratio",
            "metric", "mean", "min", "accuracy", "rel_l2", "worst layer rel_l2");
    /** Columns of the speed table of report.md. */
    public static final List<String> SPEED_COLUMNS = List.of("model", "method", "setting", "enc 1T", "dec 1T", "enc all",
            "dec all", "enc all/core", "dec all/core", "compress all", "decompress all", "enc vs zstd-3", "dec vs zstd-3");
    /** Columns of the pipeline table of report.md. */
    public static final List<String> PIPELINE_COLUMNS = List.of("model", "version", "method", "setting", "replica's ratio",
            "publish->serving s", "replica's steps");

    public BenchReport {
        models = List.copyOf(models);
        rows = List.copyOf(rows);
        layers = List.copyOf(layers);
        pipeline = List.copyOf(pipeline);
        notes = List.copyOf(notes);
    }

    /**
     * Writes report.md, results.csv, layers.csv and the plots into {@code dir}.
     *
     * @return the files written
     */
    public List<Path> write(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        List<Path> files = new ArrayList<>();
        Map<String, List<Path>> plots = BenchPlots.writeAll(this, dir);
        plots.values().forEach(files::addAll);
        Path csv = dir.resolve("results.csv");
        ResultsCsv.write(csv, rows);
        files.add(csv);
        Path layersCsv = dir.resolve("layers.csv");
        ResultsCsv.writeLayers(layersCsv, layers);
        files.add(layersCsv);
        Path md = dir.resolve("report.md");
        try {
            Files.writeString(md, markdown(plots));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + md, e);
        }
        files.add(0, md);
        return files;
    }

    /** The tables as report.md has them, without the plots: what {@code weightstream bench} prints. */
    public String tables() {
        StringBuilder sb = new StringBuilder();
        header(sb);
        body(sb, Map.of());
        return sb.toString();
    }

    /** report.md, with {@code plots} (per model, file names relative to the report) embedded. */
    public String markdown(Map<String, List<Path>> plots) {
        StringBuilder sb = new StringBuilder();
        header(sb);
        body(sb, plots);
        howMeasured(sb);
        return sb.toString();
    }

    private void header(StringBuilder sb) {
        sb.append("# weightstream bench: ").append(options.quick() ? "quick run" : "full run").append("\n\n");
        sb.append("- Run: ").append(DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(started.atOffset(ZoneOffset.UTC).withNano(0)))
                .append(" UTC, ").append(number(seconds, 0)).append(" s, `").append(options.command()).append("`\n");
        sb.append("- Machine: ").append(machine.describe()).append("; at start ")
                .append(MachineInfo.loadNote(machine.loadAtStart(), machine.cores())).append(", at end ")
                .append(MachineInfo.loadNote(loadAtEnd, machine.cores())).append("\n");
        sb.append("- Speed: single-thread figures are the best of ").append(options.repeats())
                .append(options.repeats() == 1 ? " pass" : " passes").append(" after a ")
                .append(number(options.warmupSeconds(), 0)).append(" s warm-up; all-cores figures use ")
                .append(options.threads()).append(options.threads() == 1 ? " thread" : " threads")
                .append(". zstd level 3 ran in the same process: compare rows by the `vs zstd-3` columns across machines.\n\n");
    }

    private void body(StringBuilder sb, Map<String, List<Path>> plots) {
        sb.append("## Models\n\n");
        table(sb, List.of("model", "file", "MB", "tensors", "quality metric", "measured on"), models.stream().map(m -> List.of(
                m.id(), "`" + m.fileName() + "`", number(m.fileBytes() / 1e6, 1), Integer.toString(m.tensors()), m.metric(),
                m.baseline())).toList());
        for (ModelInfo m : models) {
            sb.append("- ").append(m.id()).append(": ").append(m.description()).append('\n');
        }
        sb.append("\n## Rate and quality\n\n");
        table(sb, QUALITY_COLUMNS, rows.stream().map(r -> List.of(r.model(), r.method(), r.setting(), number(r.ratio(), 3),
                number(r.weightsRatio(), 3), r.metric(), quality(r.qualityMean(), r.exact()), quality(r.qualityMin(), r.exact()),
                number(r.accuracy(), 4), sci(r.relL2()), sci(r.maxLayerRelL2()))).toList());
        sb.append("\n## Speed (MB/s of tensor bytes)\n\n");
        table(sb, SPEED_COLUMNS, rows.stream().map(r -> List.of(r.model(), r.method(), r.setting(), number(r.encMbps1t(), 1),
                number(r.decMbps1t(), 1), number(r.encMbpsAll(), 1), number(r.decMbpsAll(), 1),
                number(r.encMbpsAll() / r.threads(), 1), number(r.decMbpsAll() / r.threads(), 1),
                number(r.compressMbpsAll(), 1), number(r.decompressMbpsAll(), 1), number(r.encVsZstd3(), 2),
                number(r.decVsZstd3(), 2))).toList());
        sb.append("\n## Pipeline: publish -> serving\n\n");
        if (pipeline.isEmpty()) {
            String why = notes.stream().filter(n -> n.startsWith("pipeline")).findFirst()
                    .orElse(options.pipeline() ? "pipeline: produced no version" : "pipeline: not asked for (--pipeline)");
            sb.append("Not measured in this run (").append(why).append(").\n");
        } else {
            table(sb, PIPELINE_COLUMNS, pipeline.stream().map(p -> List.of(p.model(), p.version(), p.method(), p.setting(),
                    number(p.ratio(), 3), number(p.publishToServingSeconds(), 2), "`" + p.breakdown() + "`")).toList());
        }
        sb.append("\n## Per-layer relative error\n\n");
        sb.append("The worst tensor of each lossy row (all of them: `layers.csv`).\n\n");
        List<List<String>> worst = new ArrayList<>();
        for (BenchRow r : rows) {
            layers.stream().filter(l -> l.model().equals(r.model()) && l.method().equals(r.method())
                            && l.setting().equals(r.setting()) && l.isWeightMatrix() && Double.isFinite(l.relL2()))
                    .max(Comparator.comparingDouble(LayerError::relL2))
                    .filter(l -> l.relL2() > 0)
                    .ifPresent(l -> worst.add(List.of(r.model(), r.method(), r.setting(), l.label() + " (" + l.shape() + ")",
                            sci(l.relL2()))));
        }
        if (worst.isEmpty()) {
            sb.append("No lossy row in this run.\n");
        } else {
            table(sb, List.of("model", "method", "setting", "worst layer", "rel_l2"), worst);
        }
        if (!plots.isEmpty()) {
            sb.append("\n## Plots\n\n");
            for (Map.Entry<String, List<Path>> e : plots.entrySet()) {
                for (Path p : e.getValue()) {
                    String name = p.getFileName().toString();
                    sb.append("![").append(name.replace(".png", "")).append("](").append(name).append(")\n\n");
                }
            }
        }
        if (!notes.isEmpty()) {
            sb.append("\n## Notes\n\n");
            notes.forEach(n -> sb.append("- ").append(n).append('\n'));
        }
    }

    private void howMeasured(StringBuilder sb) {
        sb.append("\n## How the figures are measured\n\n");
        sb.append("""
                - **ratio**: original file bytes / compressed bytes. Codec rows: the `.wsz` container that
                  `weightstream compress` writes (every record, the manifest and the model skeleton included); zstd rows: one
                  frame per tensor plus one for the rest of the file; ort-int8: the float32 file / ONNX Runtime's int8 file.
                  **weights ratio**: tensor bytes / encoded tensor bytes.
                - Codec rows compress with the policy `Policies.of(method, setting)`: 1-D and integer tensors stay lossless.
                - **mean, min** (`embedding_cosine`): cosine of the sentence embeddings of the reconstructed model and the
                  original on real paragraphs (ONNX Runtime, 1 intra-op thread). (`top1_agreement`): share of held-back MNIST
                  digits on which the reconstruction predicts what the original predicts; min = the lowest share within one
                  digit class; **accuracy** = the reconstruction's accuracy on the same digits. Bit-exact rows are 1 by
                  construction (every tensor's SHA-256 is verified when the file is rebuilt).
                - **rel_l2**: ||w - w'|| / ||w|| per tensor; the model figure is the element-weighted RMS over the floating-point
                  tensors; the worst layer is the largest over tensors.
                - **Speed**: MB/s = 10^6 tensor bytes per second. enc/dec 1T = one thread, one tensor at a time, the
                  codec's own encode and decode calls. enc/dec all = the same calls for every tensor on a pool of one
                  thread per core (largest tensors first); per core = all / threads. compress/decompress all = end to end
                  on all cores, as `weightstream compress`/`decompress` run: `OfflineCompressor` (encode, decode again to
                  measure the error, hash) and `ModelMaterializer.decode` (join chunks, decode, verify SHA-256).
                  vs zstd-3 = this row's 1T figure / zstd level 3's 1T figure on the same model in this run.
                - **publish->serving**: from the publisher's first record to the decoder replica serving the version
                  (Kafka, the Flink compression job on a MiniCluster, decode, verify, write, load, warm-up, swap), on a
                  local stack that the bench starts and stops; versions are published one after the other once the job
                  runs, on the same cores as everything else. The replica's ratio is its own (tensor bytes / encoded).
                """);
    }

    /** A markdown table; a column whose cells are all numbers (or "-") is right-aligned. */
    private static void table(StringBuilder sb, List<String> columns, List<List<String>> lines) {
        sb.append("| ").append(String.join(" | ", columns)).append(" |\n|");
        for (int i = 0; i < columns.size(); i++) {
            int col = i;
            boolean numeric = !lines.isEmpty() && lines.stream().allMatch(l -> l.get(col).matches("-|[-+0-9.e]+( \\(exact\\))?"));
            sb.append(numeric ? "---:|" : "---|");
        }
        sb.append('\n');
        for (List<String> l : lines) {
            sb.append("| ").append(String.join(" | ", l.stream().map(s -> s.replace("|", "\\|")).toList())).append(" |\n");
        }
        sb.append('\n');
    }

    /** A number with {@code decimals} decimals, "-" for NaN. */
    static String number(double v, int decimals) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return "-";
        }
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String quality(double v, boolean exact) {
        return exact && v == 1.0 ? "1 (exact)" : number(v, 6);
    }

    private static String sci(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return v == 0 ? "0" : String.format(Locale.ROOT, "%.2e", v);
    }

    /** Rows of one model, in run order. */
    List<BenchRow> rowsOf(String model) {
        return rows.stream().filter(r -> r.model().equals(model)).toList();
    }
}
