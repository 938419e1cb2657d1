package io.weightstream.publish;

import io.weightstream.schemas.CheckpointManifest;

/**
 * What one publish did: the manifest that was committed and the figures of the transaction.
 *
 * @param manifest  the committed manifest
 * @param tensors   tensors published (row-block parts counted one by one)
 * @param chunks    LayerChunk records in the transaction
 * @param bytes     tensor bytes published
 * @param seconds   wall time from the start of the transaction to its commit
 */
public record PublishResult(CheckpointManifest manifest, int tensors, long chunks, long bytes, double seconds) {

    /** Tensor megabytes (10^6 bytes) per second. */
    public double megabytesPerSecond() {
        return seconds > 0 ? bytes / 1e6 / seconds : 0;
    }
}
