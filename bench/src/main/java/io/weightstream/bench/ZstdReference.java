package io.weightstream.bench;

import com.github.luben.zstd.Zstd;
import io.weightstream.checkpoint.CheckpointTensor;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The lossless reference: zstd-jni on each tensor's raw bytes (one frame per tensor, the granularity of the codecs,
 * so the all-cores figure parallelizes the same way) plus one frame for the rest of the file (the skeleton). What
 * {@code zstd -3 model.onnx} gives, within a fraction of a percent.
 */
final class ZstdReference {
    private final byte[][] raw;
    private final byte[] skeleton;
    private final long tensorBytes;

    /** Copies the tensors' bytes onto the heap (the frames are timed from memory, as the codecs are). */
    ZstdReference(List<CheckpointTensor> tensors, byte[] skeleton) {
        this.raw = new byte[tensors.size()][];
        long total = 0;
        for (int i = 0; i < raw.length; i++) {
            raw[i] = tensors.get(i).tensor().toBytes();
            total += raw[i].length;
        }
        this.skeleton = skeleton;
        this.tensorBytes = total;
    }

    /**
     * One level's figures.
     *
     * @param compressedBytes frames of the tensors and of the skeleton
     * @param payloadBytes    frames of the tensors
     */
    record Result(int level, long compressedBytes, long payloadBytes, double encMbps1t, double decMbps1t,
                  double encMbpsAll, double decMbpsAll) {
    }

    long tensorBytes() {
        return tensorBytes;
    }

    Result run(int level, BenchOptions options) {
        int n = raw.length;
        byte[][] frames = new byte[n][];
        int[] lengths = new int[n];
        byte[][] back = new byte[n][];
        for (int i = 0; i < n; i++) {
            frames[i] = new byte[(int) Zstd.compressBound(raw[i].length)];
            back[i] = new byte[raw[i].length];
        }
        double[] single = Timing.best(options.repeats(), options.measureSeconds(), () -> {
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                lengths[i] = compress(i, frames, level);
            }
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                decompress(i, frames, lengths, back);
            }
            long t2 = System.nanoTime();
            return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9};
        });
        for (int i = 0; i < n; i++) {
            if (!Arrays.equals(raw[i], back[i])) {
                throw new IllegalStateException("zstd did not round-trip tensor " + i);
            }
        }
        long payload = 0;
        for (int len : lengths) {
            payload += len;
        }
        long compressed = payload + Zstd.compress(skeleton, level).length;
        double[] all = new double[] {Double.NaN, Double.NaN};
        if (options.threads() > 1) {
            ExecutorService pool = Executors.newFixedThreadPool(options.threads(), r -> {
                Thread t = new Thread(r, "weightstream-bench-zstd");
                t.setDaemon(true);
                return t;
            });
            try {
                all = Timing.best(options.repeats(), options.measureSeconds(), () -> {
                    long t0 = System.nanoTime();
                    parallel(pool, i -> lengths[i] = compress(i, frames, level));
                    long t1 = System.nanoTime();
                    parallel(pool, i -> decompress(i, frames, lengths, back));
                    long t2 = System.nanoTime();
                    return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9};
                });
            } finally {
                pool.shutdownNow();
            }
        } else {
            all = single;
        }
        return new Result(level, compressed, payload, Timing.mbps(tensorBytes, single[0]), Timing.mbps(tensorBytes, single[1]),
                Timing.mbps(tensorBytes, all[0]), Timing.mbps(tensorBytes, all[1]));
    }

    private int compress(int i, byte[][] frames, int level) {
        long len = Zstd.compressByteArray(frames[i], 0, frames[i].length, raw[i], 0, raw[i].length, level);
        if (Zstd.isError(len)) {
            throw new IllegalStateException("zstd failed: " + Zstd.getErrorName(len));
        }
        return (int) len;
    }

    private void decompress(int i, byte[][] frames, int[] lengths, byte[][] back) {
        long len = Zstd.decompressByteArray(back[i], 0, back[i].length, frames[i], 0, lengths[i]);
        if (Zstd.isError(len) || len != raw[i].length) {
            throw new IllegalStateException("zstd did not decompress tensor " + i);
        }
    }

    /** Runs {@code task} for every tensor on {@code pool}, largest first so the tail is short. */
    private void parallel(ExecutorService pool, CodecTiming.Task task) {
        Integer[] order = new Integer[raw.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Integer.compare(raw[b].length, raw[a].length));
        CodecTiming.parallel(pool, order, task);
    }
}
