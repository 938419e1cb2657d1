package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassDataArchiveTest {
    @TempDir
    Path dir;

    @Test
    void aCleanExitPutsTheDumpInPlaceAndDropsOlderArchivesOfTheSameServer() throws IOException {
        Path old = Files.writeString(dir.resolve("kafka-aaaaaaaaaaaa.jsa"), "old");
        Path other = Files.writeString(dir.resolve("registry-aaaaaaaaaaaa.jsa"), "other server");
        Path pending = Files.writeString(dir.resolve("kafka-bbbbbbbbbbbb.jsa.1234abcd.tmp"), "archive");

        ClassDataArchive.finish(pending, true);

        assertThat(dir.resolve("kafka-bbbbbbbbbbbb.jsa")).hasContent("archive");
        assertThat(pending).doesNotExist();
        assertThat(old).doesNotExist();
        assertThat(other).exists();
    }

    @Test
    void aKilledServersDumpIsDeleted() throws IOException {
        Path pending = Files.writeString(dir.resolve("kafka-bbbbbbbbbbbb.jsa.1234abcd.tmp"), "partial");

        ClassDataArchive.finish(pending, false);

        assertThat(pending).doesNotExist();
        assertThat(dir.resolve("kafka-bbbbbbbbbbbb.jsa")).doesNotExist();
    }

    @Test
    void theFingerprintChangesWithAnyJar() throws IOException {
        Path a = Files.writeString(dir.resolve("a.jar"), "a");
        Path b = Files.writeString(dir.resolve("b.jar"), "b");
        String before = ClassDataArchive.fingerprint(List.of(a, b));
        assertThat(ClassDataArchive.fingerprint(List.of(a, b))).isEqualTo(before);

        Files.setLastModifiedTime(b, FileTime.fromMillis(Files.getLastModifiedTime(b).toMillis() - 60_000));
        assertThat(ClassDataArchive.fingerprint(List.of(a, b))).isNotEqualTo(before);
        assertThat(ClassDataArchive.fingerprint(List.of(a))).isNotEqualTo(before);
    }

    @Test
    void theFirstStartWritesTheArchiveAndLaterStartsUseIt() throws IOException {
        Files.createDirectories(dir.resolve("kafka/libs"));
        Path jar = Files.writeString(dir.resolve("kafka/libs/kafka_2.13-4.1.0.jar"), "jar");
        Files.createDirectories(dir.resolve("apicurio"));
        Files.writeString(dir.resolve("apicurio").resolve(StackHome.APICURIO_JAR), "jar");
        StackHome home = StackHome.of(dir);

        ClassDataArchive first = ClassDataArchive.forServer(home, "kafka", List.of(jar));
        assertThat(first.pending()).isNotNull();
        assertThat(first.serverOptions()).singleElement().asString().startsWith("-XX:ArchiveClassesAtExit=");
        assertThat(first.helperOptions()).isEmpty();

        Files.writeString(first.pending(), "dumped at exit");
        ClassDataArchive.finish(first.pending(), true);

        ClassDataArchive later = ClassDataArchive.forServer(home, "kafka", List.of(jar));
        assertThat(later.pending()).isNull();
        assertThat(later.serverOptions()).singleElement().asString().startsWith("-XX:SharedArchiveFile=");
        assertThat(later.helperOptions()).isEqualTo(later.serverOptions());
    }
}
