package io.weightstream.bench;

import io.weightstream.bench.mnist.DigitSet;
import io.weightstream.bench.mnist.MnistDigits;
import io.weightstream.bench.mnist.MnistEvaluator;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Top-1 agreement of an MNIST model's reconstruction with the original on the 2,000 held-back real digits, the
 * lowest agreement within one digit class, and the reconstruction's accuracy; pure Java
 * ({@link MnistEvaluator}), so scoring needs no native engine.
 */
final class MnistProbe implements QualityProbe {
    private final MnistEvaluator evaluator;
    private final MnistEvaluator.Evaluation original;

    MnistProbe(Path checkpoint) {
        this.evaluator = MnistEvaluator.heldBack();
        this.original = evaluator.evaluate(checkpoint);
    }

    @Override
    public String metric() {
        return "top1_agreement";
    }

    @Override
    public Quality exact() {
        return new Quality(1.0, 1.0, original.accuracy());
    }

    @Override
    public String baseline() {
        return String.format(Locale.ROOT, "accuracy %.4f on %d held-back digits", original.accuracy(), original.size());
    }

    @Override
    public Quality measure(Path reconstructed) {
        MnistEvaluator.Evaluation e = evaluator.evaluate(reconstructed);
        MnistEvaluator.Agreement a = MnistEvaluator.agreement(original, e);
        DigitSet digits = evaluator.digits();
        int[] agreed = new int[MnistDigits.CLASSES];
        int[] seen = new int[MnistDigits.CLASSES];
        for (int i = 0; i < digits.size(); i++) {
            int label = digits.label(i);
            seen[label]++;
            if (original.prediction(i) == e.prediction(i)) {
                agreed[label]++;
            }
        }
        double min = 1.0;
        for (int c = 0; c < MnistDigits.CLASSES; c++) {
            if (seen[c] > 0) {
                min = Math.min(min, (double) agreed[c] / seen[c]);
            }
        }
        return new Quality(a.agreement(), min, a.reconstructedAccuracy());
    }

    @Override
    public void close() {
    }
}
