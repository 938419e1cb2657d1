package io.weightstream.bench;

import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.Codecs;
import io.weightstream.policy.Policies;
import io.weightstream.ratecontrol.AllocationOptions;
import io.weightstream.ratecontrol.RateTarget;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The methods the bench measures and their settings: the one place a new codec adds its rows. Declaring a codec
 * (one {@link #codec} line with its quick and full settings) puts it in the default runs with its own curve. A codec
 * that is on the class path but not declared is measured at its defaults when named ({@code --methods NAME} or
 * {@code --setting NAME:k=v}), never by default: its cost is unknown (a codec that trains a network per tensor
 * would turn a 12-minute full run into hours).
 *
 * <pre>{@code
 * // a later issue's codec, in DECLARED:
 * codec("hyper", List.of(BenchSetting.of("bits", "4")),
 *         List.of(BenchSetting.of("bits", "2"), BenchSetting.of("bits", "3"), BenchSetting.of("bits", "4")),
 *         "hypernetwork-coded weights"),
 *
 * List<BenchMethod> quick = BenchMethods.select(List.of(), true);   // lossless, rtn, zstd, ort-int8
 * }</pre>
 */
public final class BenchMethods {
    /** zstd-jni on each tensor's raw bytes: the lossless reference row. */
    public static final String ZSTD = "zstd";
    /** ONNX Runtime's dynamic int8 all-MiniLM-L6-v2 (the {@code -q} artifact): the 8-bit reference row. */
    public static final String ORT_INT8 = "ort-int8";

    private static final List<BenchMethod> DECLARED = List.of(
            codec("lossless", List.of(BenchSetting.DEFAULT), List.of(BenchSetting.DEFAULT),
                    "byte planes + Huffman/rANS, bit-exact"),
            codec("rtn",
                    List.of(BenchSetting.of("bits", "8"), BenchSetting.of("bits", "4", "group.size", "64")),
                    List.of(BenchSetting.of("bits", "8"), BenchSetting.of("bits", "7"), BenchSetting.of("bits", "6"),
                            BenchSetting.of("bits", "5"), BenchSetting.of("bits", "4", "group.size", "64"),
                            BenchSetting.of("bits", "3", "group.size", "64"),
                            BenchSetting.of("bits", "2", "group.size", "64")),
                    "round-to-nearest quantization, per channel or per group of 64"),
            codec("prune", List.of(),
                    List.of(BenchSetting.of("sparsity", "0.1", "quant.bits", "8"),
                            BenchSetting.of("sparsity", "0.2", "quant.bits", "8"),
                            BenchSetting.of("sparsity", "0.3", "quant.bits", "8"),
                            BenchSetting.of("sparsity", "0.5", "quant.bits", "8")),
                    "magnitude pruning, survivors quantized to 8 bits"),
            codec("lowrank", List.of(),
                    List.of(BenchSetting.of("energy", "0.9"), BenchSetting.of("energy", "0.95"),
                            BenchSetting.of("energy", "0.99")),
                    "truncated SVD, float16 factors"),
            // l2: whole-model rate control (ratio=R, io.weightstream.ratecontrol.RateAllocator), data-free
            codec("l2", List.of(),
                    List.of(BenchSetting.of("ratio", "4"), BenchSetting.of("ratio", "6"), BenchSetting.of("ratio", "8"),
                            BenchSetting.of("ratio", "10"), BenchSetting.of("ratio", "12"),
                            BenchSetting.of("ratio", "16")),
                    "joint pruning + quantization + rANS, bits allocated across layers at equal slope"),
            // hyper: the rate-distortion curve of codecs/.../hyper/README.md (U nodes, box side in sigmas); the last
            // row is the paper's own setting (U = 256, thetas packed in a byte, no entropy coding)
            codec("hyper", List.of(),
                    List.of(BenchSetting.DEFAULT, BenchSetting.of("nodes", "16384", "box", "8"),
                            BenchSetting.of("nodes", "4096", "box", "8"), BenchSetting.of("nodes", "4096", "box", "10"),
                            BenchSetting.of("nodes", "1024"), BenchSetting.of("nodes", "256", "box", "6"),
                            BenchSetting.of("nodes", "256", "box", "3", "entropy", "none")),
                    "hyper-compression: pairs of weights as nodes of an irrational winding, entropy-coded"),
            new BenchMethod(ZSTD, BenchMethod.Kind.ZSTD, List.of(BenchSetting.of("level", "3")),
                    List.of(BenchSetting.of("level", "3"), BenchSetting.of("level", "19")),
                    "zstd-jni on each tensor's raw bytes (reference)"),
            new BenchMethod(ORT_INT8, BenchMethod.Kind.ORT_INT8, List.of(new BenchSetting("dynamic-int8", Map.of())),
                    List.of(new BenchSetting("dynamic-int8", Map.of())),
                    "ONNX Runtime's dynamic int8 model, the -q LangChain4j artifact (reference)"));

    private BenchMethods() {
    }

    /** A codec's row family: settings of quick and of full runs. */
    static BenchMethod codec(String name, List<BenchSetting> quick, List<BenchSetting> full, String description) {
        return new BenchMethod(name, BenchMethod.Kind.CODEC, quick, full, description);
    }

    /**
     * Every method: the declared ones in their order, then each codec on the class path that is not declared, at
     * its defaults (run only when named; see {@link #isDeclared}).
     */
    public static List<BenchMethod> all() {
        List<BenchMethod> out = new ArrayList<>();
        for (BenchMethod m : DECLARED) {
            if (m.kind() != BenchMethod.Kind.CODEC || Codecs.find(m.name()).isPresent()) {
                out.add(m);
            }
        }
        for (Codec c : Codecs.all()) {
            if (DECLARED.stream().noneMatch(m -> m.name().equals(c.name()))) {
                out.add(new BenchMethod(c.name(), BenchMethod.Kind.CODEC, List.of(), List.of(BenchSetting.DEFAULT),
                        c.description()));
            }
        }
        return out;
    }

    /** Whether {@code name} is declared here with its own settings (and so measured by default). */
    public static boolean isDeclared(String name) {
        return DECLARED.stream().anyMatch(m -> m.name().equals(name));
    }

    /** The method called {@code name}; IllegalArgumentException listing the known names if there is none. */
    public static BenchMethod get(String name) {
        return find(name).orElseThrow(() -> new IllegalArgumentException("unknown bench method '" + name
                + "'; known: " + String.join(", ", all().stream().map(BenchMethod::name).toList())));
    }

    public static Optional<BenchMethod> find(String name) {
        return all().stream().filter(m -> m.name().equals(name)).findFirst();
    }

    /**
     * The methods of a run: those named (in the order given), or when none are named, every declared method with
     * quick settings for a quick run and every declared method for a full run.
     */
    public static List<BenchMethod> select(List<String> names, boolean quick) {
        if (names == null || names.isEmpty()) {
            return all().stream().filter(m -> isDeclared(m.name()) && (!quick || !m.quickSettings().isEmpty())).toList();
        }
        List<BenchMethod> out = new ArrayList<>();
        for (String n : names) {
            BenchMethod m = get(n.trim());
            if (!out.contains(m)) {
                out.add(m);
            }
        }
        return out;
    }

    /**
     * Parses {@code --setting} values, {@code "rtn:bits=3,group.size=32"}, into settings per method (in the order
     * given), checking each codec parameter.
     *
     * @throws IllegalArgumentException naming the malformed value, the unknown method or the bad parameter
     */
    public static Map<String, List<BenchSetting>> parseSettings(List<String> specs) {
        Map<String, List<BenchSetting>> out = new LinkedHashMap<>();
        for (String spec : specs) {
            int colon = spec.indexOf(':');
            String method = (colon < 0 ? spec : spec.substring(0, colon)).trim();
            BenchMethod m = get(method);
            Map<String, String> params = colon < 0 || spec.substring(colon + 1).isBlank() ? Map.of()
                    : Policies.settings(Arrays.stream(spec.substring(colon + 1).split(",")).map(String::trim).toList());
            switch (m.kind()) {
                case CODEC -> {
                    if (RateTarget.requested(params)) { // l2 whole-model rate control: ratio=R or model.bits=B
                        RateTarget.parse(params);
                        AllocationOptions.fromSettings(params);
                    } else {
                        CodecParams.parse(Codecs.get(method), params);
                    }
                }
                case ZSTD -> zstdLevel(BenchSetting.of(params));
                case ORT_INT8 -> throw new IllegalArgumentException("ort-int8 is a reference model; it has no settings");
            }
            out.computeIfAbsent(method, k -> new ArrayList<>()).add(BenchSetting.of(params));
        }
        return out;
    }

    /** The zstd level of a zstd setting (parameter {@code level}, 1..22, default 3). */
    static int zstdLevel(BenchSetting s) {
        for (String k : s.params().keySet()) {
            if (!k.equals("level")) {
                throw new IllegalArgumentException("zstd takes only 'level', not '" + k + "'");
            }
        }
        String v = s.params().getOrDefault("level", "3");
        int level;
        try {
            level = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("zstd level '" + v + "' is not an integer");
        }
        if (level < 1 || level > 22) {
            throw new IllegalArgumentException("zstd level " + level + " is outside [1, 22]");
        }
        return level;
    }
}
