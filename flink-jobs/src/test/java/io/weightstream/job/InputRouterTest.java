package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.Fixtures.Published;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.TensorEntry;
import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link InputRouter}: manifests exploded per tensor and checked; chunks and dead letters passed on. */
class InputRouterTest {
    OneInputStreamOperatorTestHarness<JobInput, AssemblerInput> harness;
    final Published p = Fixtures.publish("m", "v1", Fixtures.policy("lossless", Map.of()), 1000,
            Fixtures.floats("w", 1, 10, 30), Fixtures.floats("b", 2, 30));

    @BeforeEach
    void open() throws Exception {
        harness = ProcessFunctionTestHarnesses.forProcessFunction(new InputRouter());
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    @Test
    void aManifestBecomesOneExpectedTensorPerEntryKeyedLikeTheChunksAndGoesWholeToTheVersionTracker() throws Exception {
        harness.processElement(new StreamRecord<>(JobInput.manifest(p.manifest(), "weightstream.checkpoints", 0, 7)));
        harness.processElement(new StreamRecord<>(JobInput.chunk(p.chunks("w").get(0), "weightstream.layers", 1, 8)));
        List<AssemblerInput> out = harness.extractOutputValues();
        assertThat(out).hasSize(3);
        assertThat(out.get(0).expected.entry).isEqualTo(p.entry("w"));
        assertThat(out.get(0).expected.policy).isEqualTo(p.manifest().getPolicy());
        assertThat(out.get(1).expected.entry).isEqualTo(p.entry("b"));
        assertThat(out.get(0).key()).isEqualTo("m/v1/w").isEqualTo(out.get(2).key());
        assertThat(out.get(2).chunk).isEqualTo(p.chunks("w").get(0));
        assertThat(out.get(2).offset).isEqualTo(8);
        assertThat(ChunkAssemblerTest.values(harness.getSideOutput(SideOutputs.MANIFESTS)))
                .containsExactly(p.manifest());
    }

    @Test
    void anInconsistentManifestIsADeadLetterAndIsNotExploded() throws Exception {
        CheckpointManifest m = CheckpointManifest.newBuilder(p.manifest()).build();
        TensorEntry w = TensorEntry.newBuilder(p.entry("w")).setChunkCount(3).build();
        TensorEntry twice = TensorEntry.newBuilder(p.entry("b")).build();
        TensorEntry badSize = TensorEntry.newBuilder(p.entry("b")).setName("c").setByteSize(7).build();
        m.setTensors(List.of(w, p.entry("b"), twice, badSize));
        harness.processElement(new StreamRecord<>(JobInput.manifest(m, "weightstream.checkpoints", 0, 7)));
        assertThat(harness.extractOutputValues()).isEmpty();
        assertThat(harness.getSideOutput(SideOutputs.MANIFESTS)).isNull();
        List<DeadLetter> dlq = ChunkAssemblerTest.values(harness.getSideOutput(SideOutputs.DEAD_LETTERS));
        assertThat(dlq).singleElement().satisfies(d -> {
            assertThat(d.getStage()).isEqualTo(DeadLetters.MANIFEST);
            assertThat(d.getReason())
                    .contains("tensor 'w': chunkCount 3 but 1200 bytes in chunks of 1000 make 2")
                    .contains("tensor 'b' is listed twice")
                    .contains("tensor 'c': byteSize 7 != F32 x [30] = 120");
        });
    }

    @Test
    void deadLettersFromTheSourcePassThrough() throws Exception {
        DeadLetter d = DeadLetters.forRecord("weightstream.layers", 0, 1, null, new byte[] {1}, DeadLetters.DESERIALIZE,
                "bad", null, 5);
        harness.processElement(new StreamRecord<>(JobInput.deadLetter(d)));
        assertThat(ChunkAssemblerTest.values(harness.getSideOutput(SideOutputs.DEAD_LETTERS))).containsExactly(d);
        assertThat(harness.extractOutputValues()).isEmpty();
    }
}
