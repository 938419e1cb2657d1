package io.weightstream.checkpoint.safetensors;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates real generated files (bit flips and JSON-significant bytes in the header and length prefix, truncations,
 * length lies, inserted and deleted bytes) with a fixed seed: opening each one either succeeds, and then every
 * tensor reads back, or throws {@link CheckpointFormatException} with an offset inside the file. Nothing else.
 */
class SafetensorsFuzzTest {
    private static final int ITERATIONS = 4000;
    private static final byte[] INTERESTING = "{}[]\":,-0123456789e.\\ nu\u0000".getBytes(StandardCharsets.ISO_8859_1);

    @TempDir
    Path dir;

    @Test
    void mutatedFilesOnlyEverThrowCheckpointFormatException() throws IOException {
        List<byte[]> seeds = seedFiles();
        Random random = new Random(0x5afe7e5L);
        Path file = dir.resolve("fuzz.safetensors");
        ByteBuffer scratch = ByteBuffer.allocate(1 << 16);
        int accepted = 0;
        int rejected = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            byte[] original = seeds.get(random.nextInt(seeds.size()));
            StringBuilder what = new StringBuilder();
            byte[] mutated = mutate(original, random, what);
            if (random.nextInt(4) == 0) {
                mutated = mutate(mutated, random, what.append(" then "));
            }
            Files.write(file, mutated);
            try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
                // accepted: it must be fully usable
                assertThat(ckpt.skeleton().length + ckpt.tensors().stream().mapToLong(CheckpointTensor::byteSize).sum())
                        .as("iteration %d (%s)", i, what).isEqualTo(mutated.length);
                for (CheckpointTensor t : ckpt.tensors()) {
                    for (long off = 0; off < t.byteSize(); ) {
                        scratch.clear();
                        off += t.read(off, scratch);
                    }
                    if (t.byteSize() <= Integer.MAX_VALUE) {
                        assertThat(t.data().remaining()).isEqualTo((int) t.byteSize());
                    }
                }
                accepted++;
            } catch (CheckpointFormatException e) {
                assertThat(e.file()).isEqualTo(file);
                assertThat(e.offset()).as("iteration %d (%s): %s", i, what, e.getMessage()).isBetween(0L, (long) mutated.length);
                rejected++;
            } catch (Throwable t) {
                throw new AssertionError("iteration " + i + " (" + what + ") threw " + t, t);
            }
        }
        // both outcomes happen, so the mutations do reach past the first check
        assertThat(rejected).isGreaterThan(ITERATIONS / 2);
        assertThat(accepted).isGreaterThan(10);
    }

    private byte[] mutate(byte[] in, Random random, StringBuilder what) {
        byte[] b = in.clone();
        int header = headerEnd(b);
        switch (random.nextInt(7)) {
            case 0 -> {
                int flips = 1 + random.nextInt(4);
                for (int k = 0; k < flips; k++) {
                    int at = random.nextInt(header);
                    b[at] ^= (byte) (1 << random.nextInt(8));
                }
                what.append("flip ").append(flips).append(" bits");
            }
            case 1 -> {
                int at = 8 + random.nextInt(Math.max(1, header - 8));
                if (at < b.length) {
                    b[at] = INTERESTING[random.nextInt(INTERESTING.length)];
                }
                what.append("set byte ").append(at);
            }
            case 2 -> {
                int len = random.nextInt(b.length + 1);
                what.append("truncate to ").append(len);
                return Arrays.copyOf(b, len);
            }
            case 3 -> {
                long n = header - 8L;
                long lie = switch (random.nextInt(4)) {
                    case 0 -> n + random.nextInt(33) - 16;
                    case 1 -> random.nextLong();
                    case 2 -> random.nextInt(b.length + 64);
                    default -> (1L << random.nextInt(64)) + random.nextInt(3) - 1;
                };
                if (b.length >= 8) {
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, lie);
                }
                what.append("length lie ").append(Long.toUnsignedString(lie));
            }
            case 4 -> {
                // delete one header byte and fix the length, so the JSON itself is what breaks
                int at = 8 + random.nextInt(Math.max(1, header - 8));
                if (at >= b.length) {
                    return b;
                }
                byte[] out = new byte[b.length - 1];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(b, at + 1, out, at, b.length - at - 1);
                if (header - 9 >= 0 && out.length >= 8) {
                    ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header - 9);
                }
                what.append("delete byte ").append(at);
                return out;
            }
            case 5 -> {
                int at = 8 + random.nextInt(Math.max(1, header - 8));
                at = Math.min(at, b.length);
                byte[] out = new byte[b.length + 1];
                System.arraycopy(b, 0, out, 0, at);
                out[at] = INTERESTING[random.nextInt(INTERESTING.length)];
                System.arraycopy(b, at, out, at + 1, b.length - at);
                if (out.length >= 8) {
                    ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header - 7);
                }
                what.append("insert byte ").append(at);
                return out;
            }
            default -> {
                // a digit of a shape or offset changed: the kind of lie that is still valid JSON
                String json = new String(b, 8, header - 8, StandardCharsets.ISO_8859_1);
                int digits = 0;
                for (int k = 0; k < json.length(); k++) {
                    digits += Character.isDigit(json.charAt(k)) ? 1 : 0;
                }
                if (digits == 0) {
                    return b;
                }
                int pick = random.nextInt(digits);
                for (int k = 0; k < json.length(); k++) {
                    if (Character.isDigit(json.charAt(k)) && pick-- == 0) {
                        b[8 + k] = (byte) ('0' + random.nextInt(10));
                        what.append("digit at ").append(8 + k);
                        break;
                    }
                }
            }
        }
        return b;
    }

    /** End of the header as the (possibly already mutated) prefix says, clamped to the file. */
    private static int headerEnd(byte[] b) {
        if (b.length < 8) {
            return Math.max(1, b.length);
        }
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return (int) Math.max(8, Math.min(b.length, n < 0 ? b.length : 8 + n));
    }

    private List<byte[]> seedFiles() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        Random random = new Random(11);
        List<Tensor> mixed = new ArrayList<>();
        for (DType t : DType.values()) {
            mixed.addAll(SafetensorsTestFiles.randomTensors(t, t.name().toLowerCase() + ".", random));
        }
        Path a = dir.resolve("mixed.safetensors");
        SafetensorsWriter.write(mixed, Map.of("format", "pt", "note", "fuzz seed"), a);
        seeds.add(Files.readAllBytes(a));
        Path b = dir.resolve("synthetic.safetensors");
        SyntheticCheckpoint.write(b, 48 << 10, DType.BF16, 3);
        seeds.add(Files.readAllBytes(b));
        String json = "{\"b\": {\"shape\": [2], \"data_offsets\": [8, 16], \"dtype\": \"F32\", \"x\": [1, {\"y\": null}]},"
                + " \"__metadata__\": {\"k\": \"v\"}, \"a\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [0, 8]}}  ";
        seeds.add(Files.readAllBytes(SafetensorsTestFiles.raw(dir, "foreign.safetensors", json, new byte[16])));
        return seeds;
    }
}
