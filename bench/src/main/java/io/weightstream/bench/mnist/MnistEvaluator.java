package io.weightstream.bench.mnist;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Scores MNIST checkpoints on real digits in pure Java: accuracy, per-digit predictions, and the top-1 agreement
 * of a reconstructed (compressed, then decoded) model with its original: the model-level quality metric of the
 * benches.
 *
 * <pre>{@code
 * MnistEvaluator eval = MnistEvaluator.heldBack();
 * MnistEvaluator.Evaluation e = eval.evaluate(Path.of("ckpt/step-1000.safetensors"));
 * MnistEvaluator.Agreement a = eval.agreement(original, reconstructed);
 * System.out.printf("agreement %.4f, accuracy %.4f -> %.4f%n",
 *         a.agreement(), a.originalAccuracy(), a.reconstructedAccuracy());
 * }</pre>
 */
public final class MnistEvaluator {
    private final DigitSet digits;

    /** An evaluator over {@code digits} (normally the held-back ones). */
    public MnistEvaluator(DigitSet digits) {
        this.digits = Objects.requireNonNull(digits, "digits");
        if (digits.size() == 0) {
            throw new IllegalArgumentException("no digits to evaluate on");
        }
    }

    /** An evaluator over the 2,000 held-back digits of {@link MnistDigits#load()}. */
    public static MnistEvaluator heldBack() {
        return new MnistEvaluator(MnistDigits.load().heldBack());
    }

    public DigitSet digits() {
        return digits;
    }

    /** Loads a checkpoint ({@link MnistNetwork#load}) and evaluates it. */
    public Evaluation evaluate(Path checkpoint) {
        return evaluate(MnistNetwork.load(checkpoint));
    }

    /** Runs {@code network} on every digit. */
    public Evaluation evaluate(MnistNetwork network) {
        float[][] logits = network.logits(digits);
        int[] predictions = new int[logits.length];
        int correct = 0;
        for (int i = 0; i < logits.length; i++) {
            predictions[i] = MnistKernels.argmax(logits[i], MnistDigits.CLASSES);
            if (predictions[i] == digits.label(i)) {
                correct++;
            }
        }
        return new Evaluation(network.kind(), logits, predictions, correct);
    }

    /** Top-1 agreement of two checkpoints' predictions, plus both accuracies. */
    public Agreement agreement(Path original, Path reconstructed) {
        return agreement(evaluate(original), evaluate(reconstructed));
    }

    /** Top-1 agreement of two networks' predictions, plus both accuracies. */
    public Agreement agreement(MnistNetwork original, MnistNetwork reconstructed) {
        return agreement(evaluate(original), evaluate(reconstructed));
    }

    /** Top-1 agreement of two evaluations over the same digits (e.g. one original scored once, many reconstructions). */
    public static Agreement agreement(Evaluation original, Evaluation reconstructed) {
        if (original.size() != reconstructed.size()) {
            throw new IllegalArgumentException("evaluations over " + original.size() + " and "
                    + reconstructed.size() + " digits");
        }
        int agreed = 0;
        for (int i = 0; i < original.size(); i++) {
            if (original.prediction(i) == reconstructed.prediction(i)) {
                agreed++;
            }
        }
        return new Agreement(agreed, original.size(), original.accuracy(), reconstructed.accuracy());
    }

    /** What a network predicted on each digit of the evaluator's set. */
    public static final class Evaluation {
        private final MnistModelKind kind;
        private final float[][] logits;
        private final int[] predictions;
        private final int correct;

        Evaluation(MnistModelKind kind, float[][] logits, int[] predictions, int correct) {
            this.kind = kind;
            this.logits = logits;
            this.predictions = predictions;
            this.correct = correct;
        }

        public MnistModelKind kind() {
            return kind;
        }

        /** Number of digits evaluated. */
        public int size() {
            return predictions.length;
        }

        /** Digits predicted right. */
        public int correct() {
            return correct;
        }

        /** Fraction of digits predicted right. */
        public double accuracy() {
            return (double) correct / predictions.length;
        }

        /** The top-1 prediction for digit {@code i}. */
        public int prediction(int i) {
            return predictions[i];
        }

        /** A copy of all predictions. */
        public int[] predictions() {
            return predictions.clone();
        }

        /** A copy of the 10 logits of digit {@code i}. */
        public float[] logits(int i) {
            return logits[i].clone();
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "%s: accuracy %.4f (%d/%d)", kind.modelName(), accuracy(), correct, size());
        }
    }

    /**
     * Top-1 agreement of a reconstruction with its original.
     *
     * @param agreed                digits on which both predict the same
     * @param digits                digits compared
     * @param originalAccuracy      accuracy of the original
     * @param reconstructedAccuracy accuracy of the reconstruction
     */
    public record Agreement(int agreed, int digits, double originalAccuracy, double reconstructedAccuracy) {
        /** Fraction of digits on which both predict the same: 1.0 for an exact reconstruction. */
        public double agreement() {
            return (double) agreed / digits;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "agreement %.4f (%d/%d), accuracy %.4f -> %.4f",
                    agreement(), agreed, digits, originalAccuracy, reconstructedAccuracy);
        }
    }
}
