package dev.lifeboat.storage.retry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.Backoff;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.FlakyBlobStoreDouble;
import dev.lifeboat.storage.TransientStoreException;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetryingBlobStoreTest {
    private static final Backoff FAST =
            Backoff.exponential(Duration.ofMillis(1), Duration.ofMillis(5)).withMaxAttempts(4);

    @TempDir
    Path dir;

    private LocalBlobStore local;
    private FlakyBlobStoreDouble flaky;
    private BlobStore store;

    @BeforeEach
    void setUp() {
        local = new LocalBlobStore(dir);
        flaky = new FlakyBlobStoreDouble(local);
        store = new RetryingBlobStore(flaky, FAST, Backoff.NEVER);
    }

    @Test
    void transientFailuresAreRetriedUntilTheOperationSucceeds() throws IOException {
        flaky.failNext(3);
        store.put("a", "one".getBytes());
        assertThat(flaky.calls()).isEqualTo(4);
        flaky.failNext(2);
        assertThat(store.get("a")).isEqualTo("one".getBytes());
        flaky.failNext(1);
        assertThat(store.list("")).hasSize(1);
        flaky.failNext(1);
        assertThat(store.getRange("a", 1, 2)).isEqualTo("ne".getBytes());
        flaky.failNext(1);
        store.delete("a");
        assertThat(local.stat("a")).isEmpty();
    }

    @Test
    void theLastFailureIsThrownOnceAttemptsAreUsedUp() {
        flaky.failNext(4);
        assertThatThrownBy(() -> store.put("a", new byte[1]))
                .isInstanceOf(TransientStoreException.class)
                .hasMessageContaining("put a");
        assertThat(flaky.calls()).isEqualTo(4);
    }

    @Test
    void aMissingObjectIsNeverRetried() {
        assertThatThrownBy(() -> store.get("missing")).isInstanceOf(BlobNotFoundException.class);
        assertThat(flaky.calls()).isEqualTo(1);
    }

    @Test
    void aPermanentFailureIsNeverRetried() throws IOException {
        local.put("a", new byte[1]);
        flaky.failNext(1);
        flaky.failPermanently();
        assertThatThrownBy(() -> store.get("a"))
                .isNotInstanceOf(TransientStoreException.class)
                .hasMessageContaining("AccessDenied");
        assertThat(flaky.calls()).isEqualTo(1);
    }

    @Test
    void aCreateWhoseAnswerWasLostIsReportedAsCreated() throws IOException {
        flaky.loseAnswers().failNext(1);
        assertThat(store.putIfAbsent("lock", "mine".getBytes())).isTrue();
        assertThat(flaky.calls())
                .as("created with its answer lost, refused as existing, compared")
                .isEqualTo(3);
        assertThat(local.get("lock")).isEqualTo("mine".getBytes());
    }

    @Test
    void aCreateRefusedForSomeoneElsesObjectStaysRefused() throws IOException {
        local.put("lock", "theirs".getBytes());
        assertThat(store.putIfAbsent("lock", "mine".getBytes())).isFalse();
        flaky.failNext(1);
        assertThat(store.putIfAbsent("lock", "mine".getBytes()))
                .as("after a retry too")
                .isFalse();
        assertThat(local.get("lock")).isEqualTo("theirs".getBytes());
    }

    @Test
    void onlyTheOpeningOfAStreamIsRetried() throws IOException {
        local.put("big", new byte[1000]);
        flaky.failNext(2);
        try (InputStream in = store.open("big")) {
            assertThat(in.readAllBytes()).hasSize(1000);
        }
        assertThat(flaky.calls()).isEqualTo(3);
    }

    @Test
    void aStopRequestEndsTheRetries() {
        AtomicBoolean stopped = new AtomicBoolean(true);
        BlobStore stoppable = new RetryingBlobStore(flaky, FAST, stopped::get);
        flaky.failNext(3);
        assertThatThrownBy(() -> stoppable.get("a")).isInstanceOf(TransientStoreException.class);
        assertThat(flaky.calls()).isEqualTo(1);
    }

    @Test
    void theTimeBudgetEndsTheRetries() {
        Backoff slow = Backoff.exponential(Duration.ofMillis(400), Duration.ofSeconds(1))
                .withMaxAttempts(10)
                .withBudget(Duration.ofMillis(100));
        BlobStore budgeted = new RetryingBlobStore(flaky, slow, Backoff.NEVER);
        flaky.failNext(5);
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> budgeted.get("a")).isInstanceOf(TransientStoreException.class);
        assertThat(flaky.calls()).isEqualTo(1);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(300));
    }
}
