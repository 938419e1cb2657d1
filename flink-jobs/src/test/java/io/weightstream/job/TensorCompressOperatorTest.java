package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.codec.Codecs;
import io.weightstream.job.Fixtures.Published;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.TensorEntry;
import io.weightstream.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link TensorCompressOperator} in Flink's operator test harness with the real codecs. */
class TensorCompressOperatorTest {
    static final int CHUNK = 4096;
    OneInputStreamOperatorTestHarness<AssembledTensor, CompressedLayerChunk> harness;

    @BeforeEach
    void open() throws Exception {
        harness = ProcessFunctionTestHarnesses.forProcessFunction(new TensorCompressOperator(CHUNK));
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    static AssembledTensor assembled(Published p, String tensor) {
        return AssembledTensor.of(p.expected(tensor), p.data().get(tensor));
    }

    List<DeadLetter> deadLetters() {
        return ChunkAssemblerTest.values(harness.getSideOutput(SideOutputs.DEAD_LETTERS));
    }

    List<TensorOutcome> outcomes() {
        return ChunkAssemblerTest.values(harness.getSideOutput(SideOutputs.TENSOR_OUTCOMES));
    }

    /** Checks the records of one tensor and returns the payload they carry. */
    static byte[] payload(List<CompressedLayerChunk> records, TensorEntry entry) {
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (int i = 0; i < records.size(); i++) {
            CompressedLayerChunk c = records.get(i);
            byte[] data = Fixtures.bytes(c.getData());
            CRC32C crc = new CRC32C();
            crc.update(data);
            assertThat(c.getChunkIndex()).isEqualTo(i);
            assertThat(c.getChunkCount()).isEqualTo(records.size());
            assertThat(c.getOffset()).isEqualTo(joined.size());
            assertThat(c.getCrc32c()).isEqualTo((int) crc.getValue());
            assertThat(data.length).isBetween(1, CHUNK);
            assertThat(c.getTensor()).isEqualTo(entry.getName());
            assertThat(c.getShape()).isEqualTo(entry.getShape());
            assertThat(c.getDtype()).isEqualTo(entry.getDtype());
            assertThat(c.getOriginalBytes()).isEqualTo(entry.getByteSize());
            assertThat(c.getSourceSha256()).isEqualTo(entry.getSha256());
            joined.writeBytes(data);
        }
        assertThat(records).allSatisfy(c -> assertThat(c.getEncodedBytes()).isEqualTo(joined.size()));
        return joined.toByteArray();
    }

    @Test
    void losslessPayloadIsCutIntoCheckedChunksThatDecodeToTheSourceTensor() throws Exception {
        Published p = Fixtures.publish("m", "v1", Fixtures.policy("lossless", Map.of()), 1 << 20,
                Fixtures.floats("w", 7, 64, 96));
        harness.processElement(new StreamRecord<>(assembled(p, "w")));
        List<CompressedLayerChunk> out = harness.extractOutputValues();
        assertThat(out).hasSizeGreaterThan(1);
        byte[] payload = payload(out, p.entry("w"));
        Tensor back = Codecs.decode(ByteBuffer.wrap(payload));
        assertThat(back.toBytes()).isEqualTo(p.data().get("w"));
        CompressedLayerChunk first = out.get(0);
        assertThat(first.getMethod()).isEqualTo("lossless");
        assertThat(first.getParams()).containsKey("block.size");
        assertThat(first.getReconstructionSha256()).isEqualTo(p.entry("w").getSha256());
        assertThat(first.getMetrics().getRelL2()).isZero();
        assertThat(first.getMetrics().getCosine()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(outcomes()).singleElement().satisfies(o -> {
            assertThat(o.ok).isTrue();
            assertThat(o.method).isEqualTo("lossless");
            assertThat(o.originalBytes).isEqualTo(64 * 96 * 4);
            assertThat(o.encodedBytes).isEqualTo(payload.length);
        });
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void rtnReconstructionHashIsTheHashOfWhatTheDecoderGets() throws Exception {
        Published p = Fixtures.publish("m", "v1", Fixtures.policy("rtn", Map.of("bits", "8")), 1 << 20,
                Fixtures.floats("w", 8, 128, 64), Fixtures.floats("bias", 9, 64));
        harness.processElement(new StreamRecord<>(assembled(p, "w")));
        harness.processElement(new StreamRecord<>(assembled(p, "bias")));
        List<CompressedLayerChunk> out = harness.extractOutputValues();
        List<CompressedLayerChunk> w = out.stream().filter(c -> c.getTensor().equals("w")).toList();
        List<CompressedLayerChunk> bias = out.stream().filter(c -> c.getTensor().equals("bias")).toList();
        byte[] payload = payload(w, p.entry("w"));
        byte[] decoded = Codecs.decode(ByteBuffer.wrap(payload)).toBytes();
        assertThat(w.get(0).getMethod()).isEqualTo("rtn");
        assertThat(w.get(0).getReconstructionSha256()).isEqualTo(Fixtures.sha256(decoded))
                .isNotEqualTo(p.entry("w").getSha256());
        assertThat(w.get(0).getMetrics().getRelL2()).isBetween(1e-6, 0.02);
        assertThat(payload.length).isLessThan(p.data().get("w").length / 3);
        // the policy keeps 1-D tensors exact
        assertThat(bias.get(0).getMethod()).isEqualTo("lossless");
        assertThat(bias.get(0).getReconstructionSha256()).isEqualTo(p.entry("bias").getSha256());
        assertThat(outcomes()).extracting(o -> o.method).containsExactly("rtn", "lossless");
    }

    @Test
    void anUnknownMethodGoesToTheDeadLetterTopicAndTheOperatorGoesOn() throws Exception {
        Published bad = Fixtures.publish("m", "v1", Fixtures.policy("nosuchmethod", Map.of()), 1 << 20,
                Fixtures.floats("w", 1, 16, 16));
        harness.processElement(new StreamRecord<>(assembled(bad, "w")));
        assertThat(harness.extractOutputValues()).isEmpty();
        assertThat(deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.getStage()).isEqualTo(DeadLetters.ENCODE);
            assertThat(d.getReason()).contains("nosuchmethod");
            assertThat(d.getModel()).isEqualTo("m");
            assertThat(d.getVersion()).isEqualTo("v1");
            assertThat(d.getErrorClass()).isNotNull();
        });
        assertThat(outcomes()).singleElement().satisfies(o -> {
            assertThat(o.ok).isFalse();
            assertThat(o.reason).contains("nosuchmethod");
        });

        Published good = Fixtures.publish("m", "v2", Fixtures.policy("lossless", Map.of()), 1 << 20,
                Fixtures.floats("w", 1, 16, 16));
        harness.processElement(new StreamRecord<>(assembled(good, "w")));
        assertThat(harness.extractOutputValues()).isNotEmpty();
    }

    @Test
    void bytesThatDoNotFitTheDeclaredShapeGoToTheDeadLetterTopic() throws Exception {
        Published p = Fixtures.publish("m", "v1", Fixtures.policy("lossless", Map.of()), 1 << 20,
                Fixtures.floats("w", 1, 16, 16));
        AssembledTensor t = assembled(p, "w");
        t.data = new byte[100];
        harness.processElement(new StreamRecord<>(t));
        assertThat(harness.extractOutputValues()).isEmpty();
        assertThat(deadLetters()).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("100 bytes given"));
    }
}
