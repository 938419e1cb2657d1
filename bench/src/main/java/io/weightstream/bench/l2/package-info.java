/**
 * L2 measurements: {@link io.weightstream.bench.l2.L2Calibration} (per-layer output sensitivities on real inputs,
 * the optional calibration of whole-model rate control), {@link io.weightstream.bench.l2.L2Curve} (one
 * rate-distortion point: compress, rebuild, compare) and {@link io.weightstream.bench.l2.L2Tool}, their command line.
 * Results and commands: {@code codecs/src/main/java/io/weightstream/codec/l2/README.md}.
 */
package io.weightstream.bench.l2;
