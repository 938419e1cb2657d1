package io.weightstream.codec.inr;

import io.weightstream.codec.CodecParams;
import io.weightstream.tensor.Tensor;
import java.util.Arrays;

/**
 * One layer to fit, as the {@link InrTrainer} sees it: the network's {@link InrArchitecture}, its inputs (the
 * coordinate grid and its positional encoding, computed here so that trainer and decoder feed the network the same
 * floats), the target (the layer normalised to [-1, 1], outliers clamped into it and masked out), the 2-D view
 * {@code rows x cols} the gradient and frequency losses work on, and the {@link InrSettings}.
 *
 * <p>Element {@code e} of the tensor (row-major) is output {@code e % tile} of grid point {@code e / tile}
 * (counting the points of block 0, then block 1, ...), and row {@code r} of the 2-D view holds elements
 * {@code [r * cols, (r + 1) * cols)}. Every block has the same grid, so {@link #encoding()} and
 * {@link #coordinates()} cover one block and serve them all.
 *
 * <pre>{@code
 * InrProblem problem = InrProblem.of(tensor, codec.params(Map.of("ratio", "6", "bits", "8")));
 * InrFit fit = InrTrainer.find().orElseThrow().train(problem, InrProgress.NONE);
 * }</pre>
 */
public final class InrProblem {
    private final String tensorName;
    private final InrArchitecture architecture;
    private final InrSettings settings;
    private final InrQuantization quantization;
    private final InrBody body;
    private final float[] target;
    private final float[] mask;
    private final int rows;
    private final int cols;
    private final double norm;
    private float[] encoding;
    private float[] coordinates;

    InrProblem(String tensorName, long[] shape, float[] values, InrBody body, InrArchitecture architecture,
               InrSettings settings, InrQuantization quantization) {
        this.tensorName = tensorName;
        this.quantization = quantization;
        this.architecture = architecture;
        this.settings = settings;
        this.body = body;
        int n = values.length;
        this.rows = (int) shape[0];
        this.cols = rows == 0 ? 0 : n / rows;
        this.target = new float[n];
        float lo = body.lo();
        float half = body.halfRange();
        double sumSquares = 0;
        for (int i = 0; i < n; i++) {
            double y = ((double) values[i] - lo) / half - 1.0;
            target[i] = (float) Math.max(-1.0, Math.min(1.0, y));
            sumSquares += (double) values[i] * values[i];
        }
        this.norm = Math.sqrt(sumSquares);
        if (body.outliers().length > 0) {
            mask = new float[n];
            Arrays.fill(mask, 1f);
            for (int i : body.outliers()) {
                mask[i] = 0f;
            }
        } else {
            mask = null;
        }
    }

    /**
     * The problem the {@code inr} codec would hand its trainer for {@code tensor} under {@code params}.
     *
     * @throws IllegalArgumentException if the tensor is out of the codec's scope, holds non-finite values, is
     *                                  constant, or the ratio leaves no room for a network
     */
    public static InrProblem of(Tensor tensor, CodecParams params) {
        InrCodec codec = new InrCodec();
        params.requireFor(codec);
        InrCodec.Plan plan = codec.plan(tensor, params);
        if (plan.problem() == null) {
            throw new IllegalArgumentException("tensor '" + tensor.name() + "' needs no network: " + plan.reason());
        }
        return plan.problem();
    }

    public String tensorName() {
        return tensorName;
    }

    public InrArchitecture architecture() {
        return architecture;
    }

    public InrSettings settings() {
        return settings;
    }

    /** How each network tensor is stored; the trainer's quantization-aware phase mirrors it. */
    public InrQuantization quantization() {
        return quantization;
    }

    /** Rows of the 2-D view (the tensor's first dimension). */
    public int rows() {
        return rows;
    }

    /** Columns of the 2-D view (the product of the other dimensions). */
    public int cols() {
        return cols;
    }

    /** The normalised layer, {@code rows * cols} floats in element order (a copy). */
    public float[] target() {
        return target.clone();
    }

    /** 1 for body elements, 0 for outliers (patched exactly, so their error does not count); null if none. */
    public float[] mask() {
        return mask == null ? null : mask.clone();
    }

    /** Elements whose error counts: all but the outliers. */
    public long bodyElements() {
        return (long) target.length - body.outliers().length;
    }

    /** Positional encoding of the grid points of one block, {@code points * inputDim} floats (computed once, shared). */
    public synchronized float[] encoding() {
        if (encoding == null) {
            fillInputs();
        }
        return encoding;
    }

    /** Raw coordinates of the grid points of one block, {@code points * k} floats (the modulator's input; shared). */
    public synchronized float[] coordinates() {
        if (coordinates == null) {
            fillInputs();
        }
        return coordinates;
    }

    private void fillInputs() {
        long points = architecture.points();
        long size = points * architecture.inputDim();
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("positional encoding of " + size + " floats");
        }
        encoding = new float[(int) size];
        coordinates = new float[(int) (points * architecture.coordinateDim())];
        new InrGrid(architecture).points(0, (int) points, coordinates, encoding);
    }

    /**
     * The relative L2 error of the layer given the sum of squared errors of the normalised body elements: outliers
     * are exact, and an error e in the normalised domain is e * (hi - lo) / 2 in the layer's.
     */
    public double relL2(double bodySquaredError) {
        if (norm == 0) {
            return bodySquaredError == 0 ? 0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(bodySquaredError) * body.halfRange() / norm;
    }

    InrBody body() {
        return body;
    }

    @Override
    public String toString() {
        return "InrProblem(" + tensorName + ", " + rows + " x " + cols + ", " + body.outliers().length + " outliers, "
                + architecture + ")";
    }
}
