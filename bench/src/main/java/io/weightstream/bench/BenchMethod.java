package io.weightstream.bench;

import java.util.List;
import java.util.Objects;

/**
 * A row family of the bench: a codec (compressed through the same policy, {@code OfflineCompressor} and
 * {@code ModelMaterializer} as {@code weightstream compress}), a zstd-jni reference, or ONNX Runtime's own int8
 * model as a reference; each with the settings a {@code --quick} run and a full run measure.
 *
 * <pre>{@code
 * BenchMethod rtn = BenchMethods.get("rtn");
 * rtn.settings(true);    // [bits=8, bits=4 group.size=64]
 * }</pre>
 *
 * @param name          the codec name, {@code zstd} or {@code ort-int8}
 * @param kind          how rows of this method are produced
 * @param quickSettings the settings of a {@code --quick} run (empty: the method is left out of quick runs unless named)
 * @param fullSettings  the settings of a full run
 * @param description   one line for the report
 */
public record BenchMethod(String name, Kind kind, List<BenchSetting> quickSettings, List<BenchSetting> fullSettings,
                          String description) {
    /** How the rows of a method are produced. */
    public enum Kind {
        /** A codec of the SPI, through a {@code Policies.of(method, params)} policy. */
        CODEC,
        /** zstd-jni on each tensor's raw bytes, parameter {@code level}: the lossless reference. */
        ZSTD,
        /** ONNX Runtime's dynamic int8 model (the {@code -q} artifact) next to the float32 one: not run, compared. */
        ORT_INT8
    }

    public BenchMethod {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        quickSettings = List.copyOf(quickSettings);
        fullSettings = List.copyOf(fullSettings);
        Objects.requireNonNull(description, "description");
        if (fullSettings.isEmpty()) {
            throw new IllegalArgumentException("method " + name + " has no settings");
        }
    }

    /** The settings of a quick or a full run; a quick run of a method without quick settings takes its first full one. */
    public List<BenchSetting> settings(boolean quick) {
        if (!quick) {
            return fullSettings;
        }
        return quickSettings.isEmpty() ? fullSettings.subList(0, 1) : quickSettings;
    }

    /** The same method measured at {@code settings} only, in quick and full runs alike. */
    public BenchMethod withSettings(List<BenchSetting> settings) {
        return new BenchMethod(name, kind, settings, settings, description);
    }
}
