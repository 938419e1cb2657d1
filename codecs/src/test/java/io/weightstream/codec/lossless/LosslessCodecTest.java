package io.weightstream.codec.lossless;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.weightstream.codec.AbstractCodecContractTest;
import io.weightstream.codec.Codec;
import io.weightstream.codec.CodecParams;
import io.weightstream.codec.CorruptPayloadException;
import io.weightstream.codec.OnnxWeights;
import io.weightstream.codec.PayloadHeader;
import io.weightstream.codec.DecodeLimits;
import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LosslessCodecTest extends AbstractCodecContractTest {
    private final LosslessCodec codec = new LosslessCodec();

    @Override
    protected Codec codec() {
        return codec;
    }

    @Override
    protected List<CodecParams> paramSets() {
        return List.of(codec.defaultParams(),
                codec.params(Map.of("block.size", "4096", "checksum", "true")),
                codec.params(Map.of("min.gain", "0", "entropy", "rans")),
                codec.params(Map.of("entropy", "rans", "block.size", "8192")),
                codec.params(Map.of("min.gain", "1", "narrow", "false")),
                codec.params(Map.of("block.size", "65536", "threads", "3")));
    }

    @Override
    protected CodecParams corruptionParams() {
        return codec.params(Map.of("block.size", "4096"));
    }

    private byte[] encode(Tensor t, Map<String, String> params) {
        return codec.encode(t, codec.params(params));
    }

    @Test
    void weightsCompressAndRandomMantissaPlanesStayRaw() {
        Tensor w = weights("w", DType.F32, new SplittableRandom(5), 512, 512);
        byte[] payload = encode(w, Map.of());
        // exponent plane of N(0, 0.05) weights: about 2.7 bits of 8; three raw mantissa planes
        assertThat((double) payload.length / w.spec().byteSize()).isBetween(0.80, 0.86);
        byte[] allCoded = encode(w, Map.of("min.gain", "0"));
        byte[] allRaw = encode(w, Map.of("min.gain", "1"));
        assertThat(allRaw.length).isGreaterThan((int) w.spec().byteSize());
        // coding the random planes gains almost nothing: that is why the default leaves them raw
        assertThat(allCoded.length).isLessThanOrEqualTo(payload.length).isGreaterThan((int) (0.99 * payload.length));
    }

    @Test
    void exactFloat16ValuesInFloat32CostNoMoreThanTheirFloat16Form() {
        SplittableRandom rnd = new SplittableRandom(11);
        Tensor f16 = weights("w", DType.F16, rnd, 300, 301);
        // widen to F32: every value is an exact float16 value, NaNs and subnormals included
        Tensor special = specialValues(DType.F16);
        for (Tensor half : List.of(f16, special, subnormals(DType.F16))) {
            Tensor f32 = widen(half);
            byte[] asF32 = encode(f32, Map.of());
            byte[] asF16 = encode(half, Map.of());
            assertThat(asF32.length).as(half.toString()).isLessThanOrEqualTo(asF16.length);
            assertThat(asF32[PayloadHeader.peek(ByteBuffer.wrap(asF32), DecodeLimits.DEFAULT).bodyOffset()])
                    .isEqualTo((byte) LosslessFormat.FORM_F16);
            assertBitExact(f32, codec.decode(asF32));
        }
        Tensor f32 = Tensor.ofFloats(new TensorSpec("w", DType.F32, 300, 301), f16.toFloats());
        assertThat(encode(f32, Map.of()).length).isLessThanOrEqualTo((int) f16.spec().byteSize());
        // without narrowing it costs more (the zero low mantissa bits still take their planes)
        assertThat(encode(f32, Map.of("narrow", "false")).length).isGreaterThan(encode(f32, Map.of()).length);
    }

    /** F16 -> F32 bit for bit, without going through float (which may quiet signalling NaNs). */
    private static Tensor widen(Tensor half) {
        ByteBuffer src = half.data();
        ByteBuffer dst = ByteBuffer.allocate(2 * src.remaining()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (src.hasRemaining()) {
            dst.putInt(BytePlanes.F16ToF32.bits(src.getShort() & 0xffff));
        }
        return new Tensor(new TensorSpec("w", DType.F32, half.spec().shape()), dst.flip());
    }

    @Test
    void float16NarrowingIsExactForAllPatterns() {
        for (int h = 0; h < 1 << 16; h++) {
            int bits = BytePlanes.F16ToF32.bits(h);
            assertThat(BytePlanes.exactF16(bits)).as("f16 %04x", h).isEqualTo(h);
            if (!Float.isNaN(Float.intBitsToFloat(bits))) {
                // agrees with the reference conversion for every non-NaN value
                assertThat(Float.floatToRawIntBits(io.weightstream.tensor.FloatConversions.f16ToFloat((short) h)))
                        .isEqualTo(bits);
            }
        }
        // values between float16 values, below its range, above it, and NaN payloads it cannot hold
        for (int bits : new int[] {0x3dcccccd, 0x00000001, 0x33000000, 0x477ff000, 0x47800000, 0x7f800001, 0x7fc00001}) {
            assertThat(BytePlanes.exactF16(bits)).as("%08x", bits).isEqualTo(-1);
        }
    }

    @Test
    void bfloat16ValuesInFloat32AreStoredAsBfloat16() {
        Tensor bf = weights("w", DType.BF16, new SplittableRandom(12), 200, 100);
        Tensor f32 = Tensor.ofFloats(new TensorSpec("w", DType.F32, 200, 100), bf.toFloats());
        byte[] asF32 = encode(f32, Map.of());
        assertThat(asF32.length).isLessThanOrEqualTo(encode(bf, Map.of()).length);
        assertBitExact(f32, codec.decode(asF32));
    }

    @Test
    void oneValueThatIsNotFloat16KeepsTheTensorFloat32() {
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.25f;
        }
        v[777] = 0.1f; // not a float16 value
        Tensor t = Tensor.ofFloats(new TensorSpec("w", DType.F32, 1000), v);
        byte[] payload = encode(t, Map.of());
        assertThat(payload[PayloadHeader.peek(ByteBuffer.wrap(payload), DecodeLimits.DEFAULT).bodyOffset()])
                .isEqualTo((byte) LosslessFormat.FORM_AS_IS);
        assertBitExact(t, codec.decode(payload));
        // a signalling NaN is not a float16 value either (float16 conversion would quiet it)
        v[777] = Float.intBitsToFloat(0x7f800001);
        Tensor nan = Tensor.ofFloats(new TensorSpec("w", DType.F32, 1000), v);
        assertBitExact(nan, codec.decode(encode(nan, Map.of())));
    }

    @Test
    void payloadDoesNotDependOnThreads() {
        Tensor w = weights("w", DType.F32, new SplittableRandom(6), 700, 300);
        byte[] one = encode(w, Map.of("block.size", "16384"));
        assertThat(encode(w, Map.of("block.size", "16384", "threads", "4"))).isEqualTo(one);
    }

    @Test
    void checksumCatchesCorruptedRawPlanes() {
        Tensor w = weights("w", DType.F32, new SplittableRandom(7), 100, 100);
        byte[] with = encode(w, Map.of("checksum", "true"));
        byte[] without = encode(w, Map.of());
        // the last byte belongs to the last (raw) mantissa plane in both
        with[with.length - 1] ^= 1;
        without[without.length - 1] ^= 1;
        assertThatThrownBy(() -> codec.decode(with)).isInstanceOf(CorruptPayloadException.class)
                .hasMessageContaining("CRC32C");
        assertThat(codec.decode(without).toBytes()).isNotEqualTo(w.toBytes());
    }

    @Test
    void badParametersAreRejectedNamingCodecAndKey() {
        assertThatThrownBy(() -> codec.params(Map.of("block.size", "12")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("lossless").hasMessageContaining("block.size").hasMessageContaining("[4096");
        assertThatThrownBy(() -> codec.params(Map.of("min.gain", "lots")))
                .hasMessageContaining("lossless").hasMessageContaining("min.gain").hasMessageContaining("lots");
        assertThatThrownBy(() -> codec.params(Map.of("blocksize", "4096")))
                .hasMessageContaining("unknown parameter 'blocksize'").hasMessageContaining("block.size");
    }

    /** The target: all-MiniLM-L6-v2 bit-exact at a ratio of at least 1.20 against the float32 file. */
    @Test
    void realModelIsBitExactAtRatioAbove1_20() throws Exception {
        Optional<Path> onnx = OnnxWeights.miniLm();
        assumeThat(onnx).as("the model staged by the deploy module (weightstream.stack.home)").isPresent();
        List<Tensor> tensors = OnnxWeights.read(onnx.get());
        long tensorBytes = 0;
        long payloadBytes = 0;
        CodecParams p = codec.defaultParams();
        for (Tensor t : tensors) {
            byte[] payload = codec.encode(t, p);
            assertBitExact(t, codec.decode(payload));
            tensorBytes += t.spec().byteSize();
            payloadBytes += payload.length;
        }
        assertThat(tensorBytes).isGreaterThan(90_000_000L);
        double fileRatio = (double) Files.size(onnx.get()) / payloadBytes;
        assertThat(fileRatio).as("file bytes / payload bytes").isGreaterThanOrEqualTo(1.20);
        assertThat((double) tensorBytes / payloadBytes).as("tensor bytes / payload bytes").isGreaterThanOrEqualTo(1.20);
    }
}
