package io.weightstream.codec.inr;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The shape of one layer's implicit neural representation f(x): grid coordinates x in [-1, 1]^k to the values
 * of the layer at that grid point. Shared by the trainer (which fits it) and the decoder (which evaluates it), so
 * both compute exactly the same function:
 *
 * <pre>
 *   gamma(x)  = for each grid axis j: [x_j, sin(2^l pi x_j), cos(2^l pi x_j) for l = 0..L_j-1]   positional encoding
 *   m(x)      = relu(x M1 + c1) M2 + c2                                                     modulator (width modWidth)
 *   omega(x)  = omega0 * (1 + m(x))                                                         one frequency per hidden unit
 *   h_0       = gamma(x)
 *   h_{l+1}   = sin(omega(x) * (h_l W_l + b_l))          l = 0..depth-1, width hidden units  synthesis
 *   f(x)      = h_depth W_out + b_out                                                       tile values
 * </pre>
 *
 * The grid is the tensor's own shape with the last axis cut into tiles of {@code tile} consecutive values, one
 * network output each ({@code tile = 1} is the paper's one value per coordinate; larger tiles make training and
 * decoding {@code tile} times cheaper for the same number of parameters). With {@code blocks > 1} the first axis is
 * cut into that many blocks of {@code grid[0]} consecutive rows, each with its own network of this shape over its
 * own grid: training then costs time linear in the layer's size instead of quadratic (one network of P parameters
 * over N values costs N x P per step, and a useful P grows with N). Along an axis of d points,
 * {@code x = 2 i / (d - 1) - 1} (0 for d = 1) and the number of bands is capped by the Nyquist limit,
 * {@code 2^L <= d / 2}. Weights are stored {@code [in, out]} ({@code h W}), biases {@code [out]}, in
 * {@link #parameters()} order. With {@code modWidth = 0} there is no modulator and omega is omega0.
 *
 * <pre>{@code
 * InrArchitecture a = InrArchitecture.sized(new long[] {384, 1536}, 16, 0, 6, 32, 30f, 350_000);
 * a.width();              // the widest network within the budget
 * a.totalParameterCount();     // <= 350_000
 * }</pre>
 *
 * @param grid     points along each axis of one network's grid (the tensor's shape, the first axis divided by
 *                 blocks, the last axis divided by tile)
 * @param bands    positional-encoding bands L_j per axis
 * @param tile     values per grid point (consecutive along the tensor's last axis)
 * @param width    hidden units of each synthesis layer
 * @param depth    synthesis (sine) layers
 * @param modWidth hidden units of the modulator; 0 for none
 * @param omega0   base frequency
 * @param blocks   networks, one per block of {@code grid[0]} rows
 */
public record InrArchitecture(int[] grid, int[] bands, int tile, int width, int depth, int modWidth, float omega0,
                              int blocks) {
    /** Narrowest network the sizing rule builds. */
    public static final int MIN_WIDTH = 4;
    /** Widest network the format accepts. */
    public static final int MAX_WIDTH = 8192;
    /** Most synthesis layers the format accepts. */
    public static final int MAX_DEPTH = 32;
    /** Widest modulator the format accepts. */
    public static final int MAX_MOD_WIDTH = 4096;

    public InrArchitecture {
        grid = grid.clone();
        bands = bands.clone();
        if (grid.length == 0 || grid.length != bands.length) {
            throw new IllegalArgumentException("grid " + Arrays.toString(grid) + " and bands " + Arrays.toString(bands));
        }
        for (int j = 0; j < grid.length; j++) {
            if (grid[j] < 1 || bands[j] < 0 || bands[j] > maxBands(grid[j])) {
                throw new IllegalArgumentException("axis " + j + ": " + grid[j] + " points, " + bands[j] + " bands");
            }
        }
        if (tile < 1 || width < 1 || width > MAX_WIDTH || depth < 1 || depth > MAX_DEPTH || modWidth < 0
                || modWidth > MAX_MOD_WIDTH || !Float.isFinite(omega0) || blocks < 1) {
            throw new IllegalArgumentException("tile " + tile + ", width " + width + ", depth " + depth
                    + ", modulator width " + modWidth + ", omega0 " + omega0 + ", blocks " + blocks);
        }
    }

    /**
     * The widest architecture whose parameter count (all blocks) stays within {@code parameterBudget}.
     *
     * @param shape     the tensor's shape (rank >= 1)
     * @param tile      requested values per grid point; the largest divisor of the last dimension not above it is used
     * @param blockRows requested rows per network; the largest divisor of the first dimension not above it is used;
     *                  0 = one network for the whole tensor
     * @throws IllegalArgumentException if even networks of {@link #MIN_WIDTH} exceed the budget
     */
    public static InrArchitecture sized(long[] shape, int tile, int blockRows, int depth, int modWidth, float omega0,
                                        long parameterBudget) {
        int[] grid = gridOf(shape, tile, blockRows);
        int t = (int) (shape[shape.length - 1] / grid[grid.length - 1]);
        int blocks = shape.length == 1 ? 1 : (int) (shape[0] / grid[0]);
        int[] bands = new int[grid.length];
        for (int j = 0; j < grid.length; j++) {
            bands[j] = maxBands(grid[j]);
        }
        InrArchitecture smallest = new InrArchitecture(grid, bands, t, MIN_WIDTH, depth, modWidth, omega0, blocks);
        if (smallest.totalParameterCount() > parameterBudget) {
            throw new IllegalArgumentException(blocks + " networks of width " + MIN_WIDTH + " have "
                    + smallest.totalParameterCount() + " parameters, more than the budget of " + parameterBudget);
        }
        int lo = MIN_WIDTH;
        int hi = MAX_WIDTH;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (new InrArchitecture(grid, bands, t, mid, depth, modWidth, omega0, blocks).totalParameterCount()
                    <= parameterBudget) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return new InrArchitecture(grid, bands, t, lo, depth, modWidth, omega0, blocks);
    }

    /** This architecture with another width. */
    public InrArchitecture withWidth(int newWidth) {
        return new InrArchitecture(grid, bands, tile, newWidth, depth, modWidth, omega0, blocks);
    }

    /**
     * One network's grid for a tensor shape: the last dimension divided by the largest divisor not above
     * {@code tile}, the first (rank >= 2) by blocks of the largest divisor not above {@code blockRows} rows
     * (0 = all rows).
     */
    static int[] gridOf(long[] shape, int tile, int blockRows) {
        if (shape.length == 0) {
            throw new IllegalArgumentException("a scalar has no grid");
        }
        int[] grid = new int[shape.length];
        for (int j = 0; j < shape.length; j++) {
            if (shape[j] < 1 || shape[j] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("dimension " + shape[j] + " out of range");
            }
            grid[j] = (int) shape[j];
        }
        int last = grid[grid.length - 1];
        grid[grid.length - 1] = last / largestDivisor(last, tile);
        if (shape.length >= 2 && blockRows > 0) {
            grid[0] = largestDivisor(grid[0], blockRows);
        }
        return grid;
    }

    /** The largest divisor of {@code n} in [1, max]. */
    static int largestDivisor(int n, int max) {
        int d = Math.max(1, Math.min(max, n));
        while (n % d != 0) {
            d--;
        }
        return d;
    }

    /** The Nyquist cap: the largest L with {@code 2^L <= d / 2} (0 below 2 points). */
    public static int maxBands(long points) {
        return points < 2 ? 0 : floorLog2(points) - 1;
    }

    private static int floorLog2(long v) {
        return 63 - Long.numberOfLeadingZeros(v);
    }

    /** Axes of the grid, k. */
    public int coordinateDim() {
        return grid.length;
    }

    /** Width of the positional encoding: {@code sum over axes of 1 + 2 L_j}. */
    public int inputDim() {
        int n = 0;
        for (int b : bands) {
            n += 1 + 2 * b;
        }
        return n;
    }

    /** Grid points of one network: the product of the grid dimensions. */
    public long points() {
        long n = 1;
        for (int d : grid) {
            n *= d;
        }
        return n;
    }

    /** One weight or bias of the network: {@code rows = 1} for biases. */
    public record Parameter(String name, int rows, int cols) {
        public long size() {
            return (long) rows * cols;
        }
    }

    /** The weights and biases in storage order: modulator (if any), synthesis layers, output layer. */
    public List<Parameter> parameters() {
        List<Parameter> p = new ArrayList<>();
        if (modWidth > 0) {
            p.add(new Parameter("mod.1.weight", coordinateDim(), modWidth));
            p.add(new Parameter("mod.1.bias", 1, modWidth));
            p.add(new Parameter("mod.2.weight", modWidth, width));
            p.add(new Parameter("mod.2.bias", 1, width));
        }
        for (int l = 0; l < depth; l++) {
            p.add(new Parameter("syn." + l + ".weight", l == 0 ? inputDim() : width, width));
            p.add(new Parameter("syn." + l + ".bias", 1, width));
        }
        p.add(new Parameter("out.weight", width, tile));
        p.add(new Parameter("out.bias", 1, tile));
        return p;
    }

    /** Parameters of one network. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters()) {
            n += p.size();
        }
        return n;
    }

    /** Parameters of all networks. */
    public long totalParameterCount() {
        return blocks * parameterCount();
    }

    /** Grid points of all networks: the tensor's elements divided by tile. */
    public long totalPoints() {
        return blocks * points();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InrArchitecture a && Arrays.equals(grid, a.grid) && Arrays.equals(bands, a.bands)
                && tile == a.tile && width == a.width && depth == a.depth && modWidth == a.modWidth
                && Float.floatToIntBits(omega0) == Float.floatToIntBits(a.omega0) && blocks == a.blocks;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(grid) * 31 + Arrays.hashCode(bands) * 17 + width * 7 + depth + tile * 3 + modWidth
                + blocks * 13;
    }

    @Override
    public String toString() {
        return "inr(" + (blocks > 1 ? blocks + " blocks, " : "") + "grid " + Arrays.toString(grid) + ", bands " + Arrays.toString(bands) + ", tile " + tile + ", "
                + depth + " x " + width + ", modulator " + modWidth + ", omega0 " + omega0 + ", "
                + totalParameterCount() + " parameters)";
    }
}
