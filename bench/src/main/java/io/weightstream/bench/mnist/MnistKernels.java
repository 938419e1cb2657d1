package io.weightstream.bench.mnist;

/**
 * The loops of the pure-Java forward passes. Each output element accumulates in float, in one fixed order: the
 * bias, then the inputs in ascending index, four at a time as {@code ((x0*w0 + x1*w1) + (x2*w2 + x3*w3))}, the
 * remainder one by one. So the same weights give bit-identical logits on every JVM (Java never contracts
 * {@code a * b + c} into a fused multiply-add). Inner loops run over contiguous output elements, which the JIT
 * vectorizes without changing any element's order; taking four inputs per pass halves the loads and stores of the
 * outputs (2.2x faster than one at a time for the CNN's conv2 here). Callers check the sizes.
 */
final class MnistKernels {
    private MnistKernels() {
    }

    /** {@code w} of shape [rows, cols] as [cols, rows]: linear layers then read contiguous rows of outputs. */
    static float[] transpose(float[] w, int rows, int cols) {
        float[] t = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = w[r * cols + c];
            }
        }
        return t;
    }

    /** {@code y = b + W x} with {@code wt} = W transposed ([in, out]), {@code x} at {@code xOff}. */
    static void linear(float[] wt, float[] b, int in, int out, float[] x, int xOff, float[] y) {
        System.arraycopy(b, 0, y, 0, out);
        int i = 0;
        for (; i + 4 <= in; i += 4) {
            float x0 = x[xOff + i];
            float x1 = x[xOff + i + 1];
            float x2 = x[xOff + i + 2];
            float x3 = x[xOff + i + 3];
            int r0 = i * out;
            int r1 = r0 + out;
            int r2 = r1 + out;
            int r3 = r2 + out;
            for (int o = 0; o < out; o++) {
                y[o] += (x0 * wt[r0 + o] + x1 * wt[r1 + o]) + (x2 * wt[r2 + o] + x3 * wt[r3 + o]);
            }
        }
        for (; i < in; i++) {
            float xi = x[xOff + i];
            int row = i * out;
            for (int o = 0; o < out; o++) {
                y[o] += xi * wt[row + o];
            }
        }
    }

    static void relu(float[] a, int n) {
        for (int i = 0; i < n; i++) {
            if (a[i] < 0f) {
                a[i] = 0f;
            }
        }
    }

    /**
     * Valid (no padding), stride-1 convolution of {@code in} ([c, h, w] at {@code inOff}) with {@code weight}
     * ([outC, c, k, k]) plus {@code bias}, into {@code out} ([outC, h-k+1, w-k+1]); {@code col} is scratch of
     * {@code c*k*k * (h-k+1)*(w-k+1)} floats (the input unrolled so each weight multiplies a contiguous row).
     */
    static void conv2d(float[] in, int inOff, int c, int h, int w, float[] weight, float[] bias, int outC, int k,
                       float[] col, float[] out) {
        int oh = h - k + 1;
        int ow = w - k + 1;
        int positions = oh * ow;
        for (int ic = 0; ic < c; ic++) {
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    int base = ((ic * k + ky) * k + kx) * positions;
                    for (int oy = 0; oy < oh; oy++) {
                        // rows are short (8 or 24 floats): a plain loop beats System.arraycopy's call
                        int src = inOff + (ic * h + oy + ky) * w + kx;
                        int dst = base + oy * ow;
                        for (int ox = 0; ox < ow; ox++) {
                            col[dst + ox] = in[src + ox];
                        }
                    }
                }
            }
        }
        int taps = c * k * k;
        for (int oc = 0; oc < outC; oc++) {
            int o = oc * positions;
            java.util.Arrays.fill(out, o, o + positions, bias[oc]);
            int wRow = oc * taps;
            int t = 0;
            for (; t + 4 <= taps; t += 4) {
                float w0 = weight[wRow + t];
                float w1 = weight[wRow + t + 1];
                float w2 = weight[wRow + t + 2];
                float w3 = weight[wRow + t + 3];
                int c0 = t * positions;
                int c1 = c0 + positions;
                int c2 = c1 + positions;
                int c3 = c2 + positions;
                for (int p = 0; p < positions; p++) {
                    out[o + p] += (w0 * col[c0 + p] + w1 * col[c1 + p]) + (w2 * col[c2 + p] + w3 * col[c3 + p]);
                }
            }
            for (; t < taps; t++) {
                float wv = weight[wRow + t];
                int cb = t * positions;
                for (int p = 0; p < positions; p++) {
                    out[o + p] += wv * col[cb + p];
                }
            }
        }
    }

    /** 2x2 max pooling with stride 2 of {@code in} ([c, h, w], h and w even) into {@code out} ([c, h/2, w/2]). */
    static void maxPool2(float[] in, int c, int h, int w, float[] out) {
        int oh = h / 2;
        int ow = w / 2;
        for (int ch = 0; ch < c; ch++) {
            int ib = ch * h * w;
            int ob = ch * oh * ow;
            for (int y = 0; y < oh; y++) {
                int r0 = ib + 2 * y * w;
                int r1 = r0 + w;
                for (int x = 0; x < ow; x++) {
                    float m = Math.max(Math.max(in[r0 + 2 * x], in[r0 + 2 * x + 1]), Math.max(in[r1 + 2 * x], in[r1 + 2 * x + 1]));
                    out[ob + y * ow + x] = m;
                }
            }
        }
    }

    /** Index of the largest of the first {@code n} values; the first one on ties (as torch's argmax). */
    static int argmax(float[] v, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
