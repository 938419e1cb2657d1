package io.weightstream.codec.inr;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The networks of an {@link InrArchitecture} with concrete float32 weights, evaluated in pure Java: plain float
 * multiplications and additions in a fixed order (inputs in ascending order, then the bias) and {@link InrSine},
 * so the same weights give bit-identical values on every machine. Points are evaluated in independent chunks,
 * which may run in parallel without changing a bit.
 */
final class InrNetwork {
    /** Points per chunk: the activations of a chunk stay in the cache. */
    private static final int CHUNK = 64;
    /** Below this many multiply-adds a decode stays on the calling thread. */
    private static final long PARALLEL_WORK = 1L << 24;

    private final InrArchitecture arch;
    private final float[][] params;
    private final long[] sizes;
    private final InrGrid grid;

    /**
     * @param params per network tensor in {@link InrArchitecture#parameters()} order, the values of every block one
     *               after the other ({@code blocks x size})
     */
    InrNetwork(InrArchitecture arch, float[][] params) {
        List<InrArchitecture.Parameter> shapes = arch.parameters();
        if (params.length != shapes.size()) {
            throw new IllegalArgumentException(params.length + " parameter tensors, the architecture has " + shapes.size());
        }
        sizes = new long[params.length];
        for (int i = 0; i < params.length; i++) {
            sizes[i] = shapes.get(i).size();
            if (params[i].length != sizes[i] * arch.blocks()) {
                throw new IllegalArgumentException(shapes.get(i).name() + ": " + params[i].length + " values, expected "
                        + sizes[i] * arch.blocks());
            }
        }
        this.arch = arch;
        this.params = params;
        this.grid = new InrGrid(arch);
    }

    InrArchitecture architecture() {
        return arch;
    }

    /** f(x) at every grid point of every block: {@code totalPoints * tile} floats, in the tensor's element order. */
    float[] evaluateAll() {
        long points = arch.points();
        long n = arch.totalPoints() * arch.tile();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("grid of " + n + " values");
        }
        float[] out = new float[(int) n];
        int chunks = (int) ((points + CHUNK - 1) / CHUNK);
        IntStream range = IntStream.range(0, chunks * arch.blocks());
        if (arch.totalPoints() * arch.parameterCount() >= PARALLEL_WORK) {
            range = range.parallel();
        }
        range.forEach(c -> {
            int block = c / chunks;
            long from = (long) (c % chunks) * CHUNK;
            int count = (int) Math.min(CHUNK, points - from);
            evaluate(block, from, count, out, (int) ((block * points + from) * arch.tile()));
        });
        return out;
    }

    /** f(x) of block {@code block} at its points {@code [from, from + count)} into {@code out} from {@code outOffset}. */
    void evaluate(int block, long from, int count, float[] out, int outOffset) {
        int width = arch.width();
        int tile = arch.tile();
        float[] h = hidden(block, from, count);
        int p = params.length - 2;
        float[] y = new float[count * tile];
        linear(h, count, width, params[p], offset(p, block), params[p + 1], offset(p + 1, block), tile, y);
        System.arraycopy(y, 0, out, outOffset, count * tile);
    }

    private int offset(int tensor, int block) {
        return (int) (sizes[tensor] * block);
    }

    /** The last sine layer's activations at points {@code [from, from + count)} of a block: {@code count * width}. */
    float[] hidden(int block, long from, int count) {
        int k = arch.coordinateDim();
        int width = arch.width();
        int size = count * Math.max(arch.inputDim(), width);
        float[] coords = new float[count * k];
        float[] h = new float[size];
        float[] next = new float[size];
        float[] omega = new float[count * width];
        grid.points(from, count, coords, h);
        int p = 0;
        if (arch.modWidth() > 0) {
            int m = arch.modWidth();
            float[] hidden = new float[count * m];
            linear(coords, count, k, params[p], offset(p, block), params[p + 1], offset(p + 1, block), m, hidden);
            p += 2;
            for (int i = 0; i < hidden.length; i++) {
                hidden[i] = hidden[i] > 0f ? hidden[i] : 0f;
            }
            linear(hidden, count, m, params[p], offset(p, block), params[p + 1], offset(p + 1, block), width, omega);
            p += 2;
            float omega0 = arch.omega0();
            for (int i = 0; i < omega.length; i++) {
                omega[i] = omega0 * (1f + omega[i]);
            }
        } else {
            Arrays.fill(omega, arch.omega0());
        }
        int in = arch.inputDim();
        for (int l = 0; l < arch.depth(); l++) {
            linear(h, count, in, params[p], offset(p, block), params[p + 1], offset(p + 1, block), width, next);
            p += 2;
            for (int i = 0; i < count * width; i++) {
                next[i] = InrSine.sin(omega[i] * next[i]);
            }
            float[] t = h;
            h = next;
            next = t;
            in = width;
        }
        return h.length == count * width ? h : Arrays.copyOf(h, count * width);
    }

    /**
     * {@code y[i][j] = (sum over q ascending of x[i][q] * w[q][j]) + b[j]}: the inner loop runs over j, so the JIT
     * vectorises it without reordering any sum.
     */
    static void linear(float[] x, int rows, int in, float[] w, int wo, float[] b, int bo, int out, float[] y) {
        for (int i = 0; i < rows; i++) {
            int yo = i * out;
            Arrays.fill(y, yo, yo + out, 0f);
            int xo = i * in;
            for (int q = 0; q < in; q++) {
                float a = x[xo + q];
                int wq = wo + q * out;
                for (int j = 0; j < out; j++) {
                    y[yo + j] += a * w[wq + j];
                }
            }
            for (int j = 0; j < out; j++) {
                y[yo + j] += b[bo + j];
            }
        }
    }
}
