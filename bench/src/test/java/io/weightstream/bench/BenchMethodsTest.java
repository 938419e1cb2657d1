package io.weightstream.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.Codecs;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchMethodsTest {
    @Test
    void quickRunsMeasureLosslessRtnZstdAndTheInt8ReferenceAtTheirQuickSettings() {
        List<BenchMethod> quick = BenchMethods.select(List.of(), true);
        assertThat(quick).extracting(BenchMethod::name).containsExactly("lossless", "rtn", "zstd", "ort-int8");
        assertThat(BenchMethods.get("rtn").settings(true)).extracting(BenchSetting::label)
                .containsExactly("bits=8", "bits=4 group.size=64");
        assertThat(BenchMethods.get("zstd").settings(true)).extracting(BenchSetting::label).containsExactly("level=3");
    }

    @Test
    void fullRunsMeasureEveryDeclaredMethodAndBothZstdLevels() {
        List<BenchMethod> full = BenchMethods.select(List.of(), false);
        assertThat(full).extracting(BenchMethod::name).startsWith("lossless", "rtn", "prune", "lowrank")
                .contains("zstd", "ort-int8").allMatch(BenchMethods::isDeclared);
        // every codec on the class path can be named; undeclared ones run at their defaults
        assertThat(BenchMethods.all()).extracting(BenchMethod::name).containsAll(Codecs.names());
        for (String codec : Codecs.names()) {
            BenchMethod m = BenchMethods.get(codec);
            if (!BenchMethods.isDeclared(codec)) {
                assertThat(m.fullSettings()).containsExactly(BenchSetting.DEFAULT);
                assertThat(BenchMethods.select(List.of(codec), false)).containsExactly(m);
            }
        }
        assertThat(BenchMethods.get("rtn").settings(false)).extracting(s -> s.params().get("bits"))
                .containsExactly("8", "7", "6", "5", "4", "3", "2");
        assertThat(BenchMethods.get("zstd").settings(false)).extracting(BenchSetting::label).containsExactly("level=3", "level=19");
        // every declared codec setting is valid for its codec
        for (BenchMethod m : full) {
            if (m.kind() == BenchMethod.Kind.CODEC) {
                for (BenchSetting s : m.fullSettings()) {
                    if (io.weightstream.ratecontrol.RateTarget.requested(s.params())) {
                        // l2's whole-model rows: a rate-control target, not codec parameters
                        io.weightstream.ratecontrol.RateTarget.parse(s.params());
                        continue;
                    }
                    Codecs.get(m.name()).params(s.params());
                }
            }
        }
    }

    @Test
    void namedMethodsKeepTheirOrderAndUnknownOnesAreRejectedWithTheKnownNames() {
        assertThat(BenchMethods.select(List.of("zstd", "rtn", "zstd"), true)).extracting(BenchMethod::name)
                .containsExactly("zstd", "rtn");
        assertThatThrownBy(() -> BenchMethods.get("gzip")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown bench method 'gzip'").hasMessageContaining("lossless");
    }

    @Test
    void settingOverridesAreParsedAndCheckedAgainstTheCodec() {
        Map<String, List<BenchSetting>> s = BenchMethods.parseSettings(List.of("rtn:bits=3,group.size=32", "rtn:bits=2",
                "zstd:level=9", "lossless"));
        assertThat(s.get("rtn")).extracting(BenchSetting::label).containsExactly("bits=3 group.size=32", "bits=2");
        assertThat(s.get("zstd")).extracting(BenchSetting::label).containsExactly("level=9");
        assertThat(s.get("lossless")).containsExactly(BenchSetting.DEFAULT);
        assertThatThrownBy(() -> BenchMethods.parseSettings(List.of("rtn:bits=12")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bits");
        assertThatThrownBy(() -> BenchMethods.parseSettings(List.of("zstd:level=30")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("level 30");
        assertThatThrownBy(() -> BenchMethods.parseSettings(List.of("rtn:bits")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key=value");
    }

    @Test
    void optionsApplyOverridesAndTheDefaultsOfQuickAndFullRuns() {
        BenchOptions quick = BenchOptions.builder().quick(true).outputDir(Path.of("out")).stackHome(Path.of("stack"))
                .settings("rtn", List.of(BenchSetting.of("bits", "6"))).build();
        assertThat(quick.models()).containsExactly(BenchModels.MINILM, BenchModels.MNIST_MLP);
        assertThat(quick.methods()).extracting(BenchMethod::name).containsExactly("lossless", "rtn", "zstd", "ort-int8");
        assertThat(quick.methods().get(1).settings(true)).extracting(BenchSetting::label).containsExactly("bits=6");
        assertThat(quick.pipeline()).isFalse();
        assertThat(quick.repeats()).isEqualTo(1);
        assertThat(quick.mnistCacheDirs()).containsExactly(Path.of("out", "mnist-models"));

        BenchOptions full = BenchOptions.builder().outputDir(Path.of("out")).stackHome(Path.of("stack"))
                .models(List.of("cnn", "minilm-q")).methods(List.of("lossless")).settings("zstd", List.of(BenchSetting.of("level", "1")))
                .build();
        assertThat(full.models()).containsExactly(BenchModels.MNIST_CNN, BenchModels.MINILM_Q);
        assertThat(full.methods()).extracting(BenchMethod::name).containsExactly("lossless", "zstd");
        assertThat(full.pipeline()).isTrue();
        assertThat(full.repeats()).isEqualTo(3);
        assertThatThrownBy(() -> BenchOptions.builder().outputDir(Path.of("o")).stackHome(Path.of("s")).models(List.of("resnet")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown bench model 'resnet'");
        assertThatThrownBy(() -> BenchOptions.builder().stackHome(Path.of("s")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outputDir");
    }

    @Test
    void theEightBitInputTakesOnlyLosslessMethodsAndOnlyTheFloatModelHasAnInt8Reference() {
        BenchModel q = new BenchModel("q", "8-bit", Path.of("q.onnx"), BenchModel.Kind.TEXT_EMBEDDING, true, null);
        BenchModel f = new BenchModel("f", "float", Path.of("f.onnx"), BenchModel.Kind.TEXT_EMBEDDING, false, Path.of("q.onnx"));
        assertThat(q.accepts(BenchMethods.get("lossless"))).isTrue();
        assertThat(q.accepts(BenchMethods.get("zstd"))).isTrue();
        assertThat(q.accepts(BenchMethods.get("rtn"))).isFalse();
        assertThat(q.accepts(BenchMethods.get("ort-int8"))).isFalse();
        assertThat(f.accepts(BenchMethods.get("rtn"))).isTrue();
        assertThat(f.accepts(BenchMethods.get("ort-int8"))).isTrue();
    }

    @Test
    void settingLabelsAndLayerLabelsAreShortAndSafe() {
        assertThat(BenchSetting.of("bits", "4", "group.size", "64").slug()).isEqualTo("bits-4-group.size-64");
        assertThat(BenchSetting.of(Map.of())).isSameAs(BenchSetting.DEFAULT);
        assertThatThrownBy(() -> new BenchSetting("a,b", Map.of())).isInstanceOf(IllegalArgumentException.class);
        assertThat(LayerLabels.of("onnx::MatMul_787", "/encoder/layer.0/attention/self/query/MatMul")).isEqualTo("L0.q");
        assertThat(LayerLabels.of("onnx::MatMul_799", "/encoder/layer.5/output/dense/MatMul")).isEqualTo("L5.ffn_out");
        assertThat(LayerLabels.of("onnx::MatMul_798", "/encoder/layer.0/intermediate/dense/MatMul")).isEqualTo("L0.ffn_in");
        assertThat(LayerLabels.of("embeddings.word_embeddings.weight", "/embeddings/word_embeddings/Gather")).isEqualTo("emb.word");
        assertThat(LayerLabels.of("conv2.weight", null)).isEqualTo("conv2");
    }
}
