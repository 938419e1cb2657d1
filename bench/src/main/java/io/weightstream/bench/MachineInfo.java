package io.weightstream.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The machine a bench ran on, for the report: speeds mean little without it. The load average says whether other
 * work shared the cores (on a loaded machine, compare rows of the same run, not runs).
 *
 * <pre>{@code
 * MachineInfo m = MachineInfo.current();
 * System.out.println(m.describe() + "; " + MachineInfo.loadNote(m.loadAtStart(), m.cores()));
 * }</pre>
 *
 * @param cpu             CPU model name ({@code /proc/cpuinfo}), or the architecture
 * @param cores           available processors
 * @param memoryBytes     physical memory ({@code /proc/meminfo}), 0 when unknown
 * @param os              OS name and kernel
 * @param java            Java runtime version
 * @param loadAtStart     1-minute load average when the run started, NaN when unknown
 */
public record MachineInfo(String cpu, int cores, long memoryBytes, String os, String java, double loadAtStart) {
    /** This machine, now. */
    public static MachineInfo current() {
        return new MachineInfo(cpuModel(), Runtime.getRuntime().availableProcessors(), memory(),
                System.getProperty("os.name") + " " + System.getProperty("os.version"),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), loadAverage());
    }

    /** The 1-minute load average now, NaN when the OS does not say. */
    public static double loadAverage() {
        double l = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return l < 0 ? Double.NaN : l;
    }

    /** {@code 2-core AMD EPYC, 23.5 GiB, Linux 6.1, OpenJDK 64-Bit Server VM 17.0.15}. */
    public String describe() {
        return String.format(Locale.ROOT, "%d-core %s, %.1f GiB, %s, %s", cores, cpu, memoryBytes / (double) (1L << 30), os, java);
    }

    /** Whether other work was using the cores: a load average of half the cores or more. */
    public static String loadNote(double load, int cores) {
        if (Double.isNaN(load)) {
            return "load unknown";
        }
        return String.format(Locale.ROOT, "load average %.2f (%s)", load,
                load >= 0.5 * cores ? "loaded: other jobs shared the cores" : "mostly idle");
    }

    private static String cpuModel() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
            for (String l : lines) {
                if (l.startsWith("model name")) {
                    return l.substring(l.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: the architecture below is all we say
        }
        return System.getProperty("os.arch");
    }

    private static long memory() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (l.startsWith("MemTotal:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return 0;
    }
}
