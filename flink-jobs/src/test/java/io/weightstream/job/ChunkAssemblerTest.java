package io.weightstream.job;

import static io.weightstream.job.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.Fixtures.Published;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.LayerChunk;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link ChunkAssembler} in Flink's keyed operator test harness: any order, duplicates, restore, timeout, corruption. */
class ChunkAssemblerTest {
    static final long MAX_TENSOR = 1 << 20;
    static final long TIMEOUT = 60_000;
    static final int CHUNK = 1000;

    KeyedOneInputStreamOperatorTestHarness<String, AssemblerInput, AssembledTensor> harness;
    // 3 chunks of 1000 + 1 of 600 bytes; a second one-chunk tensor of the same version
    final Published v1 = Fixtures.publish("m", "v1", Fixtures.policy("lossless", Map.of()), CHUNK,
            Fixtures.floats("w", 1, 40, 90), Fixtures.floats("b", 2, 90));

    @BeforeEach
    void open() throws Exception {
        harness = harness();
        harness.open();
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    static KeyedOneInputStreamOperatorTestHarness<String, AssemblerInput, AssembledTensor> harness() throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new ChunkAssembler(MAX_TENSOR, TIMEOUT)), AssemblerInput::key, Types.STRING);
    }

    void send(AssemblerInput in) throws Exception {
        harness.processElement(new StreamRecord<>(in));
    }

    List<DeadLetter> deadLetters() {
        return values(harness.getSideOutput(SideOutputs.DEAD_LETTERS));
    }

    List<TensorOutcome> outcomes() {
        return values(harness.getSideOutput(SideOutputs.TENSOR_OUTCOMES));
    }

    static <T> List<T> values(Queue<StreamRecord<T>> q) {
        List<T> out = new ArrayList<>();
        if (q != null) {
            q.forEach(r -> out.add(r.getValue()));
        }
        return out;
    }

    @Test
    void assemblesOutOfOrderAndDuplicatedChunksExactlyOnce() throws Exception {
        List<LayerChunk> w = v1.chunks("w");
        assertThat(w).hasSize(15);
        // chunks from the back, every other one twice, the manifest entry in the middle
        for (int i = w.size() - 1; i >= 0; i--) {
            send(in(w.get(i)));
            if (i % 2 == 0) {
                send(in(w.get(i)));
            }
            if (i == 7) {
                send(AssemblerInput.expected(v1.expected("w")));
                send(AssemblerInput.expected(v1.expected("w"))); // a duplicate entry, too
            }
        }
        send(in(w.get(3))); // a late duplicate after the tensor was emitted
        List<AssembledTensor> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        assertThat(out.get(0).data).isEqualTo(v1.data().get("w"));
        assertThat(out.get(0).entry).isEqualTo(v1.entry("w"));
        assertThat(out.get(0).policy).isEqualTo(v1.manifest().getPolicy());
        assertThat(deadLetters()).isEmpty();
        assertThat(outcomes()).isEmpty();
    }

    @Test
    void entryFirstOrLastMakesNoDifferenceAndKeysAreIndependent() throws Exception {
        send(AssemblerInput.expected(v1.expected("b")));
        for (LayerChunk c : v1.chunks("w")) {
            send(in(c));
        }
        assertThat(harness.extractOutputValues()).isEmpty(); // w has no entry yet, b no chunk
        send(in(v1.chunks("b").get(0)));
        send(AssemblerInput.expected(v1.expected("w")));
        assertThat(harness.extractOutputValues()).extracting(t -> t.entry.getName()).containsExactly("b", "w");
    }

    @Test
    void restoresFromASnapshotTakenMidAssembly() throws Exception {
        List<LayerChunk> w = v1.chunks("w");
        send(AssemblerInput.expected(v1.expected("w")));
        for (int i = 0; i < 6; i++) {
            send(in(w.get(i)));
        }
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        harness.close();

        harness = harness();
        harness.initializeState(snapshot);
        harness.open();
        send(in(w.get(2))); // replayed after the restore: a duplicate of a restored chunk
        for (int i = 6; i < w.size(); i++) {
            send(in(w.get(i)));
        }
        List<AssembledTensor> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        assertThat(out.get(0).data).isEqualTo(v1.data().get("w"));
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void aTensorMissingChunksGoesToTheDeadLetterTopicAfterTheTimeoutAndItsStateIsDropped() throws Exception {
        List<LayerChunk> w = v1.chunks("w");
        harness.setProcessingTime(1_000);
        send(AssemblerInput.expected(v1.expected("w")));
        for (int i = 0; i < w.size(); i++) {
            if (i != 1 && i != 3 && i != 4 && i != 5) {
                send(in(w.get(i)));
            }
        }
        harness.setProcessingTime(1_000 + TIMEOUT - 1);
        assertThat(deadLetters()).isEmpty();
        assertThat(harness.numKeyedStateEntries()).isEqualTo(3); // entry, progress, chunk map

        harness.setProcessingTime(1_000 + TIMEOUT);
        assertThat(harness.extractOutputValues()).isEmpty();
        List<DeadLetter> dlq = deadLetters();
        assertThat(dlq).hasSize(1);
        assertThat(dlq.get(0).getStage()).isEqualTo(DeadLetters.ASSEMBLE);
        assertThat(dlq.get(0).getReason()).contains("got 11 of 15 chunks").contains("missing chunks 1, 3-5");
        assertThat(dlq.get(0).getModel()).isEqualTo("m");
        assertThat(dlq.get(0).getVersion()).isEqualTo("v1");
        assertThat(outcomes()).singleElement().satisfies(o -> {
            assertThat(o.ok).isFalse();
            assertThat(o.tensor).isEqualTo("w");
        });
        // the chunk data is gone at once; the small marker stays one more timeout, then nothing is left
        assertThat(harness.numKeyedStateEntries()).isEqualTo(1);
        send(in(w.get(1))); // late: ignored, no second dead letter, no resurrection
        harness.setProcessingTime(1_000 + 3 * TIMEOUT);
        assertThat(harness.numKeyedStateEntries()).isZero();
        assertThat(deadLetters()).hasSize(1);
        assertThat(harness.extractOutputValues()).isEmpty();
    }

    @Test
    void chunksWithoutAManifestEntryTimeOutSayingSo() throws Exception {
        send(in(v1.chunks("b").get(0)));
        harness.setProcessingTime(TIMEOUT + 1);
        assertThat(deadLetters()).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("no manifest entry arrived").contains("1 of 1 chunks held"));
    }

    @Test
    void aCorruptChunkFailsTheTensorWithTheChunkInTheDeadLetter() throws Exception {
        List<LayerChunk> w = v1.chunks("w");
        send(AssemblerInput.expected(v1.expected("w")));
        send(in(w.get(0)));
        LayerChunk bad = Fixtures.corrupted(w.get(1));
        send(in(bad));
        for (int i = 1; i < w.size(); i++) {
            send(in(w.get(i))); // the good copies arrive later: the tensor stays failed
        }
        assertThat(harness.extractOutputValues()).isEmpty();
        DeadLetter d = deadLetters().get(0);
        assertThat(deadLetters()).hasSize(1);
        assertThat(d.getReason()).contains("chunk 1").contains("CRC-32C mismatch");
        assertThat(d.getSourceTopic()).isEqualTo("weightstream.layers");
        assertThat(d.getPartition()).isEqualTo(1);
        assertThat(d.getOffset()).isEqualTo(101L);
        assertThat(Fixtures.bytes(d.getValue())).isEqualTo(Fixtures.bytes(bad.getData()));
        assertThat(outcomes()).singleElement().satisfies(o -> assertThat(o.ok).isFalse());
        assertThat(harness.numKeyedStateEntries()).isEqualTo(1); // only the marker
    }

    @Test
    void aTensorLargerThanTheLimitIsRejectedBeforeAnythingIsBuffered() throws Exception {
        byte[] data = new byte[100];
        LayerChunk huge = Fixtures.chunk("m", "v1", "huge", 0, 3000, 0, 3L << 20, data);
        send(in(huge));
        assertThat(deadLetters()).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("exceeds max.tensor.bytes " + MAX_TENSOR));
        assertThat(harness.numKeyedStateEntries()).isEqualTo(1); // the marker; no chunk
        // the same check on the manifest side
        Published big = Fixtures.publish("m", "v2", Fixtures.policy("lossless", Map.of()), 1 << 20,
                Fixtures.floats("big", 3, 512, 1024));
        send(AssemblerInput.expected(big.expected("big")));
        assertThat(deadLetters()).hasSize(2);
        assertThat(deadLetters().get(1).getReason()).contains("2097152 bytes exceeds max.tensor.bytes");
    }

    @Test
    void inconsistentChunksFailTheTensor() throws Exception {
        List<LayerChunk> w = v1.chunks("w");
        send(in(w.get(0)));
        LayerChunk other = Fixtures.chunk("m", "v1", "w", 0, 15, 0, 14_400, new byte[1000]);
        send(in(other)); // same index, different bytes
        assertThat(deadLetters()).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("two different chunks with index 0"));

        LayerChunk outside = Fixtures.chunk("m", "v1", "x", 1, 2, 900, 1000, new byte[200]);
        send(in(outside));
        assertThat(deadLetters()).hasSize(2);
        assertThat(deadLetters().get(1).getReason()).contains("lie outside the 1000-byte tensor");
    }

    @Test
    void aTensorWhoseBytesDoNotMatchTheManifestHashFailsVerification() throws Exception {
        byte[] other = v1.data().get("b").clone();
        other[0] ^= 1;
        send(in(Fixtures.chunk("m", "v1", "b", 0, 1, 0, other.length, other))); // CRC fine, content not the published one
        send(AssemblerInput.expected(v1.expected("b")));
        assertThat(harness.extractOutputValues()).isEmpty();
        assertThat(deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.getStage()).isEqualTo(DeadLetters.VERIFY);
            assertThat(d.getReason()).contains("SHA-256 of the assembled tensor");
        });
    }
}
