/**
 * The bench section of the {@code inr} (Big2Small) codec: {@link io.weightstream.bench.inr.InrBench} (ablation of the
 * loss on a real layer, MNIST CNN and all-MiniLM-L6-v2 FFN rows against {@code rtn}). Results and commands:
 * {@code inr-trainer/README.md} ("Results") and {@code bench/README.md}.
 */
package io.weightstream.bench.inr;
