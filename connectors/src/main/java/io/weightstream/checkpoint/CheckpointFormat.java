package io.weightstream.checkpoint;

import java.nio.file.Path;
import java.util.Locale;

/** The checkpoint file formats weightstream reads and writes. */
public enum CheckpointFormat {
    SAFETENSORS(".safetensors"),
    ONNX(".onnx");

    private final String extension;

    CheckpointFormat(String extension) {
        this.extension = extension;
    }

    public String extension() {
        return extension;
    }

    /**
     * The format of a file, by its extension.
     *
     * @throws CheckpointFormatException naming the file when the extension is not one of ours
     */
    public static CheckpointFormat of(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        for (CheckpointFormat f : values()) {
            if (name.endsWith(f.extension)) {
                return f;
            }
        }
        throw new CheckpointFormatException(file, -1, "unknown checkpoint format (expected a .safetensors or .onnx file)");
    }
}
