package io.weightstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.serving.ServedModel;
import io.weightstream.serving.TextEmbedder;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.RunningStack;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code weightstream demo}: the whole product on one machine. Starts a local stack (Kafka + Apicurio), the
 * compression job on a Flink MiniCluster and one decoder replica with its HTTP API; publishes all-MiniLM-L6-v2 as v1
 * ({@code lossless}), waits until it serves, embeds real sentences through HTTP; then publishes v2 ({@code rtn}
 * 8-bit) while a load generator sends requests, and waits for the hot swap. Prints one row per version and exits 0
 * only if every check held: both versions served, embeddings match the original model within each codec's
 * tolerance, no request failed. Everything it started is stopped, whatever happens.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The end-to-end demo on a local stack it starts and stops itself.",
                "Publishes all-MiniLM-L6-v2 as v1 (lossless) and v2 (rtn 8-bit, under load), compresses it with the Flink job,",
                "decodes, verifies and hot-swaps it in a decoder replica, and prints a table per version."})
public final class DemoCommand implements Callable<Integer> {
    static final String MODEL = "all-minilm-l6-v2";

    @Spec
    CommandSpec spec;

    @Option(names = "--work-dir", description = "Where the demo keeps its stack, repository and logs (default: target/demo in the checkout).")
    Path workDir;

    @Option(names = "--load-threads", defaultValue = "2", description = "Concurrent clients of the load generator (default: ${DEFAULT-VALUE}).")
    int loadThreads;

    @Option(names = "--timeout", defaultValue = "240", description = "Seconds to wait for a version to serve (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--texts", defaultValue = "32", description = "Real paragraphs embedded to compare with the original model (default: ${DEFAULT-VALUE}).")
    int texts;

    private PrintWriter out;
    private long t0;

    /** One published version, as the table shows it. */
    record Row(String version, String method, double ratio, double publishToServingSeconds, double meanCosine, double minCosine,
               long requestsDuringSwap, long failedRequests, String breakdown) {
    }

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        t0 = System.nanoTime();
        Path root = Path.of(System.getProperty("weightstream.root", "."));
        Path work = workDir != null ? workDir : root.resolve("target").resolve("demo");
        Path modelFile = Path.of(System.getProperty("weightstream.stack.home", root.resolve("deploy/target/stack").toString()),
                "models", MODEL, MODEL + ".onnx");
        if (!Files.isRegularFile(modelFile)) {
            throw new IllegalStateException("the model is not staged at " + modelFile + " (build with: mvn -pl deploy process-resources)");
        }
        deleteRecursively(work);
        Files.createDirectories(work);
        List<Row> rows = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        List<String> sentences = io.weightstream.serving.RealTexts.paragraphs(texts);

