package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.engine.postgres.PostgresBackupInfo;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Replay leases on a real local store: what they record, renewal at most once a minute, release, staleness. */
class ReplayLeaseTest {
    @TempDir
    Path dir;

    @Test
    void aLeaseNamesTheBackupItsTimelineTheFirstSegmentTheTargetAndTheHost() throws Exception {
        BlobStore store = new LocalBlobStore(dir.resolve("repo"));
        ReplayLease.Lease l = ReplayLease.create(
                store, "20261124-100000F-0001", 2, "1/5000028", 16L << 20, dir.resolve("pitr/../pitr"));
        assertThat(l.key()).isEqualTo("locks/replay-" + l.id());
        assertThat(store.list("locks/")).extracting(b -> b.key()).containsExactly(l.key());
        ReplayLease.Lease stored = Json.MAPPER.readValue(store.get(l.key()), ReplayLease.Lease.class);
        assertThat(stored).isEqualTo(l);
        assertThat(stored.firstSegment()).isEqualTo("000000020000000100000005");
        assertThat(stored.target()).isEqualTo(dir.resolve("pitr").toString());
        assertThat(stored.host()).isEqualTo(Hosts.name());
        assertThat(stored.created())
                .isEqualTo(stored.renewed())
                .isBetween(Instant.now().minusSeconds(60), Instant.now());
        assertThat(l.describe())
                .isEqualTo("the recovery into " + dir.resolve("pitr") + " on " + Hosts.name() + ", lease " + l.id());
    }

    @Test
    void aLeaseForABackupComesFromItsManifest() throws Exception {
        BlobStore store = new LocalBlobStore(dir.resolve("repo"));
        Snapshot s = new Snapshot(
                "20261124-100000F-0002",
                "full",
                "postgresql",
                null,
                Instant.now(),
                Instant.now(),
                "h",
                "/pg",
                "zstd",
                PostgresBackupInfo.fromLegacy(
                        Map.of("startLsn", "0/3000028", "timeline", "3", "walSegmentSize", Long.toString(1L << 20))),
                List.of(),
                List.of(),
                null);
        ReplayLease.Lease l = ReplayLease.create(store, s, dir.resolve("t"));
        assertThat(l.backup()).isEqualTo(s.id());
        assertThat(l.timeline()).isEqualTo(3);
        assertThat(l.firstSegment()).isEqualTo("000000030000000000000030"); // 1 MiB segments: 0x30 of log 0
        Snapshot noLsn = new Snapshot(
                "20261124-100000F-0003",
                "full",
                "postgresql",
                null,
                Instant.now(),
                Instant.now(),
                "h",
                "/pg",
                "zstd",
                PostgresBackupInfo.fromLegacy(Map.of()),
                List.of(),
                List.of(),
                null);
        assertThatThrownBy(() -> ReplayLease.create(store, noLsn, dir.resolve("t")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(noLsn.id());
    }

    @Test
    void renewWritesAtMostOnceAMinuteAndReleaseEndsTheLease() throws Exception {
        BlobStore store = new LocalBlobStore(dir.resolve("repo"));
        ReplayLease.Lease l = ReplayLease.create(store, "b", 1, "0/1000000", 16L << 20, dir.resolve("t"));
        byte[] before = store.get(l.key());
        assertThat(ReplayLease.renew(store, l.id())).isEqualTo(ReplayLease.Renewal.NOT_DUE);
        assertThat(store.get(l.key())).as("nothing written").isEqualTo(before);

        Instant later = l.created().plus(Duration.ofMinutes(1));
        assertThat(ReplayLease.renew(store, l.id(), later)).isEqualTo(ReplayLease.Renewal.RENEWED);
        ReplayLease.Lease renewed = Json.MAPPER.readValue(store.get(l.key()), ReplayLease.Lease.class);
        assertThat(renewed.renewed()).isEqualTo(later);
        assertThat(renewed.created()).isEqualTo(l.created());
        assertThat(ReplayLease.renew(store, l.id(), later.plusSeconds(59))).isEqualTo(ReplayLease.Renewal.NOT_DUE);

        // live until not renewed for the TTL (judged from the last renewal, not the creation)
        assertThat(ReplayLease.live(store, later.plus(Duration.ofHours(24)), ReplayLease.DEFAULT_TTL))
                .containsExactly(renewed);
        assertThat(ReplayLease.live(store, later.plus(Duration.ofHours(24)).plusSeconds(1), ReplayLease.DEFAULT_TTL))
                .isEmpty();
        assertThat(ReplayLease.list(store).stale(later.plus(Duration.ofHours(25)), ReplayLease.DEFAULT_TTL))
                .containsExactly(renewed);

        ReplayLease.release(store, l.id());
        assertThat(store.list("locks/")).isEmpty();
        assertThat(ReplayLease.renew(store, l.id())).isEqualTo(ReplayLease.Renewal.GONE);
        ReplayLease.release(store, l.id()); // again: not an error
    }

    @Test
    void idsAreCheckedAndUnreadableLeasesAreListedApart() throws Exception {
        BlobStore store = new LocalBlobStore(dir.resolve("repo"));
        assertThatThrownBy(() -> ReplayLease.renew(store, "../config"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a replay lease id");
        assertThatThrownBy(() -> ReplayLease.release(store, "x")).isInstanceOf(IllegalArgumentException.class);
        store.put(
                ReplayLease.PREFIX + "0b5a3c1e-0000-4000-8000-000000000000",
                "{not json".getBytes(StandardCharsets.UTF_8));
        ReplayLease.Listing listing = ReplayLease.list(store);
        assertThat(listing.leases()).isEmpty();
        assertThat(listing.unreadable())
                .extracting(b -> b.key())
                .containsExactly(ReplayLease.PREFIX + "0b5a3c1e-0000-4000-8000-000000000000");
        assertThatThrownBy(() -> ReplayLease.renew(store, "0b5a3c1e-0000-4000-8000-000000000000"))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("unreadable");
    }
}
