package io.weightstream.checkpoint.onnx;

/** Placeholder until the writer lands. */
public final class OnnxWriter {
    public static void write(byte[] skeleton, java.util.function.Function<String, java.nio.ByteBuffer> tensors, java.nio.file.Path out) {
        throw new UnsupportedOperationException("not yet");
    }
}
