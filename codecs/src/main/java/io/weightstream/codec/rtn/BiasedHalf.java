package io.weightstream.codec.rtn;

import io.weightstream.tensor.FloatConversions;

/**
 * Float16 numbers times a power of two shared by a whole tensor: how the quantizing codecs ({@code rtn},
 * {@code prune}, {@code lowrank}) store scales, offsets and factors. Plain float16 only spans 6e-8 to 65504, so
 * the weights of a tensor with tiny (or huge) values would lose their scales to underflow; a per-tensor
 * exponent {@code bias} moves the largest magnitude to [2^14, 2^15) and keeps 11 significant bits everywhere
 * within 2^29 of it. Decoding is exact and deterministic: {@code f16ToFloat(h) * 2^bias} with
 * {@link Math#scalb}.
 *
 * <pre>{@code
 * int bias = BiasedHalf.bias(maxScale);
 * short h = BiasedHalf.ceil(scale, bias);        // decode(h, bias) >= scale, the nearest such value
 * float s = BiasedHalf.decode(h, bias);
 * }</pre>
 */
public final class BiasedHalf {
    /** Exponent the largest magnitude gets after biasing: its value lies in [2^14, 2^15). */
    static final int TOP_EXPONENT = 14;
    /** Biases a decoder accepts; wide enough for every float32 magnitude, subnormals included. */
    public static final int MIN_BIAS = -200;
    public static final int MAX_BIAS = 200;

    private BiasedHalf() {
    }

    /** The bias for a tensor whose largest stored magnitude is {@code maxAbs} (0 when it is 0 or not finite). */
    public static int bias(float maxAbs) {
        if (!(maxAbs > 0) || !Float.isFinite(maxAbs)) {
            return 0;
        }
        return Math.getExponent(maxAbs) - TOP_EXPONENT;
    }

    /** {@code f16ToFloat(h) * 2^bias}. */
    public static float decode(short h, int bias) {
        return Math.scalb(FloatConversions.f16ToFloat(h), bias);
    }

    /** The float16 nearest to {@code x / 2^bias}. */
    public static short nearest(float x, int bias) {
        return FloatConversions.floatToF16(Math.scalb(x, -bias));
    }

    /** The smallest float16 {@code h} with {@code decode(h, bias) >= x}; {@code x} must be finite and in range. */
    public static short ceil(float x, int bias) {
        short h = nearest(x, bias);
        for (int i = 0; i < 4 && decode(h, bias) < x; i++) {
            h = nextUp(h);
        }
        return h;
    }

    /** The largest float16 {@code h} with {@code decode(h, bias) <= x}; {@code x} must be finite and in range. */
    public static short floor(float x, int bias) {
        short h = nearest(x, bias);
        for (int i = 0; i < 4 && decode(h, bias) > x; i++) {
            h = nextDown(h);
        }
        return h;
    }

    static short nextUp(short h) {
        int b = h & 0xffff;
        if (b == 0x8000) {
            return 0x0001;
        }
        return (short) ((b & 0x8000) == 0 ? b + 1 : b - 1);
    }

    static short nextDown(short h) {
        int b = h & 0xffff;
        if (b == 0x0000) {
            return (short) 0x8001;
        }
        return (short) ((b & 0x8000) == 0 ? b - 1 : b + 1);
    }
}
