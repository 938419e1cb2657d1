package io.weightstream.cli;

import java.io.PrintStream;

/** A one-line progress bar with MB/s on stderr, redrawn at most ten times a second; silent when disabled. */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final String label;
    private final boolean enabled;
    private final PrintStream err = System.err;
    private final long start = System.nanoTime();
    private long lastDraw;
    private boolean drawn;

    ProgressBar(String label, boolean enabled) {
        this.label = label;
        this.enabled = enabled && System.console() != null || enabled && Boolean.getBoolean("weightstream.progress");
    }

    void update(long done, long total, String item) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (now - lastDraw < 100_000_000L && done < total) {
            return;
        }
        lastDraw = now;
        double frac = total > 0 ? (double) done / total : 1;
        int filled = (int) (frac * WIDTH);
        double secs = (now - start) / 1e9;
        double mbps = secs > 0 ? done / 1e6 / secs : 0;
        err.printf("\r%s [%s%s] %5.1f%% %8.1f MB %7.1f MB/s", label, "#".repeat(filled), " ".repeat(WIDTH - filled),
                frac * 100, done / 1e6, mbps);
        err.flush();
        drawn = true;
    }

    void finish() {
        if (drawn) {
            err.println();
            err.flush();
        }
    }
}
