package io.weightstream.decoder;

import java.util.Locale;

/**
 * What the decoder did with one model version, with the time each step took: one per version, logged as one line
 * and kept by {@link DecoderService#reports()}. Times are milliseconds; -1 where a step did not run.
 *
 * <p>The steps, in order: upstream of the decoder, {@code publishToCompressed} (publishedAtMs to the job's
 * completedAtMs) and {@code compressedToStaged} (to the first record staged: Kafka commit and delivery);
 * {@code staging} (first record staged to the last one staged, fsynced and committed); {@code queue} (waiting for
 * the materializing thread);
 * {@code read} (reading the staged records back); {@code decode} (join + decode + verify: CRC, SHA-256,
 * shapes); {@code write} (model file, attachments, fsync, rename); {@code load} (ONNX Runtime session);
 * {@code warmUp}; {@code swap}. {@code publishToServing} is publishedAtMs to swapped in.
 *
 * <pre>{@code
 * for (VersionReport r : decoder.reports()) {
 *     System.out.println(r.toLine());   // minilm/v2 served: publish->serving 1890 ms [commit+deliver 979 ms, ...]
 * }
 * }</pre>
 *
 * @param outcome what happened
 * @param message the failure, or why it was not swapped in
 */
public record VersionReport(String model, String version, Outcome outcome, String message, long publishedAtMs,
                            long publishToCompressedMs, long compressedToStagedMs, long stagingMs, long queueMs, long readMs,
                            long decodeMs, long writeMs, long loadMs, long warmUpMs, long swapMs,
                            long publishToServingMs, long encodedBytes, long decodedBytes) {
    /** What became of a version. */
    public enum Outcome {
        /** Materialized, loaded, warmed up and swapped in. */
        SERVED,
        /** Materialized and kept, but older than the version serving, so not swapped in. */
        KEPT,
        /** Failed a check or did not load: never served; the previous version keeps serving. */
        FAILED,
        /** Dropped without materializing: {@code keep} newer versions are kept already. */
        SUPERSEDED,
        /** Served from LAST_GOOD when the replica started. */
        RESTORED,
        /** Activated from the repository on request (rollback or roll-forward). */
        ACTIVATED
    }

    /** The decoder's own share: queue + read + decode + write + load + warm-up + swap. */
    public long decoderMs() {
        return sum(queueMs, readMs, decodeMs, writeMs, loadMs, warmUpMs, swapMs);
    }

    private static long sum(long... parts) {
        long s = 0;
        for (long p : parts) {
            s += Math.max(0, p);
        }
        return s;
    }

    /** The one log line of this version. */
    public String toLine() {
        StringBuilder sb = new StringBuilder();
        sb.append(model).append('/').append(version).append(' ').append(outcome.name().toLowerCase(Locale.ROOT));
        if (publishToServingMs >= 0) {
            sb.append(": publish->serving ").append(publishToServingMs).append(" ms");
        }
        sb.append(" [");
        append(sb, "publish+compress", publishToCompressedMs);
        append(sb, "commit+deliver", compressedToStagedMs);
        append(sb, "receive+stage+fsync", stagingMs);
        append(sb, "queue", queueMs);
        append(sb, "read", readMs);
        append(sb, "decode+verify", decodeMs);
        append(sb, "write", writeMs);
        append(sb, "load", loadMs);
        append(sb, "warm-up", warmUpMs);
        append(sb, "swap", swapMs);
        sb.append("decoder ").append(decoderMs()).append(" ms]");
        if (encodedBytes > 0) {
            sb.append(String.format(Locale.ROOT, " encoded=%.1fMB", encodedBytes / 1e6));
        }
        if (decodedBytes > 0 && decodeMs > 0) {
            sb.append(String.format(Locale.ROOT, " decoded=%.1fMB (%.0f MB/s)", decodedBytes / 1e6,
                    decodedBytes / 1e3 / decodeMs));
        }
        if (message != null && !message.isEmpty()) {
            sb.append(": ").append(message);
        }
        return sb.toString();
    }

    private static void append(StringBuilder sb, String name, long ms) {
        if (ms >= 0) {
            sb.append(name).append(' ').append(ms).append(" ms, ");
        }
    }
}
