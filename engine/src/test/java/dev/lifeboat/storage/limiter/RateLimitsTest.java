package dev.lifeboat.storage.limiter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimitsTest {

    @Test
    void readsTheEnvironment() {
        RateLimits l = RateLimits.fromEnvironment(Map.of(
                RateLimits.UPLOAD_ENV, "20MiB", RateLimits.DOWNLOAD_ENV, "1.5 MB", RateLimits.REQUESTS_ENV, "100"));
        assertThat(l).isEqualTo(new RateLimits(20L << 20, 1_500_000, 100));
        assertThat(RateLimits.fromEnvironment(Map.of()).unlimited()).isTrue();
        assertThatThrownBy(() -> RateLimits.fromEnvironment(Map.of(RateLimits.REQUESTS_ENV, "fast")))
                .hasMessageContaining(RateLimits.REQUESTS_ENV);
        assertThatThrownBy(() -> RateLimits.fromEnvironment(Map.of(RateLimits.UPLOAD_ENV, "lots")))
                .hasMessageContaining(RateLimits.UPLOAD_ENV + " 'lots' is not a size");
    }

    @Test
    void theStricterLimitWinsAndZeroMeansUnlimited() {
        RateLimits process = new RateLimits(10, 0, 5);
        assertThat(process.stricter(RateLimits.bytesPerSecond(20))).isEqualTo(new RateLimits(10, 20, 5));
        assertThat(process.stricter(RateLimits.NONE)).isEqualTo(process);
    }

    @Test
    void aBucketLetsOneSecondBurstThenChargesTimeForDebt() {
        AtomicLong now = new AtomicLong();
        TokenBucket b = new TokenBucket(100, now::get);
        assertThat(b.reserve(100)).isZero();
        assertThat(b.reserve(50)).isEqualTo(Duration.ofMillis(500));
        assertThat(b.reserve(50)).as("queued behind the first debt").isEqualTo(Duration.ofSeconds(1));
        now.addAndGet(Duration.ofSeconds(10).toNanos());
        assertThat(b.reserve(100)).as("refilled to one second's worth, no more").isZero();
        assertThat(b.reserve(1)).isEqualTo(Duration.ofMillis(10));
    }
}
