package dev.lifeboat.engine.postgres;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Makes restored files durable on a few I/O threads of their own, so the restore's workers go on reading and
 * decompressing while the disk writes back (an fsync of a freshly written 1 GiB segment blocks for as long as its
 * writeback takes, and with as many workers as cores that left a core idle). {@link #await} returns once every file
 * submitted so far is durable, data and metadata (mode, time, owner are set before a file is submitted).
 */
final class BackgroundFsyncs implements AutoCloseable {
    private final ExecutorService pool;
    private final List<Future<?>> pending = new ArrayList<>();

    BackgroundFsyncs(int threads) {
        this.pool = Executors.newFixedThreadPool(
                Math.max(1, threads),
                Thread.ofPlatform().name("restore-fsync-", 0).daemon(true).factory());
    }

    /** Queues an fsync of {@code file} (fsync through a read-only descriptor syncs the file on Linux). */
    void submit(Path file) {
        Future<?> f = pool.submit(() -> {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                ch.force(true);
            }
            return null;
        });
        synchronized (pending) {
            pending.add(f);
        }
    }

    /** Waits for every queued fsync; throws the first one's failure. */
    void await() throws IOException {
        List<Future<?>> all;
        synchronized (pending) {
            all = new ArrayList<>(pending);
        }
        for (Future<?> f : all) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for restored files to reach the disk", e);
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof IOException io) {
                    throw io;
                }
                throw new IOException("syncing a restored file failed: " + c, c);
            }
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
