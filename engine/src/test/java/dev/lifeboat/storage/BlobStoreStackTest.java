package dev.lifeboat.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.limiter.RateLimits;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.storage.metrics.MeteredBlobStore;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The layers {@link BlobStores} puts around a backend, and their order. */
class BlobStoreStackTest {
    @TempDir
    Path dir;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @BeforeEach
    void export() {
        Metrics.addRegistry(registry);
    }

    @AfterEach
    void unexport() {
        Metrics.removeRegistry(registry);
    }

    private long operations(String operation, String outcome) {
        var t = registry.find(MeteredBlobStore.OPERATIONS)
                .tags("backend", "file", "operation", operation, "outcome", outcome)
                .timer();
        return t == null ? 0 : t.count();
    }

    @Test
    void retriesAreOutermostSoEveryAttemptIsMeteredAndRateLimited() throws IOException {
        FlakyBlobStoreDouble flaky = new FlakyBlobStoreDouble(new LocalBlobStore(dir)).failNext(2);
        // one request a second, a burst of one: three attempts take at least two seconds (the backoff alone < 1 s)
        BlobStore store = BlobStores.stack(
                flaky, StoreOptions.defaults().withRetryAttempts(3).withLimits(new RateLimits(0, 0, 1)));
        long t0 = System.nanoTime();
        store.put("a", new byte[10]);
        assertThat((System.nanoTime() - t0) / 1e9)
                .as("each attempt paid for its request")
                .isGreaterThan(1.7);
        assertThat(flaky.calls()).isEqualTo(3);
        assertThat(operations("put", "error")).as("each failed attempt").isEqualTo(2);
        assertThat(operations("put", "ok")).isEqualTo(1);
    }

    @Test
    void withoutRetryAttemptsAFailureIsThrownAtOnce() {
        FlakyBlobStoreDouble flaky = new FlakyBlobStoreDouble(new LocalBlobStore(dir)).failNext(1);
        BlobStore store = BlobStores.stack(flaky, StoreOptions.defaults());
        assertThatThrownBy(() -> store.get("a")).isInstanceOf(TransientStoreException.class);
        assertThat(flaky.calls()).isEqualTo(1);
    }

    @Test
    void aFileUriOpensThroughTheStack() throws IOException {
        try (BlobStore store = BlobStores.open(dir.toUri().toString(), StoreOptions.defaults())) {
            store.put("config", new byte[3]);
            assertThat(store.get("config")).hasSize(3);
        }
        assertThat(operations("put", "ok")).isEqualTo(1);
        assertThat(operations("get", "ok")).isEqualTo(1);
    }
}
