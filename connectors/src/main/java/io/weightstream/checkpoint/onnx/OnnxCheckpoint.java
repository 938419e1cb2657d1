package io.weightstream.checkpoint.onnx;

/** Placeholder until the reader lands. */
public final class OnnxCheckpoint {
    public static io.weightstream.checkpoint.Checkpoint open(java.nio.file.Path file) {
        throw new UnsupportedOperationException("not yet");
    }
}
