package io.weightstream.serving;

/**
 * ONNX Runtime could not load or run a model (a corrupt or unsupported ONNX file, an operator the runtime lacks,
 * a shape the graph rejects at run time). Bad arguments from the caller are {@link IllegalArgumentException}s
 * instead, raised before ONNX Runtime is called.
 *
 * <pre>{@code
 * try (OnnxModel model = OnnxModel.load(path)) { ... }
 * catch (OnnxModelException e) { deadLetter(path, e.getMessage()); }
 * }</pre>
 */
public class OnnxModelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OnnxModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
