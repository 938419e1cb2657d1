package io.weightstream.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.FloatConversions;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract every {@link Codec} passes (STYLE rule 4): round trip, determinism, truncated and corrupted
 * payloads, declared sizes against limits, the payload bound, no state between calls, every supported dtype,
 * empty and scalar tensors, odd sizes and special values. A codec's test extends it and supplies the codec;
 * lossy codecs override {@link #assertReconstruction} (or {@link #maxRelL2}).
 *
 * <pre>{@code
 * class RtnCodecTest extends AbstractCodecContractTest {
 *     protected Codec codec() { return new RtnCodec(); }
 *     protected double maxRelL2(Tensor original, CodecParams params) { return 0.05; }
 * }
 * }</pre>
 *
 * Reuse it from another module through the codecs test-jar ({@code <type>test-jar</type>}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class AbstractCodecContractTest {
    /** Limits for corruption tests: small enough that a corrupt size can never exhaust the heap. */
    protected static final DecodeLimits TIGHT = DecodeLimits.builder().maxOutputBytes(16L << 20).maxElements(16L << 20).build();

    /** Limits above any array size: what a decoder must survive when a user lifts the limits. */
    protected static final DecodeLimits UNLIMITED = DecodeLimits.builder().maxOutputBytes(Long.MAX_VALUE)
            .maxElements(Long.MAX_VALUE).build();

    /** The codec under test. */
    protected abstract Codec codec();

    /** Parameter sets every round-trip test runs with; defaults only unless overridden. */
    protected List<CodecParams> paramSets() {
        return List.of(codec().defaultParams());
    }

    /** Parameters for the truncation and bit-flip sweeps (e.g. small blocks, so that every region is small). */
    protected CodecParams corruptionParams() {
        return codec().defaultParams();
    }

    /** Whether the codec encodes NaN and infinities; if not, encode must reject them with IllegalArgumentException. */
    protected boolean supportsNonFinite() {
        return true;
    }

    /** The largest relative L2 error accepted for {@code original} (finite float tensors) by a lossy codec. */
    protected double maxRelL2(Tensor original, CodecParams params) {
        return 0;
    }

    /**
     * Checks a reconstruction (same dtype and shape already checked): bit-exact for lossless codecs; for lossy
     * ones a relative L2 error within {@link #maxRelL2}, and non-float dtypes exact.
     */
    protected void assertReconstruction(Tensor original, Tensor decoded, CodecParams params) {
        if (codec().isLossless() || !original.dtype().isFloatingPoint()) {
            assertBitExact(original, decoded);
            return;
        }
        TensorMetrics m = TensorMetrics.compare(original, decoded);
        assertThat(m.relL2()).as("relative L2 error of %s", original).isLessThanOrEqualTo(maxRelL2(original, params));
    }

    protected static void assertBitExact(Tensor original, Tensor decoded) {
        byte[] a = original.toBytes();
        byte[] b = decoded.toBytes();
        if (!Arrays.equals(a, b)) {
            int i = Arrays.mismatch(a, b);
            fail("%s: decoded bytes differ first at byte %d (element %d): %02x vs %02x", original, i,
                    i / original.dtype().size(), i < a.length ? a[i] : -1, i < b.length ? b[i] : -1);
        }
    }

    // ---------------------------------------------------------------- sample tensors

    /** The tensors of one dtype every round-trip test runs on. */
    protected List<Tensor> sampleTensors(DType dtype) {
        SplittableRandom rnd = new SplittableRandom(dtype.ordinal() * 7919L + 17);
        List<Tensor> out = new ArrayList<>();
        out.add(weights("weights", dtype, rnd, 33, 47));
        out.add(weights("empty", dtype, rnd, 0));
        out.add(weights("empty-2d", dtype, rnd, 0, 5));
        out.add(weights("scalar", dtype, rnd));
        out.add(weights("one", dtype, rnd, 1));
        out.add(weights("odd", dtype, rnd, 7));
        out.add(weights("odd-3d", dtype, rnd, 3, 1, 5));
        out.add(weights("row", dtype, rnd, 1, 1023));
        out.add(constant("constant", dtype, 3, 64));
        out.add(weights("large", dtype, rnd, 300, 701));
        if (dtype.isFloatingPoint() && supportsNonFinite()) {
            out.add(specialValues(dtype));
        }
        if (dtype.isFloatingPoint()) {
            out.add(subnormals(dtype));
        }
        return out;
    }

    /** Weight-like values (normal, sigma 0.05, a few outliers) for floats; random values for integer dtypes. */
    protected static Tensor weights(String name, DType dtype, SplittableRandom rnd, long... shape) {
        TensorSpec spec = new TensorSpec(name, dtype, shape);
        int n = Math.toIntExact(spec.numel());
        if (dtype.isFloatingPoint() && dtype != DType.F64) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (gaussian(rnd) * (rnd.nextInt(100) == 0 ? 0.5 : 0.05));
            }
            return Tensor.ofFloats(spec, v);
        }
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(spec.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            switch (dtype) {
                case F64 -> b.putDouble(gaussian(rnd) * 0.05);
                case I64 -> b.putLong(rnd.nextInt(100) == 0 ? rnd.nextLong() : rnd.nextInt(-1000, 1000));
                case I32 -> b.putInt(rnd.nextInt(100) == 0 ? rnd.nextInt() : rnd.nextInt(-1000, 1000));
                case I16 -> b.putShort((short) rnd.nextInt(-3000, 3000));
                case I8, U8 -> b.put((byte) rnd.nextInt(-20, 20));
                case BOOL -> b.put((byte) rnd.nextInt(2));
                default -> throw new IllegalStateException();
            }
        }
        return new Tensor(spec, b.flip());
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    protected static Tensor constant(String name, DType dtype, long... shape) {
        TensorSpec spec = new TensorSpec(name, dtype, shape);
        int n = Math.toIntExact(spec.numel());
        if (dtype.isFloatingPoint()) {
            float[] v = new float[n];
            Arrays.fill(v, 0.125f);
            return Tensor.ofFloats(spec, v);
        }
        byte[] b = new byte[Math.toIntExact(spec.byteSize())];
        for (int i = 0; i < b.length; i += dtype.size()) {
            b[i] = 1;
        }
        return new Tensor(spec, ByteBuffer.wrap(b));
    }

    /** NaNs (quiet, signalling, with payloads, negative), infinities, signed zeros, extremes, between ordinary values. */
    protected static Tensor specialValues(DType dtype) {
        long[] bits = switch (dtype) {
            case F32 -> new long[] {0x7fc00000L, 0x7f800001L, 0xffc00123L, 0x7fa00000L, 0x7f800000L, 0xff800000L,
                    0x00000000L, 0x80000000L, 0x7f7fffffL, 0xff7fffffL, 0x00800000L, 0x3f800000L, 0xbe4ccccdL, 0x3c23d70aL};
            case F16 -> new long[] {0x7e00, 0x7c01, 0xfe12, 0x7d00, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x7bff, 0xfbff,
                    0x0400, 0x3c00, 0xb266, 0x211f};
            case BF16 -> new long[] {0x7fc0, 0x7f81, 0xffc1, 0x7fa0, 0x7f80, 0xff80, 0x0000, 0x8000, 0x7f7f, 0xff7f,
                    0x0080, 0x3f80, 0xbe4d, 0x3c24};
            case F64 -> new long[] {0x7ff8000000000000L, 0x7ff0000000000001L, 0xfff8000000000123L, 0x7ff0000000000000L,
                    0xfff0000000000000L, 0L, 0x8000000000000000L, 0x7fefffffffffffffL, 0x0010000000000000L,
                    0x3ff0000000000000L, 0xbfc999999999999aL};
            default -> throw new IllegalArgumentException(dtype + " is not floating-point");
        };
        return fromBits("special", dtype, bits);
    }

    /** Subnormal values, the smallest normal values and zeros. */
    protected static Tensor subnormals(DType dtype) {
        long[] bits = switch (dtype) {
            case F32 -> new long[] {0x00000001L, 0x80000001L, 0x007fffffL, 0x00400000L, 0x00800000L, 0x00000000L,
                    0x00012345L, 0x807fffffL};
            case F16 -> new long[] {0x0001, 0x8001, 0x03ff, 0x0200, 0x0400, 0x0000, 0x0123, 0x83ff};
            case BF16 -> new long[] {0x0001, 0x8001, 0x007f, 0x0040, 0x0080, 0x0000, 0x0012, 0x807f};
            case F64 -> new long[] {1L, 0x8000000000000001L, 0x000fffffffffffffL, 0x0010000000000000L, 0L};
            default -> throw new IllegalArgumentException(dtype + " is not floating-point");
        };
        return fromBits("subnormal", dtype, bits);
    }

    protected static Tensor fromBits(String name, DType dtype, long[] bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : bits) {
            switch (dtype.size()) {
                case 8 -> b.putLong(v);
                case 4 -> b.putInt((int) v);
                case 2 -> b.putShort((short) v);
                default -> b.put((byte) v);
            }
        }
        return new Tensor(new TensorSpec(name, dtype, bits.length), b.flip());
    }

    private boolean finite(Tensor t) {
        if (!t.dtype().isFloatingPoint()) {
            return true;
        }
        if (t.dtype() == DType.F64) {
            ByteBuffer b = t.data();
            for (int i = 0; i < t.spec().numel(); i++) {
                if (!Double.isFinite(b.getDouble(8 * i))) {
                    return false;
                }
            }
            return true;
        }
        for (float f : t.toFloats()) {
            if (!Float.isFinite(f)) {
                return false;
            }
        }
        return true;
    }

    Stream<Arguments> cases() {
        List<Arguments> args = new ArrayList<>();
        for (DType dtype : DType.values()) {
            if (!codec().supportedDTypes().contains(dtype)) {
                continue;
            }
            for (Tensor t : sampleTensors(dtype)) {
                for (CodecParams p : paramSets()) {
                    args.add(Arguments.of(t, p));
                }
            }
        }
        return args.stream();
    }

    /** A multi-block-sized tensor of the first supported float dtype (else the first dtype) for the corruption sweeps. */
    protected Tensor corruptionSubject() {
        DType d = codec().supportedDTypes().contains(DType.F32) ? DType.F32 : codec().supportedDTypes().iterator().next();
        return weights("subject", d, new SplittableRandom(4242), 61, 67);
    }

    private byte[] encode(Tensor t, CodecParams p) {
        return codec().encode(t, p);
    }

    // ---------------------------------------------------------------- round trip

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void roundTrip(Tensor original, CodecParams params) {
        if (!finite(original) && !supportsNonFinite()) {
            assertThatThrownBy(() -> encode(original, params)).isInstanceOf(IllegalArgumentException.class);
            return;
        }
        byte[] payload = encode(original, params);
        assertThat((long) payload.length).as("payload length vs maxEncodedLength")
                .isLessThanOrEqualTo(codec().maxEncodedLength(original.spec(), params));

        PayloadHeader h = PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT);
        assertThat(h.codecName()).isEqualTo(codec().name());
        assertThat(h.formatVersion()).isEqualTo(codec().formatVersion());
        assertThat(h.dtype()).isEqualTo(original.dtype());
        assertThat(h.shape()).containsExactly(original.spec().shape());

        Tensor decoded = codec().decode(ByteBuffer.wrap(payload));
        assertThat(decoded.dtype()).isEqualTo(original.dtype());
        assertThat(decoded.spec().shape()).containsExactly(original.spec().shape());
        assertThat(decoded.name()).isEmpty();
        assertReconstruction(original, decoded, params);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void deterministic(Tensor original, CodecParams params) {
        if (!finite(original) && !supportsNonFinite()) {
            return;
        }
        byte[] a = encode(original, params);
        byte[] b = encode(original, params);
        assertThat(b).as("encoding twice gives the same bytes").isEqualTo(a);
        byte[] first = codec().decode(ByteBuffer.wrap(a)).toBytes();
        byte[] second = codec().decode(ByteBuffer.wrap(a)).toBytes();
        assertThat(second).as("decoding twice gives the same bytes").isEqualTo(first);
    }

    @Test
    void encodeIntoArrayAtOffsetMatchesEncode() {
        Tensor t = corruptionSubject();
        CodecParams p = codec().defaultParams();
        byte[] payload = encode(t, p);
        int bound = Math.toIntExact(codec().maxEncodedLength(t.spec(), p));
        byte[] out = new byte[bound + 13];
        int len = codec().encode(t, p, out, 13);
        assertThat(Arrays.copyOfRange(out, 13, 13 + len)).isEqualTo(payload);
        assertThatThrownBy(() -> codec().encode(t, p, new byte[bound - 1], 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void decodeReadsAnyKindOfBufferAndLeavesItUntouched() {
        Tensor t = corruptionSubject();
        byte[] payload = encode(t, codec().defaultParams());
        byte[] expected = codec().decode(payload).toBytes();

        ByteBuffer padded = ByteBuffer.allocate(payload.length + 10);
        padded.position(7);
        padded.put(payload);
        padded.position(7).limit(7 + payload.length);
        ByteBuffer slice = padded.slice();
        assertThat(codec().decode(padded).toBytes()).isEqualTo(expected);
        assertThat(padded.position()).isEqualTo(7);
        assertThat(codec().decode(slice).toBytes()).isEqualTo(expected);
        assertThat(codec().decode(ByteBuffer.wrap(payload).asReadOnlyBuffer()).toBytes()).isEqualTo(expected);
        ByteBuffer direct = ByteBuffer.allocateDirect(payload.length).put(payload).flip();
        assertThat(codec().decode(direct).toBytes()).isEqualTo(expected);
        assertThat(direct.position()).isZero();
    }

    @Test
    void registeredWithServiceLoader() {
        assertThat(Codecs.get(codec().name()).getClass()).isEqualTo(codec().getClass());
        Tensor t = corruptionSubject();
        byte[] payload = encode(t, codec().defaultParams());
        assertThat(Codecs.decode(ByteBuffer.wrap(payload)).toBytes()).isEqualTo(codec().decode(payload).toBytes());
    }

    @Test
    void parametersAreDocumentedAndParse() {
        Codec c = codec();
        assertThat(c.name()).matches(PayloadHeader.CODEC_NAME);
        assertThat(c.description()).isNotBlank();
        assertThat(c.formatVersion()).isNotNegative();
        for (CodecParameter<?> p : c.parameters()) {
            assertThat(p.description()).as(p.key()).isNotBlank();
            roundTripDefault(c, p);
        }
        CodecParams all = c.defaultParams();
        assertThat(CodecParams.parse(c, all.toMap(true))).isEqualTo(all);
        assertThatThrownBy(() -> CodecParams.parse(c, java.util.Map.of("no.such.key", "1")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(c.name()).hasMessageContaining("no.such.key");
    }

    private static <T> void roundTripDefault(Codec c, CodecParameter<T> p) {
        String text = p.format(p.defaultValue());
        CodecParams parsed = CodecParams.parse(c, java.util.Map.of(p.key(), text));
        assertThat(parsed.get(p)).as(p.key()).isEqualTo(p.defaultValue());
    }

    @Test
    void rejectsUnsupportedDTypesAndForeignParams() {
        for (DType d : DType.values()) {
            if (!codec().supportedDTypes().contains(d)) {
                Tensor t = weights("x", d, new SplittableRandom(1), 4);
                assertThatThrownBy(() -> encode(t, codec().defaultParams())).isInstanceOf(IllegalArgumentException.class);
            }
        }
        Codec other = new Codec() {
            public String name() {
                return "some-other";
            }

            public int formatVersion() {
                return 0;
            }

            public String description() {
                return "stub";
            }

            public List<CodecParameter<?>> parameters() {
                return List.of();
            }

            public java.util.Set<DType> supportedDTypes() {
                return java.util.Set.of();
            }

            public boolean isLossless() {
                return true;
            }

            public long maxEncodedLength(TensorSpec spec, CodecParams params) {
                return 0;
            }

            public byte[] encode(Tensor tensor, CodecParams params) {
                return new byte[0];
            }

            public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
                return null;
            }
        };
        assertThatThrownBy(() -> encode(corruptionSubject(), other.defaultParams()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---------------------------------------------------------------- state

    @Test
    void keepsNoStateBetweenCalls() {
        CodecParams p = codec().defaultParams();
        DType d = corruptionSubject().dtype();
        Tensor a = weights("a", d, new SplittableRandom(1), 40, 50);
        Tensor b = constant("b", d, 7, 9);
        Tensor c = weights("c", d, new SplittableRandom(2), 1000);
        byte[] pa = encode(a, p);
        byte[] pb = encode(b, p);
        byte[] pc = encode(c, p);
        assertThat(encode(a, p)).isEqualTo(pa);
        byte[] da = codec().decode(pa).toBytes();
        byte[] db = codec().decode(pb).toBytes();
        byte[] dc = codec().decode(pc).toBytes();
        assertThat(codec().decode(pa).toBytes()).isEqualTo(da);
        assertThat(codec().decode(pb).toBytes()).isEqualTo(db);
        assertThat(codec().decode(pc).toBytes()).isEqualTo(dc);
        assertThat(encode(b, p)).isEqualTo(pb);
        assertThat(encode(c, p)).isEqualTo(pc);
    }

    @Test
    void threadSafe() throws Exception {
        CodecParams p = codec().defaultParams();
        DType d = corruptionSubject().dtype();
        List<Tensor> tensors = List.of(weights("a", d, new SplittableRandom(3), 64, 64),
                weights("b", d, new SplittableRandom(4), 3, 999), constant("c", d, 100));
        List<byte[]> expected = tensors.stream().map(t -> encode(t, p)).toList();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int r = 0; r < 24; r++) {
                int i = r % tensors.size();
                results.add(pool.submit(() -> {
                    byte[] payload = encode(tensors.get(i), p);
                    Tensor back = codec().decode(payload);
                    return Arrays.equals(payload, expected.get(i))
                            && Arrays.equals(back.toBytes(), codec().decode(expected.get(i)).toBytes());
                }));
            }
            for (Future<Boolean> f : results) {
                assertThat(f.get()).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- corrupt input

    /** Runs a decode that may fail only with CorruptPayloadException (offset within the payload). */
    protected void decodeCorrupt(byte[] payload, DecodeLimits limits, String what) {
        try {
            Tensor t = codec().decode(ByteBuffer.wrap(payload), limits);
            assertThat(t).as(what).isNotNull();
        } catch (CorruptPayloadException e) {
            assertThat(e.offset()).as("offset of %s: %s", what, e.getMessage()).isBetween(0L, (long) payload.length);
        } catch (Throwable e) {
            throw new AssertionError(what + ": decode threw " + e + " instead of CorruptPayloadException", e);
        }
    }

    @Test
    void truncatedPayloadsAreRejected() {
        byte[] payload = encode(corruptionSubject(), corruptionParams());
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            for (int cut : cutPoints(payload.length)) {
                byte[] prefix = Arrays.copyOf(payload, cut);
                try {
                    codec().decode(ByteBuffer.wrap(prefix), TIGHT);
                    fail("a payload cut to %d of %d bytes decoded without error", cut, payload.length);
                } catch (CorruptPayloadException e) {
                    assertThat(e.offset()).as("offset for cut %d: %s", cut, e.getMessage()).isBetween(0L, (long) cut);
                } catch (Throwable e) {
                    throw new AssertionError("cut at " + cut + ": decode threw " + e, e);
                }
            }
        });
    }

    @Test
    void trailingBytesAreRejected() {
        byte[] payload = encode(corruptionSubject(), corruptionParams());
        byte[] longer = Arrays.copyOf(payload, payload.length + 3);
        assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(longer), TIGHT)).isInstanceOf(CorruptPayloadException.class);
    }

    /** Every cut point for small payloads; else every one in the first and last 512 bytes and 1500 in between. */
    private static int[] cutPoints(int length) {
        if (length <= 4096) {
            return java.util.stream.IntStream.range(0, length).toArray();
        }
        java.util.TreeSet<Integer> cuts = new java.util.TreeSet<>();
        for (int i = 0; i < 512; i++) {
            cuts.add(i);
            cuts.add(length - 1 - i);
        }
        for (int i = 0; i < 1500; i++) {
            cuts.add((int) ((long) i * length / 1500));
        }
        return cuts.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void bitFlipsFailCleanlyOrDecode() {
        byte[] payload = encode(corruptionSubject(), corruptionParams());
        assertTimeoutPreemptively(Duration.ofMinutes(3), () -> {
            SplittableRandom rnd = new SplittableRandom(99);
            for (int pos = 0; pos < payload.length; pos++) {
                // every bit of the first 96 bytes (header, tables); one bit elsewhere, all over the payload
                int bitsToFlip = pos < 96 ? 8 : 1;
                for (int j = 0; j < bitsToFlip; j++) {
                    int bit = bitsToFlip == 8 ? j : rnd.nextInt(8);
                    byte[] bad = payload.clone();
                    bad[pos] ^= (byte) (1 << bit);
                    decodeCorrupt(bad, TIGHT, "bit " + bit + " of byte " + pos + " flipped");
                }
            }
        });
    }

    @Test
    void bytesSetToExtremesFailCleanlyOrDecode() {
        byte[] payload = encode(corruptionSubject(), corruptionParams());
        assertTimeoutPreemptively(Duration.ofMinutes(3), () -> {
            int step = Math.max(1, payload.length / 3000);
            for (int pos = 0; pos < payload.length; pos += pos < 256 ? 1 : step) {
                for (int v : new int[] {0x00, 0xff, 0x7f, 0x80}) {
                    byte[] bad = payload.clone();
                    bad[pos] = (byte) v;
                    decodeCorrupt(bad, TIGHT, "byte " + pos + " set to " + v);
                }
            }
        });
    }

    @Test
    void declaredSizesAboveTheLimitsAreRejectedBeforeAllocating() {
        Tensor t = corruptionSubject();
        byte[] payload = encode(t, codec().defaultParams());
        // the real tensor against limits below its size
        DecodeLimits small = DecodeLimits.builder().maxOutputBytes(t.spec().byteSize() - 1).build();
        assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(payload), small)).isInstanceOf(CorruptPayloadException.class);
        DecodeLimits fewElements = DecodeLimits.builder().maxElements(t.spec().numel() - 1).build();
        assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(payload), fewElements))
                .isInstanceOf(CorruptPayloadException.class);
        DecodeLimits lowRank = DecodeLimits.builder().maxRank(t.spec().rank() - 1).build();
        assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(payload), lowRank)).isInstanceOf(CorruptPayloadException.class);

        // the same body under headers declaring huge shapes: 2^40 elements, and a product that overflows a long
        PayloadHeader h = PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT);
        byte[] body = Arrays.copyOfRange(payload, h.bodyOffset(), payload.length);
        for (long[] shape : new long[][] {{1L << 40}, {1L << 31, 1L << 31, 1L << 31}, {Integer.MAX_VALUE, 3}}) {
            PayloadWriter w = new PayloadWriter(64);
            PayloadHeader.of(codec().name(), codec().formatVersion(), t.dtype(), new long[0]).write(w);
            byte[] head = w.toByteArray();
            // rewrite the rank and dimensions by hand: PayloadHeader.of refuses shapes that overflow
            PayloadWriter forged = new PayloadWriter(64);
            forged.bytes(head, 0, head.length - 1);
            forged.u8(shape.length);
            for (long d : shape) {
                forged.varint(d);
            }
            forged.bytes(body);
            byte[] bad = forged.toByteArray();
            assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(bad)))
                    .as("shape %s", Arrays.toString(shape)).isInstanceOf(CorruptPayloadException.class);
            // limits above what one Java array holds: the codec must still refuse (DecodeLimits.checkAllocation)
            assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(bad), UNLIMITED))
                    .as("shape %s without limits", Arrays.toString(shape)).isInstanceOf(CorruptPayloadException.class);
        }
    }

    @Test
    void payloadsOfOtherCodecsAndVersionsAreRejected() {
        Tensor t = corruptionSubject();
        byte[] payload = encode(t, codec().defaultParams());
        PayloadHeader h = PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT);
        byte[] body = Arrays.copyOfRange(payload, h.bodyOffset(), payload.length);
        for (PayloadHeader forged : List.of(
                PayloadHeader.of("zz-not-" + codec().name().substring(0, Math.min(20, codec().name().length())),
                        codec().formatVersion(), t.dtype(), t.spec().shape()),
                PayloadHeader.of(codec().name(), codec().formatVersion() + 1000, t.dtype(), t.spec().shape()))) {
            PayloadWriter w = new PayloadWriter(64);
            forged.write(w);
            w.bytes(body);
            byte[] bad = w.toByteArray();
            assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(bad))).as(forged.toString())
                    .isInstanceOf(CorruptPayloadException.class);
        }
        assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(new byte[0]))).isInstanceOf(CorruptPayloadException.class);
        byte[] notOurs = "PK\u0003\u0004 something else entirely".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> codec().decode(ByteBuffer.wrap(notOurs))).isInstanceOf(CorruptPayloadException.class);
    }

    /** Floats of {@code t} as F32 values, for subclasses' metrics. */
    protected static float[] floats(Tensor t) {
        return FloatConversions.toFloats(t.dtype(), t.data(), Math.toIntExact(t.spec().numel()));
    }
}
