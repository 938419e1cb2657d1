package io.weightstream.ratecontrol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weightstream.codec.l2.L2Profile;
import io.weightstream.codec.l2.L2Transform;
import io.weightstream.policy.Policies;
import io.weightstream.publish.CheckpointPublisher;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * How {@link RateAllocator} searches and counts. Build with {@link #builder()} or from {@code --set} style settings
 * ({@link #fromSettings}); every option has a default.
 *
 * <pre>{@code
 * AllocationOptions o = AllocationOptions.builder()
 *         .transforms(EnumSet.of(L2Transform.JOINT, L2Transform.LOG))
 *         .sensitivity(Map.of("onnx::MatMul_799", 3.0))     // calibration weights, by tensor name or alias
 *         .build();
 * AllocationOptions p = AllocationOptions.fromSettings(Map.of("ratio", "8", "distortion", "relative"));
 * }</pre>
 */
public final class AllocationOptions {
    /** What each layer's distortion is. */
    public enum Distortion {
        /** {@code sum (w - w')^2}: every weight's error counts the same (data-free default). */
        ABSOLUTE,
        /** {@code sum (w - w')^2 / mean(w^2)}: errors relative to the layer's scale ({@code N relL2^2}). */
        RELATIVE
    }

    /** How each operating point's rate is predicted. */
    public enum Estimator {
        /** The order-0 entropy of the symbol counts under the coder's normalized table, plus the table: exact. */
        EXACT,
        /** The paper's differentiable counter (cosine kernel) on a sample of 2^14 values, plus an estimated table. */
        COUNTER
    }

    /** Which bytes the ratio counts. */
    public enum Accounting {
        /**
         * Checkpoint file bytes / {@code .wsz} container bytes: what {@code weightstream compress} prints (the
         * container also holds the skeleton, the manifest and per-tensor records). Verified by writing the container.
         */
        FILE,
        /** Tensor bytes / payload bytes: the ratio in the {@code ModelVersionCompressed} record. */
        PAYLOADS
    }

    private final Set<L2Transform> transforms;
    private final Distortion distortion;
    private final Map<String, Double> sensitivity;
    private final Estimator estimator;
    private final double counterResolution;
    private final Accounting accounting;
    private final double tolerance;
    private final boolean verify;
    private final int maxRounds;
    private final int threads;
    private final int stepsPerOctave;
    private final int mantissaBits;
    private final boolean keepOneDimensional;
    private final long keepUnderBytes;
    private final String keepMethod;
    private final long maxTensorBytes;

    private AllocationOptions(Builder b) {
        this.transforms = Collections.unmodifiableSet(EnumSet.copyOf(b.transforms));
        this.distortion = b.distortion;
        this.sensitivity = Collections.unmodifiableMap(new LinkedHashMap<>(b.sensitivity));
        this.estimator = b.estimator;
        this.counterResolution = b.counterResolution;
        this.accounting = b.accounting;
        this.tolerance = b.tolerance;
        this.verify = b.verify;
        this.maxRounds = b.maxRounds;
        this.threads = b.threads;
        this.stepsPerOctave = b.stepsPerOctave;
        this.mantissaBits = b.mantissaBits;
        this.keepOneDimensional = b.keepOneDimensional;
        this.keepUnderBytes = b.keepUnderBytes;
        this.keepMethod = b.keepMethod;
        this.maxTensorBytes = b.maxTensorBytes;
    }

    public static AllocationOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The setting keys {@link #fromSettings} reads (besides the target's {@code ratio} / {@code model.bits}). */
    public static final Set<String> SETTING_KEYS = Set.of("transforms", "distortion", "estimator", "accounting",
            "sensitivity", "tolerance", "verify", "threads", "steps.per.octave", "profile.bits");

    /**
     * Options from {@code --set} style settings: {@code transforms=joint,log}, {@code distortion=relative},
     * {@code estimator=counter}, {@code accounting=payloads}, {@code sensitivity=FILE.json} (a JSON object of
     * tensor name or alias to weight, as the calibration writes), {@code tolerance=0.02}, {@code verify=false},
     * {@code threads=2}, {@code steps.per.octave=4}, {@code profile.bits=10}. Keys {@code ratio} and {@code model.bits} are the target
     * ({@link RateTarget#parse}) and are skipped here.
     *
     * @throws IllegalArgumentException naming an unknown key or a bad value
     */
    public static AllocationOptions fromSettings(Map<String, String> settings) {
        Builder b = builder();
        for (Map.Entry<String, String> e : settings.entrySet()) {
            String k = e.getKey();
            String v = e.getValue().trim();
            if (k.equals(RateTarget.RATIO_KEY) || k.equals(RateTarget.BITS_KEY)) {
                continue;
            }
            switch (k) {
                case "transforms" -> {
                    EnumSet<L2Transform> set = EnumSet.noneOf(L2Transform.class);
                    for (String t : v.split(",")) {
                        set.add(parseEnum(L2Transform.class, t, k));
                    }
                    b.transforms(set);
                }
                case "distortion" -> b.distortion(parseEnum(Distortion.class, v, k));
                case "estimator" -> b.estimator(parseEnum(Estimator.class, v, k));
                case "accounting" -> b.accounting(parseEnum(Accounting.class, v, k));
                case "sensitivity" -> b.sensitivity(readSensitivity(Path.of(v)));
                case "tolerance" -> b.tolerance(parseDouble(v, k));
                case "verify" -> b.verify(parseBoolean(v, k));
                case "threads" -> b.threads((int) parseDouble(v, k));
                case "steps.per.octave" -> b.stepsPerOctave((int) parseDouble(v, k));
                case "profile.bits" -> b.mantissaBits((int) parseDouble(v, k));
                default -> throw new IllegalArgumentException("unknown rate-control setting '" + k + "' (known: "
                        + RateTarget.RATIO_KEY + ", " + RateTarget.BITS_KEY + ", "
                        + String.join(", ", SETTING_KEYS.stream().sorted().toList()) + ")");
            }
        }
        return b.build();
    }

    private static <E extends Enum<E>> E parseEnum(Class<E> type, String v, String key) {
        for (E c : type.getEnumConstants()) {
            if (c.name().equalsIgnoreCase(v.trim())) {
                return c;
            }
        }
        throw new IllegalArgumentException(key + ": '" + v + "' is not one of "
                + java.util.Arrays.stream(type.getEnumConstants()).map(c -> c.name().toLowerCase(Locale.ROOT)).toList());
    }

    private static double parseDouble(String v, String key) {
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": '" + v + "' is not a number");
        }
    }

    private static boolean parseBoolean(String v, String key) {
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(v);
        }
        throw new IllegalArgumentException(key + ": '" + v + "' is not true or false");
    }

    /**
     * Reads layer sensitivities: a JSON object of tensor name (or alias) to a positive weight, e.g.
     * {@code {"onnx::MatMul_799": 2.5, "embeddings.word_embeddings.weight": 0.1}}.
     */
    public static Map<String, Double> readSensitivity(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("reading sensitivities " + file, e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": sensitivities are a JSON object of tensor name to weight");
        }
        Map<String, Double> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isNumber()) {
                throw new IllegalArgumentException(file + ": weight of '" + e.getKey() + "' is not a number");
            }
            m.put(e.getKey(), e.getValue().doubleValue());
        }
        return m;
    }

    /** The transforms each layer may use. */
    public Set<L2Transform> transforms() {
        return transforms;
    }

    public Distortion distortion() {
        return distortion;
    }

    /** Per-layer weights of the distortion, by tensor name or alias (default 1). */
    public Map<String, Double> sensitivity() {
        return sensitivity;
    }

    public Estimator estimator() {
        return estimator;
    }

    /** The differentiable counter's kernel: {@code delta = (max t - min t) / resolution}. */
    public double counterResolution() {
        return counterResolution;
    }

    public Accounting accounting() {
        return accounting;
    }

    /** The largest relative miss of the target that is accepted after verification. */
    public double tolerance() {
        return tolerance;
    }

    /** Whether the allocation is checked by compressing the model for real (and corrected if it missed). */
    public boolean verify() {
        return verify;
    }

    /** Most verify-and-correct rounds. */
    public int maxRounds() {
        return maxRounds;
    }

    public int threads() {
        return threads;
    }

    /** Density of the step grid: candidate steps are {@code 2^(j / stepsPerOctave)} RMS. */
    public int stepsPerOctave() {
        return stepsPerOctave;
    }

    /** Resolution of the layer profiles ({@link L2Profile#of(float[], int)}). */
    public int mantissaBits() {
        return mantissaBits;
    }

    public boolean keepOneDimensional() {
        return keepOneDimensional;
    }

    public long keepUnderBytes() {
        return keepUnderBytes;
    }

    /** The lossless method for kept tensors (and for layers whose best choice is lossless). */
    public String keepMethod() {
        return keepMethod;
    }

    /** Tensors larger than this are split into row blocks as the publisher does (each block is a layer). */
    public long maxTensorBytes() {
        return maxTensorBytes;
    }

    /** Fluent builder; {@link #build()} checks every value. */
    public static final class Builder {
        private Set<L2Transform> transforms = EnumSet.allOf(L2Transform.class);
        private Distortion distortion = Distortion.ABSOLUTE;
        private Map<String, Double> sensitivity = Map.of();
        private Estimator estimator = Estimator.EXACT;
        private double counterResolution = io.weightstream.codec.l2.DifferentiableCounter.DEFAULT_RESOLUTION;
        private Accounting accounting = Accounting.FILE;
        private double tolerance = 0.02;
        private boolean verify = true;
        private int maxRounds = 3;
        private int threads = Runtime.getRuntime().availableProcessors();
        private int stepsPerOctave = 4;
        private int mantissaBits = L2Profile.DEFAULT_MANTISSA_BITS;
        private boolean keepOneDimensional = true;
        private long keepUnderBytes = 0;
        private String keepMethod = Policies.DEFAULT_KEEP_METHOD;
        private long maxTensorBytes = CheckpointPublisher.DEFAULT_MAX_TENSOR_BYTES;

        private Builder() {
        }

        public Builder transforms(Set<L2Transform> v) {
            this.transforms = v;
            return this;
        }

        public Builder distortion(Distortion v) {
            this.distortion = v;
            return this;
        }

        public Builder sensitivity(Map<String, Double> v) {
            this.sensitivity = v;
            return this;
        }

        public Builder estimator(Estimator v) {
            this.estimator = v;
            return this;
        }

        public Builder counterResolution(double v) {
            this.counterResolution = v;
            return this;
        }

        public Builder accounting(Accounting v) {
            this.accounting = v;
            return this;
        }

        public Builder tolerance(double v) {
            this.tolerance = v;
            return this;
        }

        public Builder verify(boolean v) {
            this.verify = v;
            return this;
        }

        public Builder maxRounds(int v) {
            this.maxRounds = v;
            return this;
        }

        public Builder threads(int v) {
            this.threads = v;
            return this;
        }

        public Builder stepsPerOctave(int v) {
            this.stepsPerOctave = v;
            return this;
        }

        public Builder mantissaBits(int v) {
            this.mantissaBits = v;
            return this;
        }

        public Builder keepOneDimensional(boolean v) {
            this.keepOneDimensional = v;
            return this;
        }

        public Builder keepUnderBytes(long v) {
            this.keepUnderBytes = v;
            return this;
        }

        public Builder keepMethod(String v) {
            this.keepMethod = v;
            return this;
        }

        public Builder maxTensorBytes(long v) {
            this.maxTensorBytes = v;
            return this;
        }

        public AllocationOptions build() {
            if (transforms == null || transforms.isEmpty()) {
                throw new IllegalArgumentException("transforms: at least one transform is needed");
            }
            if (sensitivity == null) {
                throw new IllegalArgumentException("sensitivity: null (use an empty map for none)");
            }
            for (Map.Entry<String, Double> e : sensitivity.entrySet()) {
                if (e.getValue() == null || !(e.getValue() > 0) || !Double.isFinite(e.getValue())) {
                    throw new IllegalArgumentException("sensitivity of '" + e.getKey() + "' is " + e.getValue()
                            + ", not a positive number");
                }
            }
            if (distortion == null || estimator == null || accounting == null || keepMethod == null) {
                throw new IllegalArgumentException("distortion, estimator, accounting and keepMethod must be set");
            }
            if (!(counterResolution >= 1)) {
                throw new IllegalArgumentException("counterResolution " + counterResolution + " is below 1");
            }
            if (!(tolerance > 0 && tolerance < 0.5)) {
                throw new IllegalArgumentException("tolerance " + tolerance + " not in (0, 0.5)");
            }
            if (maxRounds < 1 || maxRounds > 10) {
                throw new IllegalArgumentException("maxRounds " + maxRounds + " not in [1, 10]");
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads " + threads + " is below 1");
            }
            if (stepsPerOctave < 1 || stepsPerOctave > 32) {
                throw new IllegalArgumentException("stepsPerOctave " + stepsPerOctave + " not in [1, 32]");
            }
            if (mantissaBits < 4 || mantissaBits > 16) {
                throw new IllegalArgumentException("mantissaBits " + mantissaBits + " not in [4, 16]");
            }
            if (keepUnderBytes < 0 || maxTensorBytes < 1) {
                throw new IllegalArgumentException("keepUnderBytes must be >= 0 and maxTensorBytes >= 1");
            }
            return new AllocationOptions(this);
        }
    }
}
