package io.weightstream.cli;

import io.weightstream.decoder.DecoderService;
import io.weightstream.stack.LocalStack;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code weightstream serve --replica ID}: one decoder replica, until Ctrl-C.
 *
 * <pre>{@code
 * ./weightstream serve --replica r1                       # the local stack, HTTP on 127.0.0.1:8090
 * ./weightstream serve --replica r2 --http-port 8091 --keep 5 --model all-minilm-l6-v2
 * }</pre>
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Runs a decoder replica until Ctrl-C: consumes every compressed version (its own consumer group), "
                + "verifies and materializes it into a versioned repository, hot-swaps it into serving and reports to "
                + "weightstream.fleet. On restart it serves the last good version at once and resumes where it left off.")
public final class ServeCommand implements Callable<Integer> {
    /** Environment variable read when --admin-token is not given (keeps the token out of `ps`). */
    static final String ADMIN_TOKEN_ENV = "WEIGHTSTREAM_ADMIN_TOKEN";

    @Spec
    CommandSpec spec;

    @Mixin
    Endpoints endpoints;

    @Option(names = "--replica", required = true, paramLabel = "ID",
            description = "Replica id: letters, digits, '.', '_', '-'. Consumer group weightstream-decoder-ID.")
    String replica;

    @Option(names = "--repository", paramLabel = "DIR",
            description = "Model repository (default: <state-dir>/replicas/ID/repository).")
    Path repository;

    @Option(names = "--staging", paramLabel = "DIR",
            description = "Staging area of versions in flight (default: <state-dir>/replicas/ID/staging).")
    Path staging;

    @Option(names = "--staging-budget", paramLabel = "SIZE", defaultValue = "8G",
            description = "Most disk the staging area may use (default: ${DEFAULT-VALUE}).")
    String stagingBudget;

    @Option(names = "--http-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "Address of the HTTP API (default: ${DEFAULT-VALUE}).")
    String httpHost;

    @Option(names = "--http-port", paramLabel = "N", defaultValue = "8090",
            description = "Port of the HTTP API; 0: a free one; -1: none (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--admin-token", paramLabel = "T",
            description = "Bearer token of the admin routes (default: $" + ADMIN_TOKEN_ENV + "; unset: admin routes refused).")
    String adminToken;

    @Option(names = "--keep", paramLabel = "K", defaultValue = "3",
            description = "Versions kept per model; the serving one is never deleted (default: ${DEFAULT-VALUE}).")
    int keep;

    @Option(names = "--decode-threads", paramLabel = "N", description = "Decoding threads (default: available processors).")
    Integer decodeThreads;

    @Option(names = "--inference-threads", paramLabel = "N",
            description = "ONNX Runtime threads per model (default: available processors).")
    Integer inferenceThreads;

    @Option(names = "--model", paramLabel = "NAME", description = "Serve only this model (repeatable; default: all).")
    List<String> models = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Path base = (endpoints.stateDir != null ? endpoints.stateDir : LocalStack.defaultStateDir())
                .toAbsolutePath().resolve("replicas").resolve(replica);
        DecoderService.Builder b = DecoderService.builder()
                .bootstrapServers(endpoints.bootstrapServers())
                .registryUrl(endpoints.registryUrl())
                .replicaId(replica)
                .repositoryDir(repository != null ? repository : base.resolve("repository"))
                .stagingDir(staging != null ? staging : base.resolve("staging"))
                .stagingBudgetBytes(Sizes.parse(stagingBudget))
                .keepVersions(keep)
                .models(models)
                .httpHost(httpHost)
                .httpPort(httpPort)
                .adminToken(adminToken != null ? adminToken : System.getenv(ADMIN_TOKEN_ENV));
        if (decodeThreads != null) {
            b.decodeThreads(decodeThreads);
        }
        if (inferenceThreads != null) {
            b.inferenceThreads(inferenceThreads);
        }
        PrintWriter out = spec.commandLine().getOut();
        DecoderService service = b.start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.close();
            } finally {
                stopped.countDown();
            }
        }, "weightstream-serve-shutdown"));
        out.printf("replica %s running: %s; repository %s; staging %s (Ctrl-C to stop)%n", replica,
                service.httpPort() >= 0 ? "HTTP on http://" + httpHost + ":" + service.httpPort() : "no HTTP API",
                service.repository().dir(), service.stage().dir());
        out.flush();
        stopped.await();
        return 0;
    }
}
