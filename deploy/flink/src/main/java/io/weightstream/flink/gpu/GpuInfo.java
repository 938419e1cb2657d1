package io.weightstream.flink.gpu;

import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.apache.flink.api.common.externalresource.ExternalResourceInfo;

/**
 * One GPU share given to a TaskManager, as an operator sees it through {@code getExternalResourceInfos("gpu")}: the
 * CUDA device it runs on and the share's number (a TaskManager has one share per slot; shares of one device time-share it).
 *
 * <pre>{@code
 * for (ExternalResourceInfo gpu : getRuntimeContext().getExternalResourceInfos("gpu")) {
 *     int device = Integer.parseInt(gpu.getProperty("index").orElseThrow());   // e.g. Device.gpu(device) in DJL
 * }
 * }</pre>
 */
public final class GpuInfo implements ExternalResourceInfo {
    /** The property holding the CUDA device index. */
    public static final String INDEX = "index";
    /** The property holding the share's number on this TaskManager. */
    public static final String SHARE = "share";

    private final int index;
    private final int share;

    GpuInfo(int index, int share) {
        this.index = index;
        this.share = share;
    }

    public int index() {
        return index;
    }

    public int share() {
        return share;
    }

    @Override
    public Optional<String> getProperty(String key) {
        if (INDEX.equals(key)) {
            return Optional.of(Integer.toString(index));
        }
        return SHARE.equals(key) ? Optional.of(Integer.toString(share)) : Optional.empty();
    }

    @Override
    public Collection<String> getKeys() {
        return List.of(INDEX, SHARE);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GpuInfo g && g.index == index && g.share == share;
    }

    @Override
    public int hashCode() {
        return Objects.hash(index, share);
    }

    @Override
    public String toString() {
        return "GPU " + index + " share " + share;
    }
}
