package io.weightstream.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.publish.Attachments;
import io.weightstream.schemas.Attachment;
import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.MethodSummary;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.schemas.SourceFormat;
import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.ProducerSignature;
import io.weightstream.serving.ServedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The versioned repository on a real file system: atomic writes, keep-K, LAST_GOOD. */
class ModelRepositoryTest {
    @TempDir
    Path dir;

    static ModelVersionCompressed version(String model, String version, long publishedAtMs, List<Attachment> attachments) {
        CheckpointManifest manifest = CheckpointManifest.newBuilder()
                .setModel(model).setVersion(version).setSourceFormat(SourceFormat.ONNX)
                .setSourceFileName("model.onnx").setSourceFileBytes(1000).setPublishedAtMs(publishedAtMs)
                .setChunkBytes(1 << 20).setTensors(new ArrayList<>())
                .setPolicy(CompressionPolicy.newBuilder().setDefaultMethod("rtn").build())
                .setSkeleton(ByteBuffer.allocate(0))
                .setProducer(ProducerSignature.newBuilder().setProducerId("test").setHost("h").setTool("t").build())
                .setAttachments(new ArrayList<>(attachments))
                .build();
        return ModelVersionCompressed.newBuilder().setModel(model).setVersion(version).setManifest(manifest)
                .setTensorCount(3).setOriginalBytes(4000).setEncodedBytes(1000).setRatio(4.0)
                .setMethods(new ArrayList<>(List.of(
                        MethodSummary.newBuilder().setMethod("rtn").setTensors(2).setOriginalBytes(3900)
                                .setEncodedBytes(950).setMeanRelL2(0.004).setMaxRelL2(0.006).setEncodeMs(3).build(),
                        MethodSummary.newBuilder().setMethod("lossless").setTensors(1).setOriginalBytes(100)
                                .setEncodedBytes(50).setMeanRelL2(0).setMaxRelL2(0).setEncodeMs(1).build())))
                .setPublishedAtMs(publishedAtMs).setCompletedAtMs(publishedAtMs + 500).build();
    }

    static Attachment tokenizer(String content) {
        byte[] data = content.getBytes(StandardCharsets.UTF_8);
        return Attachment.newBuilder().setName(Attachments.TOKENIZER).setData(ByteBuffer.wrap(data))
                .setSha256(sha256(data)).build();
    }

    static ModelRepository.ModelFileWriter writes(String content) {
        return file -> Files.writeString(file, content);
    }

