/**
 * The measuring stick of the project: {@link io.weightstream.bench.Bench} compresses each model
 * ({@link io.weightstream.bench.BenchModels}) with each method and setting ({@link io.weightstream.bench.BenchMethods},
 * the one place a new codec adds its rows) and measures ratio, model-level quality, per-layer error and speed next to
 * zstd-jni and ONNX Runtime's int8 model; {@link io.weightstream.bench.BenchReport} writes report.md, results.csv,
 * layers.csv and the PNG plots ({@link io.weightstream.bench.BenchPlots}). {@code ./weightstream bench} is the command;
 * the MNIST models it trains live in {@code io.weightstream.bench.mnist}.
 */
package io.weightstream.bench;
