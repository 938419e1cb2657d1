package io.weightstream.checkpoint.safetensors;

/** Placeholder until the writer lands. */
public final class SafetensorsWriter {
    public static void write(byte[] skeleton, java.util.function.Function<String, java.nio.ByteBuffer> tensors, java.nio.file.Path out) {
        throw new UnsupportedOperationException("not yet");
    }
}
