package io.weightstream.publish;

/** Receives progress while a checkpoint is published; called on the publishing thread. */
@FunctionalInterface
public interface PublishProgress {
    PublishProgress NONE = (done, total, tensor) -> { };

    /**
     * @param bytesDone  tensor bytes sent so far
     * @param bytesTotal tensor bytes of the whole checkpoint
     * @param tensor     the tensor being sent
     */
    void update(long bytesDone, long bytesTotal, String tensor);
}
