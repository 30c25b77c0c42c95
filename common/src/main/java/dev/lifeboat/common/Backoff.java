package dev.lifeboat.common;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * The one way Lifeboat waits between attempts: capped exponential backoff with jitter, optionally bounded by a number
 * of attempts and a time budget, and cut short when the caller is stopped (cancelled, shutting down). Reconnect
 * loops keep one {@link Attempts} and {@link Attempts#reset() reset} it after a success; one-shot retries use
 * {@link #call}.
 */
public final class Backoff {
    private final Duration initial;
    private final Duration max;
    private final int maxAttempts;
    private final Duration budget;

    private Backoff(Duration initial, Duration max, int maxAttempts, Duration budget) {
        if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("backoff needs 0 < initial <= max, got " + initial + " and " + max);
        }
        this.initial = initial;
        this.max = max;
        this.maxAttempts = maxAttempts;
        this.budget = budget;
    }

    /**
     * Waits {@code initial}, doubling up to {@code max}; each wait is a random half to all of that ("equal jitter"),
     * so many clients that failed together do not come back together.
     */
    public static Backoff exponential(Duration initial, Duration max) {
        return new Backoff(initial, max, 0, null);
    }

    /** At most {@code attempts} attempts in all, the first included. */
    public Backoff withMaxAttempts(int attempts) {
        if (attempts < 1) {
            throw new IllegalArgumentException("attempts must be at least 1, got " + attempts);
        }
        return new Backoff(initial, max, attempts, budget);
    }

    /** No wait that would end more than {@code budget} after the first attempt began. */
    public Backoff withBudget(Duration budget) {
        return new Backoff(initial, max, maxAttempts, Objects.requireNonNull(budget));
    }

    public int maxAttempts() {
        return maxAttempts;
    }

    /** A new sequence of attempts, starting now. */
    public Attempts start() {
        return new Attempts();
    }

    /** One sequence of attempts: call {@link #pause} after each failure. */
    public final class Attempts {
        private final long startedNanos = System.nanoTime();
        private Duration next = initial;
        private int failures;

        private Attempts() {}

        /** The wait before the next attempt, before jitter. */
        public Duration nextDelay() {
            return next;
        }

        public int failures() {
            return failures;
        }

        /** After a success (e.g. a connection that worked for a while): the next failure waits the shortest time. */
        public void reset() {
            next = initial;
            failures = 0;
        }

        /**
         * Records a failure and waits before the next attempt.
         *
         * @return false, without waiting, when attempts or the budget are used up; false as soon as {@code stop} says
         *         so during the wait; true when the caller should try again
         */
        public boolean pause(BooleanSupplier stop) throws InterruptedException {
            failures++;
            if (maxAttempts > 0 && failures >= maxAttempts) {
                return false;
            }
            long jittered = jitter(next);
            next = next.multipliedBy(2).compareTo(max) > 0 ? max : next.multipliedBy(2);
            if (budget != null && System.nanoTime() - startedNanos + jittered > budget.toNanos()) {
                return false;
            }
            return sleep(Duration.ofNanos(jittered), stop);
        }
    }

    /**
     * The wait after the {@code failures}-th failure (1 for the first), jittered: for retries scheduled elsewhere
     * (e.g. a delivery's next attempt kept in a database row) rather than slept here.
     */
    public Duration delayAfter(int failures) {
        Duration d = initial;
        for (int i = 1; i < failures && d.compareTo(max) < 0; i++) {
            d = d.multipliedBy(2);
        }
        return Duration.ofNanos(jitter(d.compareTo(max) > 0 ? max : d));
    }

    private static long jitter(Duration d) {
        long n = d.toNanos();
        return n / 2 + ThreadLocalRandom.current().nextLong(n / 2 + 1);
    }

    /**
     * Runs {@code op} until it succeeds, a failure is not {@code retryable}, or attempts, budget or {@code stop} end
     * the retries; then the last failure is thrown as it was.
     */
    public <T> T call(Callable<T> op, Predicate<Exception> retryable, BooleanSupplier stop) throws Exception {
        Attempts a = start();
        while (true) {
            try {
                return op.call();
            } catch (Exception e) {
                if (!retryable.test(e) || !a.pause(stop)) {
                    throw e;
                }
            }
        }
    }

    /** Sleeps {@code d} in short slices; returns false as soon as {@code stop} says so, true after the whole wait. */
    public static boolean sleep(Duration d, BooleanSupplier stop) throws InterruptedException {
        long end = System.nanoTime() + d.toNanos();
        while (true) {
            if (stop.getAsBoolean()) {
                return false;
            }
            long left = end - System.nanoTime();
            if (left <= 0) {
                return true;
            }
            Thread.sleep(Duration.ofNanos(Math.min(left, 50_000_000L)));
        }
    }

    /** Never stops early. */
    public static final BooleanSupplier NEVER = () -> false;
}
