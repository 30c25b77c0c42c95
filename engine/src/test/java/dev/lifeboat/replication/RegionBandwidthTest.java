package dev.lifeboat.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.OperationCancelledException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A region's bandwidth limits its store, opened through the store stack by {@link RepositoryAccess#openRegion}. */
class RegionBandwidthTest {
    @TempDir
    Path tmp;

    private LocalBlobStore primaryWithPacks(int packs, int packSize) throws IOException {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("primary"));
        primary.put("config", "{\"repo\": 1}".getBytes());
        for (int i = 0; i < packs; i++) {
            primary.put("data/0" + i + "/pack-" + i, new byte[packSize]);
        }
        return primary;
    }

    private ReplicationConfig.Region region(String bandwidth) throws IOException {
        Files.createDirectories(tmp.resolve("far"));
        return new ReplicationConfig.Region(
                "far", null, tmp.resolve("far").toUri().toString(), "async", bandwidth);
    }

    @Test
    void aPassCopiesNoFasterThanTheRegionsBandwidth() throws IOException {
        LocalBlobStore primary = primaryWithPacks(8, 256 << 10);
        ReplicationConfig.Region far = region("512KiB");
        long t0 = System.nanoTime();
        Replicator.Pass pass =
                new Replicator(primary, RepositoryAccess.openRegion(far, () -> false), far).pass(Cancellation.none());
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertThat(pass.copied()).isEqualTo(9);
        // 2 MiB at 512 KiB/s, one second of it a burst: at least 3 s; unlimited it takes milliseconds
        assertThat(seconds).isBetween(2.6, 10.0);
    }

    @Test
    void aCancelledPassStopsWaitingForBandwidth() throws Exception {
        LocalBlobStore primary = primaryWithPacks(2, 1 << 20);
        ReplicationConfig.Region far = region("64KiB");
        Cancellation cancel = new Cancellation();
        BlobStore secondary = RepositoryAccess.openRegion(far, cancel::isCancelled);
        CompletableFuture<Object> pass = CompletableFuture.supplyAsync(() -> {
            try {
                return new Replicator(primary, secondary, far).pass(cancel);
            } catch (IOException | RuntimeException e) {
                return e;
            }
        });
        Thread.sleep(300);
        long t0 = System.nanoTime();
        cancel.cancel("test");
        // a pack needs 16 s at this rate: the pass must end within a slice of the wait instead
        Object outcome = pass.get(3, TimeUnit.SECONDS);
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(1.5);
        assertThat(outcome).isInstanceOfAny(IOException.class, OperationCancelledException.class);
        assertThat(new LocalBlobStore(tmp.resolve("far")).list("data/")).isEmpty();
    }
}
