package io.weightstream.cli;

import io.weightstream.bench.inr.InrBench;
import io.weightstream.bench.Bench;
import io.weightstream.bench.BenchMethod;
import io.weightstream.bench.BenchMethods;
import io.weightstream.bench.BenchModels;
import io.weightstream.bench.BenchOptions;
import io.weightstream.bench.BenchReport;
import io.weightstream.bench.BenchSetting;
import io.weightstream.bench.PipelineProbe;
import io.weightstream.bench.PipelineRun;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.decoder.DecoderService;
import io.weightstream.decoder.VersionReport;
import io.weightstream.job.CompressionJobMain;
import io.weightstream.job.CompressionJobOptions;
import io.weightstream.policy.Policies;
import io.weightstream.publish.Attachments;
import io.weightstream.publish.CheckpointPublisher;
import io.weightstream.publish.PublishProgress;
import io.weightstream.registry.AvroSerializer;
import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.serving.ServedModel;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code weightstream bench}: every figure of the project from one command. For each model x method x setting:
 * whole-model ratio, quality on the model's task (sentence-embedding cosines; MNIST top-1 agreement and accuracy),
 * per-layer relative error, encode/decode MB/s on one thread and on all cores next to zstd-jni in the same process,
 * ONNX Runtime's int8 model as a reference row, and (full runs, or {@code --pipeline}) publish-to-serving through a
 * local stack, the Flink job and a decoder replica. Writes report.md, results.csv, layers.csv and PNG plots, and
 * prints the tables.
 *
 * <pre>
 *   ./weightstream bench --quick -o target/bench-quick        # a minute or two
 *   ./weightstream bench                                      # everything, ~15 min on 2 cores
 *   ./weightstream bench --models minilm --methods rtn --setting rtn:bits=3,group.size=32
 * </pre>
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures each model x method x setting: ratio, quality on the model's task,",
                "per-layer error, encode/decode MB/s (1 thread and all cores, beside zstd-jni)",
                "and publish->serving through the pipeline. Writes DIR/report.md, results.csv,",
                "layers.csv and PNG plots, and prints the tables. Exits 1 if a row failed."})
