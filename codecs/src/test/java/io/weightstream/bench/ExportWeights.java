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
 * An optional cap cuts every larger tensor to its first whole rows (for all-MiniLM-L6-v2 a cap of 12 MB
 * shortens only the word embeddings, keeping the mix of tensors; the payloads then take about 45 MB).
 *
 * <pre>
 *   java -cp ... io.weightstream.bench.ExportWeights target/bench/weights [maxBytesPerTensor]
 * </pre>
 */
public final class ExportWeights {
    private ExportWeights() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long cap = args.length > 1 ? Long.parseLong(args[1]) : Long.MAX_VALUE;
        Files.createDirectories(dir);
        Codec lossless = Codecs.get("lossless");
        List<Tensor> tensors = OnnxWeights.read(OnnxWeights.miniLm().orElseThrow());
        long used = 0;
        int i = 0;
        for (Tensor t : tensors) {
            if (t.spec().byteSize() > cap && t.spec().rank() > 0) {
                long rowBytes = t.spec().byteSize() / t.spec().rows();
                long[] shape = t.spec().shape();
                shape[0] = Math.max(1, cap / rowBytes);
                TensorSpec cut = new TensorSpec(t.name(), t.dtype(), shape);
                t = new Tensor(cut, t.data().limit((int) cut.byteSize()));
            }
            Files.write(dir.resolve(String.format("%03d.wsc", i++)), lossless.encode(t, lossless.defaultParams()));
            used += t.spec().byteSize();
        }
        System.out.println("wrote " + i + " tensors, " + used + " bytes, to " + dir);
    }
}
