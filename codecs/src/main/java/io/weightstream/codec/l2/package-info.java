/**
 * The {@code l2} codec (paper 003): joint pruning + quantization with a transform of the
 * {@link io.weightstream.codec.l2.L2Transform} family, symbols range-coded (rANS) with a frequency table per layer;
 * see {@link io.weightstream.codec.l2.L2Codec}. Rate control reads an {@link io.weightstream.codec.l2.L2Profile}
 * of each tensor and evaluates operating points ({@link io.weightstream.codec.l2.L2Point}) from it, with the exact
 * symbol counts or with the paper's {@link io.weightstream.codec.l2.DifferentiableCounter}. Kernels in
 * {@code L2Kernels} and {@code Levels}, entropy coding in {@code SymbolStreams}, layout in {@code L2Format}.
 */
package io.weightstream.codec.l2;
