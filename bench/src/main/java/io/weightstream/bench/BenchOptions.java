package io.weightstream.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What one bench run measures and where it writes. Unset values take the defaults of a quick or a full run.
 *
 * <pre>{@code
 * BenchOptions o = BenchOptions.builder().quick(true).outputDir(Path.of("target/bench"))
 *         .stackHome(Path.of("deploy/target/stack")).build();
 * BenchReport report = new Bench(o, null).run(System.out::println);
 * }</pre>
 *
 * @param models         canonical model ids, in report order
 * @param methods        the methods with the settings to measure (overrides applied)
 * @param quick          a quick run: fewer settings, one timed pass, smaller probes
 * @param outputDir      where report.md, results.csv, layers.csv and the plots go
 * @param pipeline       whether to run the pipeline row (stack + Flink job + decoder replica) for MiniLM
 * @param threads        threads of the all-cores measurements (OfflineCompressor, ModelMaterializer, zstd)
 * @param repeats        timed single-thread passes (the best one counts), after a warm-up
 * @param measureSeconds stop repeating a timing once this much time went into it (at least one pass always runs)
 * @param warmupSeconds  single-thread warm-up per method setting before its timed passes
 * @param texts          real paragraphs embedded to compare text models
 * @param mnistSteps     training steps of the bench's MNIST models
 * @param mnistCacheDirs folders searched for {@code <model>/step-<steps>.safetensors} before training
 * @param mnistTrainDir  where MNIST models are trained when no cached checkpoint exists
 * @param stackHome      where the deploy module staged the models ({@code weightstream.stack.home})
 * @param command        the command line, for the report
 */
