package io.weightstream.bench;

import com.github.luben.zstd.Zstd;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.OnnxWeights;
import io.weightstream.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Encode and decode throughput of the codecs on real weights, one thread (= per core), counted in tensor
 * bytes per second (the {@code bytes} secondary result; divide by 10^6 for MB/s). Lossless methods code every
 * tensor; lossy ones (rtn, prune, lowrank) the floating-point tensors of rank 2 or more, as the default policy
 * hands them. zstd-jni at levels 3 and 19
 * on the same byte planes (float bits rotated so the exponent is one byte, planes split per tensor) are
 * reference rows. Each operation codes every tensor of the model once; the trial prints the model's ratio
 * (tensor bytes / payload bytes) for each method.
 *
 * <p>Weights: all-MiniLM-L6-v2 from {@code -Dweightstream.stack.home} (as staged by the deploy module), or a
 * directory of lossless payloads ({@code *.wsc}, see {@link ExportWeights}) from {@code -Dweightstream.bench.weights}.
 *
 * <p>Run (from the repository root):
 * <pre>
 *   mvn -q -B -o -pl codecs test-compile exec:exec@bench
 *   mvn -q -B -o -pl codecs test-compile exec:exec@bench -Dbench.args="CodecBenchmark -p method=LOSSLESS -wi 3 -i 5"
 *   mvn -q -B -o -pl codecs test-compile exec:exec@bench -Dbench.args="CodecBenchmark -p method=RTN_8,RTN_4_G64,ZSTD_3 -f 1 -wi 2 -i 3"
 * </pre>
 * The whole model is one operation, so LOWRANK_90 (an SVD per matrix) takes seconds per operation: give it longer
 * iterations ({@code -w 20s -r 20s}) or leave it out with {@code -p method=...}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
public class CodecBenchmark {
    /** The methods compared: codecs by name and parameters, and zstd on byte planes as references. */
    public enum Method {
        LOSSLESS("lossless", Map.of()),
        /** lossless with rANS instead of Huffman: about 0.2 % smaller payloads, slower. */
        LOSSLESS_RANS("lossless", Map.of("entropy", "rans")),
        /** lossless with every plane entropy-coded (min.gain=0): the ratio/speed trade the default declines. */
        LOSSLESS_ALL_PLANES("lossless", Map.of("min.gain", "0")),
        /** rtn 8 bits per channel (lossy codecs code the float weight matrices only, as the default policy does). */
        RTN_8("rtn", Map.of("bits", "8")),
        /** rtn 4 bits, one scale per group of 64. */
        RTN_4_G64("rtn", Map.of("bits", "4", "group.size", "64")),
        /** half the weights pruned, survivors quantized to 8 bits. */
        PRUNE_50_Q8("prune", Map.of("sparsity", "0.5", "quant.bits", "8")),
        /** truncated SVD keeping 90 % of the energy: slow to encode (an SVD per matrix), seconds per operation. */
        LOWRANK_90("lowrank", Map.of("energy", "0.9")),
        /** l2 (joint prune + quantize + rANS) at about 4 bits per weight, its step and threshold search included. */
        L2_4("l2", Map.of("bits", "4")),
        /** hyper-compression at its defaults: pairs of weights, U = 4096 nodes, box 6 sigma, 3 outlier categories. */
        HYPER("hyper", Map.of()),
        ZSTD_3(3),
        ZSTD_19(19);

        final String codec;
        final Map<String, String> params;
        final int zstdLevel;

        Method(String codec, Map<String, String> params) {
            this.codec = codec;
            this.params = params;
            this.zstdLevel = 0;
        }

        Method(int zstdLevel) {
            this.codec = null;
            this.params = Map.of();
            this.zstdLevel = zstdLevel;
        }
    }

    @Param
    public Method method;

    private List<Tensor> tensors;
    private byte[][] planes;      // zstd rows: each tensor's byte planes
    private byte[][] payloads;    // encoded once for the decode benchmark
    private int[] payloadLengths;
    private byte[][] scratch;     // zstd output / decode buffers
    private long tensorBytes;
    private Codec codec;
    private CodecParams params;

