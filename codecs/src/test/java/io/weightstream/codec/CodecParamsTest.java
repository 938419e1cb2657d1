package io.weightstream.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.tensor.DType;
import io.weightstream.tensor.Tensor;
import io.weightstream.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CodecParamsTest {
    enum Mode { PER_CHANNEL, PER_GROUP }

    static final CodecParameter<Integer> BITS = CodecParameter.ofInt("bits", 4, 2, 8, "bits per weight");
    static final CodecParameter<Double> RATIO = CodecParameter.ofDouble("target.ratio", 8.0, 1.0, 100.0, "target");
    static final CodecParameter<Boolean> SYM = CodecParameter.ofBoolean("symmetric", true, "symmetric range");
    static final CodecParameter<Mode> MODE = CodecParameter.ofEnum("mode", Mode.class, Mode.PER_CHANNEL, "grouping");
    static final CodecParameter<String> NORM = CodecParameter.ofString("norm", "l2", "norm", "l1", "l2");
    static final CodecParameter<Long> SEED = CodecParameter.ofLong("seed", 42L, 0L, Long.MAX_VALUE, "seed");

    /** A codec that only declares parameters. */
    static final Codec STUB = new Codec() {
        public String name() {
            return "stub";
        }

        public int formatVersion() {
            return 1;
        }

        public String description() {
            return "parameters only";
        }

        public List<CodecParameter<?>> parameters() {
            return List.of(BITS, RATIO, SYM, MODE, NORM, SEED);
        }

        public Set<DType> supportedDTypes() {
            return Set.of();
        }

        public boolean isLossless() {
            return false;
        }

        public long maxEncodedLength(TensorSpec spec, CodecParams params) {
            return 0;
        }

        public byte[] encode(Tensor tensor, CodecParams params) {
            throw new UnsupportedOperationException();
        }

        public Tensor decode(ByteBuffer payload, DecodeLimits limits) {
            throw new UnsupportedOperationException();
        }
    };

    @Test
    void defaultsAndParsedValues() {
        CodecParams d = CodecParams.defaults(STUB);
        assertThat(d.get(BITS)).isEqualTo(4);
        assertThat(d.get(MODE)).isEqualTo(Mode.PER_CHANNEL);
        assertThat(d.toMap(false)).isEmpty();
        CodecParams p = CodecParams.parse(STUB, Map.of("bits", "3", "target.ratio", "12.5", "symmetric", "FALSE",
                "mode", "per-group", "norm", "l1", "seed", "0x10"));
        assertThat(p.get(BITS)).isEqualTo(3);
        assertThat(p.get(RATIO)).isEqualTo(12.5);
        assertThat(p.get(SYM)).isFalse();
        assertThat(p.get(MODE)).isEqualTo(Mode.PER_GROUP);
        assertThat(p.get(NORM)).isEqualTo("l1");
        assertThat(p.get(SEED)).isEqualTo(16L);
        assertThat(p.isSet("bits")).isTrue();
        assertThat(p.toMap(true)).containsEntry("mode", "per-group").containsEntry("seed", "16").hasSize(6);
        assertThat(CodecParams.parse(STUB, p.toMap(false))).isEqualTo(p);
        assertThat(CodecParams.parseAssignments(STUB, List.of("bits=3", "mode = per_group")).get(MODE)).isEqualTo(Mode.PER_GROUP);
        assertThat(CodecParams.builder(STUB).set(BITS, 8).build().get(BITS)).isEqualTo(8);
        assertThat(p.toString()).startsWith("stub{").contains("bits=3");
    }

    @Test
    void badInputNamesTheCodecAndTheKey() {
        assertThatThrownBy(() -> CodecParams.parse(STUB, Map.of("bitz", "3")))
                .hasMessage("codec 'stub': unknown parameter 'bitz' (known: bits, target.ratio, symmetric, mode, norm, seed)");
        assertThatThrownBy(() -> CodecParams.parse(STUB, Map.of("bits", "9")))
                .hasMessageContaining("codec 'stub'").hasMessageContaining("'bits'").hasMessageContaining("out of range [2, 8]");
        assertThatThrownBy(() -> CodecParams.parse(STUB, Map.of("bits", "four")))
                .hasMessageContaining("'four' is not an integer in [2, 8]");
        assertThatThrownBy(() -> CodecParams.parse(STUB, Map.of("target.ratio", "NaN"))).hasMessageContaining("target.ratio");
        assertThatThrownBy(() -> CodecParams.parse(STUB, Map.of("symmetric", "yes"))).hasMessageContaining("true or false");
        assertThatThrownBy(() -> CodecParams.parse(STUB, Map.of("mode", "diagonal")))
                .hasMessageContaining("one of [per-channel, per-group]");
        assertThatThrownBy(() -> CodecParams.parse(STUB, Map.of("norm", "l3"))).hasMessageContaining("norm");
        assertThatThrownBy(() -> CodecParams.parseAssignments(STUB, List.of("bits"))).hasMessageContaining("key=value");
        assertThatThrownBy(() -> CodecParams.builder(STUB).set(BITS, 1)).hasMessageContaining("out of range");
        CodecParameter<Integer> foreign = CodecParameter.ofInt("other", 1, 0, 2, "not declared");
        assertThatThrownBy(() -> CodecParams.defaults(STUB).get(foreign)).hasMessageContaining("no parameter 'other'");
    }

    @Test
    void declarationsAreChecked() {
        assertThatThrownBy(() -> CodecParameter.ofInt("Bits", 1, 0, 2, "x")).hasMessageContaining("must match");
        assertThatThrownBy(() -> CodecParameter.ofInt("bits", 5, 0, 2, "x")).hasMessageContaining("default");
        assertThat(BITS.acceptedValues()).isEqualTo("an integer in [2, 8]");
        assertThat(MODE.allowedValues()).containsExactly("per-channel", "per-group");
        assertThat(BITS.toString()).contains("default 4").contains("bits per weight");
    }
}
