package io.weightstream.bench;

import io.weightstream.codec.Codec;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.OnnxWeights;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the model's tensors as lossless payloads ({@code NNN.wsc}) into a directory, for running
 * {@link CodecBenchmark} on a machine without the model ({@code -Dweightstream.bench.weights=<dir>}).
 * An optional byte budget keeps the first tensors in file order and cuts the one that crosses it to whole rows.
 *
 * <pre>
 *   java -cp ... io.weightstream.bench.ExportWeights target/bench/weights [maxTensorBytes]
 * </pre>
 */
public final class ExportWeights {
    private ExportWeights() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long budget = args.length > 1 ? Long.parseLong(args[1]) : Long.MAX_VALUE;
        Files.createDirectories(dir);
        Codec lossless = Codecs.get("lossless");
        List<Tensor> tensors = OnnxWeights.read(OnnxWeights.miniLm().orElseThrow());
        // biggest first, so that a budget keeps the tensors that dominate the timings
        tensors = tensors.stream().sorted((a, b) -> Long.compare(b.spec().byteSize(), a.spec().byteSize())).toList();
        long used = 0;
        int i = 0;
        for (Tensor t : tensors) {
            long size = t.spec().byteSize();
            if (used + size > budget) {
                long rowBytes = t.spec().rank() == 0 ? size : size / Math.max(1, t.spec().rows());
                long rows = rowBytes == 0 ? 0 : (budget - used) / rowBytes;
                if (rows < 1 || t.spec().rank() == 0) {
                    continue;
                }
                long[] shape = t.spec().shape();
                shape[0] = rows;
                TensorSpec cut = new TensorSpec(t.name(), t.dtype(), shape);
                t = new Tensor(cut, t.data().limit((int) cut.byteSize()));
                size = cut.byteSize();
            }
            Files.write(dir.resolve(String.format("%03d.wsc", i++)), lossless.encode(t, lossless.defaultParams()));
            used += size;
        }
        System.out.println("wrote " + i + " tensors, " + used + " bytes, to " + dir);
    }
}
