package io.weightstream.codec.inr;

/**
 * The normalised coordinate grid of an {@link InrArchitecture} and its positional encoding, computed per axis once
 * (a table of {@code d_j x (1 + 2 L_j)} floats) and gathered per point, in double arithmetic rounded to float and
 * with {@link InrSine}, so the trainer's inputs and the decoder's are the same floats on every machine.
 * Points are numbered row-major over the grid (the last axis fastest).
 */
final class InrGrid {
    private final InrArchitecture arch;
    /** Per axis: x_i for each of the d_j points. */
    private final float[][] coords;
    /** Per axis: [x, sin(2^0 pi x), cos(2^0 pi x), ..., sin(2^(L-1) pi x), cos(2^(L-1) pi x)] for each point. */
    private final float[][] features;

    InrGrid(InrArchitecture arch) {
        this.arch = arch;
        int k = arch.coordinateDim();
        coords = new float[k][];
        features = new float[k][];
        for (int j = 0; j < k; j++) {
            int d = arch.grid()[j];
            int bands = arch.bands()[j];
            int f = 1 + 2 * bands;
            coords[j] = new float[d];
            features[j] = new float[d * f];
            for (int i = 0; i < d; i++) {
                double x = d == 1 ? 0.0 : 2.0 * i / (d - 1) - 1.0;
                coords[j][i] = (float) x;
                int at = i * f;
                features[j][at] = (float) x;
                double freq = Math.PI;
                for (int l = 0; l < bands; l++) {
                    double arg = freq * x;
                    features[j][at + 1 + 2 * l] = (float) InrSine.sin(arg);
                    features[j][at + 2 + 2 * l] = (float) InrSine.cos(arg);
                    freq *= 2;
                }
            }
        }
    }

    /**
     * Writes the raw coordinates ({@code k} floats per point) and the positional encoding
     * ({@link InrArchitecture#inputDim()} floats per point) of points {@code [from, from + count)}.
     *
     * @param coordsOut   {@code count * k} floats, or null
     * @param encodingOut {@code count * inputDim} floats, or null
     */
    void points(long from, int count, float[] coordsOut, float[] encodingOut) {
        int[] grid = arch.grid();
        int k = grid.length;
        int inputDim = arch.inputDim();
        int[] index = new int[k];
        long rest = from;
        for (int j = k - 1; j >= 0; j--) {
            index[j] = (int) (rest % grid[j]);
            rest /= grid[j];
        }
        for (int p = 0; p < count; p++) {
            int at = p * inputDim;
            for (int j = 0; j < k; j++) {
                if (coordsOut != null) {
                    coordsOut[p * k + j] = coords[j][index[j]];
                }
                if (encodingOut != null) {
                    int f = 1 + 2 * arch.bands()[j];
                    System.arraycopy(features[j], index[j] * f, encodingOut, at, f);
                    at += f;
                }
            }
            for (int j = k - 1; j >= 0; j--) {
                if (++index[j] < grid[j]) {
                    break;
                }
                index[j] = 0;
            }
        }
    }
}
