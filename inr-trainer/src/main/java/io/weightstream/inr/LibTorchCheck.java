package io.weightstream.inr;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Refuses, with a message that says what to do, a libtorch that DJL's JNI library was not built for, before DJL loads
 * it. DJL 0.35.1's JNI library ({@code pytorch-jni}) is compiled against libtorch 2.7.1 and inlines parts of it: given
 * another version through {@code PYTORCH_LIBRARY_PATH} it loads, finds the GPU, then fails at the first tensor made
 * from Java data ("set_stride is not allowed on a Tensor created from .data or .detach()", libtorch 2.11 on an H100)
 * and can take the JVM down ("undefined symbol: _ZN3c104impl12PyObjectSlotC1Ev"). The version is read from the
 * libtorch folder itself: {@code ../version.py} of a PyTorch wheel ({@code torch/lib}) or {@code ../build-version} of
 * a libtorch archive; a folder without either (DJL's own cache) is not checked.
 *
 * <pre>{@code
 * LibTorchCheck.check(System.getenv("PYTORCH_LIBRARY_PATH"), LibTorchCheck.jniVersion().orElse(null));
 * }</pre>
 */
public final class LibTorchCheck {
    private static final Pattern WHEEL_VERSION = Pattern.compile("(?m)^__version__\\s*=\\s*['\"]([^'\"]+)['\"]");
    private static final Pattern RELEASE = Pattern.compile("^(\\d+\\.\\d+\\.\\d+)");

    private LibTorchCheck() {
    }

    /**
     * @param libraryPath the libtorch folder DJL will load ({@code PYTORCH_LIBRARY_PATH}); null: nothing to check
     * @param jniVersion  the PyTorch release DJL's JNI library was built for, e.g. {@code 2.7.1}; null: not checked
     * @throws IllegalStateException if the folder's libtorch is another release
     */
    public static void check(String libraryPath, String jniVersion) {
        if (libraryPath == null || libraryPath.isBlank() || jniVersion == null) {
            return;
        }
        for (String entry : libraryPath.split(java.io.File.pathSeparator)) {
            Optional<String> found = version(Path.of(entry));
            if (found.isPresent()) {
                String release = release(found.get());
                if (!release.equals(release(jniVersion))) {
                    throw new IllegalStateException("PYTORCH_LIBRARY_PATH=" + entry + " holds libtorch " + found.get()
                            + ", but DJL's JNI library (pytorch-jni) is built for libtorch " + release(jniVersion)
                            + " and fails on other versions: install torch==" + release(jniVersion)
                            + " (CUDA: --index-url https://download.pytorch.org/whl/cu128) and point"
                            + " PYTORCH_LIBRARY_PATH at its torch/lib, or unset it to train on the CPU build");
                }
                return;
            }
        }
    }

    /** The libtorch release in {@code dir} (a {@code lib} folder), if the folder says. */
    static Optional<String> version(Path dir) {
        try {
            Path wheel = dir.resolve("../version.py").normalize();
            if (Files.isRegularFile(wheel)) {
                Matcher m = WHEEL_VERSION.matcher(Files.readString(wheel, StandardCharsets.UTF_8));
                if (m.find()) {
                    return Optional.of(m.group(1));
                }
            }
            Path archive = dir.resolve("../build-version").normalize();
            if (Files.isRegularFile(archive)) {
                String v = Files.readString(archive, StandardCharsets.UTF_8).strip();
                return v.isEmpty() ? Optional.empty() : Optional.of(v);
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** The PyTorch release DJL's JNI library on the class path was built for ({@code jni_version=2.7.1-0.35.1}). */
    public static Optional<String> jniVersion() {
        try (InputStream in = LibTorchCheck.class.getResourceAsStream("/jnilib/pytorch.properties")) {
            if (in == null) {
                return Optional.empty();
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("jni_version");
            return v == null ? Optional.empty() : Optional.of(release(v));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String release(String version) {
        Matcher m = RELEASE.matcher(version);
        return m.find() ? m.group(1) : version;
    }
}
