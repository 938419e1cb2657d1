package io.weightstream.bench.mnist;

import java.util.Arrays;

/**
 * A set of MNIST digits: 28x28 images as floats in [0, 1] (row-major) and their labels 0-9.
 * Immutable; the accessors copy.
 *
 * <pre>{@code
 * DigitSet heldBack = MnistDigits.load().heldBack();
 * float[] first = heldBack.image(0);  // 784 pixels
 * int label = heldBack.label(0);
 * }</pre>
 */
public final class DigitSet {
    private final float[] images; // size * PIXELS
    private final byte[] labels;

    DigitSet(float[] images, byte[] labels) {
        if (images.length != labels.length * MnistDigits.PIXELS) {
            throw new IllegalArgumentException(images.length + " pixels for " + labels.length + " labels");
        }
        this.images = images;
        this.labels = labels;
    }

    /** The digits at {@code indices} of {@code source}, in that order. */
    static DigitSet select(float[] images, byte[] labels, int[] indices) {
        int p = MnistDigits.PIXELS;
        float[] im = new float[indices.length * p];
        byte[] lb = new byte[indices.length];
        for (int i = 0; i < indices.length; i++) {
            System.arraycopy(images, indices[i] * p, im, i * p, p);
            lb[i] = labels[indices[i]];
        }
        return new DigitSet(im, lb);
    }

    /** Number of digits. */
    public int size() {
        return labels.length;
    }

    /** The label (0-9) of digit {@code i}. */
    public int label(int i) {
        return labels[i];
    }

    /** All labels, in order. */
    public int[] labels() {
        int[] out = new int[labels.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = labels[i];
        }
        return out;
    }

    /** A copy of the 784 pixels of digit {@code i}, row-major, in [0, 1]. */
    public float[] image(int i) {
        return Arrays.copyOfRange(images, i * MnistDigits.PIXELS, (i + 1) * MnistDigits.PIXELS);
    }

    /** Copies the 784 pixels of digit {@code i} into {@code dst} at {@code offset} (no allocation, for batching). */
    public void copyImage(int i, float[] dst, int offset) {
        System.arraycopy(images, i * MnistDigits.PIXELS, dst, offset, MnistDigits.PIXELS);
    }

    /** The backing pixels, not copied: for the forward passes of this package, which only read them. */
    float[] pixels() {
        return images;
    }

    @Override
    public String toString() {
        return "DigitSet(" + size() + " digits)";
    }
}
