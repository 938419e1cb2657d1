package io.weightstream.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.codec.DecodeLimits;
import io.weightstream.compress.ModelMaterializer;
import io.weightstream.compress.OfflineCompressor;
import io.weightstream.schemas.CompressedLayerChunk;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Staging on a real file system: append, fsync, recover, torn tails, corruption, the budget, cleanup. */
class ChunkStageTest {
    static final long BUDGET = 64L << 20;

    @TempDir
    Path dir;
    Path stageDir;
    OfflineCompressor.Result v1;

    @BeforeEach
    void makeVersion() {
        stageDir = dir.resolve("staging");
        v1 = TestVersions.synthetic(dir, "m", "v1", 256 << 10, 3);
        assertThat(v1.chunks()).hasSizeGreaterThan(8); // several tensors, several chunks each
    }

    void stageAll(ChunkStage stage, OfflineCompressor.Result r) {
        long offset = 0;
        for (CompressedLayerChunk c : r.chunks()) {
            assertThat(stage.append(c, 0, offset++)).isTrue();
        }
        assertThat(stage.append(r.version(), 0, offset)).isTrue();
        stage.sync();
    }

    Path stageFile(String model, String version) {
        return stageDir.resolve(FileNames.encode(model)).resolve(FileNames.encode(version) + ChunkStage.STAGE_SUFFIX);
    }

    @Test
    void appendedRecordsSurviveReopeningAndReadBackIdentical() {
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stageAll(stage, v1);
            assertThat(stage.completeVersions()).singleElement().satisfies(v -> {
                assertThat(v.model()).isEqualTo("m");
                assertThat(v.version()).isEqualTo("v1");
            });
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.recoveryNotes()).isEmpty();
            ChunkStage.StagedVersion v = stage.version("m", "v1").orElseThrow();
            assertThat(v.complete()).isTrue();
            assertThat(v.records()).isEqualTo(v1.chunks().size() + 1);
            assertThat(v.publishedAtMs()).isEqualTo(v1.version().getPublishedAtMs());
            assertThat(stage.usedBytes()).isEqualTo(v.bytes()).isEqualTo(fileSize(stageFile("m", "v1")));

