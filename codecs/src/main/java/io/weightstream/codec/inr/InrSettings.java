package io.weightstream.codec.inr;

/**
 * How the trainer fits one layer (from the {@link InrCodec} parameters of the same names).
 *
 * @param steps        most optimizer steps (the cosine schedule spans them)
 * @param timeBudgetMs most wall-clock milliseconds of training; 0 = no limit (a time limit makes encoding depend on
 *                     the machine's speed, so it is no longer deterministic when it is what stops training)
 * @param targetRelL2  stop early once the relative L2 error of the float network is at most this; 0 = never
 * @param learningRate initial AdamW learning rate, annealed along a cosine to 1 % of it
 * @param weightDecay  AdamW decoupled weight decay
 * @param lambdaGrad   weight of the gradient-difference term
 * @param lambdaFreq   weight of the focal frequency term
 * @param quantAware   fraction of the budget (steps or time, the last part) trained with the weights
 *                     fake-quantized to {@code bits} (straight-through gradients), so the network that is stored is
 *                     the one that was fitted; training also switches to it once the float network meets the target
 * @param bits         bits per weight of the stored network
 * @param seed         seed of the initial weights
 * @param device       where to train
 */
public record InrSettings(int steps, long timeBudgetMs, double targetRelL2, double learningRate, double weightDecay,
                          double lambdaGrad, double lambdaFreq, double quantAware, int bits, long seed,
                          Device device) {
    /** Where the trainer runs. */
    public enum Device {
        /** A CUDA GPU when the engine finds one, else the CPU. */
        AUTO,
        /** The CPU even when a GPU is there. */
        CPU,
        /** A CUDA GPU; the trainer fails if there is none. */
        GPU
    }

    public InrSettings {
        if (steps < 1 || timeBudgetMs < 0 || !(targetRelL2 >= 0) || !(learningRate > 0) || !(weightDecay >= 0)
                || !(lambdaGrad >= 0) || !(lambdaFreq >= 0) || !(quantAware >= 0 && quantAware <= 1) || bits < 2 || bits > 16
                || device == null) {
            throw new IllegalArgumentException("invalid inr training settings: " + steps + " steps, " + timeBudgetMs
                    + " ms, target " + targetRelL2 + ", lr " + learningRate + ", wd " + weightDecay + ", grad "
                    + lambdaGrad + ", freq " + lambdaFreq + ", quant-aware " + quantAware + ", bits " + bits + ", " + device);
        }
    }
}