public record BenchOptions(List<String> models, List<BenchMethod> methods, boolean quick, Path outputDir, boolean pipeline,
                           int threads, int repeats, double measureSeconds, double warmupSeconds, int texts, int mnistSteps,
                           List<Path> mnistCacheDirs, Path mnistTrainDir, Path stackHome, String command) {
    public BenchOptions {
        models = List.copyOf(models);
        methods = List.copyOf(methods);
        mnistCacheDirs = List.copyOf(mnistCacheDirs);
        Objects.requireNonNull(outputDir, "outputDir");
        Objects.requireNonNull(mnistTrainDir, "mnistTrainDir");
        Objects.requireNonNull(stackHome, "stackHome");
        Objects.requireNonNull(command, "command");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Settings of a run; {@link #build()} fills in the defaults and checks them. */
    public static final class Builder {
        private List<String> models = List.of();
        private List<String> methods = List.of();
        private final Map<String, List<BenchSetting>> settings = new LinkedHashMap<>();
        private boolean quick;
        private Path outputDir;
        private Boolean pipeline;
        private int threads = Runtime.getRuntime().availableProcessors();
        private Integer repeats;
        private Double measureSeconds;
        private double warmupSeconds = 2.0;
        private Integer texts;
        private int mnistSteps = 400;
        private final List<Path> mnistCacheDirs = new ArrayList<>();
        private Path mnistTrainDir;
        private Path stackHome;
        private String command = "weightstream bench";

        private Builder() {
        }

        /** Model names or aliases (default: {@link BenchModels#defaults}). */
        public Builder models(List<String> names) {
            this.models = List.copyOf(names);
            return this;
        }

        /** Method names (default: {@link BenchMethods#select} of none). */
        public Builder methods(List<String> names) {
            this.methods = List.copyOf(names);
            return this;
        }

        /** Replaces a method's settings (quick and full) with these; see {@link BenchMethods#parseSettings}. */
        public Builder settings(String method, List<BenchSetting> list) {
            settings.put(method, List.copyOf(list));
            return this;
        }

        public Builder quick(boolean quick) {
            this.quick = quick;
            return this;
        }

        /** Required: where the report goes (created when missing). */
        public Builder outputDir(Path dir) {
            this.outputDir = dir;
            return this;
        }

        /** Run the pipeline row (default: in full runs only). */
        public Builder pipeline(boolean run) {
            this.pipeline = run;
            return this;
        }

        /** Threads of the all-cores measurements (default: the number of cores). */
        public Builder threads(int n) {
            this.threads = n;
            return this;
        }

        /** Timed single-thread passes (default: 1 quick, 3 full). */
        public Builder repeats(int n) {
            this.repeats = n;
            return this;
        }

        /** Time budget of one timing (default: 5 s quick, 30 s full). */
        public Builder measureSeconds(double s) {
            this.measureSeconds = s;
            return this;
        }

        /** Warm-up per setting before timing (default 2 s). */
        public Builder warmupSeconds(double s) {
            this.warmupSeconds = s;
            return this;
        }

        /** Real paragraphs for text models (default: 32 quick, 64 full). */
        public Builder texts(int n) {
            this.texts = n;
            return this;
        }

        /** Training steps of the MNIST models (default 400). */
        public Builder mnistSteps(int n) {
            this.mnistSteps = n;
            return this;
        }

        /** A folder searched for cached MNIST checkpoints (the output folder's {@code mnist-models} always is). */
        public Builder mnistCacheDir(Path dir) {
            mnistCacheDirs.add(dir);
            return this;
        }

        /** Where to train MNIST models when none is cached (default: the first cache folder). */
        public Builder mnistTrainDir(Path dir) {
            this.mnistTrainDir = dir;
            return this;
        }

        /** Required: the staged stack ({@code deploy/target/stack}) that holds {@code models/}. */
        public Builder stackHome(Path dir) {
            this.stackHome = dir;
            return this;
        }

        /** The command line shown in the report. */
        public Builder command(String line) {
            this.command = Objects.requireNonNull(line, "command");
            return this;
        }

        public BenchOptions build() {
            if (outputDir == null) {
                throw new IllegalArgumentException("outputDir is not set: the folder for report.md, results.csv and plots");
            }
            if (stackHome == null) {
                throw new IllegalArgumentException("stackHome is not set: the staged stack with models/ (deploy/target/stack)");
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1, got " + threads);
            }
            int r = repeats != null ? repeats : quick ? 1 : 3;
            if (r < 1) {
                throw new IllegalArgumentException("repeats must be at least 1, got " + r);
            }
            double budget = measureSeconds != null ? measureSeconds : quick ? 5 : 30;
            if (!(budget >= 0) || !(warmupSeconds >= 0)) {
                throw new IllegalArgumentException("measureSeconds and warmupSeconds must be >= 0");
            }
            int t = texts != null ? texts : quick ? 32 : 64;
            if (t < 1) {
                throw new IllegalArgumentException("texts must be at least 1, got " + t);
            }
            if (mnistSteps < 1) {
                throw new IllegalArgumentException("mnistSteps must be at least 1, got " + mnistSteps);
            }
            List<String> ids = (models.isEmpty() ? BenchModels.defaults(quick) : models).stream()
                    .map(BenchModels::canonical).distinct().toList();
            List<String> names = new ArrayList<>(methods);
            for (String m : settings.keySet()) {
                if (!methods.isEmpty() && !names.contains(m)) {
                    names.add(m);
                }
            }
            List<BenchMethod> resolved = new ArrayList<>();
            for (BenchMethod m : BenchMethods.select(names, quick)) {
                List<BenchSetting> s = settings.get(m.name());
                resolved.add(s == null ? m : m.withSettings(s));
            }
            for (String m : settings.keySet()) {
                if (resolved.stream().noneMatch(x -> x.name().equals(m))) {
                    resolved.add(BenchMethods.get(m).withSettings(settings.get(m)));
                }
            }
            List<Path> caches = new ArrayList<>(mnistCacheDirs);
            caches.add(outputDir.resolve("mnist-models"));
            Path train = mnistTrainDir != null ? mnistTrainDir : caches.get(0);
            return new BenchOptions(ids, resolved, quick, outputDir, pipeline != null ? pipeline : !quick, threads, r, budget,
                    warmupSeconds, t, mnistSteps, caches.stream().distinct().toList(), train, stackHome, command);
        }
    }
}