public final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--models", split = ",", paramLabel = "MODEL",
            description = "Models: all-minilm-l6-v2 (minilm), all-minilm-l6-v2-q (minilm-q, the 8-bit model as input), "
                    + "mnist-mlp (mlp), mnist-cnn (cnn). Default: minilm,mlp with --quick, all four otherwise.")
    List<String> models = new ArrayList<>();

    @Option(names = "--methods", split = ",", paramLabel = "METHOD",
            description = "Methods: codec names (lossless, rtn, prune, lowrank, ...), zstd, ort-int8. Default: the declared ones "
                    + "with quick settings with --quick (lossless, rtn, zstd, ort-int8), every declared one otherwise; a codec "
                    + "not declared in BenchMethods runs at its defaults when named. --list shows them.")
    List<String> methods = new ArrayList<>();

    @Option(names = "--setting", paramLabel = "METHOD:K=V,...",
            description = "Measure METHOD at these settings instead of its own (repeatable): --setting rtn:bits=3,group.size=32 "
                    + "--setting rtn:bits=2 --setting zstd:level=9")
    List<String> settings = new ArrayList<>();

    @Option(names = "--quick", description = "Few settings, one timed pass, 32 texts: a minute or two. Its report has the same shape.")
    boolean quick;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "Where the report goes (default: target/bench in the checkout).")
    Path output;

    @Option(names = "--pipeline", negatable = true,
            description = "Also measure publish->serving on a local stack (Kafka, Apicurio, the Flink job, a decoder replica): "
                    + "one version with --quick, three otherwise. Default: on for full runs, off with --quick.")
    Boolean pipeline;

    @Option(names = "--threads", description = "Threads of the all-cores figures (default: the number of cores).")
    Integer threads;

    @Option(names = "--repeats", description = "Timed single-thread passes after the warm-up; the best counts (default: 1 with --quick, 3).")
    Integer repeats;

    @Option(names = "--texts", description = "Real paragraphs embedded to score text models (default: 32 with --quick, 64).")
    Integer texts;

    @Option(names = "--mnist-steps", defaultValue = "400",
            description = "Training steps of the MNIST models the bench trains when none is cached (default: ${DEFAULT-VALUE}).")
    int mnistSteps;

    @Option(names = "--pipeline-timeout", defaultValue = "300",
            description = "Seconds to wait for a pipeline version to serve (default: ${DEFAULT-VALUE}).")
    int pipelineTimeout;

    @Option(names = "--list", description = "List the methods with their quick and full settings, and the models; then exit.")
    boolean list;

    @Option(names = "--inr", paramLabel = "SECTION",
            description = "The inr (Big2Small) section instead of the table run: ablation (paper Table IV on a crop of a real"
                    + " layer), mnist (the CNN's large layers vs rtn, accuracy on real digits), minilm (the FFN matrices vs"
                    + " rtn, embedding cosine) or all. It trains networks: minutes per layer on a CPU (inr-trainer/README.md).")
    String inrSection;

    @Option(names = "--inr-budget", paramLabel = "SECONDS", description = "--inr mnist/minilm: training seconds per layer (default 120 / 150).")
    Double inrBudget;

    @Option(names = "--inr-steps", paramLabel = "N", description = "--inr ablation: steps per row (default 1000).")
    Integer inrSteps;

    @Option(names = "--inr-crop", paramLabel = "ROWS", description = "--inr ablation: rows of the real layer (default 64).")
    Integer inrCrop;

    @Option(names = "--inr-set", paramLabel = "KEY=VALUE", description = "--inr: an inr codec parameter for every row (repeatable).")
    List<String> inrSettings = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (list) {
            printMethods(out);
            return 0;
        }
        Path root = Path.of(System.getProperty("weightstream.root", "."));
        Path dir = output != null ? output : root.resolve("target").resolve("bench");
        if (methods != null && methods.contains("inr")) {
            throw new IllegalArgumentException("inr is measured by its own section (each encode trains networks, so the"
                    + " table run's repeated timed passes would take hours): use --inr ablation|mnist|minilm|all");
        }
        if (inrSection != null) {
            return runInr(dir, out);
        }
        Path stackHome = Path.of(System.getProperty("weightstream.stack.home", root.resolve("deploy/target/stack").toString()));
        BenchOptions.Builder b = BenchOptions.builder().quick(quick).outputDir(dir).stackHome(stackHome)
                .models(models).methods(methods).mnistSteps(mnistSteps)
                .mnistCacheDir(root.resolve("bench").resolve("target").resolve("mnist-models"))
                .command("./weightstream bench" + (spec.commandLine().getParseResult() == null ? ""
                        : " " + String.join(" ", spec.commandLine().getParseResult().originalArgs())).stripTrailing());
        for (Map.Entry<String, List<BenchSetting>> e : BenchMethods.parseSettings(settings).entrySet()) {
            b.settings(e.getKey(), e.getValue());
        }
        if (pipeline != null) {
            b.pipeline(pipeline);
        }
        if (threads != null) {
            b.threads(threads);
        }
        if (repeats != null) {
            b.repeats(repeats);
        }
        if (texts != null) {
            b.texts(texts);
        }
        BenchOptions options = b.build();
        Consumer<String> log = line -> {
            out.println(line);
            out.flush();
        };
        BenchReport report = new Bench(options, new StackPipeline(dir.resolve(".pipeline-work"), Duration.ofSeconds(pipelineTimeout)))
                .run(log);
        List<Path> files = report.write(dir);
        out.println();
        out.print(report.tables());
        out.println("wrote " + files.size() + " files to " + dir.toAbsolutePath().normalize() + ": "
                + String.join(", ", files.stream().map(p -> p.getFileName().toString()).toList()));
        out.flush();
        long failed = report.notes().stream().filter(n -> n.contains("failed")).count();
        return failed == 0 ? 0 : 1;
    }

    /** {@code --inr SECTION}: {@link InrBench}, tables printed and appended to {@code DIR/inr.md}. */
    private int runInr(Path dir, PrintWriter out) throws Exception {
        List<String> args = new ArrayList<>(List.of(inrSection, "-o", dir.resolve("inr.md").toString()));
        if (inrBudget != null) {
            args.addAll(List.of("--budget", inrBudget.toString()));
        }
        if (inrSteps != null) {
            args.addAll(List.of("--steps", inrSteps.toString()));
        }
        if (inrCrop != null) {
            args.addAll(List.of("--crop", inrCrop.toString()));
        }
        if (threads != null) {
            args.addAll(List.of("--threads", threads.toString()));
        }
        args.addAll(inrSettings);
        Files.createDirectories(dir);
        InrBench.run(args.toArray(String[]::new), line -> {
            out.println(line);
            out.flush();
        });
        return 0;
    }

    private static void printMethods(PrintWriter out) {
        out.println("methods (quick settings | full settings):");
        for (BenchMethod m : BenchMethods.all()) {
            String quick = m.name().equals("inr") ? "(its own section: --inr ablation|mnist|minilm|all)"
                    : !BenchMethods.isDeclared(m.name()) ? "(only when named: --methods " + m.name() + ")"
                    : m.quickSettings().isEmpty() ? "(not in quick runs)" : m.quickSettings().toString();
            out.printf(Locale.ROOT, "  %-9s %s | %s   -- %s%n", m.name(), quick, m.fullSettings(), m.description());
        }
        out.println("models: " + String.join(", ", BenchModels.ALL));
        out.flush();
    }

    /**
     * The pipeline row: the demo's path (DemoCommand), without HTTP or load: a local stack, the compression job on a
     * Flink MiniCluster and one decoder replica; each version is published and awaited in turn, and the replica's
     * {@link VersionReport} gives publish->serving and its steps.
     */
    static final class StackPipeline implements PipelineProbe {
        private final Path work;
        private final Duration timeout;

        StackPipeline(Path work, Duration timeout) {
            this.work = work;
            this.timeout = timeout;
        }

        @Override
        public List<PipelineRun> run(Path modelFile, String model, List<Version> versions, Consumer<String> log) throws Exception {
            deleteRecursively(work);
            Files.createDirectories(work);
            List<PipelineRun> runs = new ArrayList<>();
            try (RunningStack stack = LocalStack.start(work.resolve("stack"))) {
                log.accept(String.format(Locale.ROOT, "  stack: kafka %s, registry %s (%.1f s)", stack.bootstrapServers(),
                        stack.registryUrl(), stack.startTime().toMillis() / 1e3));
                SchemaRegistryClient registry = SchemaRegistryClient.builder().url(stack.registryUrl()).build();
                Configuration jobOptions = new Configuration();
                jobOptions.set(CompressionJobOptions.BOOTSTRAP_SERVERS, stack.bootstrapServers());
                jobOptions.set(CompressionJobOptions.REGISTRY_URL, stack.registryUrl());
                jobOptions.set(CompressionJobOptions.CHECKPOINT_DIR, work.resolve("flink-checkpoints").toUri().toString());
                jobOptions.set(CompressionJobOptions.GROUP_ID, "weightstream-bench-job");
                AtomicReference<Throwable> jobFailure = new AtomicReference<>();
                CountDownLatch jobRunning = new CountDownLatch(1);
                Thread job = new Thread(() -> {
                    try {
                        CompressionJobMain.runLocally(jobOptions, line -> {
                            log.accept("  " + line);
                            if (line.contains(" running ")) {
                                jobRunning.countDown();
                            }
                        });
                    } catch (Throwable e) {
                        jobFailure.set(e);
                    } finally {
                        jobRunning.countDown();
                    }
                }, "weightstream-bench-job");
                job.setDaemon(true);
                job.start();
                // publish once the job runs, so the first version's time is not the MiniCluster's start-up
                if (!jobRunning.await(timeout.toSeconds(), TimeUnit.SECONDS) || jobFailure.get() != null) {
                    throw new IllegalStateException("the compression job did not start: " + jobFailure.get());
                }
                try (DecoderService decoder = DecoderService.builder()
                        .bootstrapServers(stack.bootstrapServers()).registry(registry)
                        .replicaId("bench-1")
                        .repositoryDir(work.resolve("replica/repository"))
                        .stagingDir(work.resolve("replica/staging"))
                        .adminToken(UUID.randomUUID().toString())
                        .httpPort(-1)
                        .start();
                     CheckpointPublisher publisher = CheckpointPublisher.builder()
                             .bootstrapServers(stack.bootstrapServers())
                             .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                             .transactionalId("weightstream-bench-publisher").build()) {
                    for (Version v : versions) {
                        try (Checkpoint ckpt = Checkpoint.open(modelFile)) {
                            var r = publisher.publish(ckpt, model, v.version(), Policies.of(v.method(), v.setting().params()),
                                    Attachments.defaultsFor(modelFile), PublishProgress.NONE);
                            log.accept(String.format(Locale.ROOT, "  published %s/%s (%s %s): %d tensors, %.1f MB in %.2f s",
                                    model, v.version(), v.method(), v.setting(), r.tensors(), r.bytes() / 1e6, r.seconds()));
                        }
                        VersionReport report = awaitServed(decoder, model, v.version(), jobFailure, log);
                        double ratio = decoder.keptVersions(model).stream().filter(i -> i.version().equals(v.version()))
                                .findFirst().map(ServedModel.Info::ratio).orElse(Double.NaN);
                        log.accept("  " + report.toLine());
                        runs.add(new PipelineRun(model, v.version(), v.method(), v.setting().label(), ratio,
                                report.publishToServingMs() / 1e3, report.toLine()));
                    }
                } finally {
                    job.interrupt();
                    job.join(60_000);
                }
            } finally {
                deleteRecursively(work);
            }
            return runs;
        }

        private VersionReport awaitServed(DecoderService decoder, String model, String version,
                                          AtomicReference<Throwable> jobFailure, Consumer<String> log) throws InterruptedException {
            long start = System.nanoTime();
            long deadline = start + timeout.toNanos();
            long lastNote = start;
            while (System.nanoTime() < deadline) {
                for (VersionReport r : decoder.reports()) {
                    if (r.model().equals(model) && r.version().equals(version)) {
                        if (r.outcome() == VersionReport.Outcome.SERVED) {
                            return r;
                        }
                        if (r.outcome() == VersionReport.Outcome.FAILED) {
                            throw new IllegalStateException(model + "/" + version + " failed in the decoder: " + r.message());
                        }
                    }
                }
                if (jobFailure.get() != null) {
                    throw new IllegalStateException("the compression job failed: " + jobFailure.get().getMessage(), jobFailure.get());
                }
                if (System.nanoTime() - lastNote > 15_000_000_000L) {
                    log.accept(String.format(Locale.ROOT, "  ... waiting for %s (%.0f s)", version, (System.nanoTime() - start) / 1e9));
                    lastNote = System.nanoTime();
                }
                Thread.sleep(50);
            }
            throw new IllegalStateException(model + "/" + version + " did not serve within " + timeout.toSeconds() + " s");
        }

        private static void deleteRecursively(Path p) throws IOException {
            if (!Files.exists(p)) {
                return;
            }
            try (Stream<Path> walk = Files.walk(p)) {
                for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            }
        }
    }
}