        step("1/6", "starting the local stack: Kafka (KRaft) + Apicurio Registry on 127.0.0.1");
        try (RunningStack stack = LocalStack.start(work.resolve("stack"))) {
            say("      kafka %s, registry %s (%.1f s)", stack.bootstrapServers(), stack.registryUrl(), stack.startTime().toMillis() / 1e3);
            SchemaRegistryClient registry = SchemaRegistryClient.builder().url(stack.registryUrl()).build();

            step("2/6", "starting the compression job on a Flink MiniCluster");
            Configuration jobOptions = new Configuration();
            jobOptions.set(CompressionJobOptions.BOOTSTRAP_SERVERS, stack.bootstrapServers());
            jobOptions.set(CompressionJobOptions.REGISTRY_URL, stack.registryUrl());
            jobOptions.set(CompressionJobOptions.CHECKPOINT_DIR, work.resolve("flink-checkpoints").toUri().toString());
            jobOptions.set(CompressionJobOptions.GROUP_ID, "weightstream-demo-job");
            AtomicReference<Throwable> jobFailure = new AtomicReference<>();
            Thread job = new Thread(() -> {
                try {
                    CompressionJobMain.runLocally(jobOptions, line -> say("      %s", line));
                } catch (Throwable e) {
                    jobFailure.set(e);
                }
            }, "weightstream-demo-job");
            job.setDaemon(true);
            job.start();

            step("3/6", "starting decoder replica demo-1 with its HTTP API");
            try (DecoderService decoder = DecoderService.builder()
                    .bootstrapServers(stack.bootstrapServers()).registry(registry)
                    .replicaId("demo-1")
                    .repositoryDir(work.resolve("replica-demo-1/repository"))
                    .stagingDir(work.resolve("replica-demo-1/staging"))
                    .adminToken(UUID.randomUUID().toString())
                    .httpHost("127.0.0.1").httpPort(0)
                    .start();
                 TextEmbedder original = TextEmbedder.builder().modelPath(modelFile).intraOpThreads(1).build();
                 CheckpointPublisher publisher = CheckpointPublisher.builder()
                         .bootstrapServers(stack.bootstrapServers())
                         .valueSerializer(new AvroSerializer<SpecificRecord>(registry, null, false, true))
                         .transactionalId("weightstream-demo-publisher").build()) {
                URI base = URI.create("http://127.0.0.1:" + decoder.httpPort());
                say("      serving on %s", base);
                float[][] reference = original.embed(sentences);

                step("4/6", "publishing " + MODEL + " v1 with lossless, waiting until it serves");
                publish(publisher, modelFile, "v1", Policies.of("lossless", Map.of()));
                VersionReport v1 = awaitServed(decoder, "v1", jobFailure);
                double[] cos1 = embedAndCompare(base, sentences, reference, "v1");
                rows.add(new Row("v1", "lossless", ratioOf(decoder, "v1"), v1.publishToServingMs() / 1e3, cos1[0], cos1[1], 0, 0,
                        v1.toLine()));
                say("      %s", v1.toLine());
                if (cos1[0] < 0.999999) {
                    failures.add("v1 (lossless) embeddings differ from the original model: mean cosine " + cos1[0]);
                }

                step("5/6", "publishing v2 with rtn 8-bit while " + loadThreads + " clients send requests; waiting for the hot swap");
                try (LoadGenerator load = LoadGenerator.builder().baseUri(base).model(MODEL).threads(loadThreads)
                        .texts(LoadGenerator.sentences(64)).start()) {
                    Thread.sleep(6000);
                    Instant publishAt = Instant.now();
                    publish(publisher, modelFile, "v2", Policies.of("rtn", Map.of("bits", "8")));
                    VersionReport v2 = awaitServed(decoder, "v2", jobFailure);
                    Instant swappedAt = Instant.now();
                    Thread.sleep(3000);
                    load.stop();
                    load.await(Duration.ofSeconds(30));
                    // the swap as the replica lives it: from the start of its own work on v2 (join, decode, verify,
                    // write, load, warm-up) to one second after the new version took over
                    Instant servingSince = Instant.ofEpochMilli(decoder.models().manager(MODEL).current()
                            .map(ServedModel.Info::servingSinceMs).orElse(swappedAt.toEpochMilli()));
                    Instant swapStart = servingSince.minusMillis(v2.decoderMs());
                    LoadGenerator.Stats steady = load.snapshot(load.startedAt().plusSeconds(2), publishAt);
                    LoadGenerator.Stats update = load.snapshot(publishAt, servingSince.plusSeconds(1));
                    LoadGenerator.Stats during = load.snapshot(swapStart, servingSince.plusSeconds(1));
                    LoadGenerator.Stats all = load.total();
                    double[] cos2 = embedAndCompare(base, sentences, reference, "v2");
                    rows.add(new Row("v2", "rtn bits=8", ratioOf(decoder, "v2"), v2.publishToServingMs() / 1e3, cos2[0], cos2[1],
                            during.count(), all.failures(), v2.toLine()));
                    say("      %s", v2.toLine());
                    say("      load: steady %s", steady);
                    say("      load: whole update, publish to 1 s after the swap (the job compresses on the same 2 cores) %s", update);
                    say("      load: the swap (decode, verify, write, load, warm-up, swap, +1 s) %s", during);
                    double p99Ratio = during.p99Millis() / steady.p99Millis();
                    say("      p99 during the swap / steady p99 = %.2f (target <= 2)%s", p99Ratio,
                            p99Ratio <= 2 ? "" : "  -- target missed on this run");
                    if (cos2[0] < 0.999) {
                        failures.add("v2 (rtn 8-bit) mean cosine " + cos2[0] + " < 0.999");
                    }
                    if (all.failures() > 0) {
                        failures.add(all.failures() + " requests failed during the demo");
                    }
                    if (during.count() == 0) {
                        failures.add("no request was served while v2 was swapped in");
                    }
                }
            } finally {
                step("6/6", "stopping the job, the replica and the stack");
                job.interrupt();
                job.join(60_000);
            }
        }
        printTable(rows);
        if (failures.isEmpty()) {
            say("demo: every check held (%.0f s)", (System.nanoTime() - t0) / 1e9);
            return 0;
        }
        failures.forEach(f -> say("demo: CHECK FAILED: %s", f));
        return 1;
    }

    private void publish(CheckpointPublisher publisher, Path modelFile, String version, CompressionPolicy policy) {
        try (Checkpoint ckpt = Checkpoint.open(modelFile)) {
            var r = publisher.publish(ckpt, MODEL, version, policy, Attachments.defaultsFor(modelFile), PublishProgress.NONE);
            say("      published %s/%s: %d tensors, %.1f MB in %.2f s (%.0f MB/s), one transaction", MODEL, version,
                    r.tensors(), r.bytes() / 1e6, r.seconds(), r.megabytesPerSecond());
        }
    }

    private VersionReport awaitServed(DecoderService decoder, String version, AtomicReference<Throwable> jobFailure)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
        long lastNote = System.nanoTime();
        while (System.nanoTime() < deadline) {
            for (VersionReport r : decoder.reports()) {
                if (r.model().equals(MODEL) && r.version().equals(version)) {
                    if (r.outcome() == VersionReport.Outcome.SERVED) {
                        return r;
                    }
                    if (r.outcome() == VersionReport.Outcome.FAILED) {
                        throw new IllegalStateException(MODEL + "/" + version + " failed in the decoder: " + r.message());
                    }
                }
            }
            if (jobFailure.get() != null) {
                throw new IllegalStateException("the compression job failed: " + jobFailure.get().getMessage(), jobFailure.get());
            }
            if (System.nanoTime() - lastNote > 10_000_000_000L) {
                say("      ... waiting for %s (%.0f s)", version, (System.nanoTime() - t0) / 1e9);
                lastNote = System.nanoTime();
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException(MODEL + "/" + version + " did not serve within " + timeoutSeconds + " s");
    }

    private static double ratioOf(DecoderService decoder, String version) {
        Optional<ServedModel.Info> info = decoder.keptVersions(MODEL).stream().filter(i -> i.version().equals(version)).findFirst();
        return info.map(ServedModel.Info::ratio).orElse(Double.NaN);
    }

    /** Embeds {@code sentences} through {@code POST /v1/models/{name}/embed}; returns {mean, min} cosine vs {@code reference}. */
    private double[] embedAndCompare(URI base, List<String> sentences, float[][] reference, String expectVersion) throws Exception {
        ObjectMapper json = new ObjectMapper();
        HttpClient http = HttpClient.newHttpClient();
        String body = json.writeValueAsString(Map.of("texts", sentences));
        HttpResponse<String> resp = http.send(HttpRequest.newBuilder(base.resolve("/v1/models/" + MODEL + "/embed"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
            throw new IllegalStateException("POST /embed answered " + resp.statusCode() + ": " + resp.body());
        }
        JsonNode tree = json.readTree(resp.body());
        String served = tree.path("version").asText();
        if (!served.equals(expectVersion)) {
            throw new IllegalStateException("/embed answered from version " + served + ", expected " + expectVersion);
        }
        JsonNode vectors = tree.path("embeddings");
        double sum = 0;
        double min = 1;
        for (int i = 0; i < reference.length; i++) {
            JsonNode v = vectors.get(i);
            float[] e = new float[v.size()];
            for (int j = 0; j < e.length; j++) {
                e[j] = (float) v.get(j).asDouble();
            }
            double c = TextEmbedder.cosine(reference[i], e);
            sum += c;
            min = Math.min(min, c);
        }
        double mean = sum / reference.length;
        say("      /embed of %d real paragraphs from %s: mean cosine %.6f, min %.6f vs the original model", reference.length,
                expectVersion, mean, min);
        return new double[] {mean, min};
    }

    private void printTable(List<Row> rows) {
        say("");
        say("%-8s %-12s %7s %18s %12s %12s %18s %8s", "version", "method", "ratio", "publish->serving", "mean_cosine",
                "min_cosine", "requests_in_swap", "failed");
        for (Row r : rows) {
            say("%-8s %-12s %7.3f %17.2fs %12.6f %12.6f %18d %8d", r.version(), r.method(), r.ratio(), r.publishToServingSeconds(),
                    r.meanCosine(), r.minCosine(), r.requestsDuringSwap(), r.failedRequests());
        }
    }

    private void step(String n, String what) {
        say("[%s] %s", n, what);
    }

    private void say(String fmt, Object... args) {
        out.println(String.format(Locale.ROOT, fmt, args));
        out.flush();
    }

    private static void deleteRecursively(Path p) throws java.io.IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
