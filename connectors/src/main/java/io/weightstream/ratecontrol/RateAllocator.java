package io.weightstream.ratecontrol;

import io.weightstream.concurrent.Futures;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.codec.Codec;
import io.weightstream.codec.Codecs;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.l2.L2Codec;
import io.weightstream.codec.l2.L2Point;
import io.weightstream.codec.l2.L2Profile;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.compress.WszContainer;
import io.weightstream.policy.CodecChoice;
import io.weightstream.policy.Policies;
import io.weightstream.policy.PolicyResolver;
import io.weightstream.publish.RowBlocks;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.PolicyRule;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Whole-model rate control for the {@code l2} codec: given every tensor of a checkpoint and a target ratio (or bits
 * per weight), chooses each layer's transform, step and prune threshold so that the whole model meets the target
 * at the least total distortion, and returns the {@link CompressionPolicy} (one exact rule per layer) that the
 * offline CLI, the publisher and the Flink job apply unchanged.
 *
 * <ol>
 *   <li>Every float tensor of rank >= 2 (each row block of one larger than {@code maxTensorBytes}) is a layer;
 *       the rest (1-D, non-float, non-finite, under {@code keepUnderBytes}) is kept by the lossless keep method
 *       and its exact payload size is counted against the budget.</li>
 *   <li>Each layer is profiled once ({@link L2Profile}) and its rate-distortion curve computed over a grid of
 *       (transform, step, threshold or knee): rate = predicted payload bytes (exact symbol counts, or the paper's
 *       differentiable counter with {@code estimator=counter}), distortion = squared weight error times the layer's
 *       weight ({@code distortion=relative} divides by the layer's mean square; calibration multiplies by measured
 *       sensitivities). Coding the layer exactly is a point of the curve too. Only the lower convex hull is kept.</li>
 *   <li>Allocation at equal slope: every layer starts at its cheapest point and hull segments are taken in order of
 *       decreasing distortion saved per byte while they fit the budget (the Lagrangian solution, filled up to
 *       the budget).</li>
 *   <li>Verification ({@code verify=true}): the model is compressed for real with the policy (the same
 *       {@link OfflineCompressor} as {@code weightstream compress}, and with FILE accounting the container is
 *       written), and if the result misses the budget by more than a quarter of the tolerance, each layer's rates
 *       are corrected by its measured / predicted bytes and the allocation is redone (at most {@code maxRounds}).</li>
 * </ol>
 *
 * <pre>{@code
 * try (Checkpoint ckpt = Checkpoint.open(Path.of("model.onnx"))) {
 *     Allocation a = RateAllocator.allocate(ckpt, RateTarget.ratio(8), AllocationOptions.defaults());
 *     CompressionPolicy policy = a.policy();      // --method l2 --set ratio=8
 *     System.out.print(a.table());                 // per-layer (transform, step, e), bits, errors
 * }
 * // or from CLI settings: RateAllocator.policy(ckpt, Map.of("ratio", "8", "distortion", "relative"))
 * }</pre>
 */
public final class RateAllocator {
    /** Container bytes per tensor besides its payload (records, manifest entry, hashes), before verification. */
    static final int RECORD_OVERHEAD = 360;
    /** Container bytes besides the tensors and the skeleton (header, version summary). */
    static final int CONTAINER_OVERHEAD = 2048;

    private RateAllocator() {
    }

    /**
     * The policy for CLI-style settings: the target ({@code ratio=R} or {@code model.bits=B}) and the options of
     * {@link AllocationOptions#fromSettings}.
     */
    public static Allocation allocate(Checkpoint ckpt, Map<String, String> settings) {
        return allocate(ckpt, RateTarget.parse(settings), AllocationOptions.fromSettings(settings));
    }

