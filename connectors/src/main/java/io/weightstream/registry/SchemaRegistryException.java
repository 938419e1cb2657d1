package io.weightstream.registry;

/**
 * A schema-registry call that failed: the registry rejected the request (incompatible schema, unknown id or
 * subject, invalid schema, not authorized) or could not be reached. The one unchecked exception of
 * {@link SchemaRegistry}; the message says what failed, for which subject, at which URL, and what the
 * registry answered.
 *
 * <pre>{@code
 * try {
 *     registry.register("weightstream.layers-value", schema);
 * } catch (SchemaRegistryException e) {
 *     if (e.status() == 409) { ... }  // incompatible with the subject's compatibility level
 * }
 * }</pre>
 */
public class SchemaRegistryException extends RuntimeException {
    /** Confluent error code: subject not found. */
    public static final int SUBJECT_NOT_FOUND = 40401;
    /** Confluent error code: version not found. */
    public static final int VERSION_NOT_FOUND = 40402;
    /** Confluent error code: schema (by id, or under a subject) not found. */
    public static final int SCHEMA_NOT_FOUND = 40403;
    /** Confluent error code: the schema is not valid Avro. */
    public static final int INVALID_SCHEMA = 42201;

    private final int status;
    private final int errorCode;
    private final String endpoint;
    private final String subject;

    public SchemaRegistryException(String message, int status, int errorCode, String endpoint, String subject,
                                   Throwable cause) {
        super(message, cause);
        this.status = status;
        this.errorCode = errorCode;
        this.endpoint = endpoint;
        this.subject = subject;
    }

    /** HTTP status of the registry's answer, or 0 when there was none (unreachable, timeout). */
    public int status() {
        return status;
    }

    /** The registry's {@code error_code} (e.g. 40403), or 0 when it sent none. */
    public int errorCode() {
        return errorCode;
    }

    /** URL of the request that failed (for several configured URLs: the last one tried). */
    public String endpoint() {
        return endpoint;
    }

    /** Subject the request was about, or {@code null}. */
    public String subject() {
        return subject;
    }
}
