package io.weightstream.decoder;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * A decoder replica in its own JVM, for {@link DecoderServiceITCase}'s crash tests: the test kills it with
 * {@code destroyForcibly()} (SIGKILL) and starts it again on the same directories.
 *
 * <p>Arguments: bootstrap servers, registry URL, replica id, repository dir, staging dir, model. Prints
 * {@code STARTED serving=<version>|none} once {@link DecoderService.Builder#start()} has returned (LAST_GOOD is
 * served by then), then {@code REPORT <outcome> <version>} for each version handled. Closes cleanly when its
 * standard input reaches its end.
 */
public final class DecoderServiceMain {
    private DecoderServiceMain() {
    }

    public static void main(String[] args) throws Exception {
        String model = args[5];
        DecoderService service = DecoderService.builder()
                .bootstrapServers(args[0]).registryUrl(args[1]).replicaId(args[2])
                .repositoryDir(Path.of(args[3])).stagingDir(Path.of(args[4]))
                .models(List.of(model)).decodeThreads(2).inferenceThreads(1).warmUpTextCount(2)
                .httpPort(-1)
                .start();
        String serving = service.models().find(model).flatMap(m -> m.current()).map(i -> i.version()).orElse("none");
        System.out.println("STARTED serving=" + serving);
        System.out.flush();
        Thread reports = new Thread(() -> {
            int seen = 0;
            while (true) {
                List<VersionReport> all = service.reports();
                for (; seen < all.size(); seen++) {
                    VersionReport r = all.get(seen);
                    System.out.println("REPORT " + r.outcome() + " " + r.version() + " " + r.toLine());
                    System.out.flush();
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "reports");
        reports.setDaemon(true);
        reports.start();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        while (in.readLine() != null) {
            // until the parent closes our standard input
        }
        service.close();
        System.out.println("STOPPED");
        System.out.flush();
    }
}