    /**
     * Allocates bits across the layers of {@code ckpt} for {@code target}.
     *
     * @throws IllegalArgumentException if the target cannot be reached (even the coarsest point of every layer
     *                                  is too large), naming the largest reachable ratio
     */
    public static Allocation allocate(Checkpoint ckpt, RateTarget target, AllocationOptions options) {
        long t0 = System.nanoTime();
        Codec keep = Codecs.get(options.keepMethod());
        if (!keep.isLossless()) {
            throw new IllegalArgumentException("keep method '" + options.keepMethod() + "' is not lossless");
        }
        L2Codec l2 = (L2Codec) Codecs.get(L2Codec.NAME);
        Survey survey = survey(ckpt, keep, l2, options);

        boolean file = options.accounting() == AllocationOptions.Accounting.FILE;
        long original = file ? ckpt.fileBytes() : survey.tensorBytes;
        double budget = target.budgetBytes(original, survey.elements);
        double overhead = file ? estimatedOverhead(ckpt, survey) : 0;

        int[] state = null;
        double lambda = 0;
        long verified = -1;
        double predicted = 0;
        int rounds = 0;
        Map<String, long[]> measured = new HashMap<>();
        Map<String, Double> measuredRel = new HashMap<>();
        for (int round = 1; round <= options.maxRounds(); round++) {
            rounds = round;
            double layerBudget = budget - survey.keptBytes - overhead;
            Greedy g = greedy(survey.curves, layerBudget);
            if (g == null) {
                double minimum = survey.keptBytes + overhead;
                for (LayerCurve c : survey.curves) {
                    minimum += c.bytes(0);
                }
                throw new IllegalArgumentException("target " + target + " is out of reach: the coarsest allocation "
                        + "takes " + (long) minimum + " bytes (ratio " + String.format("%.2f", original / minimum)
                        + ", " + String.format("%.3f", 8 * minimum / survey.elements) + " bits/weight), the budget is "
                        + (long) budget);
            }
            state = g.state;
            lambda = g.lambda;
            predicted = survey.keptBytes + overhead + g.bytes;
            if (!options.verify()) {
                break;
            }
            CompressionPolicy policy = policy(survey, state, options);
            Verification v = verify(ckpt, policy, options, file);
            verified = v.encodedBytes;
            measured.clear();
            measured.putAll(v.payloadBytes);
            measuredRel.clear();
            measuredRel.putAll(v.relL2);
            double miss = verified / budget - 1;
            if (Math.abs(miss) <= options.tolerance() / 4 || round == options.maxRounds()) {
                break;
            }
            // correct each layer's rates by what its chosen point really cost, and the overhead by what it was
            for (int i = 0; i < survey.curves.size(); i++) {
                LayerCurve c = survey.curves.get(i);
                long[] m = v.payloadBytes.get(c.name);
                if (m != null && c.hull.get(state[i]).bytes() > 0) {
                    c.correction = m[0] / c.hull.get(state[i]).bytes();
                }
            }
            if (file) {
                long payloads = 0;
                for (long[] m : v.payloadBytes.values()) {
                    payloads += m[0];
                }
                overhead = verified - payloads;
            }
        }
        List<LayerChoice> layers = choices(survey, state, measured, measuredRel, options.keepMethod());
        return new Allocation(target, options.accounting(), policy(survey, state, options), layers, survey.keptTensors,
                survey.keptBytes, original, survey.elements, budget, predicted, verified, lambda, rounds,
                (System.nanoTime() - t0) / 1e9);
    }

    // ---------------------------------------------------------------- survey: profiles and curves

    /** Every layer's curve and the kept tensors' exact sizes. */
    private record Survey(List<LayerCurve> curves, int keptTensors, long keptBytes, long tensorBytes, long elements,
                          Map<String, Integer> nameLengths) {
    }

    private record Job(CheckpointTensor src, RowBlocks.Block block) {
    }

    /** A layer's curve, or (curve null) a kept tensor's payload size. */
    private record Surveyed(LayerCurve curve, long keptBytes) {
    }

