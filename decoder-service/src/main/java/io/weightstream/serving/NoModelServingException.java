package io.weightstream.serving;

/**
 * A request asked for a model that has no version serving on this replica yet (nothing swapped in, or the
 * manager is closed). The HTTP API answers 503 Service Unavailable: the request may succeed later.
 *
 * <pre>{@code
 * try (ModelManager.Lease lease = manager.acquire()) { ... }
 * catch (NoModelServingException e) { respond(503, e.getMessage()); }
 * }</pre>
 */
public class NoModelServingException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String model;

    public NoModelServingException(String model, String message) {
        super(message);
        this.model = model;
    }

    /** The model that was asked for. */
    public String model() {
        return model;
    }
}