    @Test
    void aStoredVersionHasItsFileAttachmentsAndVersionJson() throws Exception {
        ModelRepository repo = new ModelRepository(dir, 3);
        ModelVersionCompressed v = version("minilm", "v1", 1000, List.of(tokenizer("{\"tok\":1}")));
        ModelRepository.StoredVersion s = repo.store(v, writes("onnx bytes"));

        Path vd = dir.resolve("minilm").resolve("v1");
        assertThat(s.directory()).isEqualTo(vd);
        try (Stream<Path> files = Files.list(vd)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("model.onnx", "tokenizer.json", ModelRepository.VERSION_FILE);
        }
        assertThat(Files.readString(vd.resolve("model.onnx"))).isEqualTo("onnx bytes");
        assertThat(s.tokenizer()).hasValue(vd.resolve("tokenizer.json"));
        assertThat(Files.readString(vd.resolve("tokenizer.json"))).isEqualTo("{\"tok\":1}");

        ModelRepository.StoredVersion back = new ModelRepository(dir, 3).find("minilm", "v1").orElseThrow();
        assertThat(back).isEqualTo(s);
        ServedModel.Info info = back.info();
        assertThat(info.file()).isEqualTo(vd.resolve("model.onnx"));
        assertThat(info.fileBytes()).isEqualTo("onnx bytes".length());
        assertThat(info.methods()).containsEntry("rtn", 2).containsEntry("lossless", 1);
        assertThat(info.ratio()).isEqualTo(4.0);
        assertThat(info.publishedAtMs()).isEqualTo(1000);
        assertThat(info.servingSinceMs()).isZero();
        assertThat(Files.readString(vd.resolve(ModelRepository.VERSION_FILE)))
                .contains("\"format\" : " + ModelRepository.FORMAT_VERSION).contains("\"meanRelL2\" : 0.004");
        assertThatThrownBy(() -> repo.store(v, writes("again"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already stored");
    }

    @Test
    void aWriteThatFailsHalfwayLeavesNoVersionDirectory() throws Exception {
        ModelRepository repo = new ModelRepository(dir, 3);
        ModelVersionCompressed v = version("minilm", "v1", 1000, List.of(tokenizer("t")));
        assertThatThrownBy(() -> repo.store(v, file -> {
            Files.writeString(file, "half a model");
            throw new IOException("disk full");
        })).isInstanceOf(UncheckedIOException.class).hasMessageContaining("disk full");
        assertThat(repo.versions("minilm")).isEmpty();
        assertThat(repo.find("minilm", "v1")).isEmpty();
        try (Stream<Path> files = Files.list(dir.resolve("minilm"))) {
            assertThat(files).isEmpty(); // the temp directory went too
        }
        // a failed check (unchecked) is the same
        assertThatThrownBy(() -> repo.store(v, file -> {
            throw new io.weightstream.compress.CompressedModelException("tensor w fails its SHA-256");
        })).hasMessageContaining("SHA-256");
        try (Stream<Path> files = Files.list(dir.resolve("minilm"))) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void whatACrashLeftInATempDirectoryIsNeverListedAndIsCleanedUp() throws Exception {
        new ModelRepository(dir, 3).store(version("m", "v1", 1000, List.of()), writes("complete"));
        // a crash after the model file was written into the temp directory, before the rename
        Path tmp = Files.createDirectories(dir.resolve("m").resolve(ModelRepository.TEMP_PREFIX + "v2-123"));
        Files.writeString(tmp.resolve("model.onnx"), "partial");
        Files.writeString(tmp.resolve(ModelRepository.VERSION_FILE), "{\"format\":1}");
        Path trash = Files.createDirectories(dir.resolve("m").resolve(ModelRepository.TRASH_PREFIX + "v0-9"));
        ModelRepository repo = new ModelRepository(dir, 3);
        assertThat(repo.versions("m")).extracting(ModelRepository.StoredVersion::version).containsExactly("v1");
        assertThat(tmp).doesNotExist();
        assertThat(trash).doesNotExist();
    }

    @Test
    void anAttachmentWhoseHashIsWrongIsRefusedBeforeAnythingIsWritten() {
        ModelRepository repo = new ModelRepository(dir, 3);
        Attachment bad = Attachment.newBuilder(tokenizer("real")).setSha256("0".repeat(64)).build();
        assertThatThrownBy(() -> repo.store(version("m", "v1", 1, List.of(bad)), writes("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("SHA-256");
        Attachment sneaky = Attachment.newBuilder(tokenizer("x")).setName("../escape").build();
        assertThatThrownBy(() -> repo.store(version("m", "v1", 1, List.of(sneaky)), writes("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("plain file name");
        assertThat(repo.versions("m")).isEmpty();
    }

    @Test
    void keepsTheNewestKButNeverTheServingVersionNorLastGood() {
        ModelRepository repo = new ModelRepository(dir, 3);
        for (int i = 1; i <= 5; i++) {
            repo.store(version("m", "v" + i, i * 1000L, List.of()), writes("model " + i));
        }
        assertThat(repo.wouldBePruned("m", 500)).isTrue();     // 5 newer kept
        assertThat(repo.wouldBePruned("m", 3500)).isFalse();   // only v4, v5 newer
        // v1 serves (a rollback): it stays, v2 goes, the newest three stay
        assertThat(repo.prune("m", Set.of("v1"))).containsExactly("v2");
        assertThat(repo.versions("m")).extracting(ModelRepository.StoredVersion::version)
                .containsExactly("v1", "v3", "v4", "v5");
        repo.setLastGood("m", "v3");
        repo.store(version("m", "v6", 6000, List.of()), writes("model 6"));
        // serving v6 now; LAST_GOOD still names v3 (it moves after the swap): both survive, v1 goes
        assertThat(repo.prune("m", Set.of("v6"))).containsExactly("v1");
        assertThat(repo.versions("m")).extracting(ModelRepository.StoredVersion::version)
                .containsExactly("v3", "v4", "v5", "v6");
        repo.setLastGood("m", "v6");
        assertThat(repo.prune("m", Set.of("v6"))).containsExactly("v3");
        assertThat(repo.versions("m")).extracting(ModelRepository.StoredVersion::version)
                .containsExactly("v4", "v5", "v6");
    }

    @Test
    void lastGoodIsReplacedAtomicallyAndNamesOnlyKeptVersions() throws Exception {
        ModelRepository repo = new ModelRepository(dir, 3);
        assertThat(repo.lastGood("m")).isEmpty();
        assertThatThrownBy(() -> repo.setLastGood("m", "v1")).isInstanceOf(NoSuchElementException.class);
        repo.store(version("m", "v1", 1000, List.of()), writes("1"));
        repo.store(version("m", "v2", 2000, List.of()), writes("2"));
        repo.setLastGood("m", "v1");
        repo.setLastGood("m", "v2");
        Path pointer = dir.resolve("m").resolve(ModelRepository.LAST_GOOD);
        assertThat(Files.readString(pointer)).isEqualTo("v2\n");
        try (Stream<Path> files = Files.list(dir.resolve("m"))) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("v1", "v2", ModelRepository.LAST_GOOD); // no temp file left
        }
        assertThat(new ModelRepository(dir, 3).lastGood("m")).hasValue("v2");
        repo.remove("m", "v2");
        assertThat(repo.lastGood("m")).isEmpty(); // never points at a version that is not complete and kept
    }

    @Test
    void oddNamesStayInsideTheRepository() {
        ModelRepository repo = new ModelRepository(dir, 3);
        repo.store(version("../etc", "../../passwd", 1, List.of()), writes("x"));
        repo.store(version("team/model", ".hidden v1", 2, List.of()), writes("y"));
        assertThat(repo.models()).containsExactlyInAnyOrder("../etc", "team/model");
        ModelRepository.StoredVersion s = repo.find("../etc", "../../passwd").orElseThrow();
        assertThat(s.directory().getParent().getParent()).isEqualTo(dir);
        assertThat(repo.versions("team/model")).singleElement()
                .satisfies(v -> assertThat(v.version()).isEqualTo(".hidden v1"));
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