    private static Survey survey(Checkpoint ckpt, Codec keep, L2Codec l2, AllocationOptions options) {
        List<Job> jobs = new ArrayList<>();
        long tensorBytes = 0;
        long elements = 0;
        Map<String, Integer> nameLengths = new LinkedHashMap<>();
        for (CheckpointTensor t : ckpt.tensors()) {
            tensorBytes += t.byteSize();
            elements += t.spec().numel();
            for (RowBlocks.Block b : RowBlocks.of(t.spec(), options.maxTensorBytes())) {
                jobs.add(new Job(t, b));
                nameLengths.put(b.name(), utf8(b.name()) + (t.alias() == null ? 0 : utf8(t.alias())));
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(options.threads(), r -> {
            Thread th = new Thread(r, "weightstream-ratecontrol");
            th.setDaemon(true);
            return th;
        });
        List<LayerCurve> curves = new ArrayList<>();
        int kept = 0;
        long keptBytes = 0;
        try {
            List<Future<Surveyed>> futures = new ArrayList<>();
            for (Job j : jobs) {
                futures.add(pool.submit(() -> surveyOne(j, keep, l2, options)));
            }
            for (Future<Surveyed> f : futures) {
                Surveyed s = Futures.join(f, "surveying the layers");
                if (s.curve != null) {
                    curves.add(s.curve);
                } else {
                    kept++;
                    keptBytes += s.keptBytes;
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return new Survey(curves, kept, keptBytes, tensorBytes, elements, nameLengths);
    }

    private static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static Surveyed surveyOne(Job j, Codec keep, L2Codec l2, AllocationOptions options) {
        RowBlocks.Block b = j.block;
        if (b.bytes() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor block " + b.name() + " of " + b.bytes() + " bytes is too large");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) b.bytes());
        j.src.read(b.offset(), buf);
        buf.flip();
        TensorSpec spec = new TensorSpec(b.name(), j.src.spec().dtype(), b.shape());
        Tensor tensor = new Tensor(spec, buf);
        boolean candidate = spec.dtype().isFloatingPoint() && l2.supportedDTypes().contains(spec.dtype())
                && !(options.keepOneDimensional() && spec.rank() <= 1) && spec.byteSize() >= options.keepUnderBytes();
        long losslessBytes = keep.encode(tensor, keep.defaultParams()).length;
        if (!candidate) {
            return new Surveyed(null, losslessBytes);
        }
        L2Profile profile;
        try {
            profile = L2Profile.of(tensor.toFloats(), options.mantissaBits());
        } catch (IllegalArgumentException nonFinite) {
            return new Surveyed(null, losslessBytes);
        }
        double weight = sensitivity(options, b.name(), j.src.name(), j.src.alias());
        if (options.distortion() == AllocationOptions.Distortion.RELATIVE && profile.sumSquares() > 0) {
            weight *= profile.count() / profile.sumSquares();
        }
        int header = PayloadHeader.of(l2, spec).size();
        return new Surveyed(LayerCurve.build(b.name(), j.src.alias(), b.bytes(), profile, header, losslessBytes, weight,
                options), 0);
    }

    private static double sensitivity(AllocationOptions options, String name, String parent, String alias) {
        Map<String, Double> s = options.sensitivity();
        for (String key : new String[] {name, parent, alias}) {
            if (key != null && s.containsKey(key)) {
                return s.get(key);
            }
        }
        return 1;
    }

    /** What the container holds besides the payloads, before it was measured. */
    private static double estimatedOverhead(Checkpoint ckpt, Survey survey) {
        double o = CONTAINER_OVERHEAD + ckpt.skeleton().length;
        for (int len : survey.nameLengths.values()) {
            o += RECORD_OVERHEAD + 3 * len;
        }
        for (LayerCurve c : survey.curves) {
            o += utf8(c.name) + 80; // its policy rule
        }
        return o;
    }

    // ---------------------------------------------------------------- allocation at equal slope

    private record Greedy(int[] state, double bytes, double lambda) {
    }

    /**
     * Takes hull segments in order of decreasing slope while they fit; null if even the cheapest points exceed
     * the budget.
     */
    static Greedy greedy(List<LayerCurve> curves, double budget) {
        int n = curves.size();
        int[] state = new int[n];
        double used = 0;
        for (LayerCurve c : curves) {
            used += c.bytes(0);
        }
        if (used > budget) {
            return null;
        }
        record Segment(int layer, int from, double slope) {
        }
        PriorityQueue<Segment> queue = new PriorityQueue<>((a, b) -> {
            int c = Double.compare(b.slope, a.slope);
            return c != 0 ? c : Integer.compare(a.layer, b.layer);
        });
        for (int i = 0; i < n; i++) {
            if (curves.get(i).hull.size() > 1) {
                queue.add(new Segment(i, 0, curves.get(i).slope(0)));
            }
        }
        double lambda = Double.POSITIVE_INFINITY;
        double firstRejected = 0;
        while (!queue.isEmpty()) {
            Segment s = queue.poll();
            LayerCurve c = curves.get(s.layer);
            double delta = c.bytes(s.from + 1) - c.bytes(s.from);
            if (used + delta > budget) {
                firstRejected = Math.max(firstRejected, s.slope);
                continue; // this layer stays; cheaper steps of other layers may still fit
            }
            used += delta;
            state[s.layer] = s.from + 1;
            lambda = s.slope;
            if (s.from + 2 < c.hull.size()) {
                queue.add(new Segment(s.layer, s.from + 1, c.slope(s.from + 1)));
            }
        }
        if (lambda == Double.POSITIVE_INFINITY) {
            lambda = firstRejected;
        }
        return new Greedy(state, used, lambda);
    }

    // ---------------------------------------------------------------- policy and verification

    private static CompressionPolicy policy(Survey survey, int[] state, AllocationOptions options) {
        List<PolicyRule> rules = new ArrayList<>();
        for (int i = 0; i < survey.curves.size(); i++) {
            LayerCurve c = survey.curves.get(i);
            L2Point p = c.hull.get(state[i]).point();
            if (p != null) {
                rules.add(PolicyRule.newBuilder().setPattern(c.name).setMethod(L2Codec.NAME)
                        .setParams(new LinkedHashMap<>(p.params())).build());
            }
        }
        CompressionPolicy policy = CompressionPolicy.newBuilder().setDefaultMethod(options.keepMethod())
                .setDefaultParams(new LinkedHashMap<>()).setRules(rules).setKeepMethod(options.keepMethod())
                .setKeepOneDimensional(options.keepOneDimensional()).setKeepUnderBytes(options.keepUnderBytes())
                .build();
        Policies.validate(policy);
        // a rule is a glob on names and aliases: make sure each layer resolves to its own rule
        PolicyResolver resolver = new PolicyResolver(policy);
        for (int i = 0; i < survey.curves.size(); i++) {
            LayerCurve c = survey.curves.get(i);
            L2Point p = c.hull.get(state[i]).point();
            CodecChoice got = resolver.primary(c.name, c.alias);
            boolean ok = p == null ? got.method().equals(options.keepMethod())
                    : got.method().equals(L2Codec.NAME) && got.params().toMap(false).equals(p.params());
            if (!ok) {
                throw new IllegalStateException("tensor '" + c.name + "' resolves to " + got + " instead of its own "
                        + "rule: its name or alias collides with another rule's pattern");
            }
        }
        return policy;
    }

    private record Verification(long encodedBytes, Map<String, long[]> payloadBytes, Map<String, Double> relL2) {
    }

    /** Compresses the model for real with {@code policy}: payload bytes per tensor and, for FILE, the container. */
    private static Verification verify(Checkpoint ckpt, CompressionPolicy policy, AllocationOptions options, boolean file) {
        OfflineCompressor.Result r = new OfflineCompressor(options.threads(), options.maxTensorBytes(),
                io.weightstream.compress.CompressedChunks.DEFAULT_CHUNK_BYTES)
                .compress(ckpt, "ratecontrol", "verify", policy, row -> { });
        Map<String, long[]> bytes = new HashMap<>();
        Map<String, Double> rel = new HashMap<>();
        long payloads = 0;
        for (OfflineCompressor.TensorRow row : r.rows()) {
            bytes.put(row.entry().getName(), new long[] {row.compressed().encodedBytes()});
            rel.put(row.entry().getName(), row.compressed().metrics().relL2());
            payloads += row.compressed().encodedBytes();
        }
        if (!file) {
            return new Verification(payloads, bytes, rel);
        }
        Path tmp = null;
        try {
            tmp = Files.createTempFile("weightstream-ratecontrol-", ".wsz");
            WszContainer.write(tmp, r.version(), r.chunks());
            return new Verification(Files.size(tmp), bytes, rel);
        } catch (IOException e) {
            throw new UncheckedIOException("measuring the container", e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a temp file left behind is harmless
                }
            }
        }
    }

    private static List<LayerChoice> choices(Survey survey, int[] state, Map<String, long[]> measured,
                                             Map<String, Double> measuredRel, String keepMethod) {
        List<LayerChoice> out = new ArrayList<>();
        for (int i = 0; i < survey.curves.size(); i++) {
            LayerCurve c = survey.curves.get(i);
            LayerCurve.Option o = c.hull.get(state[i]);
            L2Point p = o.point();
            double slope = state[i] + 1 < c.hull.size() ? c.slope(state[i]) : 0;
            double rel = c.sumSquares > 0 ? Math.sqrt(o.squaredError() / c.sumSquares) : 0;
            LayerChoice choice = new LayerChoice(c.name, c.alias, c.elements, c.originalBytes,
                    p == null ? keepMethod : L2Codec.NAME, p == null ? Map.of() : p.params(),
                    p == null ? null : p.transform(), p == null ? 0 : p.step(), p == null ? 0 : p.param(),
                    p == null ? 0 : p.kmax(), c.bytes(state[i]), -1, rel, Double.NaN,
                    p == null ? 0 : p.zeroFraction(), c.weight, slope);
            long[] m = measured.get(c.name);
            if (m != null) {
                choice = choice.verified(m[0], measuredRel.getOrDefault(c.name, Double.NaN));
            }
            out.add(choice);
        }
        return out;
    }
}
