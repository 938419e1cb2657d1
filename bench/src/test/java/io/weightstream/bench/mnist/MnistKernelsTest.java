package io.weightstream.bench.mnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The pure-Java layers against their textbook definitions (in double), on random data. */
class MnistKernelsTest {
    private final Random random = new Random(7);

    @Test
    void conv2dIsTheValidCrossCorrelationOfTorch() {
        // the CNN's two shapes, and odd ones that leave a remainder after the groups of four taps
        int[][] shapes = {{1, 28, 28, 32, 5}, {32, 12, 12, 64, 5}, {3, 7, 9, 2, 3}, {2, 5, 5, 1, 1}};
        for (int[] s : shapes) {
            int c = s[0], h = s[1], w = s[2], outC = s[3], k = s[4];
            int oh = h - k + 1, ow = w - k + 1;
            float[] in = randoms(3 + c * h * w);
            float[] weight = randoms(outC * c * k * k);
            float[] bias = randoms(outC);
            float[] out = new float[outC * oh * ow];
            MnistKernels.conv2d(in, 3, c, h, w, weight, bias, outC, k, new float[c * k * k * oh * ow], out);
            for (int oc = 0; oc < outC; oc++) {
                for (int y = 0; y < oh; y++) {
                    for (int x = 0; x < ow; x++) {
                        double sum = bias[oc];
                        for (int ic = 0; ic < c; ic++) {
                            for (int ky = 0; ky < k; ky++) {
                                for (int kx = 0; kx < k; kx++) {
                                    sum += (double) weight[((oc * c + ic) * k + ky) * k + kx] * in[3 + (ic * h + y + ky) * w + x + kx];
                                }
                            }
                        }
                        assertThat((double) out[(oc * oh + y) * ow + x]).isCloseTo(sum, within(1e-4));
                    }
                }
            }
        }
    }

    @Test
    void linearIsBiasPlusWeightTimesInput() {
        for (int[] s : new int[][] {{784, 256}, {7, 3}, {1, 10}}) {
            int in = s[0], out = s[1];
            float[] w = randoms(out * in);
            float[] b = randoms(out);
            float[] x = randoms(in + 5);
            float[] y = new float[out];
            MnistKernels.linear(MnistKernels.transpose(w, out, in), b, in, out, x, 5, y);
            for (int o = 0; o < out; o++) {
                double sum = b[o];
                for (int i = 0; i < in; i++) {
                    sum += (double) w[o * in + i] * x[5 + i];
                }
                assertThat((double) y[o]).isCloseTo(sum, within(1e-4));
            }
        }
    }

    @Test
    void maxPoolTakesTheLargestOfEachTwoByTwoBlock() {
        float[] in = {
            1, 2, -4, -1,
            3, 4, -2, -3,
            9, 0, 5, 5,
            0, 0, 5, 6,
        };
        float[] out = new float[4];
        MnistKernels.maxPool2(in, 1, 4, 4, out);
        assertThat(out).containsExactly(4, -1, 9, 6);
    }

    @Test
    void reluAndArgmax() {
        float[] a = {-1, 0, 2, -0.5f, 2};
        MnistKernels.relu(a, a.length);
        assertThat(a).containsExactly(0, 0, 2, 0, 2);
        assertThat(MnistKernels.argmax(a, a.length)).isEqualTo(2); // the first of two maxima, as torch
    }

    @Test
    void theSameInputsGiveBitIdenticalOutputs() {
        float[] in = randoms(32 * 12 * 12);
        float[] weight = randoms(64 * 32 * 25);
        float[] bias = randoms(64);
        float[] a = new float[64 * 64];
        float[] b = new float[64 * 64];
        MnistKernels.conv2d(in, 0, 32, 12, 12, weight, bias, 64, 5, new float[32 * 25 * 64], a);
        MnistKernels.conv2d(in, 0, 32, 12, 12, weight, bias, 64, 5, new float[32 * 25 * 64], b);
        assertThat(b).containsExactly(a);
    }

    private float[] randoms(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }
}
