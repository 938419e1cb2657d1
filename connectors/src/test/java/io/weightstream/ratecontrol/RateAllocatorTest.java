package io.weightstream.ratecontrol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.safetensors.SafetensorsWriter;
import io.weightstream.codec.l2.L2Transform;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.compress.WszContainer;
import io.weightstream.policy.Policies;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whole-model rate control on a generated checkpoint whose layers differ in size, scale and tails (plus 1-D
 * tensors that stay exact). Every target is checked independently: the model is compressed with the returned
 * policy by the same {@link OfflineCompressor} as {@code weightstream compress} and the container written.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RateAllocatorTest {
    @TempDir
    static Path dir;
    Path model;

    @BeforeAll
    void writeModel() {
        SplittableRandom rnd = new SplittableRandom(42);
        List<Tensor> tensors = new ArrayList<>();
        tensors.add(layer("embed.weight", rnd, 0.05, 0.0, 2000, 64));
        tensors.add(layer("block0.attn.weight", rnd, 0.02, 0.01, 256, 256));
        tensors.add(layer("block0.attn.bias", rnd, 0.01, 0.0, 256));
        tensors.add(layer("block0.ffn.weight", rnd, 0.1, 0.002, 512, 128));
        tensors.add(layer("block0.norm.weight", rnd, 1.0, 0.0, 128));
        tensors.add(layer("block1.out.weight", rnd, 1.0, 0.0, 64, 64));
        tensors.add(layer("head.weight", rnd, 0.3, 0.05, 10, 128));
        model = dir.resolve("model.safetensors");
        SafetensorsWriter.write(tensors, Map.of(), model);
    }

    /** Gaussian weights of scale sigma with a fraction of outliers 20 times larger. */
    private static Tensor layer(String name, SplittableRandom rnd, double sigma, double outliers, long... shape) {
        TensorSpec spec = new TensorSpec(name, DType.F32, shape);
        float[] v = new float[(int) spec.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * sigma * (rnd.nextDouble() < outliers ? 20 : 1));
        }
        return Tensor.ofFloats(spec, v);
    }

    private record Measured(double fileRatio, double payloadRatio, double bitsPerWeight, OfflineCompressor.Result result) {
    }

    /** Compresses with the policy exactly as the CLI does and measures the ratios. */
    private Measured measure(CompressionPolicy policy) throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            OfflineCompressor.Result r = new OfflineCompressor(2).compress(ckpt, "m", "v", policy, row -> { });
            Path wsz = Files.createTempFile(dir, "m", ".wsz");
            WszContainer.write(wsz, r.version(), r.chunks());
            long elements = ckpt.tensors().stream().mapToLong(t -> t.spec().numel()).sum();
            return new Measured(ckpt.fileBytes() / (double) Files.size(wsz), r.version().getRatio(),
                    8.0 * Files.size(wsz) / elements, r);
        }
    }

    private Allocation allocate(RateTarget target, AllocationOptions options) {
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            return RateAllocator.allocate(ckpt, target, options);
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {4, 8, 12})
    void meetsTheTargetRatioOfTheContainerWithinTwoPercent(double ratio) throws Exception {
        Allocation a = allocate(RateTarget.ratio(ratio), AllocationOptions.defaults());
        Measured m = measure(a.policy());
        assertThat(m.fileRatio() / ratio - 1).as("file ratio %s for target %s", m.fileRatio(), ratio)
                .isBetween(-0.02, 0.02);
        // the allocator's own verification wrote the same container (but for the model and version names)
        assertThat(a.ratio()).as("the allocation reports what was measured").isCloseTo(m.fileRatio(),
                org.assertj.core.api.Assertions.within(m.fileRatio() * 0.002));
        // 1-D tensors are kept exactly, everything of rank 2 is rate-controlled
        assertThat(a.layers()).extracting(LayerChoice::name).containsExactlyInAnyOrder("embed.weight", "block0.attn.weight",
                "block0.ffn.weight", "block1.out.weight", "head.weight");
        assertThat(a.keptTensors()).isEqualTo(2);
        for (OfflineCompressor.TensorRow row : m.result().rows()) {
            if (row.entry().getShape().size() == 1) {
                assertThat(row.compressed().metrics().relL2()).isZero();
            }
        }
    }

    @Test
    void meetsPayloadRatiosAndBitsPerWeight() throws Exception {
        Allocation a = allocate(RateTarget.ratio(6), AllocationOptions.builder()
                .accounting(AllocationOptions.Accounting.PAYLOADS).build());
        assertThat(measure(a.policy()).payloadRatio() / 6 - 1).isBetween(-0.02, 0.02);

        Allocation b = allocate(RateTarget.bitsPerWeight(3), AllocationOptions.defaults());
        assertThat(measure(b.policy()).bitsPerWeight() / 3 - 1).isBetween(-0.02, 0.02);
    }

    @Test
    void theDifferentiableCounterPathMeetsTheTargetToo() throws Exception {
        Allocation a = allocate(RateTarget.ratio(8), AllocationOptions.builder()
                .estimator(AllocationOptions.Estimator.COUNTER).build());
        assertThat(measure(a.policy()).fileRatio() / 8 - 1).isBetween(-0.02, 0.02);
    }

    /**
     * Equal slope beats equal bits: the same budget spent as the same bits per weight on every layer (the codec's
     * own per-layer search) gives a larger total squared error than the allocation.
     */
    @Test
    void allocatingAtEqualSlopeGivesLessDistortionThanEqualBits() throws Exception {
        Allocation a = allocate(RateTarget.ratio(8), AllocationOptions.builder()
                .accounting(AllocationOptions.Accounting.PAYLOADS).build());
        Measured allocated = measure(a.policy());
        // equal bits: search the per-layer bits that give the same payload ratio
        double lo = 1;
        double hi = 8;
        Measured equal = null;
        for (int i = 0; i < 12; i++) {
            double bits = (lo + hi) / 2;
            Measured m = measure(Policies.of("l2", Map.of("bits", Double.toString(bits))));
            if (m.payloadRatio() >= allocated.payloadRatio()) {
                equal = m;
                lo = bits;
            } else {
                hi = bits;
            }
        }
        assertThat(equal).isNotNull();
        assertThat(equal.payloadRatio()).isGreaterThanOrEqualTo(allocated.payloadRatio());
        assertThat(squaredError(allocated.result())).isLessThan(0.8 * squaredError(equal.result()));
    }

    /** Total squared weight error: sum over tensors of relL2^2 * ||w||^2, with ||w||^2 recovered from the rows. */
    private double squaredError(OfflineCompressor.Result r) throws Exception {
        double sum = 0;
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            for (OfflineCompressor.TensorRow row : r.rows()) {
                float[] v = ckpt.tensors().stream().filter(t -> t.name().equals(row.entry().getName())).findFirst()
                        .orElseThrow().tensor().toFloats();
                double sq = 0;
                for (float x : v) {
                    sq += (double) x * x;
                }
                double rel = row.compressed().metrics().relL2();
                sum += rel * rel * sq;
            }
        }
        return sum;
    }

    @Test
    void sensitiveLayersGetMoreBits() {
        Allocation plain = allocate(RateTarget.ratio(8), AllocationOptions.defaults());
        Allocation weighted = allocate(RateTarget.ratio(8), AllocationOptions.builder()
                .sensitivity(Map.of("block0.attn.weight", 50.0)).build());
        LayerChoice before = find(plain, "block0.attn.weight");
        LayerChoice after = find(weighted, "block0.attn.weight");
        assertThat(after.bitsPerWeight()).isGreaterThan(before.bitsPerWeight() + 0.5);
        assertThat(after.actualRelL2()).isLessThan(before.actualRelL2() / 1.5);
        assertThat(after.weight()).isEqualTo(50.0);
    }

    @Test
    void relativeDistortionEqualizesRelativeErrors() {
        Allocation a = allocate(RateTarget.ratio(8), AllocationOptions.builder()
                .distortion(AllocationOptions.Distortion.RELATIVE).accounting(AllocationOptions.Accounting.PAYLOADS)
                .transforms(EnumSet.of(L2Transform.UNIFORM)).build());
        // N relL2^2 at equal slope: the large layers end up with similar relative errors
        double attn = find(a, "block0.attn.weight").actualRelL2();
        double ffn = find(a, "block0.ffn.weight").actualRelL2();
        assertThat(attn / ffn).isBetween(0.6, 1.6);
        Allocation b = allocate(RateTarget.ratio(8), AllocationOptions.builder()
                .accounting(AllocationOptions.Accounting.PAYLOADS).transforms(EnumSet.of(L2Transform.UNIFORM)).build());
        // absolute squared error: one grid for all, so the layer of half the RMS gets about twice the relative error
        assertThat(find(b, "block0.attn.weight").actualRelL2()).isGreaterThan(1.5 * find(b, "block0.ffn.weight").actualRelL2());
    }

    private static LayerChoice find(Allocation a, String name) {
        return a.layers().stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void deterministic() {
        AllocationOptions o = AllocationOptions.builder().verify(false).build();
        assertThat(Policies.toJson(allocate(RateTarget.ratio(10), o).policy()))
                .isEqualTo(Policies.toJson(allocate(RateTarget.ratio(10), o).policy()));
    }

    @Test
    void thePolicyRoundTripsThroughJsonAndNamesEveryLayerExactly() {
        Allocation a = allocate(RateTarget.ratio(8), AllocationOptions.builder().verify(false).build());
        CompressionPolicy back = Policies.parse(a.policyJson(), "test");
        assertThat(back).isEqualTo(a.policy());
        assertThat(back.getDefaultMethod()).isEqualTo("lossless");
        for (LayerChoice c : a.layers()) {
            if (c.method().equals("l2")) {
                assertThat(back.getRules()).anySatisfy(r -> {
                    assertThat(r.getPattern()).isEqualTo(c.name());
                    assertThat(r.getParams()).isEqualTo(c.params());
                });
            }
        }
        assertThat(a.table()).contains("block0.attn.weight").contains("target ratio 8.0");
    }

    @Test
    void unreachableTargetsAreRefusedWithTheBestReachable() {
        assertThatThrownBy(() -> allocate(RateTarget.ratio(100000), AllocationOptions.defaults()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of reach");
    }

    @Test
    void settingsAreParsedAndCheckedByName() {
        assertThat(RateTarget.parse(Map.of("ratio", "8"))).isEqualTo(RateTarget.ratio(8));
        assertThat(RateTarget.parse(Map.of("model.bits", "3.5"))).isEqualTo(RateTarget.bitsPerWeight(3.5));
        assertThatThrownBy(() -> RateTarget.parse(Map.of("ratio", "8", "model.bits", "3")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RateTarget.parse(Map.of())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RateTarget.ratio(0.5)).isInstanceOf(IllegalArgumentException.class);
        AllocationOptions o = AllocationOptions.fromSettings(Map.of("ratio", "8", "transforms", "joint,log",
                "distortion", "relative", "estimator", "counter", "accounting", "payloads", "verify", "false"));
        assertThat(o.transforms()).containsExactlyInAnyOrder(L2Transform.JOINT, L2Transform.LOG);
        assertThat(o.distortion()).isEqualTo(AllocationOptions.Distortion.RELATIVE);
        assertThat(o.estimator()).isEqualTo(AllocationOptions.Estimator.COUNTER);
        assertThat(o.verify()).isFalse();
        assertThatThrownBy(() -> AllocationOptions.fromSettings(Map.of("colour", "blue")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("colour");
        assertThatThrownBy(() -> AllocationOptions.fromSettings(Map.of("distortion", "loud")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("distortion");
        assertThatThrownBy(() -> AllocationOptions.builder().sensitivity(Map.of("x", -1.0)).build())
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sensitivitiesAreReadFromJson() throws Exception {
        Path f = dir.resolve("s.json");
        Files.writeString(f, "{\"block0.attn.weight\": 2.5, \"head.weight\": 0.5}");
        assertThat(AllocationOptions.readSensitivity(f)).containsEntry("block0.attn.weight", 2.5)
                .containsEntry("head.weight", 0.5);
        Files.writeString(f, "{\"x\": \"high\"}");
        assertThatThrownBy(() -> AllocationOptions.readSensitivity(f)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void hullIsConvexAndDecreasing() {
        List<LayerCurve.Option> points = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < 200; i++) {
            double r = 1 + rnd.nextDouble() * 100;
            points.add(new LayerCurve.Option(null, r, 1000 / r + rnd.nextDouble() * 20, 0));
        }
        List<LayerCurve.Option> h = LayerCurve.hull(points);
        assertThat(h.size()).isGreaterThan(2);
        for (int i = 1; i < h.size(); i++) {
            assertThat(h.get(i).bytes()).isGreaterThan(h.get(i - 1).bytes());
            assertThat(h.get(i).weightedDistortion()).isLessThan(h.get(i - 1).weightedDistortion());
        }
        for (int i = 2; i < h.size(); i++) {
            double s1 = (h.get(i - 2).weightedDistortion() - h.get(i - 1).weightedDistortion())
                    / (h.get(i - 1).bytes() - h.get(i - 2).bytes());
            double s2 = (h.get(i - 1).weightedDistortion() - h.get(i).weightedDistortion())
                    / (h.get(i).bytes() - h.get(i - 1).bytes());
            assertThat(s2).isLessThan(s1);
        }
        // no input point lies below the hull
        for (LayerCurve.Option p : points) {
            for (int i = 1; i < h.size(); i++) {
                LayerCurve.Option a = h.get(i - 1);
                LayerCurve.Option b = h.get(i);
                if (p.bytes() >= a.bytes() && p.bytes() <= b.bytes()) {
                    double line = a.weightedDistortion() + (b.weightedDistortion() - a.weightedDistortion())
                            * (p.bytes() - a.bytes()) / (b.bytes() - a.bytes());
                    assertThat(p.weightedDistortion()).isGreaterThanOrEqualTo(line - 1e-9);
                }
            }
        }
    }
}
