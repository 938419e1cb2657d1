package io.weightstream.bench;

import io.weightstream.concurrent.Futures;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.policy.CompressedTensor;
import io.weightstream.policy.TensorCompressor;
import io.weightstream.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Codec speed over a whole model, as the policy assigns codecs (1-D and integer tensors lossless), counting only
 * the codecs' own encode and decode calls (not hashing or error metrics):
 * <ul>
 *   <li>one thread, one tensor at a time: the sums of {@link CompressedTensor#encodeMs()} and
 *       {@link CompressedTensor#decodeMs()} over the model;</li>
 *   <li>all cores: the wall time of encoding (then decoding) every tensor on a pool of {@code threads}, largest
 *       tensors first, with the codec and parameters the policy chose for each.</li>
 * </ul>
 * A warm-up runs first so the JIT has compiled the codec's kernels (the first pass here is 2-3x slower than the next).
 */
final class CodecTiming {
    private CodecTiming() {
    }

    /** Encode and decode MB/s of tensor bytes, best of the timed passes. */
    record Speed(double encodeMbps, double decodeMbps) {
    }

    /** The codec and parameters the policy chose for one tensor (after any fallback). */
    private record Choice(Codec codec, CodecParams params) {
    }

    /** Measurements of one method setting on one model. */
    static final class Run {
        private final List<CheckpointTensor> tensors;
        private final TensorCompressor compressor;
        private final BenchOptions options;
        private final long bytes;
        private final Choice[] choices;

        Run(List<CheckpointTensor> tensors, TensorCompressor compressor, BenchOptions options) {
            this.tensors = tensors;
            this.compressor = compressor;
            this.options = options;
            this.bytes = tensors.stream().mapToLong(CheckpointTensor::byteSize).sum();
            this.choices = new Choice[tensors.size()];
        }

        /** One thread, one tensor at a time, after a warm-up. */
        Speed singleThread() {
            warmUp();
            double[] best = Timing.best(options.repeats(), options.measureSeconds(), () -> {
                double enc = 0;
                double dec = 0;
                for (int i = 0; i < tensors.size(); i++) {
                    CheckpointTensor t = tensors.get(i);
                    CompressedTensor c = compressor.compress(t.tensor(), t.alias());
                    enc += c.encodeMs();
                    dec += c.decodeMs();
                    if (choices[i] == null) {
                        Codec codec = Codecs.get(c.method());
                        choices[i] = new Choice(codec, CodecParams.parse(codec, c.params()));
                    }
                }
                return new double[] {enc / 1e3, dec / 1e3};
            });
            return new Speed(Timing.mbps(bytes, best[0]), Timing.mbps(bytes, best[1]));
        }

        /** Every tensor on a pool of {@code options.threads()}: wall time of encoding all, then of decoding all. */
        Speed allCores() {
            if (Arrays.stream(choices).anyMatch(c -> c == null)) {
                throw new IllegalStateException("singleThread() runs first: it finds the policy's codec for each tensor");
            }
            int n = tensors.size();
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Long.compare(tensors.get(b).byteSize(), tensors.get(a).byteSize()));
            byte[][] payloads = new byte[n][];
            ExecutorService pool = Executors.newFixedThreadPool(options.threads(), r -> {
                Thread t = new Thread(r, "weightstream-bench-codec");
                t.setDaemon(true);
                return t;
            });
            try {
                double[] best = Timing.best(options.repeats(), options.measureSeconds(), () -> {
                    long t0 = System.nanoTime();
                    parallel(pool, order, i -> {
                        Tensor t = tensors.get(i).tensor();
                        payloads[i] = choices[i].codec().encode(t, choices[i].params());
                    });
                    long t1 = System.nanoTime();
                    parallel(pool, order, i -> choices[i].codec().decode(ByteBuffer.wrap(payloads[i])));
                    long t2 = System.nanoTime();
                    return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9};
                });
                return new Speed(Timing.mbps(bytes, best[0]), Timing.mbps(bytes, best[1]));
            } finally {
                pool.shutdownNow();
            }
        }

        /** Compresses tensors, large and small alternately, until the warm-up time passed or each was done once. */
        private void warmUp() {
            long deadline = System.nanoTime() + (long) (options.warmupSeconds() * 1e9);
            List<CheckpointTensor> bySize = tensors.stream()
                    .sorted((a, b) -> Long.compare(b.byteSize(), a.byteSize())).toList();
            // both ends, so the paths of large tensors and of the small ones the policy keeps lossless get compiled
            int lo = bySize.size() - 1;
            for (int hi = 0; hi <= lo && System.nanoTime() < deadline; hi++, lo--) {
                compressor.compress(bySize.get(hi).tensor(), bySize.get(hi).alias());
                if (lo != hi) {
                    compressor.compress(bySize.get(lo).tensor(), bySize.get(lo).alias());
                }
            }
        }
    }

    interface Task {
        void run(int i);
    }

    /** Runs {@code task} for each index of {@code order} on {@code pool} and waits for all. */
    static void parallel(ExecutorService pool, Integer[] order, Task task) {
        List<Future<?>> fs = new ArrayList<>(order.length);
        for (int i : order) {
            fs.add(pool.submit(() -> task.run(i)));
        }
        for (Future<?> f : fs) {
            Futures.join(f, "timing");
        }
    }
}
