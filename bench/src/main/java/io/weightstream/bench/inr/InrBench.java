package io.weightstream.bench.inr;

import io.weightstream.bench.BenchModel;
import io.weightstream.bench.BenchModels;
import io.weightstream.bench.BenchOptions;
import io.weightstream.bench.QualityProbe;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.codec.inr.InrCodec;
import io.weightstream.codec.inr.InrFit;
import io.weightstream.codec.inr.InrProgress;
import io.weightstream.compress.ModelMaterializer;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.compress.WszContainer;
import io.weightstream.policy.Policies;
import io.weightstream.policy.TensorGlob;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The bench section of the {@code inr} codec (Big2Small), until the CLI's {@code bench} command wires it: three
 * sub-sections on real weights, each printing a Markdown table (and appending it to {@code -o FILE}).
 *
 * <ul>
 *   <li>{@code ablation}: the paper's Table IV on a real layer (a crop of a real matrix, default the first
 *       {@code --crop 64} rows of all-MiniLM-L6-v2's {@code /encoder/layer.0/intermediate/dense/MatMul}): without
 *       preprocessing, plain MSE, + gradient loss, + frequency loss, + both; fixed steps, no time limit, so the rows
 *       differ only by the loss. Budget: about {@code 5 x steps x 0.04-0.07 s} here (1000 steps: 276 s).</li>
 *   <li>{@code mnist}: the MNIST CNN's conv2 and fc1 (the layers over the 100 KB scope rule; the others stay exact) with
 *       {@code inr} at 6, 8 and 16 bits and with {@code rtn} at about the same ratios: ratio, top-1 agreement and the
 *       accuracy change on the 2,000 held-back real digits. Budget: 2 layers x 3 settings x {@code --budget} seconds
 *       (150 s: 927 s here).</li>
 *   <li>{@code minilm}: all-MiniLM-L6-v2's FFN matrices ({@code --only}, default
 *       {@code *intermediate/dense/MatMul}, six 2.36 MB layers) with {@code inr} at 8 bits and with {@code rtn};
 *       per-layer relative L2 error, the ratio, and the sentence-embedding cosine on real paragraphs (the bench's
 *       eval path). Budget: 6 layers x {@code --budget} seconds per {@code inr} setting (150 s: 930 s here).</li>
 * </ul>
 *
 * <pre>
 *   CP="cli/target/weightstream-cli-0.1.0-SNAPSHOT.jar:$(cat cli/target/classpath.txt)"
 *   OMP_NUM_THREADS=1 java -Xmx6g -Dai.djl.offline=true -Dweightstream.root=. -cp "$CP" io.weightstream.bench.inr.InrBench ablation [--steps 1000] [--crop 64] [-o inr.md]
 *   java ... InrBench mnist  [--budget 120] [--threads 2] [-o inr.md]
 *   java ... InrBench minilm [--budget 150] [--ratio 2] [--only GLOB] [--threads 2] [-o inr.md]
 *   java ... InrBench all    (the three, in this order)
 * </pre>
 *
 * Extra {@code key=value} arguments override the {@code inr} parameters of every row. Training runs on the CPU with
 * one torch thread per layer; the offline compressor keeps {@code --threads} tensors in flight in file order, so on
 * these models the layers in scope mostly train one after another.
 */
public final class InrBench {
    static final String MINILM_FFN = "*intermediate/dense/MatMul";
    static final String ABLATION_LAYER = "*layer.0/intermediate/dense/MatMul";
    /** The scope rule of METHODS.md: only layers over 100 KB get a network; the bench keeps the others exact. */
    static final long SCOPE_BYTES = 100L * 1024;

    private final Path root;
    private final Consumer<String> log;
    private final List<String> overrides;
    private final int threads;
    private final double budget;

    InrBench(Path root, Consumer<String> log, List<String> overrides, int threads, double budget) {
        this.root = root;
        this.log = log;
        this.overrides = List.copyOf(overrides);
        this.threads = threads;
        this.budget = budget;
    }

