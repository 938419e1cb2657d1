package io.weightstream.bench.mnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormat;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.safetensors.SafetensorsCheckpoint;
import io.weightstream.checkpoint.safetensors.SafetensorsWriter;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real training with DJL's PyTorch engine (CPU, offline, native library from the classpath) on the real digits:
 * the checkpoint sequence, its quality, and the pure-Java evaluator against DJL's own forward pass.
 */
class MnistTrainerTest {
    private static final int STEPS = 200;
    private static final int EVERY = 50;

    @TempDir
    static Path dir;

    private static MnistDigits digits;
    private static MnistEvaluator evaluator;
    private static List<Path> mlp;
    private static List<MnistTrainer.Progress> progress = new ArrayList<>();

    @BeforeAll
    static void trainTheMlp() {
        digits = MnistDigits.load();
        evaluator = new MnistEvaluator(digits.heldBack());
        mlp = MnistTrainer.builder()
                .kind(MnistModelKind.MLP).steps(STEPS).checkpointEvery(EVERY).seed(42)
                .outputDir(dir.resolve("mlp"))
                .onCheckpoint(progress::add)
                .build()
                .train(digits);
    }

    @Test
    void writesACheckpointEveryKStepsThatOpensAsSafetensors() throws Exception {
        assertThat(mlp).extracting(p -> p.getFileName().toString())
                .containsExactly("step-50.safetensors", "step-100.safetensors", "step-150.safetensors", "step-200.safetensors");
        assertThat(progress).extracting(MnistTrainer.Progress::step).containsExactly(50, 100, 150, 200);
        for (int i = 0; i < mlp.size(); i++) {
            Path file = mlp.get(i);
            try (Checkpoint ckpt = Checkpoint.open(file)) {
                assertThat(ckpt.format()).isEqualTo(CheckpointFormat.SAFETENSORS);
                assertThat(ckpt.tensors()).extracting(CheckpointTensor::spec)
                        .containsExactlyInAnyOrderElementsOf(MnistModelKind.MLP.tensors());
                assertThat(ckpt.fileBytes()).isEqualTo(Files.size(file)).isGreaterThan(235_146L * 4);
                Map<String, String> meta = ((SafetensorsCheckpoint) ckpt).metadata();
                assertThat(meta).containsEntry("model", "mnist-mlp")
                        .containsEntry("step", Integer.toString((i + 1) * EVERY))
                        .containsEntry("seed", "42")
                        .containsKeys("train_loss", "heldback_accuracy");
                assertThat(Float.parseFloat(meta.get("train_loss"))).isEqualTo(progress.get(i).trainLoss(), within(1e-5f));
                for (CheckpointTensor t : ckpt.tensors()) {
                    for (float v : t.tensor().toFloats()) {
                        assertThat(Float.isFinite(v)).isTrue();
                    }
                }
            }
        }
        // the loss falls as training goes on
        assertThat(progress.get(progress.size() - 1).trainLoss()).isLessThan(progress.get(0).trainLoss());
    }

    @Test
    void accuracyRisesOverTheSequenceAndBeatsChanceByFar() {
        List<Double> accuracies = new ArrayList<>();
        for (int i = 0; i < mlp.size(); i++) {
            MnistEvaluator.Evaluation e = evaluator.evaluate(mlp.get(i));
            assertThat(e.kind()).isEqualTo(MnistModelKind.MLP);
            assertThat(e.size()).isEqualTo(2_000);
            // the accuracy DJL measured while training, in the metadata, is the one the Java evaluator finds
            assertThat(e.accuracy()).isCloseTo(progress.get(i).heldBackAccuracy(), within(1e-9));
            accuracies.add(e.accuracy());
        }
        assertThat(accuracies.get(0)).isGreaterThan(0.5);   // chance is 0.1
        assertThat(accuracies.get(accuracies.size() - 1)).isGreaterThan(0.88).isGreaterThan(accuracies.get(0));
    }

    @Test
    void javaForwardPassMatchesDjlOnTheTrainedMlp() {
        assertJavaMatchesDjl(mlp.get(mlp.size() - 1));
    }

    @Test
    void javaForwardPassMatchesDjlOnATrainedCnn() {
        List<Path> cnn = MnistTrainer.builder()
                .kind(MnistModelKind.CNN).steps(40).checkpointEvery(40).seed(7)
                .outputDir(dir.resolve("cnn"))
                .build()
                .train(digits);
        assertThat(cnn).hasSize(1);
        try (Checkpoint ckpt = Checkpoint.open(cnn.get(0))) {
            assertThat(ckpt.tensors()).extracting(CheckpointTensor::spec)
                    .containsExactlyInAnyOrderElementsOf(MnistModelKind.CNN.tensors());
        }
        MnistEvaluator.Evaluation e = assertJavaMatchesDjl(cnn.get(0));
        assertThat(e.accuracy()).isGreaterThan(0.5);
    }

