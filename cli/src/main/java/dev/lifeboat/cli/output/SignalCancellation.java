package dev.lifeboat.cli.output;

import dev.lifeboat.progress.Cancellation;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C or SIGTERM while a command runs: a JVM shutdown hook, in place until {@link #close}, that cancels the
 * command's engine operation and lets the exit wait up to a grace period for it to wind down (zero: the JVM exits as
 * soon as the operation is told). Taken through {@code OutputOptions.cancelOnSignal}.
 */
public final class SignalCancellation implements AutoCloseable {
    private final Cancellation cancellation = new Cancellation();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final Thread hook;

    private SignalCancellation(String reason, Duration grace) {
        hook = new Thread(() -> {
            cancellation.cancel(reason);
            if (grace.isPositive()) {
                try {
                    ended.await(grace.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        });
    }

    public static SignalCancellation install(String reason, Duration grace) {
        SignalCancellation s = new SignalCancellation(reason, grace);
        Runtime.getRuntime().addShutdownHook(s.hook);
        return s;
    }

    /** What the engine operation checks; cancelled by a signal. */
    public Cancellation cancellation() {
        return cancellation;
    }

    /** The operation has ended: a signal no longer waits for it, and the hook goes. */
    @Override
    public void close() {
        ended.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // shutting down
        }
    }
}
