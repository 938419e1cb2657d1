package io.weightstream.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * Rebuilds a checkpoint file from its skeleton and its tensors' bytes.
 *
 * <pre>{@code
 * CheckpointWriter.write(CheckpointFormat.ONNX, ckpt.skeleton(), name -> decoded.get(name), Path.of("out.onnx"));
 * }</pre>
 */
public final class CheckpointWriter {
    private CheckpointWriter() {
    }

    /**
     * @param tensors the little-endian bytes of each tensor named in the skeleton; must have the byte size the
     *                skeleton declares
     */
    public static void write(CheckpointFormat format, byte[] skeleton, Function<String, ByteBuffer> tensors, Path out) {
        switch (format) {
            case SAFETENSORS -> io.weightstream.checkpoint.safetensors.SafetensorsWriter.write(skeleton, tensors, out);
            case ONNX -> io.weightstream.checkpoint.onnx.OnnxWriter.write(skeleton, tensors, out);
        }
    }
}
