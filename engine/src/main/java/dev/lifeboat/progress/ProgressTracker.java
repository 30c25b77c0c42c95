package dev.lifeboat.progress;

import dev.lifeboat.storage.faults.CrashPoints;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts bytes and files of one phase from many threads and emits rate-limited events
 * (at most one every {@code intervalMillis}, plus a final one).
 */
public final class ProgressTracker {
    private final String operation;
    private final String phase;
    private final ProgressListener listener;
    private final long bytesTotal;
    private final long filesTotal;
    private final long startNanos = System.nanoTime();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong files = new AtomicLong();
    private final AtomicLong lastEmitNanos = new AtomicLong();
    private final long intervalNanos;

    public ProgressTracker(
            String operation, String phase, long bytesTotal, long filesTotal, ProgressListener listener) {
        this(operation, phase, bytesTotal, filesTotal, listener, 200);
    }

    public ProgressTracker(
            String operation,
            String phase,
            long bytesTotal,
            long filesTotal,
            ProgressListener listener,
            long intervalMillis) {
        this.operation = operation;
        this.phase = phase;
        this.bytesTotal = bytesTotal;
        this.filesTotal = filesTotal;
        this.listener = listener == null ? ProgressListener.NONE : listener;
        this.intervalNanos = intervalMillis * 1_000_000L;
        emit(null);
    }

    public void addBytes(long n) {
        bytes.addAndGet(n);
        maybeEmit();
    }

    public void fileDone() {
        files.incrementAndGet();
        CrashPoints.process().fileDone(operation, phase); // test hook: inert unless LIFEBOAT_CRASH_AFTER_FILES is set
        maybeEmit();
    }

    public long bytesDone() {
        return bytes.get();
    }

    public double elapsedSeconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private void maybeEmit() {
        long now = System.nanoTime();
        long last = lastEmitNanos.get();
        if (now - last >= intervalNanos && lastEmitNanos.compareAndSet(last, now)) {
            emit(null);
        }
    }

    public void finish(String message) {
        emit(message);
    }

    /**
     * Synchronized so listeners see events in the order their counts were taken, and counts files before bytes: a
     * file's bytes are added before it counts as done, so an event with every file done also has every byte.
     */
    private synchronized void emit(String message) {
        long filesDone = files.get();
        long done = bytes.get();
        double secs = Math.max(1e-9, elapsedSeconds());
        double rate = done / secs;
        Duration eta = null;
        if (bytesTotal > 0 && rate > 0 && done <= bytesTotal) {
            eta = Duration.ofMillis((long) ((bytesTotal - done) / rate * 1000));
        }
        listener.onProgress(new ProgressEvent(
                operation, phase, done, bytesTotal, filesDone, filesTotal, rate, eta, Instant.now(), message));
    }
}
