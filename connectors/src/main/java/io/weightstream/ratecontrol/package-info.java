/**
 * Whole-model rate control for the {@code l2} codec: {@link io.weightstream.ratecontrol.RateAllocator} reads every
 * tensor of a checkpoint, computes each layer's rate-distortion curve and allocates bits at equal slope so that the
 * whole model meets a {@link io.weightstream.ratecontrol.RateTarget}; the result is an
 * {@link io.weightstream.ratecontrol.Allocation} whose {@link io.weightstream.schemas.CompressionPolicy} the
 * existing policy path (CLI, publisher, Flink job) applies unchanged.
 */
package io.weightstream.ratecontrol;
