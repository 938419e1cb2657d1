package io.weightstream.flink.gpu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.externalresource.ExternalResourceDriver;

/**
 * Gives a TaskManager {@code amount} GPU shares over its devices (the configured indices, or those the discovery
 * command lists), share {@code i} on device {@code i mod devices}: a TaskManager declares one share per slot, so that
 * the part of it that Flink gives each default slot never leaves a slot-sharing group that asks for a whole one
 * without it (see deploy/README.md).
 */
final class GpuDriver implements ExternalResourceDriver {
    private final List<Integer> configured;
    private final List<String> command;
    private final Duration timeout;

    GpuDriver(List<Integer> configured, List<String> command, Duration timeout) {
        this.configured = configured;
        this.command = command;
        this.timeout = timeout;
    }

    @Override
    public Set<GpuInfo> retrieveResourceInfo(long amount) throws Exception {
        if (amount <= 0) {
            throw new IllegalArgumentException("external-resource.gpu.amount must be positive, got " + amount);
        }
        List<Integer> devices = configured != null ? configured : discover();
        if (devices.isEmpty()) {
            throw new IllegalStateException("this TaskManager declares " + amount + " GPU share(s) but "
                    + (configured != null ? "param " + GpuDriverFactory.INDICES + " lists" : "`" + String.join(" ", command) + "` found")
                    + " no GPU");
        }
        Set<GpuInfo> out = new LinkedHashSet<>();
        for (int i = 0; i < amount; i++) {
            out.add(new GpuInfo(devices.get(i % devices.size()), i));
        }
        return out;
    }

    private List<Integer> discover() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readNBytes(64 * 1024);
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new IOException("`" + String.join(" ", command) + "` did not finish within " + timeout.toSeconds() + " s");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException("`" + String.join(" ", command) + "` exited with " + p.exitValue() + ": " + text.strip());
        }
        return parseIndices(text.replace('\n', ','), "the output of `" + String.join(" ", command) + "`");
    }

    /** {@code "0, 1,3"} or one per line; blank entries are skipped, duplicates refused. */
    static List<Integer> parseIndices(String list, String what) {
        List<Integer> out = new ArrayList<>();
        for (String s : list.split(",")) {
            String t = s.strip();
            if (t.isEmpty()) {
                continue;
            }
            int index;
            try {
                index = Integer.parseInt(t);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(what + ": '" + t + "' is not a GPU index");
            }
            if (index < 0 || out.contains(index)) {
                throw new IllegalArgumentException(what + ": GPU index " + index + (index < 0 ? " is negative" : " is listed twice"));
            }
            out.add(index);
        }
        return out;
    }
}
