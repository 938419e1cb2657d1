package io.weightstream.bench;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.compress.ModelMaterializer;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.compress.WszContainer;
import io.weightstream.policy.CompressedTensor;
import io.weightstream.policy.Policies;
import io.weightstream.policy.PolicyResolver;
import io.weightstream.policy.TensorCompressor;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.TensorEntry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The bench: for each model x method x setting, the whole-model ratio, the model-level quality (sentence-embedding
 * cosines, or top-1 agreement and accuracy on held-back MNIST digits), the per-layer relative errors, and encode and
 * decode MB/s on one thread and on all cores, next to zstd-jni reference rows measured in the same process; then,
 * when asked, publish-to-serving through the real pipeline. {@link BenchReport#write} turns the result into
 * {@code report.md}, {@code results.csv}, {@code layers.csv} and PNG plots.
 *
 * <pre>{@code
 * BenchOptions o = BenchOptions.builder().quick(true).outputDir(dir).stackHome(stack).build();
 * BenchReport report = new Bench(o, null).run(System.out::println);
 * report.write(dir);
 * }</pre>
 *
 * <p>Codec rows go through exactly what {@code weightstream compress}/{@code decompress} do: a
 * {@code Policies.of(method, params)} policy (1-D and integer tensors lossless), {@link OfflineCompressor},
 * a {@code .wsz} container written and read back (its size is the compressed size), and {@link ModelMaterializer},
 * which decodes, verifies every tensor's SHA-256 and rebuilds the model file that the quality probe then loads.
 */
public final class Bench {
    private final BenchOptions options;
    private final PipelineProbe pipeline;

    /** @param pipeline runs the pipeline row, or null (the report then says it did not run) */
    public Bench(BenchOptions options, PipelineProbe pipeline) {
        this.options = java.util.Objects.requireNonNull(options, "options");
        this.pipeline = pipeline;
    }

    /**
     * Runs every measurement. A failing row is reported in the notes and the run goes on; a model that cannot be
     * found or trained fails the run.
     */
    public BenchReport run(Consumer<String> log) {
        System.setProperty("java.awt.headless", "true");
        MachineInfo machine = MachineInfo.current();
        Instant started = Instant.now();
        long t0 = System.nanoTime();
        Path work = options.outputDir().resolve(".bench-work");
        createDirectories(work);
        log.accept(String.format(Locale.ROOT, "bench: %s run on %s; %s", options.quick() ? "quick" : "full",
                machine.describe(), MachineInfo.loadNote(machine.loadAtStart(), machine.cores())));
        List<ModelInfo> models = new ArrayList<>();
        List<BenchRow> rows = new ArrayList<>();
        List<LayerError> layers = new ArrayList<>();
        List<PipelineRun> runs = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        BenchModel pipelineModel = null;
        try {
            for (String id : options.models()) {
                log.accept("model " + id);
                BenchModel model = BenchModels.resolve(id, options, log);
                if (model.id().equals(BenchModels.MINILM)) {
                    pipelineModel = model;
                }
                new ModelRun(model, work, log, rows, layers, notes).run(models);
            }
            if (options.pipeline()) {
                runs.addAll(runPipeline(pipelineModel, log, notes));
                for (PipelineRun r : runs) {
                    for (int i = 0; i < rows.size(); i++) {
                        BenchRow row = rows.get(i);
                        if (row.model().equals(r.model()) && row.method().equals(r.method()) && row.setting().equals(r.setting())) {
                            rows.set(i, row.withPublishToServing(r.publishToServingSeconds()));
                        }
                    }
                }
            }
        } finally {
            deleteRecursively(work);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        log.accept(String.format(Locale.ROOT, "bench: %d rows in %.0f s", rows.size(), seconds));
        return new BenchReport(machine, options, started, seconds, MachineInfo.loadAverage(), models, rows, layers, runs,
                notes);
    }

    /** The pipeline versions: one in a quick run, lossless + two rtn settings in a full run. */
    List<PipelineProbe.Version> pipelineVersions() {
        if (options.quick()) {
            return List.of(new PipelineProbe.Version("v1", "rtn", BenchSetting.of("bits", "8")));
        }
        return List.of(new PipelineProbe.Version("v1", "lossless", BenchSetting.DEFAULT),
                new PipelineProbe.Version("v2", "rtn", BenchSetting.of("bits", "8")),
                new PipelineProbe.Version("v3", "rtn", BenchSetting.of("bits", "4", "group.size", "64")));
    }

    private List<PipelineRun> runPipeline(BenchModel model, Consumer<String> log, List<String> notes) {
        if (model == null) {
            notes.add("pipeline: not run, it publishes " + BenchModels.MINILM + ", which is not among the models of this run");
            return List.of();
        }
        if (pipeline == null) {
            notes.add("pipeline: not run, no stack in this process (run it with ./weightstream bench --pipeline)");
            return List.of();
        }
        log.accept("pipeline: " + model.id() + " through Kafka, the Flink job and a decoder replica");
        try {
            return pipeline.run(model.file(), model.id(), pipelineVersions(), log);
        } catch (Exception e) {
            notes.add("pipeline: failed: " + e);
            log.accept("pipeline: FAILED: " + e);
            return List.of();
        }
    }

    /** The measurements of one model. */
    private final class ModelRun {
        private final BenchModel model;
        private final Path work;
        private final Consumer<String> log;
        private final List<BenchRow> rows;
        private final List<LayerError> layers;
        private final List<String> notes;

        ModelRun(BenchModel model, Path work, Consumer<String> log, List<BenchRow> rows, List<LayerError> layers,
                 List<String> notes) {
            this.model = model;
            this.work = work;
            this.log = log;
            this.rows = rows;
            this.layers = layers;
            this.notes = notes;
        }

        void run(List<ModelInfo> models) {
            try (Checkpoint ckpt = Checkpoint.open(model.file()); QualityProbe probe = QualityProbe.open(model, options)) {
                List<CheckpointTensor> tensors = ckpt.tensors();
                long tensorBytes = tensors.stream().mapToLong(CheckpointTensor::byteSize).sum();
                models.add(new ModelInfo(model.id(), model.description(), model.file().getFileName().toString(),
                        ckpt.fileBytes(), tensors.size(), tensorBytes, probe.metric(), probe.baseline()));
                log.accept(String.format(Locale.ROOT, "  %s: %d tensors, %.1f MB; quality on %s", model.file().getFileName(),
                        tensors.size(), tensorBytes / 1e6, probe.baseline()));
                ZstdReference zstd = new ZstdReference(tensors, ckpt.skeleton());
                ZstdReference.Result zstd3 = zstd.run(3, options);
                int first = rows.size();
                for (BenchMethod method : options.methods()) {
                    if (!model.accepts(method)) {
                        continue;
                    }
                    for (BenchSetting setting : method.settings(options.quick())) {
                        long r0 = System.nanoTime();
                        try {
                            BenchRow row = switch (method.kind()) {
                                case CODEC -> codecRow(ckpt, probe, method.name(), setting, r0);
                                case ZSTD -> zstdRow(ckpt, probe, zstd, zstd3, setting, r0);
                                case ORT_INT8 -> ortInt8Row(ckpt, probe, setting, r0);
                            };
                            rows.add(row);
                            log.accept(summary(row));
                        } catch (RuntimeException e) {
                            String note = model.id() + " " + method.name() + " " + setting.label() + ": failed: " + e;
                            notes.add(note);
                            log.accept("  " + note);
                        }
                    }
                }
                for (int i = first; i < rows.size(); i++) {
                    BenchRow row = rows.get(i);
                    if (row.timed()) {
                        rows.set(i, row.withZstdReference(row.encMbps1t() / zstd3.encMbps1t(), row.decMbps1t() / zstd3.decMbps1t()));
                    }
                }
            }
        }

        private BenchRow codecRow(Checkpoint ckpt, QualityProbe probe, String method, BenchSetting setting, long r0) {
            // ratio=R / model.bits=B: whole-model rate control (l2) writes the policy; the allocation is not timed
            CompressionPolicy policy = io.weightstream.ratecontrol.RateTarget.requested(setting.params())
                    ? io.weightstream.ratecontrol.RateAllocator.allocate(ckpt, setting.params()).policy()
                    : Policies.of(method, setting.params());
            List<CheckpointTensor> tensors = ckpt.tensors();
            long tensorBytes = tensors.stream().mapToLong(CheckpointTensor::byteSize).sum();
            CodecTiming.Run timing = new CodecTiming.Run(tensors, new TensorCompressor(new PolicyResolver(policy)), options);
            CodecTiming.Speed single = timing.singleThread();
            CodecTiming.Speed all = timing.allCores();
            // all cores, end to end, as `weightstream compress` runs: best of the passes within the budget
            OfflineCompressor compressor = new OfflineCompressor(options.threads());
            OfflineCompressor.Result[] last = new OfflineCompressor.Result[1];
            double compressAll = Timing.best(options.repeats(), options.measureSeconds(), () -> {
                last[0] = compressor.compress(ckpt, model.id(), setting.slug(), policy, r -> { });
                return new double[] {last[0].seconds()};
            })[0];
            OfflineCompressor.Result result = last[0];
            String base = model.id() + "-" + method + "-" + setting.slug();
            Path container = work.resolve(base + ".wsz");
            Path restored = work.resolve(base + extension(model.file()));
            try {
                WszContainer.write(container, result.version(), result.chunks());
                long compressedBytes = Files.size(container);
                WszContainer.Contents contents = WszContainer.read(container);
                ModelMaterializer materializer = new ModelMaterializer(options.threads(), DecodeLimits.DEFAULT);
                double decompressAll = Timing.best(options.repeats(), options.measureSeconds(), () -> {
                    long d0 = System.nanoTime();
                    materializer.decode(contents.version(), contents.chunksByTensor());
                    return new double[] {(System.nanoTime() - d0) / 1e9};
                })[0];
                ModelMaterializer.Materialized m = materializer.materialize(contents.version(), contents.chunksByTensor(), restored);
                decompressAll = Math.min(decompressAll, m.decodeSeconds());
                boolean exact = result.rows().stream().allMatch(r -> Codecs.get(r.compressed().method()).isLossless());
                QualityProbe.Quality q = exact ? probe.exact() : probe.measure(restored);
                long payload = 0;
                double maxLayer = 0;
                for (OfflineCompressor.TensorRow r : result.rows()) {
                    CompressedTensor c = r.compressed();
                    payload += c.encodedBytes();
                    TensorEntry e = r.entry();
                    String name = e.getName();
                    String alias = e.getAlias();
                    String shape = e.getShape().stream().map(String::valueOf).collect(Collectors.joining("x"));
                    LayerError le = new LayerError(model.id(), method, setting.label(), name, LayerLabels.of(name, alias),
                            e.getDtype().name(), shape, c.metrics().count(), c.originalBytes(), c.encodedBytes(), c.method(),
                            c.metrics().relL2(), c.metrics().cosine());
                    layers.add(le);
                    if (r.floatingPoint() && Double.isFinite(c.metrics().relL2())) {
                        maxLayer = Math.max(maxLayer, c.metrics().relL2());
                    }
                }
                return new BenchRow(model.id(), method, setting.label(), ckpt.fileBytes(), compressedBytes, tensorBytes,
                        payload, probe.metric(), q.mean(), q.min(), q.accuracy(), exact, result.relL2(), maxLayer,
                        single.encodeMbps(), single.decodeMbps(), all.encodeMbps(), all.decodeMbps(),
                        Timing.mbps(tensorBytes, compressAll), Timing.mbps(tensorBytes, decompressAll), options.threads(), Double.NaN, Double.NaN, Double.NaN,
                        (System.nanoTime() - r0) / 1e9);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                deleteQuietly(container);
                deleteQuietly(restored);
            }
        }

        private BenchRow zstdRow(Checkpoint ckpt, QualityProbe probe, ZstdReference zstd, ZstdReference.Result zstd3,
                                 BenchSetting setting, long r0) {
            int level = BenchMethods.zstdLevel(setting);
            ZstdReference.Result z = level == 3 ? zstd3 : zstd.run(level, options);
            QualityProbe.Quality q = probe.exact();
            return new BenchRow(model.id(), BenchMethods.ZSTD, setting.label(), ckpt.fileBytes(), z.compressedBytes(),
                    zstd.tensorBytes(), z.payloadBytes(), probe.metric(), q.mean(), q.min(), q.accuracy(), true, 0, 0,
                    z.encMbps1t(), z.decMbps1t(), z.encMbpsAll(), z.decMbpsAll(), Double.NaN, Double.NaN, options.threads(), Double.NaN,
                    Double.NaN, Double.NaN, (System.nanoTime() - r0) / 1e9);
        }

        private BenchRow ortInt8Row(Checkpoint ckpt, QualityProbe probe, BenchSetting setting, long r0) {
            Path q8 = model.int8Reference();
            long q8Tensors;
            long q8File;
            try (Checkpoint q = Checkpoint.open(q8)) {
                q8Tensors = q.tensors().stream().mapToLong(CheckpointTensor::byteSize).sum();
                q8File = q.fileBytes();
            }
            long tensorBytes = ckpt.tensors().stream().mapToLong(CheckpointTensor::byteSize).sum();
            QualityProbe.Quality q = probe.measure(q8);
            return new BenchRow(model.id(), BenchMethods.ORT_INT8, setting.label(), ckpt.fileBytes(), q8File, tensorBytes,
                    q8Tensors, probe.metric(), q.mean(), q.min(), q.accuracy(), false, Double.NaN, Double.NaN, Double.NaN,
                    Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, options.threads(), Double.NaN, Double.NaN,
                    Double.NaN,
                    (System.nanoTime() - r0) / 1e9);
        }
    }

    private static String summary(BenchRow r) {
        return String.format(Locale.ROOT, "  %-8s %-22s ratio %6.3f  %s mean %.6f min %.6f%s  enc %s dec %s MB/s (1 thread)  (%.1f s)",
                r.method(), r.setting(), r.ratio(), r.metric(), r.qualityMean(), r.qualityMin(),
                Double.isNaN(r.accuracy()) ? "" : String.format(Locale.ROOT, " accuracy %.4f", r.accuracy()),
                BenchReport.number(r.encMbps1t(), 1), BenchReport.number(r.decMbps1t(), 1), r.seconds());
    }

    private static String extension(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(dot);
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // a leftover file in the work folder is removed with it at the end
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