    /** One row of a table. */
    record Row(String what, String setting, double ratio, double relL2, String quality, String detail) {
        String markdown() {
            return String.format(Locale.ROOT, "| %s | %s | %.2fx | %.4f | %s | %s |", what, setting, ratio, relL2,
                    quality, detail);
        }
    }

    public static void main(String[] args) throws IOException {
        try {
            run(args, line -> {
                System.out.println(line);
                System.out.flush();
            });
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        }
    }

    /**
     * Runs the sections {@code args} name ({@code ablation|mnist|minilm|all} and the options of the class comment),
     * logging progress and the tables to {@code log}; returns the tables (also appended to {@code -o FILE}).
     *
     * @throws IllegalArgumentException for a bad command line, with the usage
     */
    public static String run(String[] args, Consumer<String> log) throws IOException {
        if (args.length < 1 || !List.of("ablation", "mnist", "minilm", "all").contains(args[0])) {
            throw new IllegalArgumentException(USAGE);
        }
        String section = args[0];
        Path out = null;
        int steps = 1000;
        int crop = 64;
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        Double budget = null;
        String ratio = "2";
        String only = MINILM_FFN;
        List<String> overrides = new ArrayList<>();
        try {
            for (int i = 1; i < args.length; i++) {
                switch (args[i]) {
                    case "-o" -> out = Path.of(args[++i]);
                    case "--steps" -> steps = Integer.parseInt(args[++i]);
                    case "--crop" -> crop = Integer.parseInt(args[++i]);
                    case "--threads" -> threads = Integer.parseInt(args[++i]);
                    case "--budget" -> budget = Double.parseDouble(args[++i]);
                    case "--ratio" -> ratio = args[++i];
                    case "--only" -> only = args[++i];
                    default -> {
                        if (args[i].indexOf('=') <= 0) {
                            throw new IllegalArgumentException("unknown argument '" + args[i] + "'\n" + USAGE);
                        }
                        overrides.add(args[i]);
                    }
                }
            }
        } catch (ArrayIndexOutOfBoundsException | NumberFormatException e) {
            throw new IllegalArgumentException("bad value after " + args[args.length - 1] + "\n" + USAGE);
        }
        Path root = Path.of(System.getProperty("weightstream.root", "."));
        List<String> tables = new ArrayList<>();
        long t0 = System.nanoTime();
        if (section.equals("ablation") || section.equals("all")) {
            tables.add(new InrBench(root, log, overrides, threads, 0).ablation(steps, crop));
        }
        if (section.equals("mnist") || section.equals("all")) {
            tables.add(new InrBench(root, log, overrides, threads, budget == null ? 120 : budget).mnist());
        }
        if (section.equals("minilm") || section.equals("all")) {
            tables.add(new InrBench(root, log, overrides, threads, budget == null ? 150 : budget).minilm(only, ratio));
        }
        String text = String.join("\n", tables) + String.format(Locale.ROOT, "%n(%s in %.0f s)%n",
                String.join(" ", args), (System.nanoTime() - t0) / 1e9);
        log.accept("");
        log.accept(text);
        if (out != null) {
            Files.writeString(out, text, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            log.accept("appended to " + out.toAbsolutePath().normalize());
        }
        return text;
    }

    static final String USAGE = "usage: InrBench ablation|mnist|minilm|all [--steps N] [--crop ROWS] [--budget SECONDS]"
            + " [--ratio R] [--only GLOB] [--threads N] [key=value...] [-o FILE]";


    private BenchOptions options() {
        return BenchOptions.builder().outputDir(root.resolve("target").resolve("bench-inr"))
                .stackHome(Path.of(System.getProperty("weightstream.stack.home",
                        root.resolve("deploy/target/stack").toString())))
                .mnistCacheDir(root.resolve("bench").resolve("target").resolve("mnist-models"))
                .threads(threads).build();
    }

    /** {@code base}, then the command line's overrides. */
    private Map<String, String> params(String... base) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < base.length; i += 2) {
            m.put(base[i], base[i + 1]);
        }
        m.putAll(Policies.settings(overrides));
        return m;
    }

    // ---------------------------------------------------------------------------------------------------- ablation

    /** The loss variants of the paper's Table IV, in its order. */
    static final List<String[]> ABLATION = List.of(
            new String[] {"w/o preprocessing (MSE + grad + freq)", "preprocess", "false", "lambda.grad", "0.1", "lambda.freq", "0.1"},
            new String[] {"MSE", "lambda.grad", "0", "lambda.freq", "0"},
            new String[] {"MSE + grad", "lambda.grad", "0.1", "lambda.freq", "0"},
            new String[] {"MSE + freq", "lambda.grad", "0", "lambda.freq", "0.1"},
            new String[] {"MSE + grad + freq", "lambda.grad", "0.1", "lambda.freq", "0.1"});

    String ablation(int steps, int crop) {
        Path model = options().stackHome().resolve("models").resolve(BenchModels.MINILM)
                .resolve(BenchModels.MINILM + ".onnx");
        Tensor layer = crop(find(model, ABLATION_LAYER), crop);
        log.accept("ablation on " + layer.spec() + " (" + ABLATION_LAYER + "), " + steps + " steps per row");
        InrCodec codec = new InrCodec();
        List<Row> rows = new ArrayList<>();
        for (String[] v : ABLATION) {
            Map<String, String> p = params("min.bytes", "0", "device", "cpu", "bits", "16", "ratio", "2", "tile", "16",
                    "block.rows", "16", "steps", Integer.toString(steps), "time.budget.s", "0", "quant.aware", "0",
                    "fallback.mse", "1e9");
            for (int i = 1; i < v.length; i += 2) {
                p.put(v[i], v[i + 1]);
            }
            p.putAll(Policies.settings(overrides));
            CodecParams cp = codec.params(p);
            InrFit[] fit = new InrFit[1];
            long t0 = System.nanoTime();
            byte[] payload = InrProgress.during(new InrProgress() {
                @Override
                public void finished(String tensor, InrFit f, double relL2, boolean accepted) {
                    fit[0] = f;
                }
            }, () -> codec.encode(layer, cp));
            double seconds = (System.nanoTime() - t0) / 1e9;
            TensorMetrics m = TensorMetrics.compare(layer, codec.decode(payload));
            Row row = new Row(v[0], p.get("bits") + "-bit, ratio " + p.get("ratio") + ", " + steps + " steps", (double) layer.spec().byteSize() / payload.length,
                    m.relL2(), String.format(Locale.ROOT, "cosine %.4f", m.cosine()),
                    String.format(Locale.ROOT, "%.0f s (%.1f ms/step)", seconds, fit[0].trainMillis() / (double) fit[0].steps()));
            log.accept("  " + row.markdown());
            rows.add(row);
        }
        return table("inr ablation (paper Table IV) on the first " + crop + " rows of all-MiniLM-L6-v2 "
                + ABLATION_LAYER, "variant", "quality", rows);
    }

    static Tensor find(Path model, String glob) {
        TensorGlob g = TensorGlob.of(glob);
        try (Checkpoint c = Checkpoint.open(model)) {
            for (CheckpointTensor t : c.tensors()) {
                if (g.matches(t.name(), t.alias())) {
                    return t.tensor().withName(t.alias() != null ? t.alias() : t.name());
                }
            }
        }
        throw new IllegalArgumentException("no tensor of " + model + " matches " + glob);
    }

    /** The first {@code rows} rows of a 2-D tensor (all of it when it has fewer). */
    static Tensor crop(Tensor t, int rows) {
        long[] shape = t.spec().shape();
        if (rows <= 0 || rows >= shape[0]) {
            return t;
        }
        float[] v = Arrays.copyOf(t.toFloats(), (int) (rows * shape[1]));
        return Tensor.ofFloats(new TensorSpec(t.name(), t.dtype(), rows, shape[1]), v);
    }

    // ---------------------------------------------------------------------------------------------- model sections

    /** What one policy makes of a whole model: the quality probe's score and the layers in scope. */
    private Row modelRow(BenchModel model, Checkpoint ckpt, QualityProbe probe, String method, String setting,
                         CompressionPolicy policy, java.util.function.Predicate<OfflineCompressor.TensorRow> scope,
                         List<String> layerLines) {
        long t0 = System.nanoTime();
        OfflineCompressor.Result result = new OfflineCompressor(threads).compress(ckpt, model.id(), "inr-bench", policy,
                r -> { });
        double seconds = (System.nanoTime() - t0) / 1e9;
        Path work = options().outputDir();
        Path restored = work.resolve(model.id() + "-" + method + extension(model.file()));
        try {
            Files.createDirectories(work);
            ModelMaterializer materializer = new ModelMaterializer(threads, DecodeLimits.DEFAULT);
            materializer.materialize(result.version(), chunksByTensor(result), restored);
            QualityProbe.Quality q = probe.measure(restored);
            long original = 0;
            long encoded = 0;
            double worst = 0;
            double sumSq = 0;
            long n = 0;
            List<String> methods = new ArrayList<>();
            for (OfflineCompressor.TensorRow r : result.rows()) {
                String name = r.entry().getName();
                String alias = r.entry().getAlias();
                if (!scope.test(r)) {
                    continue;
                }
                original += r.compressed().originalBytes();
                encoded += r.compressed().encodedBytes();
                double e = r.compressed().metrics().relL2();
                worst = Math.max(worst, e);
                long count = r.compressed().metrics().count();
                sumSq += e * e * count;
                n += count;
                methods.add(r.compressed().method());
                layerLines.add(String.format(Locale.ROOT, "| %s | %s %s | %s | %.2fx | %.4f | %.1f s |", alias != null ? alias : name,
                        method, setting, r.compressed().method(),
                        (double) r.compressed().originalBytes() / r.compressed().encodedBytes(), e, r.compressed().encodeMs() / 1e3));
            }
            String quality = model.kind() == BenchModel.Kind.MNIST
                    ? String.format(Locale.ROOT, "agreement %.4f, accuracy %.4f (%+.2f points)", q.mean(), q.accuracy(),
                    100 * (q.accuracy() - probe.exact().accuracy()))
                    : String.format(Locale.ROOT, "embedding cosine mean %.5f, min %.5f", q.mean(), q.min());
            long kept = methods.stream().filter(m -> !m.equals(method)).count();
            Row row = new Row(method, setting, (double) original / encoded, Math.sqrt(sumSq / Math.max(1, n)), quality,
                    String.format(Locale.ROOT, "worst layer %.4f; %d/%d layers by %s; whole model %.2fx; %.0f s", worst,
                            methods.size() - kept, methods.size(), method,
                            (double) result.rows().stream().mapToLong(r -> r.compressed().originalBytes()).sum()
                                    / result.rows().stream().mapToLong(r -> r.compressed().encodedBytes()).sum(), seconds));
            log.accept("  " + row.markdown());
            return row;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                Files.deleteIfExists(restored);
            } catch (IOException ignored) {
                // a leftover file in target/ is harmless
            }
        }
    }

    private static Map<String, List<io.weightstream.schemas.CompressedLayerChunk>> chunksByTensor(OfflineCompressor.Result r) {
        Map<String, List<io.weightstream.schemas.CompressedLayerChunk>> m = new LinkedHashMap<>();
        for (var c : r.chunks()) {
            m.computeIfAbsent(c.getTensor(), k -> new ArrayList<>()).add(c);
        }
        return m;
    }

    private static String extension(Path file) {
        String n = file.getFileName().toString();
        return n.substring(n.lastIndexOf('.'));
    }

    /** {@code method} on the tensors over the scope rule, the rest exact. */
    static CompressionPolicy scoped(String method, Map<String, String> params) {
        return CompressionPolicy.newBuilder(Policies.of(method, params)).setKeepUnderBytes(SCOPE_BYTES + 1).build();
    }

    String mnist() {
        BenchOptions o = options();
        BenchModel model = BenchModels.resolve(BenchModels.MNIST_CNN, o, log);
        String b = Double.toString(budget);
        List<Row> rows = new ArrayList<>();
        List<String> layers = new ArrayList<>();
        java.util.function.Predicate<OfflineCompressor.TensorRow> inScope = r -> r.entry().getShape().size() >= 2
                && r.compressed().originalBytes() > SCOPE_BYTES;
        try (Checkpoint ckpt = Checkpoint.open(model.file()); QualityProbe probe = QualityProbe.open(model, o)) {
            log.accept("mnist-cnn: " + probe.baseline() + "; inr on the layers over 100 KB, " + b + " s per layer");
            for (String[] s : List.of(new String[] {"6", "6"}, new String[] {"8", "6"}, new String[] {"16", "3"})) {
                Map<String, String> p = params("bits", s[0], "ratio", s[1], "time.budget.s", b, "steps", "100000",
                        "fallback.mse", "1e9", "device", "cpu");
                rows.add(modelRow(model, ckpt, probe, "inr", s[0] + "-bit, ratio " + s[1], scoped("inr", p),
                        inScope, layers));
            }
            for (Map<String, String> p : List.of(Map.of("bits", "4", "group.size", "64"), Map.of("bits", "8"),
                    Map.of("bits", "3", "group.size", "64"))) {
                rows.add(modelRow(model, ckpt, probe, "rtn", p.toString(), scoped("rtn", p), inScope, layers));
            }
        }
        return table("MNIST CNN (conv2 + fc1 compressed, other layers exact): inr vs rtn; "
                + "ratio and relL2 over the compressed layers", "method", "quality on 2,000 held-back digits", rows)
                + layerTable(layers);
    }

    String minilm(String only, String ratio) {
        BenchOptions o = options();
        BenchModel model = BenchModels.resolve(BenchModels.MINILM, o, log);
        String b = Double.toString(budget);
        List<Row> rows = new ArrayList<>();
        List<String> layers = new ArrayList<>();
        TensorGlob glob = TensorGlob.of(only);
        java.util.function.Predicate<OfflineCompressor.TensorRow> scope =
                r -> glob.matches(r.entry().getName(), r.entry().getAlias());
        try (Checkpoint ckpt = Checkpoint.open(model.file()); QualityProbe probe = QualityProbe.open(model, o)) {
            log.accept("all-MiniLM-L6-v2: " + probe.baseline() + "; inr on " + only + ", " + b + " s per layer");
            Map<String, String> p = params("bits", "8", "ratio", ratio, "time.budget.s", b, "steps", "100000",
                    "target.rel.l2", "0.05", "fallback.mse", "1e9", "device", "cpu");
            rows.add(modelRow(model, ckpt, probe, "inr", "8-bit, ratio " + ratio + ", " + b + " s/layer",
                    Policies.only(only, "inr", p), scope, layers));
            for (Map<String, String> r : List.of(Map.of("bits", "8"), Map.of("bits", "4", "group.size", "64"))) {
                rows.add(modelRow(model, ckpt, probe, "rtn", r.toString(), Policies.only(only, "rtn", r), scope, layers));
            }
        }
        return table("all-MiniLM-L6-v2 " + only + " (the rest lossless): inr vs rtn; ratio and relL2 over those layers",
                "method", "quality (64 real paragraphs)", rows) + layerTable(layers);
    }

    private static String table(String title, String first, String quality, List<Row> rows) {
        StringBuilder sb = new StringBuilder("### ").append(title).append("\n\n")
                .append("| ").append(first).append(" | setting | ratio | relL2 | ").append(quality).append(" | notes |\n")
                .append("|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            sb.append(r.markdown()).append('\n');
        }
        return sb.append('\n').toString();
    }

    private static String layerTable(List<String> lines) {
        StringBuilder sb = new StringBuilder("| layer | row | method used | ratio | relL2 | encode |\n|---|---|---|---|---|---|\n");
        lines.forEach(l -> sb.append(l).append('\n'));
        return sb.append('\n').toString();
    }
}
