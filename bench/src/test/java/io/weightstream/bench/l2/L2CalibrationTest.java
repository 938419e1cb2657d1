package io.weightstream.bench.l2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.weightstream.bench.mnist.DigitSet;
import io.weightstream.bench.mnist.MnistDigits;
import io.weightstream.bench.mnist.MnistModelKind;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.safetensors.SafetensorsWriter;
import io.weightstream.ratecontrol.AllocationOptions;
import io.weightstream.ratecontrol.LayerChoice;
import io.weightstream.ratecontrol.RateAllocator;
import io.weightstream.ratecontrol.RateTarget;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Calibration on the real MNIST digits with an MLP of this project's architecture (random He-initialized weights:
 * training is not what is tested), and the allocator taking the measured sensitivities.
 */
class L2CalibrationTest {
    @TempDir
    Path dir;

    private Path randomMlp() {
        SplittableRandom rnd = new SplittableRandom(11);
        List<Tensor> tensors = new ArrayList<>();
        for (TensorSpec spec : MnistModelKind.MLP.tensors()) {
            float[] v = new float[(int) spec.numel()];
            double scale = spec.rank() >= 2 ? Math.sqrt(2.0 / spec.shape()[spec.rank() - 1]) : 0.01;
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rnd.nextGaussian() * scale);
            }
            tensors.add(Tensor.ofFloats(spec, v));
        }
        Path f = dir.resolve("mlp.safetensors");
        SafetensorsWriter.write(tensors, Map.of(MnistModelKind.METADATA_KEY, MnistModelKind.MLP.id()), f);
        return f;
    }

    @Test
    void sensitivitiesAreMeasuredPerLayerInTheirQuadraticRegime() {
        Path model = randomMlp();
        DigitSet digits = MnistDigits.load().heldBack();
        List<L2Calibration.LayerSensitivity> small = L2Calibration.mnist(model, digits, 0.02, 1, null);
        List<L2Calibration.LayerSensitivity> large = L2Calibration.mnist(model, digits, 0.04, 1, null);
        long layers = MnistModelKind.MLP.tensors().stream().filter(s -> s.rank() >= 2).count();
        assertThat(small).hasSize((int) layers);
        for (int i = 0; i < small.size(); i++) {
            L2Calibration.LayerSensitivity a = small.get(i);
            L2Calibration.LayerSensitivity b = large.get(i);
            assertThat(a.sensitivity()).as(a.name()).isPositive().isFinite();
            // twice the noise, four times the energy and about four times the drop: the drop per unit energy holds
            assertThat(b.noiseEnergy() / a.noiseEnergy()).isCloseTo(4, within(0.2));
            assertThat(b.sensitivity() / a.sensitivity()).as(a.name()).isBetween(0.8, 1.25);
        }
        Map<String, Double> w = L2Calibration.weights(small);
        double mean = 0;
        long n = 0;
        for (L2Calibration.LayerSensitivity s : small) {
            mean += w.get(s.name()) * s.elements();
            n += s.elements();
        }
        assertThat(mean / n).isCloseTo(1.0, within(1e-9));
    }

    @Test
    void theAllocatorSpendsMoreBitsOnTheMoreSensitiveLayers() {
        Path model = randomMlp();
        Map<String, Double> w = L2Calibration.weights(L2Calibration.mnist(model, MnistDigits.load().heldBack(), 0.03, 1, null));
        String most = w.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        String least = w.entrySet().stream().min(Map.Entry.comparingByValue()).orElseThrow().getKey();
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            var a = RateAllocator.allocate(ckpt, RateTarget.ratio(8), AllocationOptions.builder().sensitivity(w)
                    .accounting(AllocationOptions.Accounting.PAYLOADS).build());
            LayerChoice m = a.layers().stream().filter(c -> c.name().equals(most)).findFirst().orElseThrow();
            LayerChoice l = a.layers().stream().filter(c -> c.name().equals(least)).findFirst().orElseThrow();
            // the layers' sensitivities differ by far more than 2x (per unit of squared error)
            assertThat(w.get(most)).isGreaterThan(2 * w.get(least));
            assertThat(m.actualRelL2()).isLessThan(l.actualRelL2());
            assertThat(a.ratio() / 8 - 1).isBetween(-0.02, 0.02);
        }
    }
}
