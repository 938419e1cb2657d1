package io.weightstream.checkpoint.safetensors;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Writes a generated safetensors checkpoint of a requested size, the same bytes for the same seed: transformer-like
 * blocks of square 2-D weights (4096 x 4096 for files of a gigabyte or more, narrower for small files) with their
 * 1-D biases and layer norms, then {@code tail.<k>.weight} matrices (at most as large as a block's) and a {@code tail.bias} that fill
 * the file to the byte.
 *
 * <p>Values look like trained weights: a seeded Gaussian-like draw (the popcount of 48 random bits plus a uniform
 * fraction, so variance 1 and tails to about 7 sigma) times 0.02; layer-norm weights are centred on 1. Integer
 * dtypes hold {@code round(16 g)} clamped to their range (U8 offset by 128), BOOL holds {@code g > 0}. Each
 * tensor's values come from its own stream, seeded by the file's seed and the tensor's name.
 *
 * <p>Memory stays bounded (one 4 MiB buffer) whatever the size; the file is written through
 * {@link SafetensorsWriter} (temp file, fsync, atomic rename).
 *
 * <pre>{@code
 * SyntheticCheckpoint.write(Path.of("synthetic-2g.safetensors"), 2_000_000_000L, DType.F32, 42);
 * }</pre>
 */
public final class SyntheticCheckpoint {
    /** Standard deviation of the generated weights (typical of trained transformer weights). */
    public static final float WEIGHT_STD = 0.02f;

    private static final int BUFFER_BYTES = 4 << 20;
    private static final int[] WIDTHS = {4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8};
    private static final String[] MATRICES = {"attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj", "mlp.fc1", "mlp.fc2"};
    private static final String[] NORMS = {"ln_1", "ln_2"};
    /** 1 / sqrt(12 + 1/12): the standard deviation of Binomial(48, 1/2) plus Uniform(-1/2, 1/2). */
    private static final float INV_STD = (float) (1 / Math.sqrt(12 + 1.0 / 12));

    private SyntheticCheckpoint() {
    }

    /**
     * Writes {@code out}: exactly {@code totalBytes} bytes when that is a multiple of the dtype's size (else
     * rounded down to one).
     *
     * @throws IllegalArgumentException when {@code totalBytes} cannot even hold the header
     */
    public static void write(Path out, long totalBytes, DType dtype, long seed) {
        Objects.requireNonNull(dtype, "dtype");
        Layout layout = layout(totalBytes, dtype, seed);
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        SafetensorsWriter.write(layout.order, layout.metadata, layout.jsonBytes,
                (spec, channel) -> generate(spec, seed, buffer, channel), out);
    }

    /** Tensors in data order, metadata and the padded JSON size that make the file exactly the target size. */
    record Layout(List<TensorSpec> order, Map<String, String> metadata, int jsonBytes) {
    }

    static Layout layout(long totalBytes, DType dtype, long seed) {
        int size = dtype.size();
        long target = totalBytes - Math.floorMod(totalBytes, size);
        Map<String, String> metadata = new TreeMap<>();
        metadata.put("format", "pt");
        metadata.put("generator", "weightstream-synthetic");
        metadata.put("seed", Long.toString(seed));
        metadata.put("dtype", dtype.safetensorsName());
        int width = WIDTHS[WIDTHS.length - 1];
        for (int w : WIDTHS) {
            if (2 * blockBytes(w, size) <= target) {
                width = w;
                break;
            }
        }
        // the header's size depends on the tail's shape and the tail's on the header's size: grow the (padded)
        // header until both agree; it only grows, and the unpadded JSON is bounded, so this ends
        int jsonBytes = 0;
        while (true) {
            long data = target - SafetensorsHeader.PREFIX_BYTES - jsonBytes;
            if (data < 0) {
                throw new IllegalArgumentException("totalBytes " + totalBytes + " is too small: the header alone needs "
                        + (SafetensorsHeader.PREFIX_BYTES + jsonBytes) + " bytes");
            }
            List<TensorSpec> specs = specs(data, width, dtype);
            List<TensorSpec> order = SafetensorsWriter.dataOrder(specs);
            int built = SafetensorsHeader.build(order, metadata, jsonBytes).length - SafetensorsHeader.PREFIX_BYTES;
            if (built == jsonBytes) {
                return new Layout(order, metadata, jsonBytes);
            }
            jsonBytes = built;
        }
    }

    private static long blockBytes(long width, int size) {
        return (MATRICES.length * width * width + (MATRICES.length + 2L * NORMS.length) * width) * size;
    }

    /** Whole blocks while they fit, then tail matrices of whole rows (at most width x width) and a 1-D tail for the rest. */
    private static List<TensorSpec> specs(long dataBytes, int width, DType dtype) {
        int size = dtype.size();
        long block = blockBytes(width, size);
        long blocks = dataBytes / block;
        List<TensorSpec> specs = new ArrayList<>();
        for (long b = 0; b < blocks; b++) {
            String prefix = "layers." + b + ".";
            for (String m : MATRICES) {
                specs.add(new TensorSpec(prefix + m + ".weight", dtype, width, width));
                specs.add(new TensorSpec(prefix + m + ".bias", dtype, width));
            }
            for (String n : NORMS) {
                specs.add(new TensorSpec(prefix + n + ".weight", dtype, width));
                specs.add(new TensorSpec(prefix + n + ".bias", dtype, width));
            }
        }
        long rest = dataBytes - blocks * block;
        long rows = rest / ((long) width * size);
        for (long k = 0; k * width < rows; k++) {
            specs.add(new TensorSpec("tail." + k + ".weight", dtype, Math.min(width, rows - k * width), width));
        }
        long last = (rest - rows * width * size) / size;
        if (last > 0 || specs.isEmpty()) {
            specs.add(new TensorSpec("tail.bias", dtype, last));
        }
        return specs;
    }

    private static void generate(TensorSpec spec, long seed, ByteBuffer buffer, WritableByteChannel out) throws IOException {
        DType dtype = spec.dtype();
        float mean = isNormWeight(spec.name()) ? 1f : 0f;
        long state = mix(seed ^ mix(fnv1a(spec.name())));
        long left = spec.numel();
        int perBuffer = buffer.capacity() / dtype.size();
        while (left > 0) {
            int n = (int) Math.min(left, perBuffer);
            buffer.clear();
            for (int i = 0; i < n; i++) {
                state += GOLDEN;
                float g = gaussian(mix(state));
                switch (dtype) {
                    case F32 -> buffer.putFloat(mean + WEIGHT_STD * g);
                    case F64 -> buffer.putDouble(mean + WEIGHT_STD * g);
                    case F16 -> buffer.putShort(FloatConversions.floatToF16(mean + WEIGHT_STD * g));
                    case BF16 -> buffer.putShort(FloatConversions.floatToBf16(mean + WEIGHT_STD * g));
                    case I64 -> buffer.putLong(Math.round(16 * g));
                    case I32 -> buffer.putInt(Math.round(16 * g));
                    case I16 -> buffer.putShort((short) Math.round(16 * g));
                    case I8 -> buffer.put((byte) clamp(Math.round(16 * g), -128, 127));
                    case U8 -> buffer.put((byte) clamp(128 + Math.round(16 * g), 0, 255));
                    case BOOL -> buffer.put((byte) (g > 0 ? 1 : 0));
                }
            }
            buffer.flip();
            out.write(buffer);
            left -= n;
        }
    }

    private static boolean isNormWeight(String name) {
        for (String n : NORMS) {
            if (name.endsWith(n + ".weight")) {
                return true;
            }
        }
        return false;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    /** SplitMix64's finalizer: a fast, well-mixed 64-bit stream from a counter. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Mean 0, variance 1, bell-shaped: Binomial(48, 1/2) from the high bits, smoothed by a uniform from the low 16. */
    private static float gaussian(long z) {
        int ones = Long.bitCount(z >>> 16);
        float u = ((int) (z & 0xFFFF) + 0.5f) * (1f / 65536) - 0.5f;
        return (ones - 24 + u) * INV_STD;
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }
}