            ChunkStage.Contents c = stage.read("m", "v1");
            assertThat(c.version()).isEqualTo(v1.version());
            assertThat(c.versionOffset()).isEqualTo(v1.chunks().size());
            Map<String, List<CompressedLayerChunk>> expected = TestVersions.byTensor(v1.chunks());
            assertThat(c.chunksByTensor()).isEqualTo(expected); // Avro records compare field by field, bytes too
            // what the stage gives back is what the materializer needs
            new ModelMaterializer(1, DecodeLimits.DEFAULT).decode(c.version(), c.chunksByTensor());
        }
    }

    @Test
    void theManifestsAttachmentsRoundTrip() {
        v1.version().getManifest().setAttachments(new java.util.ArrayList<>(List.of(
                ModelRepositoryTest.tokenizer("{\"model\":{}}"))));
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stageAll(stage, v1);
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            ChunkStage.Contents c = stage.read("m", "v1");
            assertThat(c.version().getManifest().getAttachments()).singleElement()
                    .satisfies(a -> assertThat(a.getName()).isEqualTo("tokenizer.json"));
            assertThat(c.version()).isEqualTo(v1.version());
        }
    }

    @Test
    void aVersionIsCompleteOnlyWithItsVersionRecordAndEveryChunkInAnyOrder() {
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            List<CompressedLayerChunk> chunks = v1.chunks();
            // the version record first, then the chunks backwards, one duplicated: redelivery is harmless
            stage.append(v1.version(), 0, 0);
            for (int i = chunks.size() - 1; i >= 1; i--) {
                stage.append(chunks.get(i), 1, i);
                assertThat(stage.version("m", "v1").orElseThrow().complete()).isFalse();
            }
            stage.append(chunks.get(1), 1, 1);
            assertThat(stage.completeVersions()).isEmpty();
            stage.append(chunks.get(0), 1, 0);
            stage.sync();
            ChunkStage.StagedVersion v = stage.version("m", "v1").orElseThrow();
            assertThat(v.complete()).isTrue();
            assertThat(v.tensorsComplete()).isEqualTo(v.tensorsExpected())
                    .isEqualTo(v1.version().getManifest().getTensors().size());
            new ModelMaterializer(1, DecodeLimits.DEFAULT).decode(v1.version(), stage.read("m", "v1").chunksByTensor());
        }
    }

    @Test
    void aTornLastFrameIsCutOffAndAppendingGoesOn() throws Exception {
        long intact;
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            for (int i = 0; i < 5; i++) {
                stage.append(v1.chunks().get(i), 0, i);
            }
            stage.sync();
            intact = fileSize(stageFile("m", "v1"));
            stage.append(v1.chunks().get(5), 0, 5);
        }
        // the crash: the sixth frame only half written
        Path f = stageFile("m", "v1");
        long full = fileSize(f);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(intact + (full - intact) / 2);
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.recoveryNotes()).singleElement().satisfies(n -> {
                assertThat(n.what()).contains("torn");
                assertThat(n.offset()).isEqualTo(intact);
            });
            ChunkStage.StagedVersion v = stage.version("m", "v1").orElseThrow();
            assertThat(v.records()).isEqualTo(5);
            assertThat(v.damage()).isEmpty();
            assertThat(fileSize(f)).isEqualTo(intact);
            // Kafka delivers the uncommitted records again; they land after the cut
            for (int i = 5; i < v1.chunks().size(); i++) {
                stage.append(v1.chunks().get(i), 0, i);
            }
            stage.append(v1.version(), 0, 999);
            stage.sync();
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.recoveryNotes()).isEmpty();
            assertThat(stage.version("m", "v1").orElseThrow().complete()).isTrue();
            assertThat(stage.read("m", "v1").chunksByTensor()).isEqualTo(TestVersions.byTensor(v1.chunks()));
        }
    }

    @Test
    void aZeroFilledTailAndATornHeaderAreTornWritesToo() throws Exception {
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stage.append(v1.chunks().get(0), 0, 0);
            stage.sync();
        }
        Path f = stageFile("m", "v1");
        long intact = fileSize(f);
        Files.write(f, new byte[4096], java.nio.file.StandardOpenOption.APPEND); // blocks allocated, never written
        // a second version whose file was created but whose header never made it to disk
        Path torn = stageFile("m", "v2");
        Files.write(torn, java.util.Arrays.copyOf(ChunkStage.MAGIC, ChunkStage.MAGIC.length + 6));
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.version("m", "v1").orElseThrow().records()).isEqualTo(1);
            assertThat(fileSize(f)).isEqualTo(intact);
            assertThat(stage.version("m", "v2")).isEmpty();
            assertThat(torn).doesNotExist();
            assertThat(stage.recoveryNotes()).hasSize(2);
        }
    }

    @Test
    void aCorruptedFrameInTheMiddleIsDetectedWithItsOffset() throws Exception {
        long secondFrame;
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stage.append(v1.chunks().get(0), 0, 0);
            stage.sync();
            secondFrame = fileSize(stageFile("m", "v1"));
            stage.append(v1.chunks().get(1), 0, 1);
            stage.append(v1.chunks().get(2), 0, 2);
            stage.sync();
        }
        Path f = stageFile("m", "v1");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            long at = secondFrame + ChunkStage.FRAME_HEADER_BYTES + 100;   // inside the second frame's body
            raf.seek(at);
            int b = raf.read();
            raf.seek(at);
            raf.write(b ^ 0x40);
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            ChunkStage.StagedVersion v = stage.version("m", "v1").orElseThrow();
            assertThat(v.damage()).hasValueSatisfying(d -> assertThat(d).contains("CRC-32C").contains("byte " + secondFrame));
            assertThat(v.complete()).isFalse();
            assertThat(stage.recoveryNotes()).singleElement().satisfies(n -> {
                assertThat(n.offset()).isEqualTo(secondFrame);
                assertThat(n.what()).startsWith("corrupt");
            });
            assertThatThrownBy(() -> stage.read("m", "v1")).isInstanceOf(StageFormatException.class);
            long size = fileSize(f);
            assertThat(stage.append(v1.chunks().get(3), 0, 3)).isFalse(); // more records cannot repair it
            assertThat(fileSize(f)).isEqualTo(size);
            // the decoder fails such a version and finishes it
            stage.finish("m", "v1");
            assertThat(f).doesNotExist();
        }
    }

    @Test
    void anUnknownFormatVersionIsReportedNotGuessed() throws Exception {
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stage.append(v1.chunks().get(0), 0, 0);
            stage.sync();
        }
        Path f = stageFile("m", "v1");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(ChunkStage.MAGIC.length);
            raf.writeInt(ChunkStage.FORMAT_VERSION + 1);
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.version("m", "v1").orElseThrow().damage())
                    .hasValueSatisfying(d -> assertThat(d).contains("format version " + (ChunkStage.FORMAT_VERSION + 1)));
        }
    }

    @Test
    void theBudgetRefusesAnAppendAndWritesNothing() {
        OfflineCompressor.Result big = TestVersions.synthetic(dir, "big", "v1", 3 << 20, 5);
        try (ChunkStage stage = ChunkStage.open(stageDir, 1 << 20)) {
            int appended = 0;
            StageFullException refused = null;
            for (CompressedLayerChunk c : big.chunks()) {
                long before = stage.usedBytes();
                try {
                    stage.append(c, 0, appended);
                    appended++;
                } catch (StageFullException e) {
                    refused = e;
                    assertThat(stage.usedBytes()).isEqualTo(before);
                    assertThat(fileSize(stageFile("big", "v1"))).isEqualTo(before);
                    break;
                }
            }
            assertThat(refused).isNotNull();
            assertThat(refused.getMessage()).contains("staging budget of " + (1 << 20)).contains("big/v1");
            assertThat(refused.budgetBytes()).isEqualTo(1 << 20);
            assertThat(stage.usedBytes()).isLessThanOrEqualTo(1 << 20);
            assertThat(appended).isGreaterThan(10);
            // finishing the version frees its space
            stage.finish("big", "v1");
            assertThat(stage.usedBytes()).isZero();
            assertThat(stage.append(v1.chunks().get(0), 0, 0)).isTrue();
        }
    }

    @Test
    void finishDeletesTheVersionAndLaterRecordsOfItAreNotStagedAgain() throws Exception {
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stageAll(stage, v1);
            stage.finish("m", "v1");
            assertThat(stageFile("m", "v1")).doesNotExist();
            assertThat(stage.versions()).isEmpty();
            assertThat(stage.usedBytes()).isZero();
            assertThat(stage.isFinished("m", "v1")).isTrue();
            assertThat(stage.append(v1.chunks().get(0), 0, 0)).isFalse();
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.isFinished("m", "v1")).isTrue();
            assertThat(stage.append(v1.version(), 0, 0)).isFalse();
            assertThat(stage.versions()).isEmpty();
        }
        try (Stream<Path> files = Files.list(stageDir.resolve("m"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("v1" + ChunkStage.DONE_SUFFIX);
        }
    }

    @Test
    void aCrashBetweenTheDoneMarkerAndTheDeleteIsFinishedAtRecovery() throws Exception {
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stageAll(stage, v1);
        }
        Files.write(stageDir.resolve("m").resolve("v1" + ChunkStage.DONE_SUFFIX), new byte[0]);
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.versions()).isEmpty();
            assertThat(stageFile("m", "v1")).doesNotExist();
            assertThat(stage.usedBytes()).isZero();
        }
    }

    @Test
    void versionsOfSeveralModelsWithOddNamesStayApart() {
        OfflineCompressor.Result other = TestVersions.synthetic(dir, "odd", "2024-01-01T00:00:00Z", 64 << 10, 9);
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            stageAll(stage, v1);
            for (CompressedLayerChunk c : other.chunks()) {
                CompressedLayerChunk renamed = CompressedLayerChunk.newBuilder(c).setModel("team/odd model").build();
                stage.append(renamed, 2, 0);
            }
            stage.sync();
        }
        try (ChunkStage stage = ChunkStage.open(stageDir, BUDGET)) {
            assertThat(stage.versions()).extracting(v -> v.model() + "|" + v.version())
                    .containsExactlyInAnyOrder("m|v1", "team/odd model|2024-01-01T00:00:00Z");
            assertThat(stage.version("team/odd model", "2024-01-01T00:00:00Z").orElseThrow().records())
                    .isEqualTo(other.chunks().size());
            ByteBuffer first = stage.read("team/odd model", "2024-01-01T00:00:00Z").chunksByTensor().values()
                    .iterator().next().get(0).getData();
            assertThat(first.remaining()).isPositive();
        }
    }

    static long fileSize(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
