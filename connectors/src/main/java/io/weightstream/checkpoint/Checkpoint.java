package io.weightstream.checkpoint;

import java.nio.file.Path;
import java.util.List;

/**
 * An open checkpoint file: its tensors (memory-mapped where the format allows) and its skeleton, the rest
 * of the file (e.g. the ONNX graph without its weights) from which {@link CheckpointWriter} rebuilds it.
 *
 * <pre>{@code
 * try (Checkpoint ckpt = Checkpoint.open(Path.of("model.onnx"))) {
 *     for (CheckpointTensor t : ckpt.tensors()) {
 *         System.out.println(t.name() + " " + t.spec().byteSize());
 *     }
 * }
 * }</pre>
 */
public interface Checkpoint extends AutoCloseable {

    /** Opens a checkpoint by its extension. @throws CheckpointFormatException naming the file and byte offset */
    static Checkpoint open(Path file) {
        return switch (CheckpointFormat.of(file)) {
            case SAFETENSORS -> io.weightstream.checkpoint.safetensors.SafetensorsCheckpoint.open(file);
            case ONNX -> io.weightstream.checkpoint.onnx.OnnxCheckpoint.open(file);
        };
    }

    Path path();

    CheckpointFormat format();

    /** Tensors in file order; names are unique within the checkpoint. */
    List<CheckpointTensor> tensors();

    /** The bytes that, with the tensors, rebuild the file ({@link CheckpointWriter}). */
    byte[] skeleton();

    /** Size of the file on disk (for ONNX with external data: the .onnx file plus its data files). */
    long fileBytes();

    /** Releases the mapping; tensors' buffers must not be used afterwards. */
    @Override
    void close();
}
