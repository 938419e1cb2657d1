package io.weightstream.flink.gpu;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.externalresource.ExternalResourceDriver;
import org.apache.flink.api.common.externalresource.ExternalResourceDriverFactory;
import org.apache.flink.configuration.Configuration;

/**
 * Flink external-resource driver for GPUs, the stand-in for Flink's {@code flink-external-resource-gpu} plugin, which
 * is not published to Maven Central. A TaskManager that declares the {@code gpu} resource loads it from
 * {@code plugins/gpu/}; operators then find the GPUs it was given with
 * {@code getRuntimeContext().getExternalResourceInfos("gpu")}, each with the properties {@value GpuInfo#INDEX} (the
 * CUDA device index) and {@value GpuInfo#SHARE}. The amount a TaskManager declares counts shares, one per slot,
 * spread over its devices.
 *
 * <p>Parameters ({@code external-resource.gpu.param.<key>}):
 * <ul>
 *   <li>{@value #INDICES}: the device indices this TaskManager may use, e.g. {@code 0,1}; when set, nothing is
 *       probed (a machine with several TaskManagers gives each its own GPUs this way, as CUDA_VISIBLE_DEVICES would);</li>
 *   <li>{@value #DISCOVERY_COMMAND}: otherwise, the command that lists the devices, one index per line (default
 *       {@value #DEFAULT_COMMAND}).</li>
 * </ul>
 *
 * <pre>{@code
 * external-resources: gpu
 * external-resource.gpu.amount: 4          # = taskmanager.numberOfTaskSlots
 * external-resource.gpu.driver-factory.class: io.weightstream.flink.gpu.GpuDriverFactory
 * external-resource.gpu.param.indices: 0
 * }</pre>
 */
public final class GpuDriverFactory implements ExternalResourceDriverFactory {
    public static final String INDICES = "indices";
    public static final String DISCOVERY_COMMAND = "discovery-command";
    public static final String DEFAULT_COMMAND = "nvidia-smi --query-gpu=index --format=csv,noheader";

    @Override
    public ExternalResourceDriver createExternalResourceDriver(Configuration config) {
        String indices = config.toMap().get(INDICES);
        if (indices != null && !indices.isBlank()) {
            return new GpuDriver(GpuDriver.parseIndices(indices, "param " + INDICES), null, Duration.ZERO);
        }
        String command = config.toMap().getOrDefault(DISCOVERY_COMMAND, DEFAULT_COMMAND);
        List<String> argv = new ArrayList<>(Arrays.asList(command.trim().split("\\s+")));
        if (argv.isEmpty() || argv.get(0).isEmpty()) {
            throw new IllegalArgumentException("external-resource.gpu.param." + DISCOVERY_COMMAND + " is empty");
        }
        return new GpuDriver(null, argv, Duration.ofSeconds(30));
    }
}
