package io.weightstream.codec.inr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.CodecParams;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadWriter;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Session 3 of the {@code inr} codec: per-tensor bit widths (mixed precision), per-output-unit grids, the output
 * layer's least-squares refit, and format version 1 still decoding.
 */
class InrQuantizationTest {
    private final InrCodec codec = new InrCodec();

    private CodecParams params(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("min.bytes", "0");
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return codec.params(m);
    }

    private static Tensor layer(String name, long seed, int rows, int cols) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.04);
        }
        return Tensor.ofFloats(new TensorSpec(name, DType.F32, rows, cols), v);
    }

    /** Random weights of a problem's networks, each tensor with its own scale, some columns much wider than others. */
    private static float[][] randomWeights(InrArchitecture arch, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<InrArchitecture.Parameter> shapes = arch.parameters();
        float[][] w = new float[shapes.size()][];
        for (int t = 0; t < w.length; t++) {
            InrArchitecture.Parameter p = shapes.get(t);
            w[t] = new float[(int) p.size() * arch.blocks()];
            for (int i = 0; i < w[t].length; i++) {
                int column = i % p.cols();
                w[t][i] = (float) ((rnd.nextDouble() - 0.5) * 0.2 * (1 + column % 5) / (1 + t));
            }
        }
        return w;
    }

    @Test
    void perColumnGridsRoundTripExactlyThroughPackAndUnpack() {
        SplittableRandom rnd = new SplittableRandom(1);
        int rows = 20;
        int cols = 7;
        float[] a = new float[rows * cols];
        for (int i = 0; i < a.length; i++) {
            // column c spans about 2^-c of the others: one grid per tensor would waste levels on narrow columns
            a[i] = (float) ((rnd.nextDouble() - 0.3) * Math.pow(0.5, i % cols));
        }
        float[] b = new float[] {0.5f, -0.25f, 3f};
        float[] zeros = new float[12];
        int[][] codes = new int[3][];
        int[] bits = {8, 5, 16};
        InrQuantizer.Grid[] grids = new InrQuantizer.Grid[3];
        InrQuantizer.Columns columns = InrQuantizer.columns(a, cols);
        grids[0] = columns.grid(bits[0]);
        grids[1] = InrQuantizer.columns(zeros, 3).grid(bits[1]);
        grids[2] = InrQuantizer.tensorGrid(b, bits[2]);
        codes[0] = InrQuantizer.codes(a, grids[0], bits[0]);
        codes[1] = InrQuantizer.codes(zeros, grids[1], bits[1]);
        codes[2] = InrQuantizer.codes(b, grids[2], bits[2]);
        long total = 0;
        for (int s = 0; s < 3; s++) {
            total += (long) codes[s].length * bits[s];
        }
        byte[] packed = new byte[(int) ((total + 7) / 8) + 3];
        int end = InrQuantizer.pack(codes, bits, packed, 3);
        assertThat(end).isEqualTo(packed.length);
        int[][] back = {new int[a.length], new int[zeros.length], new int[b.length]};
        assertThat(InrQuantizer.unpack(packed, 3, bits, back)).isTrue();
        for (int s = 0; s < 3; s++) {
            assertThat(back[s]).as("slice %d", s).containsExactly(codes[s]);
        }
        // the grid rebuilt from its stored float16 fields is the same grid
        InrQuantizer.Grid rebuilt = InrQuantizer.columnGrid(columns.scale(), columns.lo(), columns.range(), 8);
        assertThat(rebuilt.steps()).containsExactly(grids[0].steps());
        assertThat(rebuilt.offsets()).containsExactly(grids[0].offsets());
        // each value within a step of its column's grid (half a step, plus float16's cut of the column's extremes)
        float[] values = InrQuantizer.values(codes[0], grids[0]);
        for (int i = 0; i < a.length; i++) {
            float step = grids[0].steps()[i % cols];
            assertThat(Math.abs(values[i] - a[i])).as("value %d", i).isLessThanOrEqualTo(step);
        }
        // narrow columns get narrow steps: the last column's is about 2^-6 of the first's
        assertThat(grids[0].steps()[6]).isLessThan(grids[0].steps()[0] / 30);
        assertThat(InrQuantizer.values(codes[1], grids[1])).containsOnly(0f);
        float[] sixteen = InrQuantizer.values(codes[2], grids[2]);
        for (int i = 0; i < b.length; i++) {
            assertThat(sixteen[i]).isCloseTo(b[i], org.assertj.core.data.Offset.offset(grids[2].steps()[0]));
        }
    }

    @Test
    void mixedPrecisionPlanKeepsTheHiddenWeightsAtEightBitsAndMeetsTheRatio() {
        InrCodec.trainers = () -> java.util.Optional.of(new RandomFeatureTrainer());
        try {
            Tensor t = layer("layer", 2, 128, 384);
            for (String ratio : List.of("2", "3")) {
                CodecParams p = params("ratio", ratio, "bits", "8", "fallback.mse", "1e9");
                InrProblem problem = InrProblem.of(t, p);
                InrArchitecture arch = problem.architecture();
                InrQuantization q = problem.quantization();
                List<InrArchitecture.Parameter> shapes = arch.parameters();
                for (int i = 0; i < shapes.size(); i++) {
                    String name = shapes.get(i).name();
                    boolean hiddenWeight = name.startsWith("syn.") && !name.startsWith("syn.0.") && name.endsWith(".weight");
                    assertThat(q.bits(i)).as(name).isEqualTo(hiddenWeight ? 8 : 16);
                    assertThat(q.perColumn(i)).as(name).isEqualTo(hiddenWeight);
                }
                long hidden = 0;
                for (InrArchitecture.Parameter s : shapes) {
                    if (s.name().startsWith("syn.") && !s.name().startsWith("syn.0.") && s.rows() > 1) {
                        hidden += s.size();
                    }
                }
                assertThat(q.shareAt(arch, 8)).isEqualTo((double) hidden / arch.parameterCount()).isGreaterThan(0.6);
                assertThat(q.shareAt(arch, 8) + q.shareAt(arch, 16)).isEqualTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
                byte[] payload = codec.encode(t, p);
                double reached = t.spec().byteSize() / (double) payload.length;
                assertThat(reached).as("ratio %s", ratio).isBetween(Double.parseDouble(ratio),
                        Double.parseDouble(ratio) * 1.1);
            }
        } finally {
            InrCodec.trainers = InrTrainer::find;
        }
    }

    @Test
    void theDecoderComputesWhatTheQuantizerPlannedAndTheRefitNeverHurts() {
        Tensor t = layer("layer", 3, 64, 256);
        CodecParams noRefit = params("ratio", "3", "bits", "6", "tile", "8", "block.rows", "16", "refit", "false");
        InrProblem problem = InrProblem.of(t, noRefit);
        float[][] w = randomWeights(problem.architecture(), 4);
        // decoded network weights = quantize() of each slice: evaluate both networks and compare the layer
        InrArchitecture arch = problem.architecture();
        List<InrArchitecture.Parameter> shapes = arch.parameters();
        float[][] expected = new float[w.length][];
        for (int i = 0; i < w.length; i++) {
            int size = (int) shapes.get(i).size();
            expected[i] = new float[w[i].length];
            for (int b = 0; b < arch.blocks(); b++) {
                float[] slice = Arrays.copyOfRange(w[i], b * size, (b + 1) * size);
                float[] v = InrCodec.quantize(slice, shapes.get(i), problem.quantization().bits(i),
                        problem.quantization().perColumn(i)).values();
                System.arraycopy(v, 0, expected[i], b * size, size);
            }
        }
        float[] y = new InrNetwork(arch, expected).evaluateAll();
        float lo = problem.body().lo();
        float half = (problem.body().hi() - lo) * 0.5f;
        float[] decoded = codec.decode(codec.network(t, problem, w)).toFloats();
        int[] outliers = problem.body().outliers();
        for (int i = 0; i < y.length; i++) {
            if (Arrays.binarySearch(outliers, i) < 0) {
                assertThat(decoded[i]).as("element %d", i).isEqualTo(lo + (y[i] + 1f) * half);
            }
        }
        // the refit only ever replaces a block's output layer by a better one
        InrProblem refit = InrProblem.of(t, params("ratio", "3", "bits", "6", "tile", "8", "block.rows", "16"));
        double without = TensorMetrics.compare(t, codec.decode(codec.network(t, problem, w))).relL2();
        double with = TensorMetrics.compare(t, codec.decode(codec.network(t, refit, w))).relL2();
        assertThat(with).isLessThan(without);
    }

    @Test
    void corruptGridsAreRefusedWithTheirOffset() {
        Tensor t = layer("layer", 5, 32, 128);
        CodecParams p = params("ratio", "3", "bits", "8", "tile", "8", "depth", "2", "mod.width", "0",
                "outlier.fraction", "0", "refit", "false");
        InrProblem problem = InrProblem.of(t, p);
        InrArchitecture arch = problem.architecture();
        byte[] payload = codec.network(t, problem, randomWeights(arch, 6));
        int kinds = kindsOffset(payload, arch);
        // tensors: syn.0.weight, syn.0.bias, syn.1.weight (8 bits, per column), syn.1.bias, out.weight, out.bias
        assertThat(Arrays.copyOfRange(payload, kinds, kinds + 12))
                .containsExactly(16, 0, 16, 0, 8, 1, 16, 0, 16, 0, 16, 0);
        assertThat(codec.decode(payload).toFloats()).hasSize(32 * 128);

        byte[] kind = payload.clone();
        kind[kinds + 5] = 7;
        assertCorrupt(kind, kinds + 5, "unknown grid kind 7");
        byte[] bits = payload.clone();
        bits[kinds + 4] = 17;
        assertCorrupt(bits, kinds + 4, "bits per code 17");
        // grids of the first block: syn.0.weight, syn.0.bias (8 bytes each), then syn.1.weight's scale and columns
        int syn1 = kinds + 12 + arch.blocks() * 16;
        byte[] scale = payload.clone();
        ByteBuffer.wrap(scale).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(syn1, 0f);
        assertCorrupt(scale, syn1, "scale 0.0");
        byte[] negative = payload.clone();
        int column3 = syn1 + 4 + 3 * 4;
        short minusOne = FloatConversions.floatToF16(-1f);
        ByteBuffer.wrap(negative).order(java.nio.ByteOrder.LITTLE_ENDIAN).putShort(column3 + 2, minusOne);
        assertCorrupt(negative, column3, "grid of column 3");
        byte[] infinite = payload.clone();
        ByteBuffer.wrap(infinite).order(java.nio.ByteOrder.LITTLE_ENDIAN).putShort(column3, (short) 0x7c00);
        assertCorrupt(infinite, column3, "grid of column 3");
        // a truncated payload is refused, not read past its end
        byte[] cut = Arrays.copyOf(payload, payload.length - 3);
        assertThatThrownBy(() -> codec.decode(cut)).isInstanceOf(CorruptPayloadException.class);
    }

    @Test
    void formatVersionOnePayloadsStillDecode() {
        Tensor t = layer("layer", 7, 32, 128);
        CodecParams p = params("ratio", "3", "bits", "10", "tile", "8", "depth", "2", "outlier.fraction", "0");
        InrProblem problem = InrProblem.of(t, p);
        InrArchitecture arch = problem.architecture();
        float[][] w = randomWeights(arch, 8);
        // every tensor at 10 bits on one grid per slice: what version 1 could say
        byte[] v2 = codec.network(t, problem, w, InrQuantization.uniform(arch, 10));
        int kinds = kindsOffset(v2, arch);
        int tensors = arch.parameters().size();
        PayloadWriter out = new PayloadWriter(v2.length);
        PayloadHeader.of(InrCodec.NAME, InrFormat.FORMAT_VERSION_1, t.dtype(), t.spec().shape()).write(out);
        int body = PayloadHeader.peek(ByteBuffer.wrap(v2), DecodeLimits.DEFAULT).bodyOffset();
        out.bytes(v2, body, kinds - body).u8(10).bytes(v2, kinds + 2 * tensors, v2.length - kinds - 2 * tensors);
        byte[] v1 = out.toByteArray();
        assertThat(PayloadHeader.peek(ByteBuffer.wrap(v1), DecodeLimits.DEFAULT).formatVersion()).isEqualTo(1);
        assertThat(codec.decode(v1).toBytes()).isEqualTo(codec.decode(v2).toBytes());
        // and an unknown version is refused by the header check
        PayloadWriter v9 = new PayloadWriter(v2.length);
        PayloadHeader.of(InrCodec.NAME, 9, t.dtype(), t.spec().shape()).write(v9);
        v9.bytes(v2, body, v2.length - body);
        assertThatThrownBy(() -> codec.decode(v9.toByteArray())).isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining("format version 9");
    }

    /** Offset of the per-tensor (bits, kind) bytes of a network payload without outliers. */
    private static int kindsOffset(byte[] payload, InrArchitecture arch) {
        int at = PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT).bodyOffset();
        assertThat(payload[at]).isEqualTo((byte) InrFormat.MODE_NETWORK);
        at += 1 + 1 + 8; // mode, zero outliers, lo and hi
        int rowsPerBlock = arch.grid()[0];
        at += PayloadWriter.varintSize(arch.tile()) + PayloadWriter.varintSize(rowsPerBlock) + 1
                + PayloadWriter.varintSize(arch.width()) + PayloadWriter.varintSize(arch.modWidth()) + 4;
        return at + arch.grid().length;
    }

    private void assertCorrupt(byte[] payload, int offset, String message) {
        assertThatThrownBy(() -> codec.decode(payload)).isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining(message).extracting(e -> ((CorruptPayloadException) e).offset())
                .isEqualTo((long) offset);
    }
}
