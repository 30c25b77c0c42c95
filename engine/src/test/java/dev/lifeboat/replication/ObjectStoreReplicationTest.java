package dev.lifeboat.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.azure.AzureBlobStore;
import dev.lifeboat.storage.azure.AzuriteFixture;
import dev.lifeboat.storage.gcs.GcsBlobStore;
import dev.lifeboat.storage.gcs.GcsEmulatorFixture;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.storage.s3.S3BlobStore;
import dev.lifeboat.storage.s3.S3MockFixture;
import java.nio.file.Path;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A region in each object store (S3Mock, Azurite, the Cloud Storage emulator): passes copy, mirror deletes and
 * re-copy rewritten partial segments there as on local disk, and verify compares checksums read from the store.
 */
class ObjectStoreReplicationTest {
    @TempDir
    Path tmp;

    private static BlobStore region(String kind) throws Exception {
        String prefix = "replica-" + UUID.randomUUID();
        return switch (kind) {
            case "s3" ->
                new S3BlobStore(
                        S3MockFixture.BUCKET, prefix, S3MockFixture.get().settings());
            case "azure" ->
                new AzureBlobStore(
                        AzuriteFixture.CONTAINER, prefix, AzuriteFixture.get().settings());
            case "gcs" ->
                new GcsBlobStore(
                        GcsEmulatorFixture.BUCKET,
                        prefix,
                        GcsEmulatorFixture.get().settings());
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"s3", "azure", "gcs"})
    void aRegionInAnObjectStoreConvergesAndValidates(String kind) throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("primary"));
        byte[] pack = new byte[3 << 20];
        new Random(7).nextBytes(pack);
        primary.put("config", "{\"repo\": 1}".getBytes());
        primary.put("data/ab/pack", pack);
        primary.put("index/one", "index".getBytes());
        primary.put("wal/00000001/000000010000000000000003.partial", "flush 1".getBytes());
        primary.put("snapshots/one", "manifest".getBytes());
        try (BlobStore region = region(kind)) {
            Replicator r = new Replicator(
                    primary, region, new ReplicationConfig.Region(kind, null, region.uri(), "async", null));
            assertThat(r.pass(Cancellation.none()).copied()).isEqualTo(5);
            assertThat(region.get("data/ab/pack")).isEqualTo(pack);
            Thread.sleep(1100); // object stores keep modification times to the second
            primary.put("wal/00000001/000000010000000000000003.partial", "flush 2".getBytes());
            primary.delete("snapshots/one");
            r.pass(Cancellation.none());
            assertThat(region.get("wal/00000001/000000010000000000000003.partial"))
                    .isEqualTo("flush 2".getBytes());
            assertThat(region.stat("snapshots/one")).isEmpty();
            Replicator.Verification v = r.verify(false, Cancellation.none());
            assertThat(v.ok()).as(v.toString()).isTrue();
            assertThat(r.liveStatus().lagObjects()).isZero();
        }
    }
}
