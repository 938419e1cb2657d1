package io.weightstream.checkpoint.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.CheckpointTensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated and truncated models: opening one either works or throws {@link CheckpointFormatException}; nothing
 * else escapes (no OutOfMemoryError, no IndexOutOfBounds, no protobuf exception). A file that opens also
 * rebuilds through its own skeleton into a file with the same tensors (checked for every eighth one).
 *
 * <p>The base is the real model's graph with its tensors cut to a few elements ({@link
 * OnnxTestModels#shrunkRealModel}), so that thousands of iterations take seconds. Mutations go mostly to the
 * first KiB (model header, first nodes), to tensor boundaries (message starts, raw data starts and ends), and
 * anywhere else.
 */
class OnnxFuzzTest {
    /** Fixed, so a failure reproduces; {@code -Dweightstream.fuzz.seed=N} explores other inputs. */
    private static final long SEED = Long.getLong("weightstream.fuzz.seed", 20_240_917L);
    private static final int MUTATIONS = 3000;
    private static final int TRUNCATIONS = 500;
    /** Rebuilding forces files to disk: check one opened file in this many, to stay fast. */
    private static final int REBUILD_EVERY = 8;

    @TempDir
    static Path tmp;

    private static byte[] base;
    private static int[] boundaries;

    @BeforeAll
    static void buildBase() throws IOException {
        base = OnnxTestModels.shrunkRealModel().toByteArray();
        Path file = Files.write(tmp.resolve("base.onnx"), base);
        TreeSet<Integer> points = new TreeSet<>();
        try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
            assertThat(ckpt.tensors()).hasSizeGreaterThan(200);
            for (int i = 0; i < ckpt.tensors().size(); i++) {
                long at = ckpt.dataOffset(i);
                if (at >= 0) {
                    points.add((int) at); // raw data start
                    points.add((int) (at + ckpt.tensors().get(i).byteSize())); // and end
                    points.add((int) at - 1); // the length varint before it
                }
            }
        }
        boundaries = points.stream().mapToInt(Integer::intValue).toArray();
        System.out.printf("fuzz base: %d bytes, %d boundaries%n", base.length, boundaries.length);
    }

    @Test
    void mutatedModelsOpenOrFailCleanly() throws IOException {
        double cpu0 = cpuSeconds();
        Random random = new Random(SEED);
        Outcomes outcomes = new Outcomes();
        for (int i = 0; i < MUTATIONS; i++) {
            byte[] bytes = base.clone();
            int edits = 1 + random.nextInt(3);
            for (int e = 0; e < edits; e++) {
                mutate(bytes, position(random, bytes.length), random);
            }
            outcomes.check("mutation " + i, bytes);
        }
        System.out.printf("fuzz mutations: %s; %.1f s of CPU%n", outcomes, cpuSeconds() - cpu0);
        assertThat(outcomes.failed).isGreaterThan(MUTATIONS / 10);
        assertThat(outcomes.opened).isGreaterThan(MUTATIONS / 10);
    }

    @Test
    void truncatedModelsFailCleanly() throws IOException {
        Random random = new Random(SEED + 1);
        Outcomes outcomes = new Outcomes();
        for (int i = 0; i < TRUNCATIONS; i++) {
            int cut = random.nextBoolean() ? position(random, base.length) : random.nextInt(base.length);
            outcomes.check("truncation at " + cut, java.util.Arrays.copyOf(base, cut));
        }
        // the real file, cut inside its first tensors
        byte[] head;
        try (InputStream in = Files.newInputStream(OnnxTestModels.realModel())) {
            head = in.readNBytes(1 << 20);
        }
        for (int cut : new int[] {0, 1, 7, 64, 1 << 10, 1 << 12, 1 << 16, 1 << 20}) {
            outcomes.check("real model truncated at " + cut, java.util.Arrays.copyOf(head, cut));
        }
        System.out.println("fuzz truncations: " + outcomes);
        // cut anywhere before its last field, the model's graph runs past the end
        assertThat(outcomes.opened).isLessThan(TRUNCATIONS / 50);
    }

    private static double cpuSeconds() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() / 1e9;
    }

    /** Mostly the first KiB and tensor boundaries, sometimes anywhere. */
    private static int position(Random random, int length) {
        int kind = random.nextInt(4);
        int p;
        if (kind <= 1) {
            p = random.nextInt(Math.min(1024, length));
        } else if (kind == 2) {
            p = boundaries[random.nextInt(boundaries.length)] + random.nextInt(5) - 2;
        } else {
            p = random.nextInt(length);
        }
        return Math.max(0, Math.min(length - 1, p));
    }

    private static void mutate(byte[] bytes, int at, Random random) {
        switch (random.nextInt(6)) {
            case 0 -> bytes[at] = (byte) random.nextInt(256);
            case 1 -> bytes[at] ^= (byte) (1 << random.nextInt(8));
            case 2 -> bytes[at] = 0;
            case 3 -> bytes[at] = (byte) 0xff;
            case 4 -> bytes[at] = (byte) (bytes[at] + (random.nextBoolean() ? 1 : -1)); // off-by-one lengths
            default -> {
                // a huge varint: lengths and dims of gigabytes
                for (int i = 0; i < 5 && at + i < bytes.length; i++) {
                    bytes[at + i] = (byte) (i < 4 ? 0xff : 0x07);
                }
            }
        }
    }

    private static final class Outcomes {
        int opened;
        int failed;
        int iteration;

        void check(String what, byte[] bytes) throws IOException {
            Path file = Files.write(tmp.resolve("m" + (iteration++ % 2) + ".onnx"), bytes);
            boolean rebuild = opened % REBUILD_EVERY == 0;
            Map<String, byte[]> read = new HashMap<>();
            byte[] skeleton;
            try (OnnxCheckpoint ckpt = OnnxCheckpoint.open(file)) {
                skeleton = ckpt.skeleton();
                for (CheckpointTensor t : ckpt.tensors()) {
                    if (rebuild) {
                        read.put(t.name(), OnnxTestModels.bytes(t));
                    } else {
                        t.read(Math.max(0, t.byteSize() - 4), ByteBuffer.allocate(4)); // the end of the data is there
                    }
                }
            } catch (CheckpointFormatException e) {
                assertThat(e.file()).isEqualTo(file);
                assertThat(e.offset()).as(what).isBetween(-1L, (long) bytes.length);
                failed++;
                return;
            } catch (Throwable t) {
                throw new AssertionError(what + " (seed " + SEED + "): " + t, t);
            }
            opened++;
            if (!rebuild) {
                return;
            }
            // what opens, rebuilds: the same tensors come back out of the rebuilt file
            Path rebuilt = tmp.resolve("rebuilt.onnx");
            try {
                OnnxWriter.write(skeleton, name -> ByteBuffer.wrap(read.get(name)), rebuilt);
                try (OnnxCheckpoint again = OnnxCheckpoint.open(rebuilt)) {
                    List<String> names = new ArrayList<>();
                    for (CheckpointTensor t : again.tensors()) {
                        names.add(t.name());
                        assertThat(OnnxTestModels.bytes(t)).as(what + ": tensor " + t.name()).isEqualTo(read.get(t.name()));
                    }
                    assertThat(names).as(what).containsExactlyInAnyOrderElementsOf(read.keySet());
                }
            } catch (Throwable t) {
                throw new AssertionError(what + " (seed " + SEED + "): rebuilding failed: " + t, t);
            }
        }

        @Override
        public String toString() {
            return opened + " opened, " + failed + " refused with CheckpointFormatException";
        }
    }
}
