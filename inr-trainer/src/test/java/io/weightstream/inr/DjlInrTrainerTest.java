package io.weightstream.inr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.CodecParams;
import io.weightstream.codec.TensorMetrics;
import io.weightstream.codec.inr.InrCodec;
import io.weightstream.codec.inr.InrFit;
import io.weightstream.codec.inr.InrProblem;
import io.weightstream.codec.inr.InrProgress;
import io.weightstream.codec.inr.InrTrainer;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Real training with DJL's PyTorch engine on the CPU: small layers, a few hundred steps, seconds each. */
class DjlInrTrainerTest {
    private final InrCodec codec = new InrCodec();

    private CodecParams params(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("min.bytes", "0");
        m.put("device", "cpu");
        m.put("time.budget.s", "0");
        m.put("block.rows", "0");
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return codec.params(m);
    }

    /** A smooth 64 x 128 layer (32 KB) with weight-like scale: {@code sin(3x) cos(2y) + 0.3 x}, a little noise. */
    static Tensor smoothLayer(int rows, int cols) {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] v = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double x = 2.0 * r / (rows - 1) - 1;
                double y = 2.0 * c / (cols - 1) - 1;
                v[r * cols + c] = (float) (0.05 * (Math.sin(3 * x) * Math.cos(2 * y) + 0.3 * x)
                        + 0.0005 * (rnd.nextDouble() - 0.5));
            }
        }
        return Tensor.ofFloats(new TensorSpec("smooth", DType.F32, rows, cols), v);
    }

    @Test
    void theCodecFindsThisTrainer() {
        assertThat(InrTrainer.find()).get().isInstanceOf(DjlInrTrainer.class);
    }

    @Test
    void aTinyLayerTrainsToAKnownErrorOnTheCpuInSeconds() {
        Tensor t = smoothLayer(64, 128);
        CodecParams p = params("ratio", "4", "bits", "8", "tile", "8", "steps", "400", "target.rel.l2", "0.02");
        List<Double> seen = new ArrayList<>();
        byte[] payload = InrProgress.during(new InrProgress() {
            @Override
            public void step(String tensor, int step, int maxSteps, double relL2, long elapsedMs) {
                seen.add(relL2);
            }
        }, () -> codec.encode(t, p));
        TensorMetrics m = TensorMetrics.compare(t, codec.decode(payload));
        assertThat(m.relL2()).isLessThan(0.03);
        assertThat(t.spec().byteSize() / (double) payload.length).isBetween(4.0, 4.5);
        assertThat(seen).isNotEmpty();
    }

    @Test
    void trainingStopsAtTheTargetAndTheFloatErrorIsWhatTheDecoderSees() {
        Tensor t = smoothLayer(64, 128);
        // no refit: the decoded network is then exactly the trained one, rounded to 16 bits
        CodecParams p = params("ratio", "4", "bits", "16", "tile", "8", "steps", "5000", "target.rel.l2", "0.05",
                "refit", "false");
        InrProblem problem = InrProblem.of(t, p);
        InrFit fit = new DjlInrTrainer().train(problem, InrProgress.NONE);
        assertThat(fit.stopReason()).isEqualTo("target");
        assertThat(fit.steps()).isLessThan(5000);
        assertThat(fit.device()).isEqualTo("cpu()");
        double decoded = TensorMetrics.compare(t, codec.decode(codec.network(t, problem, fit.weights(), 16))).relL2();
        // 16-bit weights: the pure-Java decoder reproduces torch's forward pass to rounding
        assertThat(decoded).isCloseTo(fit.relL2(), org.assertj.core.data.Offset.offset(2e-3));
        assertThat(fit.relL2()).isLessThanOrEqualTo(0.05);
    }

    @Test
    void theFakeQuantizedNetworkIsTheOneTheCodecDecodes() {
        // 8-bit hidden weights on per-output-unit grids, 16-bit edges, several blocks, quantization-aware throughout
        Tensor t = smoothLayer(64, 128);
        CodecParams p = params("ratio", "4", "bits", "8", "tile", "8", "block.rows", "16", "steps", "400",
                "quant.aware", "1", "refit", "false");
        InrProblem problem = InrProblem.of(t, p);
        assertThat(problem.quantization().perColumn(6)).as("syn.1.weight").isTrue();
        InrFit fit = new DjlInrTrainer().train(problem, InrProgress.NONE);
        assertThat(fit.relL2()).isLessThan(0.2);
        double decoded = TensorMetrics.compare(t, codec.decode(codec.network(t, problem, fit.weights()))).relL2();
        // the trainer's forward pass used exactly the decoder's weights: only float rounding in the forward differs
        assertThat(decoded).isCloseTo(fit.relL2(), org.assertj.core.data.Offset.offset(fit.relL2() * 1e-3));
        // one grid per tensor (what the trainer did not mirror) decodes to a measurably different layer
        double other = TensorMetrics.compare(t, codec.decode(codec.network(t, problem, fit.weights(),
                io.weightstream.codec.inr.InrQuantization.uniform(problem.architecture(), 8)))).relL2();
        assertThat(Math.abs(other - fit.relL2())).isGreaterThan(fit.relL2() * 1e-2);
        // and the refit, on top, only lowers the error
        InrProblem refit = InrProblem.of(t, params("ratio", "4", "bits", "8", "tile", "8", "block.rows", "16",
                "steps", "400", "quant.aware", "1"));
        double refitted = TensorMetrics.compare(t, codec.decode(codec.network(t, refit, fit.weights()))).relL2();
        assertThat(refitted).isLessThanOrEqualTo(decoded);
    }

    @Test
    void aTimeBudgetStopsTraining() {
        Tensor t = smoothLayer(64, 128);
        InrFit fit = new DjlInrTrainer().train(InrProblem.of(t, params("steps", "100000000", "time.budget.s", "1",
                "tile", "8")), InrProgress.NONE);
        assertThat(fit.stopReason()).isEqualTo("time");
        assertThat(fit.steps()).isLessThan(100_000_000);
    }

    @Test
    void blocksOfRowsTrainTheirOwnNetworksTogetherWithTheFrequencyAwareLoss() {
        Tensor t = smoothLayer(64, 128);
        CodecParams p = params("ratio", "4", "bits", "8", "tile", "8", "block.rows", "16", "steps", "600",
                "lambda.grad", "0.1", "lambda.freq", "0.1");
        InrProblem problem = InrProblem.of(t, p);
        assertThat(problem.architecture().blocks()).isEqualTo(4);
        assertThat(problem.architecture().grid()).containsExactly(16, 16);
        byte[] payload = codec.encode(t, p);
        assertThat(TensorMetrics.compare(t, codec.decode(payload)).relL2()).isLessThan(0.06);
    }

    @Test
    void encodingOnTheCpuIsDeterministic() {
        Tensor t = smoothLayer(32, 128);
        CodecParams p = params("ratio", "4", "tile", "8", "steps", "50", "fallback.mse", "1e9");
        assertThat(codec.encode(t, p)).isEqualTo(codec.encode(t, p));
    }

    @Test
    void layersTrainOnSeveralThreadsAtOnceAsTheyDoAlone() throws Exception {
        Tensor a = smoothLayer(32, 128);
        Tensor b = smoothLayer(64, 64);
        CodecParams p = params("ratio", "4", "tile", "8", "steps", "60", "fallback.mse", "1e9");
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            // at the same time, on fresh threads (a compress operator per slot, the offline compressor's pool)
            java.util.concurrent.Future<byte[]> fa = pool.submit(() -> codec.encode(a, p));
            java.util.concurrent.Future<byte[]> fb = pool.submit(() -> codec.encode(b, p));
            byte[] pa = fa.get();
            byte[] pb = fb.get();
            assertThat(pa).isEqualTo(codec.encode(a, p));
            assertThat(pb).isEqualTo(codec.encode(b, p));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void noiseFallsBackPerTheRule() {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] v = new float[96 * 128];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.05);
        }
        Tensor noise = Tensor.ofFloats(new TensorSpec("noise", DType.F32, 96, 128), v);
        assertThatThrownBy(() -> codec.encode(noise, params("ratio", "8", "tile", "8", "steps", "30")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fallback.mse");
        byte[] kept = codec.encode(noise, params("ratio", "8", "tile", "8", "steps", "30", "fallback", "store"));
        assertThat(codec.decode(kept).toBytes()).isEqualTo(noise.toBytes());
    }
}
