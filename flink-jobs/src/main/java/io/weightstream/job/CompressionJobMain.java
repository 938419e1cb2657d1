package io.weightstream.job;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;

/**
 * Entry point of the job jar ({@code flink-jobs/target/weightstream-flink-jobs-*-job.jar}) on a real cluster, and
 * of {@code ./weightstream job} on an embedded MiniCluster: the same {@link CompressionJob} either way. Arguments are
 * the {@link CompressionJobOptions} as {@code --key value}.
 *
 * <pre>{@code
 * flink run flink-jobs/target/weightstream-flink-jobs-0.1.0-SNAPSHOT-job.jar \
 *     --bootstrap.servers kafka:9092 --registry.url http://registry:8080/apis/ccompat/v7 --parallelism 4
 *
 * CompressionJobMain.runLocally(options, System.out::println);   // blocks until interrupted
 * }</pre>
 */
public final class CompressionJobMain {
    private CompressionJobMain() {
    }

    public static void main(String[] args) throws Exception {
        Configuration options = CompressionJobOptions.parse(arguments(args));
        CompressionJob.kafka(options).execute(StreamExecutionEnvironment.getExecutionEnvironment());
    }

    /** {@code --key value} (or {@code --key=value}) arguments as a map. */
    static Map<String, String> arguments(String[] args) {
        String[] split = Arrays.stream(args)
                .flatMap(a -> a.startsWith("--") && a.contains("=")
                        ? Stream.of(a.substring(0, a.indexOf('=')), a.substring(a.indexOf('=') + 1))
                        : Stream.of(a))
                .toArray(String[]::new);
        return ParameterTool.fromArgs(split).toMap();
    }

    /**
     * Runs the job on an embedded MiniCluster ({@link CompressionJob#localEnvironment}) until it ends or the calling
     * thread is interrupted, which cancels it.
     *
     * @param log receives one line when the job is running and one when it stopped
     * @return the job's final status
     */
    public static JobStatus runLocally(Configuration options, Consumer<String> log) throws Exception {
        CompressionJob job = CompressionJob.kafka(options);
        JobClient client = job.executeAsync(CompressionJob.localEnvironment(options));
        log.accept("compression job " + client.getJobID() + " running on a local MiniCluster (parallelism "
                + options.get(CompressionJobOptions.PARALLELISM) + ", checkpoints every "
                + options.get(CompressionJobOptions.CHECKPOINT_INTERVAL).toMillis() + " ms), reading "
                + options.get(CompressionJobOptions.BOOTSTRAP_SERVERS));
        try {
            client.getJobExecutionResult().get();
            return client.getJobStatus().get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            cancel(client, Duration.ofSeconds(30));
            log.accept("compression job " + client.getJobID() + " cancelled");
            Thread.currentThread().interrupt();
            return JobStatus.CANCELED;
        } catch (ExecutionException e) {
            throw new IllegalStateException("the compression job failed: " + DeadLetters.describe(e.getCause()), e.getCause());
        }
    }

    /**
     * Cancels the job and waits up to {@code timeout} until it has stopped (its result is known, the checkpoint it
     * keeps is on disk); failures to cancel are not rethrown.
     */
    public static void cancel(JobClient client, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            client.cancel().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            client.getJobExecutionResult().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // cancelled jobs end with an exception; a job over already cannot be cancelled: nothing more to do
        }
    }
}
