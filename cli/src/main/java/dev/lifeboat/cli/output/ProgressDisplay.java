package dev.lifeboat.cli.output;

import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.progress.ProgressListener;
import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Draws engine progress events: a progress bar (bytes, rate, ETA) on a terminal; otherwise a plain line every few
 * seconds on stderr, so logs of scheduled runs still show that work is moving.
 */
public final class ProgressDisplay implements ProgressListener, AutoCloseable {
    private final boolean terminal;
    private final boolean quiet;
    private ProgressBar bar;
    private String barPhase;
    private long lastLine;

    public ProgressDisplay(boolean quiet) {
        this.quiet = quiet;
        this.terminal = System.console() != null && System.console().isTerminal();
    }

    @Override
    public synchronized void onProgress(ProgressEvent e) {
        if (quiet) {
            return;
        }
        String phase = e.operation() + " " + e.phase();
        if (terminal) {
            if (!phase.equals(barPhase)) {
                closeBar();
                barPhase = phase;
                bar = new ProgressBarBuilder()
                        .setTaskName(phase)
                        .setInitialMax(Math.max(1, e.bytesTotal() >> 20))
                        .setUnit(" MiB", 1)
                        .showSpeed()
                        .setStyle(ProgressBarStyle.ASCII)
                        .setUpdateIntervalMillis(250)
                        .continuousUpdate()
                        .build();
            }
            bar.stepTo(e.bytesDone() >> 20);
            if (e.filesTotal() > 0) {
                bar.setExtraMessage(" " + e.filesDone() + "/" + e.filesTotal() + " files");
            }
            return;
        }
        long now = System.nanoTime();
        boolean done = e.bytesTotal() > 0 && e.bytesDone() >= e.bytesTotal();
        if (now - lastLine > 5_000_000_000L || (done && !phase.equals(barPhase))) {
            lastLine = now;
            if (done) {
                barPhase = phase;
            }
            System.err.printf(
                    "%s: %s of %s (%.1f MiB/s)%s%n",
                    phase,
                    mib(e.bytesDone()),
                    e.bytesTotal() >= 0 ? mib(e.bytesTotal()) : "?",
                    e.bytesPerSecond() / (1 << 20),
                    e.eta() == null || done ? "" : ", ETA " + format(e.eta()));
        }
    }

    private static String mib(long b) {
        return String.format("%.1f MiB", b / 1048576.0);
    }

    private static String format(Duration d) {
        return String.format("%d:%02d:%02d", d.toHours(), d.toMinutesPart(), d.toSecondsPart());
    }

    private void closeBar() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }

    @Override
    public synchronized void close() {
        closeBar();
    }
}
