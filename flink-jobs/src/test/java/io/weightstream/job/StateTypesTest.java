package io.weightstream.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.job.Fixtures.Published;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.LayerChunk;
import io.weightstream.schemas.LayerMetrics;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.junit.jupiter.api.Test;

/**
 * The types the job moves between operators and keeps in checkpointed state: Flink POJOs and Avro records (never a
 * Kryo fallback), whose serializers round-trip every sample and whose serializer snapshots (the versioned format of a
 * checkpoint's state meta data) are written, read back and restore a serializer that reads the old bytes.
 */
class StateTypesTest {
    final Published p = Fixtures.publish("m", "v1", Fixtures.policy("rtn", Map.of("bits", "8")), 1000,
            Fixtures.floats("w", 1, 10, 30));

    List<Object> samples() {
        ChunkAssembler.Progress progress = new ChunkAssembler.Progress();
        progress.model = "m";
        progress.version = "v1";
        progress.tensor = "w";
        progress.chunkCount = 2;
        progress.tensorBytes = 1200;
        progress.received = 1;
        progress.bufferedBytes = 1000;
        progress.timerAtMs = 123;
        progress.finished = ChunkAssembler.FAILED;
        LayerChunk chunk = p.chunks("w").get(0);
        DeadLetter dead = DeadLetters.forTensor("m", "v1", "w", DeadLetters.ASSEMBLE, "why", null, 5, "t");
        CompressedLayerChunk compressed = CompressedLayerChunk.newBuilder()
                .setModel("m").setVersion("v1").setTensor("w").setMethod("rtn").setParams(Map.of("bits", "8"))
                .setCodecFormatVersion(1).setDtype(io.weightstream.schemas.DType.F32).setShape(List.of(10L, 30L))
                .setOriginalBytes(1200).setEncodedBytes(3).setChunkIndex(0).setChunkCount(1).setOffset(0).setCrc32c(9)
                .setData(ByteBuffer.wrap(new byte[] {1, 2, 3})).setSourceSha256("a").setReconstructionSha256("b")
                .setMetrics(LayerMetrics.newBuilder().setRelL2(0.1).setMaxAbsError(0.2).setCosine(0.9).setEncodeMs(1)
                        .setDecodeMs(2).build())
                .build();
        return List.of(
                JobInput.chunk(chunk, "weightstream.layers", 1, 2),
                JobInput.manifest(p.manifest(), "weightstream.checkpoints", 0, 1),
                JobInput.deadLetter(dead),
                AssemblerInput.expected(p.expected("w")),
                AssemblerInput.chunk(chunk, "weightstream.layers", 1, 2),
                p.expected("w"),
                AssembledTensor.of(p.expected("w"), p.data().get("w")),
                TensorOutcome.done("m", "v1", "w", "rtn", 1200, 300, 0.01, 3.5),
                TensorOutcome.failed("m", "v1", "w", "boom"),
                VersionEvent.manifest(p.manifest()),
                VersionEvent.outcome(TensorOutcome.failed("m", "v1", "w", "boom")),
                progress,
                new ChunkAssembler.BufferedChunk(1000, 77, new byte[] {4, 5}),
                p.manifest(), chunk, dead, compressed);
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void everyTypeHasAFlinkSerializerThatRoundTripsAndRestoresFromItsSnapshot() throws Exception {
        for (Object sample : samples()) {
            Class<?> type = sample.getClass();
            TypeInformation info = TypeInformation.of(type);
            if (sample instanceof org.apache.avro.specific.SpecificRecord) {
                assertThat(info).as(type.getName()).isInstanceOf(AvroTypeInfo.class);
            } else {
                assertThat(info).as(type.getName()).isInstanceOf(PojoTypeInfo.class);
            }
            TypeSerializer serializer = info.createSerializer(new SerializerConfigImpl());
            DataOutputSerializer out = new DataOutputSerializer(256);
            serializer.serialize(sample, out);
            byte[] bytes = out.getCopyOfBuffer();
            Object back = serializer.deserialize(new DataInputDeserializer(bytes));
            assertSame(sample, back);
            assertSame(sample, serializer.copy(sample));

            DataOutputSerializer snap = new DataOutputSerializer(256);
            TypeSerializerSnapshot.writeVersionedSnapshot(snap, serializer.snapshotConfiguration());
            TypeSerializerSnapshot restored = TypeSerializerSnapshot.readVersionedSnapshot(
                    new DataInputDeserializer(snap.getCopyOfBuffer()), getClass().getClassLoader());
            assertThat(serializer.snapshotConfiguration().resolveSchemaCompatibility(restored).isCompatibleAsIs())
                    .as(type.getName()).isTrue();
            assertSame(sample, restored.restoreSerializer().deserialize(new DataInputDeserializer(bytes)));
        }
    }

    /** POJOs with byte arrays compare by content; everything else by equals. */
    private static void assertSame(Object expected, Object actual) {
        if (expected instanceof AssembledTensor e) {
            AssembledTensor a = (AssembledTensor) actual;
            assertThat(a.data).isEqualTo(e.data);
            assertThat(a.entry).isEqualTo(e.entry);
            assertThat(a.policy).isEqualTo(e.policy);
            assertThat(a.versionKey()).isEqualTo(e.versionKey());
        } else if (expected instanceof ChunkAssembler.BufferedChunk e) {
            ChunkAssembler.BufferedChunk a = (ChunkAssembler.BufferedChunk) actual;
            assertThat(a.data).isEqualTo(e.data);
            assertThat(a.offset).isEqualTo(e.offset);
            assertThat(a.crc32c).isEqualTo(e.crc32c);
        } else if (expected instanceof ChunkAssembler.Progress) {
            assertThat(actual).usingRecursiveComparison().isEqualTo(expected);
        } else {
            assertThat(actual).isEqualTo(expected);
        }
    }
}
