package dev.lifeboat.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BackoffTest {
    private static final Backoff FAST = Backoff.exponential(Duration.ofMillis(1), Duration.ofMillis(8));

    @Test
    void retriesUntilSuccessWithinItsAttempts() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        String r = FAST.withMaxAttempts(4)
                .call(
                        () -> {
                            if (calls.incrementAndGet() < 4) {
                                throw new IOException("transient " + calls.get());
                            }
                            return "ok";
                        },
                        e -> e instanceof IOException,
                        Backoff.NEVER);
        assertThat(r).isEqualTo("ok");
        assertThat(calls).hasValue(4);
    }

    @Test
    void theLastFailureComesOutWhenAttemptsAreUsedUp() {
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> FAST.withMaxAttempts(3)
                        .call(
                                () -> {
                                    throw new IOException("failure " + calls.incrementAndGet());
                                },
                                e -> true,
                                Backoff.NEVER))
                .hasMessage("failure 3");
    }

    @Test
    void aFailureThatIsNotRetryableIsNotRetried() {
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> FAST.withMaxAttempts(5)
                        .call(
                                () -> {
                                    calls.incrementAndGet();
                                    throw new IllegalStateException("permanent");
                                },
                                e -> e instanceof IOException,
                                Backoff.NEVER))
                .isInstanceOf(IllegalStateException.class);
        assertThat(calls).hasValue(1);
    }

    @Test
    void delaysDoubleUpToTheCapAndResetAfterASuccess() throws Exception {
        Backoff.Attempts a = FAST.start();
        assertThat(a.nextDelay()).isEqualTo(Duration.ofMillis(1));
        for (int i = 0; i < 5; i++) {
            assertThat(a.pause(Backoff.NEVER)).isTrue();
        }
        assertThat(a.nextDelay()).isEqualTo(Duration.ofMillis(8));
        a.reset();
        assertThat(a.nextDelay()).isEqualTo(Duration.ofMillis(1));
        assertThat(a.failures()).isZero();
    }

    @Test
    void theBudgetEndsRetriesBeforeAWaitWouldOverrunIt() throws Exception {
        Backoff.Attempts a = Backoff.exponential(Duration.ofMillis(400), Duration.ofSeconds(1))
                .withBudget(Duration.ofMillis(100))
                .start();
        long t0 = System.nanoTime();
        assertThat(a.pause(Backoff.NEVER)).isFalse();
        assertThat(System.nanoTime() - t0)
                .as("no wait when it cannot fit")
                .isLessThan(Duration.ofMillis(100).toNanos());
    }

    @Test
    void aStopCutsTheWaitShort() throws Exception {
        Backoff.Attempts a = Backoff.exponential(Duration.ofSeconds(10), Duration.ofSeconds(10))
                .start();
        long t0 = System.nanoTime();
        assertThat(a.pause(() -> System.nanoTime() - t0 > 100_000_000L)).isFalse();
        assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(2).toNanos());
    }

    @Test
    void aScheduledDelayIsHalfToAllOfTheDoubledWaitUpToTheCap() {
        Backoff b = Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(30));
        for (int i = 0; i < 50; i++) {
            assertThat(b.delayAfter(1)).isBetween(Duration.ofMillis(500), Duration.ofSeconds(1));
            assertThat(b.delayAfter(3)).isBetween(Duration.ofSeconds(2), Duration.ofSeconds(4));
            assertThat(b.delayAfter(40)).isBetween(Duration.ofSeconds(15), Duration.ofSeconds(30));
        }
    }
}
