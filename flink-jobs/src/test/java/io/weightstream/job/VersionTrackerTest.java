package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.Fixtures.Published;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.ModelVersionCompressed;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link VersionTracker} in Flink's keyed operator test harness: once, only when complete, never partial. */
class VersionTrackerTest {
    static final long TIMEOUT = 100_000;
    KeyedOneInputStreamOperatorTestHarness<String, VersionEvent, ModelVersionCompressed> harness;
    final Published v1 = Fixtures.publish("m", "v1", Fixtures.policy("rtn", Map.of()), 1 << 20,
            Fixtures.floats("a", 1, 8, 8), Fixtures.floats("b", 2, 8, 8), Fixtures.floats("c", 3, 8));

    @BeforeEach
    void open() throws Exception {
        harness = harness(1 << 20);
        harness.open();
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    static KeyedOneInputStreamOperatorTestHarness<String, VersionEvent, ModelVersionCompressed> harness(long maxBytes)
            throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new VersionTracker(TIMEOUT, 10 * TIMEOUT, maxBytes)), VersionEvent::key,
                Types.STRING);
    }

    void send(VersionEvent e) throws Exception {
        harness.processElement(new StreamRecord<>(e));
    }

    void done(String tensor, String method, long original, long encoded, double relL2) throws Exception {
        send(VersionEvent.outcome(TensorOutcome.done("m", "v1", tensor, method, original, encoded, relL2, 2.0)));
    }

    List<DeadLetter> deadLetters() {
        return ChunkAssemblerTest.values(harness.getSideOutput(SideOutputs.DEAD_LETTERS));
    }

    @Test
    void emitsOnceAndOnlyWhenEveryTensorIsDone() throws Exception {
        harness.setProcessingTime(5_000);
        done("b", "rtn", 256, 70, 0.004);
        send(VersionEvent.manifest(v1.manifest()));
        done("b", "rtn", 256, 70, 0.004); // a duplicate outcome
        assertThat(harness.extractOutputValues()).isEmpty();
        done("a", "rtn", 256, 66, 0.002);
        assertThat(harness.extractOutputValues()).isEmpty(); // c is missing
        done("c", "lossless", 32, 30, 0.0);

        List<ModelVersionCompressed> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        ModelVersionCompressed v = out.get(0);
        assertThat(v.getModel()).isEqualTo("m");
        assertThat(v.getVersion()).isEqualTo("v1");
        assertThat(v.getManifest()).isEqualTo(v1.manifest());
        assertThat(v.getTensorCount()).isEqualTo(3);
        assertThat(v.getOriginalBytes()).isEqualTo(544);
        assertThat(v.getEncodedBytes()).isEqualTo(166);
        assertThat(v.getRatio()).isEqualTo(544.0 / 166);
        assertThat(v.getPublishedAtMs()).isEqualTo(1_000);
        assertThat(v.getCompletedAtMs()).isEqualTo(5_000);
        assertThat(v.getMethods()).hasSize(2);
        assertThat(v.getMethods().get(0).getMethod()).isEqualTo("lossless");
        assertThat(v.getMethods().get(1).getMethod()).isEqualTo("rtn");
        assertThat(v.getMethods().get(1).getTensors()).isEqualTo(2);
        assertThat(v.getMethods().get(1).getMeanRelL2()).isCloseTo(0.003, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(v.getMethods().get(1).getMaxRelL2()).isEqualTo(0.004);
        assertThat(v.getMethods().get(1).getEncodeMs()).isEqualTo(4.0);

        // replays after emission: the manifest again, the outcomes again — nothing more
        send(VersionEvent.manifest(v1.manifest()));
        done("a", "rtn", 256, 66, 0.002);
        done("b", "rtn", 256, 70, 0.004);
        done("c", "lossless", 32, 30, 0.0);
        harness.setProcessingTime(5_000 + 3 * TIMEOUT);
        assertThat(harness.extractOutputValues()).hasSize(1);
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void theEmittedMarkerSurvivesARestore() throws Exception {
        send(VersionEvent.manifest(v1.manifest()));
        done("a", "rtn", 256, 66, 0.002);
        OperatorSubtaskState mid = harness.snapshot(1, 1);
        harness.close();
        harness = harness(1 << 20);
        harness.initializeState(mid);
        harness.open();
        done("b", "rtn", 256, 70, 0.004);
        done("c", "lossless", 32, 30, 0.0);
        assertThat(harness.extractOutputValues()).hasSize(1);
        OperatorSubtaskState after = harness.snapshot(2, 2);
        harness.close();
        harness = harness(1 << 20);
        harness.initializeState(after);
        harness.open();
        send(VersionEvent.manifest(v1.manifest()));
        done("a", "rtn", 256, 66, 0.002);
        done("b", "rtn", 256, 70, 0.004);
        done("c", "lossless", 32, 30, 0.0);
        assertThat(harness.extractOutputValues()).isEmpty();
    }

    @Test
    void aFailedTensorMeansNoVersionRecordAndADeadLetterSayingTheVersionIsIncomplete() throws Exception {
        send(VersionEvent.manifest(v1.manifest()));
        done("a", "rtn", 256, 66, 0.002);
        send(VersionEvent.outcome(TensorOutcome.failed("m", "v1", "b", "assemble: missing chunks 1-2")));
        done("b", "rtn", 256, 70, 0.004); // a late success does not undo the failure
        done("c", "lossless", 32, 30, 0.0);
        assertThat(harness.extractOutputValues()).isEmpty();
        assertThat(deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.getStage()).isEqualTo(DeadLetters.VERSION);
            assertThat(d.getReason()).contains("m/v1 is incomplete").contains("b (assemble: missing chunks 1-2)");
            assertThat(d.getModel()).isEqualTo("m");
            assertThat(d.getVersion()).isEqualTo("v1");
        });
    }

    @Test
    void aFailureBeforeTheManifestCountsWhenTheManifestListsTheTensor() throws Exception {
        send(VersionEvent.outcome(TensorOutcome.failed("m", "v1", "c", "encode: boom")));
        send(VersionEvent.outcome(TensorOutcome.failed("m", "v1", "stray", "assemble: no manifest entry")));
        assertThat(deadLetters()).isEmpty();
        send(VersionEvent.manifest(v1.manifest()));
        assertThat(deadLetters()).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("1 of 3 tensors failed: c (encode: boom)"));
    }

    @Test
    void aStrayTensorFailureDoesNotFailAVersionThatDoesNotListIt() throws Exception {
        send(VersionEvent.manifest(v1.manifest()));
        send(VersionEvent.outcome(TensorOutcome.failed("m", "v1", "stray", "assemble: no manifest entry")));
        done("a", "rtn", 256, 66, 0.002);
        done("b", "rtn", 256, 70, 0.004);
        done("c", "lossless", 32, 30, 0.0);
        assertThat(harness.extractOutputValues()).hasSize(1);
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void aVersionThatStopsProgressingIsDeclaredIncompleteAfterTheTimeout() throws Exception {
        harness.setProcessingTime(0);
        send(VersionEvent.manifest(v1.manifest()));
        harness.setProcessingTime(TIMEOUT / 2);
        done("a", "rtn", 256, 66, 0.002); // progress: the timer restarts
        harness.setProcessingTime(TIMEOUT + 1);
        assertThat(deadLetters()).isEmpty();
        harness.setProcessingTime(TIMEOUT / 2 + TIMEOUT);
        assertThat(deadLetters()).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("no result within").contains("2 of 3 tensors: b, c"));
        done("b", "rtn", 256, 70, 0.004);
        done("c", "lossless", 32, 30, 0.0);
        assertThat(harness.extractOutputValues()).isEmpty();
    }

    @Test
    void aVersionRecordTooLargeForTheTopicGoesToTheDeadLetterTopic() throws Exception {
        harness.close();
        harness = harness(1024);
        harness.open();
        v1.manifest().setSkeleton(ByteBuffer.wrap(new byte[4096]));
        send(VersionEvent.manifest(v1.manifest()));
        done("a", "rtn", 256, 66, 0.002);
        done("b", "rtn", 256, 70, 0.004);
        done("c", "lossless", 32, 30, 0.0);
        assertThat(harness.extractOutputValues()).isEmpty();
        assertThat(deadLetters()).singleElement()
                .satisfies(d -> assertThat(d.getReason()).contains("versions.max.record.bytes 1024"));
    }
}
