package io.weightstream.inr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LibTorchCheckTest {
    @TempDir
    Path dir;

    private Path wheel(String version) throws Exception {
        Path lib = Files.createDirectories(dir.resolve("torch/lib"));
        Files.writeString(dir.resolve("torch/version.py"), "from typing import Optional\n__version__ = '" + version
                + "'\ndebug = False\ncuda: Optional[str] = '13.0'\n");
        return lib;
    }

    @Test
    void theJniOnTheClassPathIsBuiltForTwoSevenOne() {
        // pytorch-jni-2.7.1-0.35.1 is a dependency of this module
        assertThat(LibTorchCheck.jniVersion()).hasValue("2.7.1");
    }

    @Test
    void anotherWheelVersionIsRefusedWithWhatToDo() throws Exception {
        Path lib = wheel("2.11.0+cu130");
        assertThat(LibTorchCheck.version(lib)).hasValue("2.11.0+cu130");
        assertThatThrownBy(() -> LibTorchCheck.check(lib.toString(), "2.7.1"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("libtorch 2.11.0+cu130")
                .hasMessageContaining("built for libtorch 2.7.1")
                .hasMessageContaining("torch==2.7.1");
    }

    @Test
    void theSameReleaseWithAnyBuildPasses() throws Exception {
        Path lib = wheel("2.7.1+cu128");
        assertThatCode(() -> LibTorchCheck.check(lib.toString(), "2.7.1")).doesNotThrowAnyException();
    }

    @Test
    void aLibtorchArchiveIsReadFromItsBuildVersion() throws Exception {
        Path lib = Files.createDirectories(dir.resolve("libtorch/lib"));
        Files.writeString(dir.resolve("libtorch/build-version"), "2.5.1+cu124\n");
        assertThatThrownBy(() -> LibTorchCheck.check(lib.toString(), "2.7.1"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("2.5.1+cu124");
    }

    @Test
    void aFolderThatDoesNotSayItsVersionOrNoPathIsNotChecked() throws Exception {
        Path lib = Files.createDirectories(dir.resolve("cache/2.7.1-cpu"));
        assertThat(LibTorchCheck.version(lib)).isEmpty();
        assertThatCode(() -> LibTorchCheck.check(lib.toString(), "2.7.1")).doesNotThrowAnyException();
        assertThatCode(() -> LibTorchCheck.check(null, "2.7.1")).doesNotThrowAnyException();
    }
}
