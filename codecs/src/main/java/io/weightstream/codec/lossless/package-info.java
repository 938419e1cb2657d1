/**
 * The {@code lossless} codec: byte planes, each entropy-coded or stored raw; see
 * {@link io.weightstream.codec.lossless.LosslessCodec}. Kernels in {@code BytePlanes}, layout in {@code LosslessFormat}.
 */
package io.weightstream.codec.lossless;
