package dev.lifeboat.storage.limiter;

import dev.lifeboat.common.Backoff;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * A token bucket: {@code rate} tokens a second, holding at most one second's worth, so an idle store may burst for a
 * second and no longer. A caller takes what it needs at once, even more than the bucket holds (the balance goes
 * negative), and then waits until its debt is paid: callers are served in the order they came and a large object
 * costs its full share of time. Waits go in short slices that notice a stop request or an interrupt.
 */
final class TokenBucket {
    private final double rate;
    private final double capacity;
    private final LongSupplier nanoClock;
    private double tokens;
    private long updatedNanos;

    TokenBucket(long ratePerSecond, LongSupplier nanoClock) {
        if (ratePerSecond <= 0) {
            throw new IllegalArgumentException("a token bucket needs a positive rate, got " + ratePerSecond);
        }
        this.rate = ratePerSecond;
        this.capacity = ratePerSecond;
        this.nanoClock = nanoClock;
        this.tokens = capacity;
        this.updatedNanos = nanoClock.getAsLong();
    }

    /** Takes {@code n} tokens and returns how long the caller must wait before going ahead (zero: at once). */
    synchronized Duration reserve(long n) {
        long now = nanoClock.getAsLong();
        tokens = Math.min(capacity, tokens + (now - updatedNanos) * rate / 1e9);
        updatedNanos = now;
        tokens -= n;
        return tokens >= 0 ? Duration.ZERO : Duration.ofNanos((long) (-tokens / rate * 1e9));
    }

    /** Gives back tokens a caller took but did not use (it was stopped while waiting). */
    synchronized void refund(long n) {
        tokens = Math.min(capacity, tokens + n);
    }

    /** Takes {@code n} tokens, waiting as long as that needs; throws when stopped or interrupted meanwhile. */
    void take(long n, BooleanSupplier stop) throws InterruptedIOException {
        if (n <= 0) {
            return;
        }
        Duration wait = reserve(n);
        if (wait.isZero()) {
            return;
        }
        boolean waited;
        try {
            waited = Backoff.sleep(wait, stop);
        } catch (InterruptedException e) {
            refund(n);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the store's rate limit");
        }
        if (!waited) {
            refund(n);
            throw new InterruptedIOException("stopped while waiting for the store's rate limit");
        }
    }
}
