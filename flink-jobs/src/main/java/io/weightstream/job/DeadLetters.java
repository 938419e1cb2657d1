package io.weightstream.job;

import io.weightstream.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds the job's {@link DeadLetter}s: every record or tensor the job cannot process ends in
 * {@code weightstream.dlq} with the stage and the reason, never dropped silently. Values are cut to
 * {@link #MAX_VALUE_BYTES}; {@code valueBytes} keeps the original length.
 *
 * <pre>{@code
 * DeadLetter d = DeadLetters.forRecord("weightstream.layers", 3, 1041L, key, value, "deserialize", e, now);
 * DeadLetter t = DeadLetters.forTensor("minilm", "v1", "onnx::MatMul_1", "assemble", "missing chunks 3-4", now);
 * }</pre>
 */
public final class DeadLetters {
    /** Largest value kept in a dead letter. */
    public static final int MAX_VALUE_BYTES = 1 << 20;
    /** Stage names, in flow order. */
    public static final String DESERIALIZE = "deserialize";
    public static final String MANIFEST = "manifest";
    public static final String ASSEMBLE = "assemble";
    public static final String VERIFY = "verify";
    public static final String ENCODE = "encode";
    public static final String VERSION = "version";

    private DeadLetters() {
    }

    /** A Kafka record that could not be used; {@code error} may be null. */
    public static DeadLetter forRecord(String topic, int partition, long offset, byte[] key, byte[] value,
                                       String stage, String reason, Throwable error, long nowMs) {
        return DeadLetter.newBuilder()
                .setSourceTopic(topic == null ? "" : topic)
                .setPartition(partition)
                .setOffset(offset)
                .setKey(key == null ? null : ByteBuffer.wrap(key.clone()))
                .setValue(value == null ? null : ByteBuffer.wrap(Arrays.copyOf(value, Math.min(value.length, MAX_VALUE_BYTES))))
                .setValueBytes(value == null ? 0 : value.length)
                .setStage(stage)
                .setReason(reason == null ? "(no reason given)" : reason)
                .setErrorClass(error == null ? null : error.getClass().getName())
                .setTimestampMs(nowMs)
                .build();
    }

    /** A tensor (or a version) that could not be assembled, compressed or completed. */
    public static DeadLetter forTensor(String model, String version, String tensor, String stage, String reason,
                                       Throwable error, long nowMs, String sourceTopic) {
        String key = tensor == null ? model + "/" + version : model + "/" + tensor;
        DeadLetter d = forRecord(sourceTopic, -1, -1, key.getBytes(StandardCharsets.UTF_8), null,
                stage, reason, error, nowMs);
        d.setModel(model);
        d.setVersion(version);
        return d;
    }

    /** The message of {@code e} and its causes, without repeats; the class name when there is none. */
    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && !sb.toString().contains(m)) {
                if (sb.length() > 0) {
                    sb.append(": ");
                }
                sb.append(m);
            }
            if (t.getCause() == null) {
                break;
            }
        }
        return sb.length() > 0 ? sb.toString() : e.getClass().getSimpleName();
    }
}