    @Test
    void agreementWithItselfIsOneAndWithANoisedCopyLess() {
        Path original = mlp.get(mlp.size() - 1);
        MnistEvaluator.Agreement self = evaluator.agreement(original, original);
        assertThat(self.agreement()).isEqualTo(1.0);
        assertThat(self.agreed()).isEqualTo(2_000);
        assertThat(self.reconstructedAccuracy()).isEqualTo(self.originalAccuracy());

        Path noised = dir.resolve("noised.safetensors");
        Random random = new Random(11);
        List<Tensor> tensors = new ArrayList<>();
        try (Checkpoint ckpt = Checkpoint.open(original)) {
            for (CheckpointTensor t : ckpt.tensors()) {
                float[] v = t.tensor().toFloats();
                double rms = 0;
                for (float x : v) {
                    rms += x * x;
                }
                rms = Math.sqrt(rms / v.length);
                for (int i = 0; i < v.length; i++) {
                    v[i] += (float) (random.nextGaussian() * 0.5 * rms);
                }
                tensors.add(Tensor.ofFloats(t.spec(), v));
            }
        }
        SafetensorsWriter.write(tensors, Map.of(), noised);
        MnistEvaluator.Agreement a = evaluator.agreement(original, noised);
        assertThat(a.agreement()).isLessThan(1.0).isGreaterThan(0.1);
        assertThat(a.digits()).isEqualTo(2_000);
        assertThat(a.originalAccuracy()).isEqualTo(self.originalAccuracy());
    }

    @Test
    void theSameSeedTrainsTheSameWeights() {
        List<Path> a = MnistTrainer.builder().kind(MnistModelKind.MLP).steps(10).checkpointEvery(10).seed(5)
                .outputDir(dir.resolve("seed-a")).build().train(digits);
        List<Path> b = MnistTrainer.builder().kind(MnistModelKind.MLP).steps(10).checkpointEvery(10).seed(5)
                .outputDir(dir.resolve("seed-b")).build().train(digits);
        List<Path> c = MnistTrainer.builder().kind(MnistModelKind.MLP).steps(10).checkpointEvery(10).seed(6)
                .outputDir(dir.resolve("seed-c")).build().train(digits);
        assertThat(a.get(0)).hasSameBinaryContentAs(b.get(0));
        assertThat(Files.exists(c.get(0))).isTrue();
        assertThat(a.get(0).toFile()).satisfies(f -> assertThat(Files.mismatch(f.toPath(), c.get(0))).isNotEqualTo(-1L));
    }

    @Test
    void builderSaysWhatIsWrong() {
        assertThatThrownBy(() -> MnistTrainer.builder().outputDir(dir).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kind is not set");
        assertThatThrownBy(() -> MnistTrainer.builder().kind(MnistModelKind.MLP).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outputDir is not set");
        assertThatThrownBy(() -> MnistTrainer.builder().kind(MnistModelKind.MLP).outputDir(dir).checkpointEvery(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("checkpointEvery must be at least 1");
    }

    @Test
    void loadedDjlModelRefusesTensorsOfAnotherShape() {
        List<Tensor> tensors = MnistNetworkTest.random(MnistModelKind.MLP, DType.F32);
        tensors.set(0, Tensor.ofFloats(new TensorSpec("fc1.weight", DType.F32, 256, 783), new float[256 * 783]));
        assertThatThrownBy(() -> MnistTorchModel.of(tensors, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fc1.weight");
    }

    /** Same top-1 on every held-back digit; every logit within 1e-4 of DJL's. */
    private static MnistEvaluator.Evaluation assertJavaMatchesDjl(Path checkpoint) {
        MnistEvaluator.Evaluation java = evaluator.evaluate(checkpoint);
        float[][] djl;
        try (MnistTorchModel model = MnistTorchModel.load(checkpoint)) {
            djl = model.logits(digits.heldBack());
        }
        assertThat(djl).hasNumberOfRows(2_000);
        for (int i = 0; i < djl.length; i++) {
            float[] j = java.logits(i);
            for (int k = 0; k < MnistDigits.CLASSES; k++) {
                assertThat(j[k]).as("digit %d logit %d", i, k).isCloseTo(djl[i][k], within(1e-4f));
            }
            assertThat(java.prediction(i)).as("digit %d", i).isEqualTo(MnistKernels.argmax(djl[i], MnistDigits.CLASSES));
        }
        return java;
    }
}
