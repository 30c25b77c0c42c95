package dev.lifeboat.storage.limiter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The limiter against a local store, measured on the wall clock: each test moves several seconds' worth of its limit
 * (the bucket starts with one second's worth), so the time it takes is bounded from below with a wide margin; without
 * the limiter the same work takes milliseconds.
 */
class RateLimitedBlobStoreTest {
    private static final int RATE = 1 << 20;
    private static final byte[] CHUNK = new byte[128 << 10];

    @TempDir
    Path dir;

    private static double secondsSince(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    @Test
    void uploadsAreKeptToTheirByteRate() throws IOException {
        BlobStore store = new RateLimitedBlobStore(new LocalBlobStore(dir), new RateLimits(RATE, 0, 0), () -> false);
        long t0 = System.nanoTime();
        long sent = 0;
        for (int i = 0; i < 32; i++) { // 4 MiB at 1 MiB/s, one second of it a burst: at least 3 s
            store.put("up/" + i, CHUNK);
            sent += CHUNK.length;
        }
        double seconds = secondsSince(t0);
        assertThat(sent / seconds).as("bytes per second").isLessThan(RATE * 1.45);
        assertThat(seconds).isBetween(2.6, 8.0);
    }

    @Test
    void downloadsAndStreamsAreKeptToTheirByteRate() throws IOException {
        LocalBlobStore local = new LocalBlobStore(dir);
        local.put("big", new byte[2 << 20]);
        BlobStore store = new RateLimitedBlobStore(local, new RateLimits(0, RATE, 0), () -> false);
        long t0 = System.nanoTime();
        store.get("big"); // paid for after it arrives: the stream below waits out its debt
        try (InputStream in = store.open("big")) {
            assertThat(in.readAllBytes()).hasSize(2 << 20);
        }
        store.getRange("big", 0, 1); // pays before: waits until the stream's bytes are paid for
        double seconds = secondsSince(t0);
        assertThat(seconds).as("4 MiB at 1 MiB/s, one second a burst").isBetween(2.6, 8.0);
    }

    @Test
    void uploadsDoNotSpendTheDownloadBudget() throws IOException {
        BlobStore store = new RateLimitedBlobStore(new LocalBlobStore(dir), new RateLimits(0, RATE, 0), () -> false);
        long t0 = System.nanoTime();
        for (int i = 0; i < 32; i++) {
            store.put("up/" + i, CHUNK);
        }
        assertThat(secondsSince(t0)).isLessThan(2.0);
    }

    @Test
    void requestsAreKeptToTheirRate() throws IOException {
        BlobStore store = new RateLimitedBlobStore(new LocalBlobStore(dir), new RateLimits(0, 0, 10), () -> false);
        long t0 = System.nanoTime();
        for (int i = 0; i < 40; i++) { // 10 in the burst, 30 more at 10/s: at least 3 s
            store.stat("k" + i);
        }
        assertThat(secondsSince(t0)).isBetween(2.6, 8.0);
    }

    @Test
    void aWaitEndsSoonAfterAStopRequest() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        BlobStore store = new RateLimitedBlobStore(new LocalBlobStore(dir), new RateLimits(1024, 0, 0), stop::get);
        Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
            stop.set(true);
        });
        long t0 = System.nanoTime();
        // a minute's worth of bytes at 1 KiB/s
        assertThatThrownBy(() -> store.put("slow", new byte[60 << 10])).isInstanceOf(InterruptedIOException.class);
        assertThat(secondsSince(t0)).isBetween(0.25, 2.0);
        assertThat(new LocalBlobStore(dir).stat("slow")).as("never sent").isEmpty();
    }

    @Test
    void aWaitEndsOnInterrupt() throws Exception {
        BlobStore store = new RateLimitedBlobStore(new LocalBlobStore(dir), new RateLimits(1024, 0, 0), () -> false);
        Throwable[] failure = new Throwable[1];
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                store.put("slow", new byte[60 << 10]);
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        Thread.sleep(200);
        t.interrupt();
        t.join(Duration.ofSeconds(2));
        assertThat(t.isAlive()).isFalse();
        assertThat(failure[0]).isInstanceOf(InterruptedIOException.class);
    }

    @Test
    void noLimitsMeanTheStoreItself() {
        LocalBlobStore local = new LocalBlobStore(dir);
        assertThat(RateLimitedBlobStore.wrap(local, RateLimits.NONE, () -> false))
                .isSameAs(local);
    }
}
