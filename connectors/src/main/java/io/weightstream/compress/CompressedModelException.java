package io.weightstream.compress;

/**
 * A compressed model (records from Kafka or a container file) that fails a check: a missing or inconsistent
 * chunk, a CRC or SHA-256 mismatch, a payload that does not decode, a shape or dtype that disagrees with the
 * manifest. The message says what and where (model/version, tensor, chunk). Such a version is never served.
 */
public class CompressedModelException extends RuntimeException {
    public CompressedModelException(String message) {
        super(message);
    }

    public CompressedModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
