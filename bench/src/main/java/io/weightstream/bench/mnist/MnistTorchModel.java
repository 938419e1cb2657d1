package io.weightstream.bench.mnist;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.checkpoint.CheckpointFormatException;
import io.weightstream.checkpoint.CheckpointTensor;
import io.weightstream.checkpoint.safetensors.SafetensorsCheckpoint;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An MNIST model in DJL's PyTorch engine (CPU): trains ({@link MnistTrainer}), predicts, and moves its weights to
 * and from checkpoint tensors named as torch names them ({@code fc1.weight}, {@code conv1.bias}, ...).
 *
 * <p>The native library comes from {@code pytorch-native-cpu} on the classpath: DJL extracts it once to its cache
 * ({@code ~/.djl.ai/pytorch/}, or {@code $DJL_CACHE_DIR}) and never downloads anything when run with
 * {@code -Dai.djl.offline=true}, which this class sets when nothing else did. Unless {@code OMP_NUM_THREADS} or
 * {@code -Dai.djl.pytorch.num_threads} says otherwise, torch runs one intra-op thread: on the project's 2-core
 * machines that is about ten times faster than its default.
 *
 * <pre>{@code
 * try (MnistTorchModel model = MnistTorchModel.load(Path.of("ckpt/step-1000.safetensors"))) {
 *     float[][] logits = model.logits(MnistDigits.load().heldBack());
 * }
 * }</pre>
 */
public final class MnistTorchModel implements AutoCloseable {
    private static final String ENGINE = "PyTorch";
    private static final int EVAL_BATCH = 500;

    private final MnistModelKind kind;
    private final Model model;
    private final SequentialBlock block;
    private final Map<String, Parameter> parameters; // checkpoint name -> DJL parameter, in checkpoint order
    private Trainer trainer;

    private MnistTorchModel(MnistModelKind kind, Model model, SequentialBlock block) {
        this.kind = kind;
        this.model = model;
        this.block = block;
        this.parameters = nameParameters(kind, block);
    }