    /** Counts tensor bytes; JMH reports it per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Bytes {
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        tensors = loadWeights();
        if (method.codec != null && !Codecs.get(method.codec).isLossless()) {
            // what Policies.of(method, params) hands a lossy codec: floating-point tensors of rank 2 or more
            Codec lossy = Codecs.get(method.codec);
            tensors = tensors.stream().filter(t -> lossy.supportedDTypes().contains(t.dtype()) && t.spec().rank() >= 2)
                    .toList();
        }
        int n = tensors.size();
        payloads = new byte[n][];
        payloadLengths = new int[n];
        scratch = new byte[n][];
        planes = new byte[n][];
        long payloadBytes = 0;
        tensorBytes = 0;
        if (method.codec != null) {
            codec = Codecs.get(method.codec);
            params = CodecParams.parse(codec, method.params);
        }
        for (int i = 0; i < n; i++) {
            Tensor t = tensors.get(i);
            tensorBytes += t.spec().byteSize();
            if (codec != null) {
                payloads[i] = codec.encode(t, params);
                payloadLengths[i] = payloads[i].length;
            } else {
                planes[i] = BytePlaneView.split(t);
                scratch[i] = new byte[(int) Zstd.compressBound(planes[i].length)];
                long len = Zstd.compressByteArray(scratch[i], 0, scratch[i].length, planes[i], 0, planes[i].length,
                        method.zstdLevel);
                payloads[i] = java.util.Arrays.copyOf(scratch[i], (int) len);
                payloadLengths[i] = (int) len;
                scratch[i] = new byte[Math.max(planes[i].length, scratch[i].length)];
            }
            payloadBytes += payloadLengths[i];
        }
        System.out.printf("%nRATIO %s: %d tensors, %d tensor bytes, %d payload bytes, ratio %.4f%n", method,
                n, tensorBytes, payloadBytes, (double) tensorBytes / payloadBytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        tensors = null;
        payloads = null;
    }

    @Benchmark
    public void encode(Bytes counter, Blackhole bh) {
        for (int i = 0; i < tensors.size(); i++) {
            if (codec != null) {
                bh.consume(codec.encode(tensors.get(i), params));
            } else {
                bh.consume(Zstd.compressByteArray(scratch[i], 0, scratch[i].length, planes[i], 0, planes[i].length,
                        method.zstdLevel));
            }
        }
        counter.bytes += tensorBytes;
    }

    @Benchmark
    public void decode(Bytes counter, Blackhole bh) {
        for (int i = 0; i < tensors.size(); i++) {
            if (codec != null) {
                bh.consume(codec.decode(ByteBuffer.wrap(payloads[i], 0, payloadLengths[i])));
            } else {
                bh.consume(Zstd.decompressByteArray(scratch[i], 0, planes[i].length, payloads[i], 0, payloadLengths[i]));
            }
        }
        counter.bytes += tensorBytes;
    }

    /** The model's tensors: lossless payloads from -Dweightstream.bench.weights, else the ONNX file. */
    static List<Tensor> loadWeights() throws IOException {
        String dir = System.getProperty("weightstream.bench.weights");
        if (dir != null) {
            List<Tensor> out = new ArrayList<>();
            try (Stream<Path> files = Files.list(Path.of(dir))) {
                for (Path p : files.filter(f -> f.toString().endsWith(".wsc")).sorted().toList()) {
                    out.add(Codecs.decode(ByteBuffer.wrap(Files.readAllBytes(p))).withName(p.getFileName().toString()));
                }
            }
            if (out.isEmpty()) {
                throw new IllegalStateException("no *.wsc payloads in " + dir);
            }
            return out;
        }
        Path onnx = OnnxWeights.miniLm().orElseThrow(() -> new IllegalStateException(
                "no model: set -Dweightstream.stack.home=<repo>/deploy/target/stack (run mvn -pl deploy process-resources)"
                        + " or -Dweightstream.bench.weights=<dir of .wsc payloads>"));
        return OnnxWeights.read(onnx);
    }

    /** The byte planes the zstd rows compress: the same split as lossless, over the whole tensor. */
    static final class BytePlaneView {
        private BytePlaneView() {
        }

        static byte[] split(Tensor t) {
            ByteBuffer b = t.data().order(ByteOrder.LITTLE_ENDIAN);
            int w = t.dtype().size();
            int n = (int) t.spec().numel();
            byte[] out = new byte[n * w];
            for (int i = 0; i < n; i++) {
                long v = switch (w) {
                    case 8 -> b.getLong(8 * i);
                    case 4 -> b.getInt(4 * i) & 0xffffffffL;
                    case 2 -> b.getShort(2 * i) & 0xffffL;
                    default -> b.get(i) & 0xffL;
                };
                if (t.dtype().isFloatingPoint()) { // rotate left by one within w bytes: exponent into the top byte
                    int bits = 8 * w;
                    long mask = bits == 64 ? -1L : (1L << bits) - 1;
                    v = ((v << 1) | (v >>> (bits - 1))) & mask;
                }
                for (int k = 0; k < w; k++) {
                    out[k * n + i] = (byte) (v >>> (8 * (w - 1 - k)));
                }
            }
            return out;
        }
    }
}
