package io.weightstream.publish;

/** A publish that did not commit; the transaction was aborted, so nothing of it is visible to consumers. */
public class PublishException extends RuntimeException {
    public PublishException(String message, Throwable cause) {
        super(message, cause);
    }

    public PublishException(String message) {
        super(message);
    }
}
