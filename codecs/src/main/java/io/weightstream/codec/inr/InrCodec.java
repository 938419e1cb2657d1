package io.weightstream.codec.inr;

import io.weightstream.codec.Codec;
import io.weightstream.codec.AbstractCodec;
import io.weightstream.codec.CodecParameter;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.PayloadReader;
import io.weightstream.codec.PayloadWriter;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * {@code inr}: Big2Small (METHODS.md, papers 000/001), a layer stored as a small network that maps each weight's
 * normalised coordinates to its value. Encoding: the scope rule (tensors of rank >= 2 over {@code min.bytes};
 * others are kept as they are, inside the payload), outlier-aware preprocessing (the {@code outlier.fraction}
 * smallest and largest values stored exactly, the body normalised to [-1, 1]), a network of
 * {@link InrArchitecture} (positional encoding with the Nyquist cap, a modulator setting a frequency per hidden
 * unit, {@code depth} sine layers whose width is the widest that meets {@code ratio} at {@code bits}; one network
 * per {@code block.rows} rows, each grid point giving {@code tile} values), trained by the {@link InrTrainer} on
 * the class path (module {@code inr-trainer}: DJL, PyTorch, CUDA when there is one) with MSE (+ gradient-difference
 * + focal frequency loss, weighted by {@code lambda.grad} and {@code lambda.freq}), AdamW and a cosine schedule,
 * the end quantization-aware, stopped by {@code steps}, {@code time.budget.s} or {@code target.rel.l2}; then each
 * network tensor quantized as {@link InrQuantization} plans (the hidden weights at {@code bits} on one grid per
 * output unit, the modulator, first and last layer and the hidden biases at {@code bits.edge} / {@code bits.bias},
 * 16 by default when {@code bits <= 8}), the output layer refitted by least squares on the quantized hidden layers
 * ({@code refit}). The payload is decoded again here and, if the normalised MSE exceeds
 * {@code fallback.mse}, rejected (an IllegalArgumentException, so a policy moves on to its next method) or stored
 * as is ({@code fallback=store}).
 *
 * <p>Where it stands (inr-trainer/README.md): trained transformer weights look like noise to a coordinate network,
 * which has to memorise them; on all-MiniLM-L6-v2's FFN matrices it needs about 1.6 parameters per value (ratio 2
 * with 8-bit hidden weights and 16-bit edges) for a relative L2 error below 0.05, where {@code rtn} 8-bit gives
 * 0.007 at 3.96x in milliseconds.
 *
 * <p>Decoding is pure Java and needs no trainer: the network is evaluated on the grid in float32 with a fixed
 * order of operations and a sine of additions and multiplications ({@link InrSine}), so it is bit-identical on
 * every machine; then the outliers are patched in. It costs about {@code points x parameters} multiply-adds
 * ({@code tile} values per point), spread over the cores. Layout: {@link InrFormat}.
 *
 * <p>Without a trainer on the class path, encoding a tensor in scope throws IllegalStateException. Encoding is
 * deterministic within a process on the CPU unless the time budget is what stops training; separate processes may
 * differ in the last bits of training (PyTorch's kernels), not in quality.
 *
 * <pre>{@code
 * Codec inr = Codecs.get("inr");
 * byte[] payload = inr.encode(tensor, inr.params(Map.of("ratio", "6", "bits", "8", "time.budget.s", "120")));
 * Tensor back = inr.decode(payload);   // pure Java
 * }</pre>
 */
public final class InrCodec extends AbstractCodec {
    public static final String NAME = "inr";

    /** What happens to a layer whose network misses {@code fallback.mse}. */
    public enum Fallback {
        /** Throw IllegalArgumentException: the policy's next method takes the layer. */
        REJECT,
        /** Keep the layer as it is inside an {@code inr} payload (what the paper does). */
        STORE
    }

    public static final CodecParameter<Double> RATIO = CodecParameter.ofDouble("ratio", 6.0, 1.0, 1e6,
            "target compression ratio of a layer in scope (original bytes / payload bytes, outliers included); "
                    + "sizes the hidden width");
    public static final CodecParameter<Integer> BITS = CodecParameter.ofInt("bits", 8, InrFormat.MIN_BITS,
            InrFormat.MAX_BITS, "bits per network weight after training (the paper uses 16, 8 and 6)");
    public static final CodecParameter<Integer> TILE = CodecParameter.ofInt("tile", 16, 1, 4096,
            "values per grid point, consecutive along the last axis (the largest divisor of the last dimension not "
                    + "above this); 1 = the paper's one value per coordinate, larger = cheaper training and decoding");
    public static final CodecParameter<Double> OUTLIER_FRACTION = CodecParameter.ofDouble("outlier.fraction", 0.01,
            0.0, 0.5, "fraction of the values (half the smallest, half the largest) stored exactly");
    public static final CodecParameter<Boolean> PREPROCESS = CodecParameter.ofBoolean("preprocess", true,
            "outlier-aware preprocessing and normalisation; false fits the raw values (the ablation 'w/o pre')");
    public static final CodecParameter<Long> MIN_BYTES = CodecParameter.ofLong("min.bytes", 100L * 1024, 0L,
            Long.MAX_VALUE, "scope rule: tensors of rank >= 2 larger than this get a network; others are kept as is");
    public static final CodecParameter<Integer> STEPS = CodecParameter.ofInt("steps", 3000, 1, 100_000_000,
            "most optimizer steps; the cosine learning-rate schedule spans them");
    public static final CodecParameter<Double> TIME_BUDGET = CodecParameter.ofDouble("time.budget.s", 300.0, 0.0, 1e7,
            "most seconds of training per layer; 0 = no limit (training then stops by steps or target, deterministically)");
    public static final CodecParameter<Double> TARGET = CodecParameter.ofDouble("target.rel.l2", 0.0, 0.0, 10.0,
            "stop training once the float network's relative L2 error is at most this; 0 = train to the budget");
    public static final CodecParameter<Double> LEARNING_RATE = CodecParameter.ofDouble("lr", 1e-3, 1e-9, 10.0,
            "initial AdamW learning rate (cosine-annealed to 1 % of it)");
    public static final CodecParameter<Double> WEIGHT_DECAY = CodecParameter.ofDouble("weight.decay", 0.0, 0.0, 10.0,
            "AdamW decoupled weight decay");
    public static final CodecParameter<Double> LAMBDA_GRAD = CodecParameter.ofDouble("lambda.grad", 0.0, 0.0, 1e6,
            "weight of the gradient-difference loss (first differences along both axes of the 2-D view); the paper's "
                    + "0.1 made all-MiniLM-L6-v2 layers worse (inr-trainer/README.md)");
    public static final CodecParameter<Double> LAMBDA_FREQ = CodecParameter.ofDouble("lambda.freq", 0.0, 0.0, 1e6,
            "weight of the focal frequency loss (2-D DFT of the error, weighted by its normalised magnitude); the "
                    + "paper's 0.1 doubled the time per step for no gain on all-MiniLM-L6-v2 layers");
    public static final CodecParameter<Double> QUANT_AWARE = CodecParameter.ofDouble("quant.aware", -1.0, -1.0, 1.0,
            "last fraction of the training budget spent on the network fake-quantized as it is stored "
                    + "(straight-through), entered early when the float network meets the target; 0 = plain "
                    + "post-training quantization; -1 (default) = 0.9 when bits <= 8, else 0.3");
    public static final CodecParameter<Integer> BITS_EDGE = CodecParameter.ofInt("bits.edge", 0, 0,
            InrFormat.MAX_BITS, "bits of the modulator, the first synthesis layer (its error is multiplied by omega0) "
                    + "and the output layer, few parameters; 0 (default) = 16 when bits <= 8, else bits");
    public static final CodecParameter<Integer> BITS_BIAS = CodecParameter.ofInt("bits.bias", 0, 0,
            InrFormat.MAX_BITS, "bits of the hidden layers' biases (about 2 % of the parameters; an error in a bias is "
                    + "multiplied by omega0 like one in the first layer); 0 (default) = bits.edge");
    public static final CodecParameter<Boolean> GRID_COLUMNS = CodecParameter.ofBoolean("grid.columns", true,
            "weight matrices at 8 bits or fewer get one quantization grid per output unit (a float16 offset and "
                    + "range each) instead of one per tensor and block");
    public static final CodecParameter<Boolean> REFIT = CodecParameter.ofBoolean("refit", true,
            "after quantizing the hidden layers, solve the output layer by least squares on them (exact for what "
                    + "the decoder computes, so the stored network is never worse for it)");
    public static final CodecParameter<Double> OMEGA0 = CodecParameter.ofDouble("omega0", 30.0, 0.01, 1e4,
            "base frequency of the sine layers (SIREN)");
    public static final CodecParameter<Integer> DEPTH = CodecParameter.ofInt("depth", 6, 1, InrArchitecture.MAX_DEPTH,
            "sine (hidden) layers of the synthesis network");
    public static final CodecParameter<Integer> MOD_WIDTH = CodecParameter.ofInt("mod.width", 32, 0,
            InrArchitecture.MAX_MOD_WIDTH, "hidden units of the modulator that sets the frequencies; 0 = none");
    public static final CodecParameter<Integer> BLOCK_ROWS = CodecParameter.ofInt("block.rows", -1, -1, Integer.MAX_VALUE,
            "rows of the first axis per network (the largest divisor of the first dimension not above this), each "
                    + "block its own network: training time grows linearly with the layer instead of quadratically; "
                    + "0 = one network for the whole layer (the paper); -1 = about block.values values per network");
    public static final CodecParameter<Integer> BLOCK_VALUES = CodecParameter.ofInt("block.values", 24_576, 1,
            Integer.MAX_VALUE, "with block.rows=-1: values per network, rounded to whole rows (24576 = 16 rows of a "
                    + "[384, 1536] matrix, 64 of a [1536, 384] one: equal blocks keep the error of both shapes alike)");
    public static final CodecParameter<Long> SEED = CodecParameter.ofLong("seed", 0L, Long.MIN_VALUE, Long.MAX_VALUE,
            "seed of the initial network and of the block order");
    public static final CodecParameter<InrSettings.Device> DEVICE = CodecParameter.ofEnum("device",
            InrSettings.Device.class, InrSettings.Device.AUTO, "where to train: auto (a CUDA GPU if there is one), cpu, gpu");
    public static final CodecParameter<Double> FALLBACK_MSE = CodecParameter.ofDouble("fallback.mse", 0.01, 0.0, 1e12,
            "fallback rule: a network whose mean squared error in the normalised domain exceeds this is not used");
    public static final CodecParameter<Fallback> FALLBACK = CodecParameter.ofEnum("fallback", Fallback.class,
            Fallback.REJECT, "reject: throw so the policy's next method takes the layer; store: keep it as is");

    private static final List<CodecParameter<?>> PARAMETERS = List.of(RATIO, BITS, TILE, OUTLIER_FRACTION, PREPROCESS,
            MIN_BYTES, STEPS, TIME_BUDGET, TARGET, LEARNING_RATE, WEIGHT_DECAY, LAMBDA_GRAD, LAMBDA_FREQ, QUANT_AWARE, OMEGA0, DEPTH,
            BITS_EDGE, BITS_BIAS, GRID_COLUMNS, REFIT, MOD_WIDTH, BLOCK_ROWS, BLOCK_VALUES, SEED, DEVICE, FALLBACK_MSE, FALLBACK);
    private static final Set<DType> DTYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);
    /** Body bytes of a network payload besides outliers, bands and weights: mode, range, architecture, bits. */
    private static final int FIXED_BYTES = 1 + 8 + 5 + 5 + 1 + 5 + 5 + 4;

    public InrCodec() {
        super(NAME, InrFormat.FORMAT_VERSION, "Big2Small: a small sine network per layer (trained with DJL), outliers exact, pure-Java decode",
                PARAMETERS, DTYPES, false);
    }

    @Override
    public long maxEncodedLength(TensorSpec spec, CodecParams params) {
        params.requireFor(this);
        // a network payload is at most the budget the ratio leaves (or the encoder stores the tensor instead)
        return PayloadHeader.of(this, spec).size() + 1 + spec.byteSize();
    }

    /** What encode does with a tensor: keep it ({@code problem == null}, with the reason) or fit a network. */
    record Plan(InrProblem problem, String reason, boolean flat, InrBody body, boolean noRoom) {
    }

    Plan plan(Tensor tensor, CodecParams params) {
        TensorSpec spec = tensor.spec();
        requireSupported(spec);
        if (spec.numel() > DecodeLimits.MAX_ARRAY_BYTES / 8) {
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "' of "
                    + spec.numel() + " elements is too large for one payload; split it first");
        }
        float[] v = tensor.toFloats();
        requireFinite(spec, v);
        if (spec.rank() < 2 || spec.byteSize() <= params.get(MIN_BYTES)) {
            return new Plan(null, "out of scope (rank " + spec.rank() + ", " + spec.byteSize() + " bytes, min.bytes "
                    + params.get(MIN_BYTES) + ")", false, null, false);
        }
        InrBody body = params.get(PREPROCESS) ? InrBody.split(v, params.get(OUTLIER_FRACTION)) : InrBody.identity();
        if (body.lo() == body.hi()) {
            return new Plan(null, "constant body", true, body, false);
        }
        int bits = params.get(BITS);
        int bitsEdge = params.get(BITS_EDGE) > 0 ? params.get(BITS_EDGE) : bits <= 8 ? 16 : bits;
        int bitsBias = params.get(BITS_BIAS) > 0 ? params.get(BITS_BIAS) : bitsEdge;
        if (bitsEdge < InrFormat.MIN_BITS || bitsBias < InrFormat.MIN_BITS) {
            throw new IllegalArgumentException("codec '" + NAME + "': bits.edge " + bitsEdge + " and bits.bias "
                    + bitsBias + " must be 0 (default) or in [2, 16]");
        }
        double budgetBytes = spec.byteSize() / params.get(RATIO) - PayloadHeader.of(this, spec).size()
                - outlierBytes(body.outliers(), spec.dtype().size()) - FIXED_BYTES - spec.rank();
        long parameterBudget = (long) Math.floor(Math.max(0, budgetBytes) * 8 / Math.min(bits, Math.min(bitsEdge, bitsBias)));
        InrArchitecture arch = null;
        InrQuantization quantization = null;
        String noRoom = null;
        try {
            arch = InrArchitecture.sized(spec.shape(), params.get(TILE), blockRows(spec.shape(), params), params.get(DEPTH),
                    params.get(MOD_WIDTH), params.get(OMEGA0).floatValue(), parameterBudget);
            // the widest network whose codes, bit widths and grids (per tensor or per column) fit the budget
            quantization = quantization(arch, bits, bitsEdge, bitsBias, params);
            while (arch.width() > InrArchitecture.MIN_WIDTH && quantization.payloadBytes(arch) > budgetBytes) {
                arch = arch.withWidth(arch.width() - 1);
                quantization = quantization(arch, bits, bitsEdge, bitsBias, params);
            }
            if (quantization.payloadBytes(arch) > budgetBytes) {
                noRoom = "the smallest network takes " + quantization.payloadBytes(arch) + " bytes";
            }
        } catch (IllegalArgumentException e) {
            noRoom = e.getMessage();
        }
        if (noRoom != null) {
            return new Plan(null, "ratio " + params.get(RATIO) + " leaves no room for a network (" + (long) budgetBytes
                    + " bytes): " + noRoom, false, body, true);
        }
        double quantAware = params.get(QUANT_AWARE) >= 0 ? params.get(QUANT_AWARE) : bits <= 8 ? 0.9 : 0.3;
        InrSettings settings = new InrSettings(params.get(STEPS), Math.round(params.get(TIME_BUDGET) * 1000),
                params.get(TARGET), params.get(LEARNING_RATE), params.get(WEIGHT_DECAY), params.get(LAMBDA_GRAD),
                params.get(LAMBDA_FREQ), quantAware, bits, params.get(SEED), params.get(DEVICE));
        return new Plan(new InrProblem(spec.name(), spec.shape(), v, body, arch, settings, quantization), null, false,
                body, false);
    }

    private static InrQuantization quantization(InrArchitecture arch, int bits, int bitsEdge, int bitsBias,
                                                CodecParams params) {
        return InrQuantization.of(arch, bits, bitsEdge, bitsBias, params.get(GRID_COLUMNS), params.get(REFIT));
    }

    /** Bytes of the outlier dictionary as {@link #writeOutliers} writes it. */
    private static long outlierBytes(int[] outliers, int dtypeSize) {
        long n = PayloadWriter.varintSize(outliers.length) + (long) outliers.length * dtypeSize;
        int previous = -1;
        for (int i : outliers) {
            n += PayloadWriter.varintSize(i - previous - 1);
            previous = i;
        }
        return n;
    }

    /** Where encode finds its trainer; tests of this package substitute a pure-Java one. */
    static volatile java.util.function.Supplier<java.util.Optional<InrTrainer>> trainers = InrTrainer::find;

    @Override
    public byte[] encode(Tensor tensor, CodecParams params) {
        return encode(tensor, params, trainers.get());
    }

    /** {@link #encode(Tensor, CodecParams)} with the trainer given (tests: none). */
    byte[] encode(Tensor tensor, CodecParams params, java.util.Optional<InrTrainer> trainers) {
        params.requireFor(this);
        Plan plan = plan(tensor, params);
        TensorSpec spec = tensor.spec();
        if (plan.flat()) {
            byte[] flat = flat(tensor, plan.body());
            // a tiny tensor that is nearly all outliers: keeping it as it is takes fewer bytes
            return flat.length <= maxEncodedLength(spec, params) ? flat : stored(tensor);
        }
        if (plan.noRoom()) {
            if (params.get(FALLBACK) == Fallback.STORE) {
                return stored(tensor);
            }
            throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "': " + plan.reason());
        }
        if (plan.problem() == null) {
            return stored(tensor);
        }
        InrTrainer trainer = trainers.orElseThrow(() -> new IllegalStateException("codec '" + NAME
                + "': the inr trainer (module inr-trainer, DJL) is not on the class path; cannot encode tensor '"
                + spec.name() + "'"));
        InrProblem problem = plan.problem();
        InrProgress progress = InrProgress.current();
        InrFit fit = trainer.train(problem, progress);
        byte[] payload = network(tensor, problem, fit.weights());
        Tensor back = decode(ByteBuffer.wrap(payload));
        double mse = normalisedMse(tensor.toFloats(), back.toFloats(), problem.body().halfRange());
        double relL2 = io.weightstream.codec.TensorMetrics.compare(tensor, back).relL2();
        boolean accepted = mse <= params.get(FALLBACK_MSE);
        progress.finished(spec.name(), fit, relL2, accepted);
        if (accepted) {
            return payload;
        }
        if (params.get(FALLBACK) == Fallback.STORE) {
            return stored(tensor);
        }
        throw new IllegalArgumentException("codec '" + NAME + "': tensor '" + spec.name() + "': the network's MSE "
                + String.format(java.util.Locale.ROOT, "%.4g", mse) + " in the normalised domain exceeds fallback.mse "
                + params.get(FALLBACK_MSE) + String.format(java.util.Locale.ROOT, " (relative L2 %.4f after %d steps,"
                + " %.1f s, stopped by %s)", relL2, fit.steps(), fit.trainMillis() / 1e3, fit.stopReason()));
    }

    /** Mean squared error in the normalised domain: the error divided by half the body's range. */
    static double normalisedMse(float[] a, float[] b, float halfRange) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            double d = ((double) a[i] - b[i]) / halfRange;
            sum += d * d;
        }
        return a.length == 0 ? 0 : sum / a.length;
    }

    private byte[] stored(Tensor tensor) {
        PayloadWriter out = new PayloadWriter(64 + (int) tensor.spec().byteSize());
        PayloadHeader.of(this, tensor.spec()).write(out);
        out.u8(InrFormat.MODE_STORED);
        out.bytes(tensor.toBytes());
        return out.toByteArray();
    }

    private byte[] flat(Tensor tensor, InrBody body) {
        PayloadWriter out = new PayloadWriter(64);
        PayloadHeader.of(this, tensor.spec()).write(out);
        out.u8(InrFormat.MODE_FLAT);
        writeOutliers(out, tensor, body.outliers());
        out.f32(body.lo());
        return out.toByteArray();
    }

    /**
     * The network payload of a fit, without the fallback rule: outliers, the body's range, the architecture and the
     * weights quantized as the problem's {@link InrQuantization} plans (for tools that train through
     * {@link InrProblem#of} themselves), the output layer refitted if the plan says so.
     */
    public byte[] network(Tensor tensor, InrProblem problem, float[][] weights) {
        return network(tensor, problem, weights, problem.quantization());
    }

    /**
     * {@link #network(Tensor, InrProblem, float[][])} with {@code bits}: the problem's plan if it was made for
     * {@code bits}, else every tensor at {@code bits} on one grid per slice, without refit.
     */
    public byte[] network(Tensor tensor, InrProblem problem, float[][] weights, int bits) {
        return network(tensor, problem, weights, bits == problem.settings().bits() ? problem.quantization()
                : InrQuantization.uniform(problem.architecture(), bits));
    }

    /** {@link #network(Tensor, InrProblem, float[][])} with the quantization given. */
    public byte[] network(Tensor tensor, InrProblem problem, float[][] weights, InrQuantization q) {
        InrArchitecture arch = problem.architecture();
        new InrNetwork(arch, weights); // checks the shapes
        List<InrArchitecture.Parameter> shapes = arch.parameters();
        if (q.bits().length != shapes.size()) {
            throw new IllegalArgumentException(q + " does not fit " + arch);
        }
        int blocks = arch.blocks();
        int n = shapes.size();
        float[][] stored = new float[n][];
        for (int t = 0; t < n; t++) {
            int size = (int) shapes.get(t).size();
            stored[t] = new float[size * blocks];
            for (int b = 0; b < blocks; b++) {
                float[] slice = java.util.Arrays.copyOfRange(weights[t], b * size, (b + 1) * size);
                for (float v : slice) {
                    if (!Float.isFinite(v)) {
                        throw new IllegalStateException("codec '" + NAME + "': the trainer returned non-finite weights"
                                + " in " + shapes.get(t).name() + " for tensor '" + tensor.name() + "'");
                    }
                }
                Quantized z = quantize(slice, shapes.get(t), q.bits(t), q.perColumn(t));
                System.arraycopy(z.values(), 0, stored[t], b * size, size);
            }
        }
        float[][] fitted = weights;
        if (q.refitOutput()) {
            fitted = weights.clone();
            InrRefit.outputLayer(problem, stored, q, fitted);
        }
        PayloadWriter out = new PayloadWriter(1024);
        PayloadHeader.of(this, tensor.spec()).write(out);
        out.u8(InrFormat.MODE_NETWORK);
        writeOutliers(out, tensor, problem.body().outliers());
        out.f32(problem.body().lo()).f32(problem.body().hi());
        out.varint(arch.tile()).varint(tensor.spec().dim(0) / blocks).u8(arch.depth()).varint(arch.width())
                .varint(arch.modWidth()).f32(arch.omega0());
        for (int b : arch.bands()) {
            out.u8(b);
        }
        for (int t = 0; t < n; t++) {
            out.u8(q.bits(t)).u8(q.perColumn(t) ? InrFormat.GRID_COLUMNS : InrFormat.GRID_TENSOR);
        }
        int[][] codes = new int[n * blocks][];
        int[] sliceBits = new int[n * blocks];
        long codeBits = 0;
        for (int t = 0; t < n; t++) {
            int size = (int) shapes.get(t).size();
            for (int b = 0; b < blocks; b++) {
                float[] slice = java.util.Arrays.copyOfRange(fitted[t], b * size, (b + 1) * size);
                Quantized z = quantize(slice, shapes.get(t), q.bits(t), q.perColumn(t));
                if (z.columns() != null) {
                    out.f32(z.columns().scale());
                    for (int c = 0; c < z.columns().lo().length; c++) {
                        out.u16(z.columns().lo()[c] & 0xffff).u16(z.columns().range()[c] & 0xffff);
                    }
                } else {
                    out.f32(z.grid().steps()[0]).f32(z.grid().offsets()[0]);
                }
                codes[t * blocks + b] = z.codes();
                sliceBits[t * blocks + b] = q.bits(t);
                codeBits += (long) size * q.bits(t);
            }
        }
        int length = (int) ((codeBits + 7) / 8);
        byte[] buf = out.ensureCapacity(length);
        int end = InrQuantizer.pack(codes, sliceBits, buf, out.position());
        out.advance(end - out.position());
        return out.toByteArray();
    }

    /** One slice quantized: its grid (and the stored per-column fields, if any), codes and decoded values. */
    record Quantized(InrQuantizer.Grid grid, InrQuantizer.Columns columns, int[] codes, float[] values) {
    }

    static Quantized quantize(float[] slice, InrArchitecture.Parameter p, int bits, boolean perColumn) {
        InrQuantizer.Columns columns = perColumn ? InrQuantizer.columns(slice, p.cols()) : null;
        InrQuantizer.Grid grid = perColumn ? columns.grid(bits) : InrQuantizer.tensorGrid(slice, bits);
        int[] codes = InrQuantizer.codes(slice, grid, bits);
        return new Quantized(grid, columns, codes, InrQuantizer.values(codes, grid));
    }

    private static void writeOutliers(PayloadWriter out, Tensor tensor, int[] outliers) {
        out.varint(outliers.length);
        int previous = -1;
        for (int i : outliers) {
            out.varint(i - previous - 1);
            previous = i;
        }
        int size = tensor.dtype().size();
        ByteBuffer data = tensor.data();
        byte[] value = new byte[size];
        for (int i : outliers) {
            data.get(i * size, value);
            out.bytes(value);
        }
    }

    @Override
    public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
        PayloadReader in = PayloadReader.of(payload);
        // version 1 (one bit width, one grid per tensor and block) still decodes
        PayloadHeader h = PayloadHeader.read(in, limits);
        h.requireCodec(NAME, InrFormat.FORMAT_VERSION_1, InrFormat.FORMAT_VERSION);
        if (!DTYPES.contains(h.dtype())) {
            throw new CorruptPayloadException(h.bodyOffset(), "codec '" + NAME + "' cannot hold dtype " + h.dtype());
        }
        long numel = h.numel();
        int size = h.dtype().size();
        int modeAt = in.position();
        int mode = in.u8();
        if (mode == InrFormat.MODE_STORED) {
            int bytes = limits.checkAllocation(numel * size, modeAt, "stored tensor");
            in.require(bytes, "stored tensor");
            byte[] data = new byte[bytes];
            in.bytes(data, 0, bytes);
            in.requireEnd("stored tensor");
            return new Tensor(h.spec(""), ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN));
        }
        if (mode != InrFormat.MODE_FLAT && mode != InrFormat.MODE_NETWORK) {
            throw new CorruptPayloadException(modeAt, "unknown mode " + mode);
        }
        if (h.rank() < 1 || numel == 0) {
            throw new CorruptPayloadException(modeAt, "a tensor of shape " + java.util.Arrays.toString(h.shape())
                    + " has no grid");
        }
        int n = (int) numel;
        int countAt = in.position();
        int k = in.varintInt(n, "outlier count");
        // each outlier takes at least one index byte and its value
        in.require((long) k * (1 + size), "outliers");
        int[] index = new int[k];
        long previous = -1;
        for (int i = 0; i < k; i++) {
            int at = in.position();
            long idx = previous + 1 + in.varintLong(n, "outlier index");
            if (idx >= n || idx <= previous) {
                throw new CorruptPayloadException(at, "outlier index " + idx + " out of order or beyond " + n);
            }
            index[i] = (int) idx;
            previous = idx;
        }
        in.require((long) k * size, "outlier values");
        byte[] outlierValues = new byte[k * size];
        in.bytes(outlierValues, 0, outlierValues.length);

        limits.checkAllocation(numel * Math.max(size, 4), countAt, "decoded tensor");
        float[] values;
        if (mode == InrFormat.MODE_FLAT) {
            float value = in.f32();
            in.requireEnd("flat tensor");
            values = new float[n];
            java.util.Arrays.fill(values, value);
        } else {
            values = decodeNetwork(in, h, limits, h.formatVersion());
        }
        ByteBuffer data = FloatConversions.fromFloats(h.dtype(), values).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < k; i++) {
            for (int b = 0; b < size; b++) {
                data.put(index[i] * size + b, outlierValues[i * size + b]);
            }
        }
        return new Tensor(h.spec(""), data);
    }

    private static float[] decodeNetwork(PayloadReader in, PayloadHeader h, DecodeLimits limits, int version) {
        float lo = in.f32();
        float hi = in.f32();
        int archAt = in.position();
        long[] shape = h.shape();
        long last = shape[shape.length - 1];
        int tile = in.varintInt(Integer.MAX_VALUE, "tile");
        if (tile < 1 || last % tile != 0) {
            throw new CorruptPayloadException(archAt, "tile " + tile + " does not divide the last dimension " + last);
        }
        int blockAt = in.position();
        int blockRows = in.varintInt(Integer.MAX_VALUE, "rows per block");
        if (blockRows < 1 || shape[0] % blockRows != 0 || (shape.length == 1 && blockRows != shape[0])) {
            throw new CorruptPayloadException(blockAt, blockRows + " rows per block do not divide " + shape[0]);
        }
        int depthAt = in.position();
        int depth = in.u8();
        int width = in.varintInt(InrArchitecture.MAX_WIDTH, "width");
        int modWidth = in.varintInt(InrArchitecture.MAX_MOD_WIDTH, "modulator width");
        float omega0 = in.f32();
        int[] grid = InrArchitecture.gridOf(shape, tile, 0);
        grid[0] = shape.length == 1 ? grid[0] : blockRows;
        int blocks = (int) (shape[0] / blockRows);
        int[] bands = new int[grid.length];
        for (int j = 0; j < grid.length; j++) {
            int at = in.position();
            bands[j] = in.u8();
            if (bands[j] > InrArchitecture.maxBands(grid[j])) {
                throw new CorruptPayloadException(at, bands[j] + " bands above the Nyquist cap of axis " + j);
            }
        }
        InrArchitecture arch;
        try {
            arch = new InrArchitecture(grid, bands, tile, width, depth, modWidth, omega0, blocks);
        } catch (IllegalArgumentException e) {
            throw new CorruptPayloadException(depthAt, "invalid network: " + e.getMessage());
        }
        List<InrArchitecture.Parameter> shapes = arch.parameters();
        int n = shapes.size();
        int[] bits = new int[n];
        boolean[] perColumn = new boolean[n];
        for (int t = 0; t < n; t++) {
            int bitsAt = in.position();
            bits[t] = version == InrFormat.FORMAT_VERSION_1 && t > 0 ? bits[0] : in.u8();
            if (bits[t] < InrFormat.MIN_BITS || bits[t] > InrFormat.MAX_BITS) {
                throw new CorruptPayloadException(bitsAt, "bits per code " + bits[t] + " not in [2, 16]");
            }
            if (version != InrFormat.FORMAT_VERSION_1) {
                int kindAt = in.position();
                int kind = in.u8();
                if (kind != InrFormat.GRID_TENSOR && kind != InrFormat.GRID_COLUMNS) {
                    throw new CorruptPayloadException(kindAt, "unknown grid kind " + kind + " of " + shapes.get(t).name());
                }
                perColumn[t] = kind == InrFormat.GRID_COLUMNS;
            }
        }
        long count = arch.totalParameterCount();
        long codeBits = 0;
        long gridBytes = 0;
        for (int t = 0; t < n; t++) {
            codeBits += shapes.get(t).size() * blocks * bits[t];
            gridBytes += (long) blocks * (perColumn[t] ? 4 + 4L * shapes.get(t).cols() : 8);
        }
        long packed = (codeBits + 7) / 8;
        int slices = n * blocks;
        in.require(gridBytes + packed, "networks of " + count + " parameters");
        limits.checkAllocation(8 * count, depthAt, "network weights");
        InrQuantizer.Grid[] grids = new InrQuantizer.Grid[slices];
        int[] sliceBits = new int[slices];
        for (int g = 0; g < slices; g++) {
            int t = g / blocks;
            sliceBits[g] = bits[t];
            int at = in.position();
            if (perColumn[t]) {
                float scale = in.f32();
                if (!Float.isFinite(scale) || !(scale > 0f)) {
                    throw new CorruptPayloadException(at, "scale " + scale + " of the grids of " + shapes.get(t).name());
                }
                int cols = shapes.get(t).cols();
                short[] colLo = new short[cols];
                short[] range = new short[cols];
                for (int c = 0; c < cols; c++) {
                    int colAt = in.position();
                    colLo[c] = (short) in.u16();
                    range[c] = (short) in.u16();
                    float a = FloatConversions.f16ToFloat(colLo[c]);
                    float r = FloatConversions.f16ToFloat(range[c]);
                    if (!Float.isFinite(a) || !Float.isFinite(r) || r < 0f) {
                        throw new CorruptPayloadException(colAt, "grid of column " + c + " of "
                                + shapes.get(t).name() + ": offset " + a + ", range " + r);
                    }
                }
                grids[g] = InrQuantizer.columnGrid(scale, colLo, range, bits[t]);
            } else {
                grids[g] = new InrQuantizer.Grid(new float[] {in.f32()}, new float[] {in.f32()});
                if (!Float.isFinite(grids[g].steps()[0]) || !Float.isFinite(grids[g].offsets()[0])) {
                    throw new CorruptPayloadException(at, "non-finite grid of " + shapes.get(t).name());
                }
            }
        }
        int[][] codes = new int[slices][];
        for (int g = 0; g < slices; g++) {
            codes[g] = new int[(int) shapes.get(g / blocks).size()];
        }
        int codesAt = in.position();
        if (!InrQuantizer.unpack(in.array(), in.arrayIndex(), sliceBits, codes)) {
            throw new CorruptPayloadException(codesAt + packed - 1, "non-zero padding after the last code");
        }
        in.skip((int) packed);
        in.requireEnd("network");
        float[][] weights = new float[n][];
        for (int t = 0; t < n; t++) {
            int size = (int) shapes.get(t).size();
            weights[t] = new float[size * blocks];
            for (int b = 0; b < blocks; b++) {
                int g = t * blocks + b;
                for (int i = 0; i < size; i++) {
                    weights[t][b * size + i] = grids[g].value(codes[g][i], i);
                }
            }
        }
        float[] y = new InrNetwork(arch, weights).evaluateAll();
        float half = (hi - lo) * 0.5f;
        for (int i = 0; i < y.length; i++) {
            y[i] = lo + (y[i] + 1f) * half;
        }
        return y;
    }

    /**
     * Rows per network: {@code block.rows}, or with -1 the whole rows nearest {@code block.values} values (at least
     * one); the grid then takes the largest divisor of the first dimension not above it.
     */
    static int blockRows(long[] shape, CodecParams params) {
        int rows = params.get(BLOCK_ROWS);
        if (rows >= 0 || shape.length < 2) {
            return Math.max(rows, 0);
        }
        long cols = 1;
        for (int i = 1; i < shape.length; i++) {
            cols *= shape[i];
        }
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.round((double) params.get(BLOCK_VALUES) / cols)));
    }
}