    /** Opens the engine with the settings above; the first call extracts the native library (a few seconds). */
    static Engine engine() {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (System.getProperty("ai.djl.pytorch.num_threads") == null && System.getenv("OMP_NUM_THREADS") == null) {
            System.setProperty("ai.djl.pytorch.num_threads", "1");
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
        return Engine.getEngine(ENGINE);
    }

    /**
     * A new model for training, its weights drawn from torch's generator seeded with {@code seed} (Xavier for
     * weights, zeros for biases), with Adam at {@code learningRate} and softmax cross-entropy.
     */
    public static MnistTorchModel create(MnistModelKind kind, int seed, float learningRate) {
        engine().setRandomSeed(seed);
        SequentialBlock block = newBlock(kind);
        Model model = Model.newInstance(kind.modelName(), Device.cpu(), ENGINE);
        model.setBlock(block);
        MnistTorchModel m = null;
        try {
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(learningRate)).build())
                    .optDevices(new Device[] {Device.cpu()});
            Trainer trainer = model.newTrainer(config);
            trainer.initialize(inputShape(kind, 1));
            m = new MnistTorchModel(kind, model, block);
            m.trainer = trainer;
            return m;
        } finally {
            if (m == null) {
                model.close();
            }
        }
    }

    /**
     * A model holding the weights of a checkpoint of either kind (for predicting, not training).
     *
     * @throws CheckpointFormatException when the file is not a checkpoint of an MNIST model of this project
     */
    public static MnistTorchModel load(Path checkpoint) {
        try (Checkpoint ckpt = Checkpoint.open(checkpoint)) {
            List<Tensor> tensors = new ArrayList<>();
            for (CheckpointTensor t : ckpt.tensors()) {
                tensors.add(t.tensor());
            }
            Map<String, String> metadata = ckpt instanceof SafetensorsCheckpoint s ? s.metadata() : Map.of();
            try {
                return of(tensors, metadata);
            } catch (IllegalArgumentException e) {
                throw new CheckpointFormatException(checkpoint, 0, e.getMessage(), e);
            }
        }
    }

    /** A model holding {@code tensors} (named and shaped as in a checkpoint). */
    public static MnistTorchModel of(List<Tensor> tensors, Map<String, String> metadata) {
        List<String> names = new ArrayList<>();
        for (Tensor t : tensors) {
            names.add(t.name());
        }
        MnistModelKind kind = MnistModelKind.detect(names, metadata);
        engine();
        SequentialBlock block = newBlock(kind);
        Model model = Model.newInstance(kind.modelName(), Device.cpu(), ENGINE);
        model.setBlock(block);
        MnistTorchModel m = null;
        try {
            block.initialize(model.getNDManager(), DataType.FLOAT32, inputShape(kind, 1));
            m = new MnistTorchModel(kind, model, block);
            m.setTensors(tensors);
            return m;
        } finally {
            if (m == null) {
                model.close();
            }
        }
    }

    public MnistModelKind kind() {
        return kind;
    }

    /**
     * One optimizer step on a batch: forward, softmax cross-entropy, backward, Adam.
     *
     * @param images {@code batch * 784} pixels
     * @param labels {@code batch} labels 0-9
     * @return the batch's mean loss
     */
    public float trainStep(float[] images, int[] labels) {
        if (trainer == null) {
            throw new IllegalStateException("a loaded model does not train; use create()");
        }
        int batch = labels.length;
        if (images.length != batch * MnistDigits.PIXELS) {
            throw new IllegalArgumentException(images.length + " pixels for " + batch + " labels");
        }
        float loss;
        try (NDManager step = trainer.getManager().newSubManager()) {
            NDArray x = step.create(images, inputShape(kind, batch));
            NDArray y = step.create(labels, new Shape(batch));
            try (GradientCollector collector = trainer.newGradientCollector()) {
                NDList predictions = trainer.forward(new NDList(x));
                NDArray lossValue = trainer.getLoss().evaluate(new NDList(y), predictions);
                collector.backward(lossValue);
                loss = lossValue.getFloat();
            }
            trainer.step();
        }
        return loss;
    }

    /** The logits of every digit ({@code [digits.size()][10]}), in inference mode. */
    public float[][] logits(DigitSet digits) {
        float[][] out = new float[digits.size()][];
        float[] buffer = new float[EVAL_BATCH * MnistDigits.PIXELS];
        try (NDManager manager = model.getNDManager().newSubManager()) {
            ParameterStore store = new ParameterStore(manager, false);
            for (int start = 0; start < out.length; start += EVAL_BATCH) {
                int n = Math.min(EVAL_BATCH, out.length - start);
                for (int i = 0; i < n; i++) {
                    digits.copyImage(start + i, buffer, i * MnistDigits.PIXELS);
                }
                try (NDManager batch = manager.newSubManager()) {
                    NDArray x = batch.create(Arrays.copyOf(buffer, n * MnistDigits.PIXELS), inputShape(kind, n));
                    float[] flat = block.forward(store, new NDList(x), false).singletonOrThrow().toFloatArray();
                    for (int i = 0; i < n; i++) {
                        out[start + i] = Arrays.copyOfRange(flat, i * MnistDigits.CLASSES, (i + 1) * MnistDigits.CLASSES);
                    }
                }
            }
        }
        return out;
    }

    /** Fraction of {@code digits} whose top-1 prediction is their label. */
    public double accuracy(DigitSet digits) {
        float[][] logits = logits(digits);
        int correct = 0;
        for (int i = 0; i < logits.length; i++) {
            if (MnistKernels.argmax(logits[i], MnistDigits.CLASSES) == digits.label(i)) {
                correct++;
            }
        }
        return (double) correct / logits.length;
    }

    /** The weights as F32 checkpoint tensors ({@link MnistModelKind#tensors()}), copied out of the engine. */
    public List<Tensor> tensors() {
        List<Tensor> out = new ArrayList<>();
        for (TensorSpec spec : kind.tensors()) {
            float[] values = parameters.get(spec.name()).getArray().toFloatArray();
            out.add(Tensor.ofFloats(spec, values));
        }
        return out;
    }

    private void setTensors(List<Tensor> tensors) {
        Map<String, Tensor> byName = new LinkedHashMap<>();
        for (Tensor t : tensors) {
            byName.put(t.name(), t);
        }
        for (TensorSpec spec : kind.tensors()) {
            Tensor t = byName.get(spec.name());
            if (t == null || !Arrays.equals(t.spec().shape(), spec.shape()) || !t.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException(kind.modelName() + ": tensor '" + spec.name() + "' must be "
                        + spec + ", found " + (t == null ? "nothing" : t.spec()));
            }
            parameters.get(spec.name()).getArray().set(t.toFloats());
        }
        if (byName.size() != kind.tensors().size()) {
            throw new IllegalArgumentException(kind.modelName() + ": " + byName.size() + " tensors, expected "
                    + kind.tensors().size());
        }
    }

    /**
     * The DJL block of {@code kind}, uninitialized: {@link MnistMlp} takes {@code [batch, 784]} pixels,
     * {@link MnistCnn} {@code [batch, 1, 28, 28]}; both give {@code [batch, 10]} logits.
     */
    public static SequentialBlock newBlock(MnistModelKind kind) {
        return switch (kind) {
            case MLP -> new SequentialBlock()
                    .add(Linear.builder().setUnits(MnistMlp.HIDDEN1).build())
                    .add(Activation::relu)
                    .add(Linear.builder().setUnits(MnistMlp.HIDDEN2).build())
                    .add(Activation::relu)
                    .add(Linear.builder().setUnits(MnistDigits.CLASSES).build());
            case CNN -> {
                Shape kernel = new Shape(MnistCnn.KERNEL, MnistCnn.KERNEL);
                Shape pool = new Shape(2, 2);
                yield new SequentialBlock()
                        .add(Conv2d.builder().setKernelShape(kernel).setFilters(MnistCnn.FILTERS1).build())
                        .add(Activation::relu)
                        .add(Pool.maxPool2dBlock(pool, pool))
                        .add(Conv2d.builder().setKernelShape(kernel).setFilters(MnistCnn.FILTERS2).build())
                        .add(Activation::relu)
                        .add(Pool.maxPool2dBlock(pool, pool))
                        .add(Blocks.batchFlattenBlock())
                        .add(Linear.builder().setUnits(MnistCnn.HIDDEN).build())
                        .add(Activation::relu)
                        .add(Linear.builder().setUnits(MnistDigits.CLASSES).build());
            }
        };
    }

    /** Input shape of the DJL block of {@code kind} for {@code batch} digits. */
    static Shape inputShape(MnistModelKind kind, long batch) {
        return switch (kind) {
            case MLP -> new Shape(batch, MnistDigits.PIXELS);
            case CNN -> new Shape(batch, 1, MnistDigits.SIDE, MnistDigits.SIDE);
        };
    }

    /** Maps the layers with weights, in block order, to the checkpoint's layer names (fc1, conv1, ...). */
    private static Map<String, Parameter> nameParameters(MnistModelKind kind, SequentialBlock block) {
        List<String> layers = kind == MnistModelKind.MLP ? MnistMlp.LAYERS : MnistCnn.LAYERS;
        Map<String, Parameter> out = new LinkedHashMap<>();
        int next = 0;
        for (Block child : block.getChildren().values()) {
            if (child instanceof Linear || child instanceof Conv2d) {
                String layer = layers.get(next++);
                out.put(layer + ".weight", child.getParameters().get("weight"));
                out.put(layer + ".bias", child.getParameters().get("bias"));
            }
        }
        if (next != layers.size()) {
            throw new IllegalStateException(kind.modelName() + ": block has " + next + " layers with weights, expected " + layers.size());
        }
        return out;
    }

    @Override
    public void close() {
        if (trainer != null) {
            trainer.close();
        }
        model.close();
    }
}
