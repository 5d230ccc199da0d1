package tinyllm.convert;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of one download: on a terminal a bar redrawn in place (bytes, percent, MB/s, time left);
 * into a pipe or log a plain line every few seconds, so logs stay readable.
 */
final class DownloadProgress {
    private static final long REDRAW_NANOS = 200_000_000L, LINE_NANOS = 5_000_000_000L;
    private static final int BAR_WIDTH = 30;

    private final PrintStream out;
    private final boolean interactive;
    private final String label;
    private final long resumedAt, total;
    private final long startNanos = System.nanoTime();
    private long lastShown = startNanos;

    /**
     * @param resumedAt bytes already on disk from an earlier run: they count for the percentage, not the speed
     * @param total     the full size, or -1 when the server did not say
     */
    DownloadProgress(PrintStream out, boolean interactive, String label, long resumedAt, long total) {
        this.out = out;
        this.interactive = interactive;
        this.label = label;
        this.resumedAt = resumedAt;
        this.total = total;
    }

    void update(long bytes) {
        long now = System.nanoTime();
        if (now - lastShown < (interactive ? REDRAW_NANOS : LINE_NANOS)) {
            return;
        }
        lastShown = now;
        if (interactive) {
            out.print("\r" + line(bytes, now) + "\033[K");
        } else {
            out.println(line(bytes, now));
        }
        out.flush();
    }

    void finish(long bytes) {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        String size = bytes >= 1_000_000 ? String.format(Locale.ROOT, "%.1f MB", bytes / 1e6) : bytes + " bytes";
        // A speed measured over a fraction of a second says nothing.
        String speed = seconds >= 1 ? String.format(Locale.ROOT, " (%.1f MB/s)", (bytes - resumedAt) / 1e6 / seconds) : "";
        out.printf(Locale.ROOT, "%s%s: %s in %.1f s%s%n", interactive ? "\r\033[K" : "", label, size, seconds, speed);
    }

    private String line(long bytes, long now) {
        double seconds = (now - startNanos) / 1e9;
        double bytesPerSecond = (bytes - resumedAt) / Math.max(seconds, 1e-3);
        if (total <= 0) {
            return String.format(Locale.ROOT, "%s  %.1f MB  %.1f MB/s", label, bytes / 1e6, bytesPerSecond / 1e6);
        }
        double fraction = Math.min(1.0, (double) bytes / total);
        long secondsLeft = bytesPerSecond > 0 ? Math.round((total - bytes) / bytesPerSecond) : 0;
        String bar = interactive
                ? "[" + "#".repeat((int) (fraction * BAR_WIDTH)) + "-".repeat(BAR_WIDTH - (int) (fraction * BAR_WIDTH)) + "]  "
                : "";
        return String.format(Locale.ROOT, "%s  %s%.1f / %.1f MB  %3.0f%%  %.1f MB/s  %d:%02d left", label, bar,
                bytes / 1e6, total / 1e6, 100 * fraction, bytesPerSecond / 1e6, secondsLeft / 60, secondsLeft % 60);
    }
}
