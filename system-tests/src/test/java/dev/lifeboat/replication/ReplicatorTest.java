package dev.lifeboat.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.ForwardingBlobStore;
import dev.lifeboat.storage.Retention;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pass semantics on two local stores (the live, multi-process behaviour is in ReplicationTest). */
class ReplicatorTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static final ReplicationConfig.Region EU =
            new ReplicationConfig.Region("eu", "eu-west-1", "file:///unused", "async", null);

    @Test
    void copiesEverythingButLocksAndStateThenMirrorsDeletesManifestsFirstPacksAPassLater() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("data/aa/pack1", b("pack one"));
        primary.put("index/i1", b("index one"));
        primary.put("snapshots/s1", b("manifest one"));
        primary.put("wal/00000001/000000010000000000000001", b("wal one"));
        primary.put("locks/exclusive", b("held"));
        primary.put("replication/eu/control", b("{}"));
        Replicator r = new Replicator(primary, eu, EU);

        Replicator.Pass first = r.pass(Cancellation.none());
        assertThat(first.copied()).isEqualTo(5);
        assertThat(eu.get("snapshots/s1")).isEqualTo(b("manifest one"));
        assertThat(eu.stat("locks/exclusive")).isEmpty();
        assertThat(eu.list("replication/")).isEmpty();
        assertThat(r.verify(false, Cancellation.none()).ok()).isTrue();
        assertThat(r.pass(Cancellation.none()).copied()).isZero();

        // retention on the primary: the manifest first, then its pack and index
        primary.delete("snapshots/s1");
        primary.delete("data/aa/pack1");
        primary.delete("index/i1");
        Replicator.Pass second = r.pass(Cancellation.none());
        assertThat(second.deleted()).isEqualTo(1);
        assertThat(eu.stat("snapshots/s1")).isEmpty();
        assertThat(eu.stat("data/aa/pack1")).isPresent();
        Replicator.Pass third = r.pass(Cancellation.none());
        assertThat(third.deleted()).isEqualTo(2);
        assertThat(eu.stat("data/aa/pack1")).isEmpty();
        assertThat(eu.stat("index/i1")).isEmpty();
    }

    @Test
    void aRewrittenPartialSegmentIsCopiedAgainAndValidateRepairsDamage() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("wal/00000001/000000010000000000000002.partial", b("first flush"));
        Replicator r = new Replicator(primary, eu, EU);
        r.pass(Cancellation.none());
        Thread.sleep(20);
        primary.put("wal/00000001/000000010000000000000002.partial", b("later flush"));
        assertThat(r.liveStatus().lagObjects()).isEqualTo(1);
        r.pass(Cancellation.none());
        assertThat(eu.get("wal/00000001/000000010000000000000002.partial")).isEqualTo(b("later flush"));

        eu.put("wal/00000001/000000010000000000000002.partial", b("LATER FLUSH")); // same size, other bytes
        eu.put("data/bb/stray", b("x"));
        Replicator.Verification v = r.verify(false, Cancellation.none());
        assertThat(v.differing()).containsExactly("wal/00000001/000000010000000000000002.partial");
        assertThat(v.extra()).containsExactly("data/bb/stray");
        assertThat(r.verify(true, Cancellation.none()).repaired()).isEqualTo(2);
        assertThat(r.verify(false, Cancellation.none()).ok()).isTrue();
    }

    @Test
    void aRegionHoldingAnotherRepositoryOrAPrimaryWithoutOneIsNeverTouched() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore other = new LocalBlobStore(tmp.resolve("other"));
        other.put("config", b("{another repo}"));
        other.put("snapshots/theirs", b("keep me"));
        assertThatThrownBy(() -> new Replicator(primary, other, EU).pass(Cancellation.none()))
                .hasMessageContaining("holds no repository");
        primary.put("config", b("{repo}"));
        assertThatThrownBy(() -> new Replicator(primary, other, EU).pass(Cancellation.none()))
                .hasMessageContaining("holds another repository");
        assertThat(other.get("snapshots/theirs")).isEqualTo(b("keep me"));
    }

    @Test
    void pausedAndStoppedRegionsCopyNothing() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("data/aa/pack1", b("pack one"));
        Replicator.setControl(primary, "eu", Replicator.State.STOPPED);
        assertThat(Replicator.control(primary, "eu")).isEqualTo(Replicator.State.STOPPED);
        Replicator r = new Replicator(primary, eu, EU);
        assertThat(r.run(Duration.ofMillis(10), Cancellation.none())) // returns at once: stopped
                .isEqualTo(Replicator.Exit.STOPPED);
        assertThat(eu.list("")).isEmpty();
        Heartbeat last = Heartbeat.read(primary, "eu").orElseThrow();
        assertThat(last.exitReason()).contains("stopped by request");
        assertThat(last.alive(Instant.now()))
                .as("an exited replicator is not alive")
                .isFalse();
        assertThat(Replicator.lastStatus(primary, "eu").orElseThrow().lagObjects())
                .isEqualTo(2);
    }

    @Test
    void aPackLeavesTheRegionOnlyAfterEveryIndexThatLeftThePrimaryIsGoneThere() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("index/old", b("names pack1"));
        primary.put("data/aa/pack1", b("pack one"));
        Replicator r = new Replicator(primary, eu, EU);
        r.pass(Cancellation.none());
        // gc: the pack is gone by the time one pass lists data/, its index only by the next pass
        primary.delete("data/aa/pack1");
        r.pass(Cancellation.none());
        primary.delete("index/old");
        r.pass(Cancellation.none());
        assertThat(eu.stat("index/old")).as("index deferred one pass").isPresent();
        assertThat(eu.stat("data/aa/pack1"))
                .as("pack kept while an index naming it is here")
                .isPresent();
        r.pass(Cancellation.none());
        assertThat(eu.stat("index/old")).isEmpty();
        assertThat(eu.stat("data/aa/pack1")).isEmpty();
    }

    @Test
    void nonRepositoryLocationsAreNeitherFilledNorWipedNorRepaired() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        primary.put("config", b("{repo}"));
        primary.put("snapshots/mine", b("m"));
        LocalBlobStore stranger = new LocalBlobStore(tmp.resolve("stranger"));
        stranger.put("snapshots/theirs", b("keep"));
        assertThatThrownBy(() -> new Replicator(primary, stranger, EU).pass(Cancellation.none()))
                .hasMessageContaining("holds objects but no repository config");
        LocalBlobStore other = new LocalBlobStore(tmp.resolve("other"));
        other.put("config", b("{another}"));
        other.put("snapshots/theirs", b("keep"));
        assertThatThrownBy(() -> new Replicator(primary, other, EU).verify(true, Cancellation.none()))
                .hasMessageContaining("holds another repository");
        assertThat(stranger.get("snapshots/theirs")).isEqualTo(b("keep"));
        assertThat(other.get("config")).isEqualTo(b("{another}"));
        assertThat(other.get("snapshots/theirs")).isEqualTo(b("keep"));
        assertThat(stranger.stat("config")).isEmpty();
    }

    @Test
    void aPausedRegionPassIsEmptyEvenWithWorkPendingAndDeletesNothing() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("snapshots/s", b("m"));
        Replicator r = new Replicator(primary, eu, EU);
        r.pass(Cancellation.none());
        primary.delete("snapshots/s");
        primary.put("data/aa/new", b("n"));
        Replicator.setControl(primary, "eu", Replicator.State.PAUSED);
        assertThat(r.pass(Cancellation.none())).isEqualTo(new Replicator.Pass(0, 0, 0, 0, 0));
        assertThat(eu.stat("snapshots/s")).isPresent();
        assertThat(eu.stat("data/aa/new")).isEmpty();
    }

    @Test
    void regionRpoIsZeroWhenCaughtUpAndOtherwiseTheAgeOfTheOldestWalItLacks() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("wal/00000001/000000010000000000000001", b("wal one"));
        new Replicator(primary, eu, EU).pass(Cancellation.none());
        // an hour later with no new WAL (an idle database): the region lacks nothing, so it would lose nothing
        Clock anHourLater = Clock.fixed(Instant.now().plus(Duration.ofHours(1)), ZoneOffset.UTC);
        assertThat(new Replicator(primary, eu, EU, anHourLater).liveStatus().rpoSeconds())
                .isZero();

        primary.put("wal/00000001/000000010000000000000002", b("wal two"));
        Instant second = primary.stat("wal/00000001/000000010000000000000002")
                .orElseThrow()
                .lastModified();
        primary.put("wal/00000001/000000010000000000000003", b("wal three"));
        Clock later = Clock.fixed(second.plusSeconds(42), ZoneOffset.UTC);
        Replicator.Status s = new Replicator(primary, eu, EU, later).liveStatus();
        assertThat(s.rpoSeconds())
                .as("age of segment 2, the oldest WAL eu lacks")
                .isEqualTo(42.0);
        assertThat(s.lagObjects()).isEqualTo(2);

        LocalBlobStore empty = new LocalBlobStore(tmp.resolve("empty"));
        empty.put("config", b("{repo}"));
        assertThat(new Replicator(empty, new LocalBlobStore(tmp.resolve("eu2")), EU)
                        .liveStatus()
                        .rpoSeconds())
                .as("no WAL anywhere: no RPO to speak of")
                .isNull();
    }

    @Test
    void aRunningReplicatorBeatsItsPassFromItsStartClearsItAtItsEndAndSaysWhyItExited() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        primary.put("config", b("{repo}"));
        primary.put("data/aa/pack1", b("pack one"));
        primary.put("data/bb/pack2", b("pack two"));
        primary.put("snapshots/s1", b("manifest"));
        List<Heartbeat> seenDuringCopies = new ArrayList<>();
        Cancellation cancel = new Cancellation();
        ForwardingBlobStore eu = new ForwardingBlobStore(new LocalBlobStore(tmp.resolve("eu"))) {
            @Override
            public void put(String key, byte[] data, int offset, int length) throws IOException {
                seenDuringCopies.add(Heartbeat.read(primary, "eu").orElseThrow());
                super.put(key, data, offset, length);
                if (seenDuringCopies.size() == 4) {
                    cancel.cancel("test over"); // after this first pass
                }
            }
        };
        assertThat(new Replicator(primary, eu, EU).run(Duration.ofMillis(10), cancel))
                .isEqualTo(Replicator.Exit.CANCELLED);

        assertThat(seenDuringCopies).hasSize(4);
        Heartbeat.Progress first = seenDuringCopies.getFirst().progress();
        assertThat(first).as("progress published when the pass starts").isNotNull();
        assertThat(first.objectsTotal()).isEqualTo(4);
        assertThat(first.bytesTotal()).isEqualTo(b("{repo}pack onepack twomanifest").length);
        assertThat(first.objectsDone()).isZero();
        assertThat(seenDuringCopies.getFirst().alive(Instant.now())).isTrue();
        Heartbeat last = Heartbeat.read(primary, "eu").orElseThrow();
        assertThat(last.progress()).as("no pass under way").isNull();
        assertThat(last.exitReason()).isEqualTo("cancelled");
        assertThat(last.alive(Instant.now())).isFalse();

        // a single pass (a controller's job, --once) is no replicator: it leaves no heartbeat
        LocalBlobStore other = new LocalBlobStore(tmp.resolve("p2"));
        other.put("config", b("{repo}"));
        new Replicator(other, new LocalBlobStore(tmp.resolve("eu2")), EU).pass(Cancellation.none());
        assertThat(Heartbeat.read(other, "eu")).isEmpty();
    }

    @Test
    void aWriteOnceRegionGetsWholeObjectsOnlyAndKeepsWhatThePrimaryDeletedUntilItsRetentionPasses() throws Exception {
        ReplicationConfig.Region worm = new ReplicationConfig.Region(
                "worm", null, "file:///unused", "async", null, null, new Retention(7, null));
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore region = new LocalBlobStore(tmp.resolve("worm"));
        primary.put("config", b("{repo}"));
        primary.put("data/aa/pack1", b("pack one"));
        primary.put("index/i1", b("index one"));
        primary.put("snapshots/s1", b("manifest one"));
        primary.put("wal/00000001/000000010000000000000001", b("wal one"));
        primary.put("wal/00000001/000000010000000000000002.partial", b("streaming"));
        new Replicator(primary, region, worm).pass(Cancellation.none());
        assertThat(region.stat("wal/00000001/000000010000000000000002.partial"))
                .as("a partial is rewritten in place: never copied to a write-once region")
                .isEmpty();
        Instant walOne = primary.stat("wal/00000001/000000010000000000000001")
                .orElseThrow()
                .lastModified();
        Replicator.Status caughtUp =
                new Replicator(primary, region, worm, Clock.fixed(walOne.plusSeconds(30), ZoneOffset.UTC)).liveStatus();
        assertThat(caughtUp.lagObjects()).as("the partial is not lag").isZero();
        assertThat(caughtUp.rpoSeconds())
                .as("but the commits streamed into it since segment 1 are not in the region")
                .isCloseTo(30.0, within(0.01));

        // expire on the primary: the region keeps the backup until its retention passes
        for (String k : List.of("snapshots/s1", "index/i1", "data/aa/pack1")) {
            primary.delete(k);
        }
        Replicator now = new Replicator(primary, region, worm);
        now.pass(Cancellation.none());
        now.pass(Cancellation.none());
        assertThat(region.list("")).extracting(BlobInfo::key).contains("snapshots/s1", "index/i1", "data/aa/pack1");
        Replicator.Status kept = now.liveStatus();
        assertThat(kept.retainedObjects()).isEqualTo(3);
        Instant stored = region.stat("data/aa/pack1").orElseThrow().lastModified();
        assertThat(kept.retainedUntil())
                .isBetween(stored.plus(Duration.ofDays(7)), Instant.now().plus(Duration.ofDays(7)));

        // the pack was stored 10 days ago (its retention passed), the manifest that used it is still kept: so is the
        // pack
        Instant tenDaysAgo = Instant.now().minus(Duration.ofDays(10));
        Files.setLastModifiedTime(tmp.resolve("worm/data/aa/pack1"), FileTime.from(tenDaysAgo));
        Files.setLastModifiedTime(tmp.resolve("worm/index/i1"), FileTime.from(tenDaysAgo));
        now.pass(Cancellation.none());
        now.pass(Cancellation.none());
        assertThat(region.stat("data/aa/pack1"))
                .as("kept with the manifest that uses it")
                .isPresent();

        // eight days on, all of it may go: the manifest first, index and pack a pass later
        Replicator later = new Replicator(
                primary, region, worm, Clock.fixed(Instant.now().plus(Duration.ofDays(8)), ZoneOffset.UTC));
        later.pass(Cancellation.none());
        assertThat(region.stat("snapshots/s1")).isEmpty();
        later.pass(Cancellation.none());
        later.pass(Cancellation.none());
        assertThat(region.list(""))
                .extracting(BlobInfo::key)
                .containsExactlyInAnyOrder("config", "wal/00000001/000000010000000000000001");
        assertThat(later.liveStatus().retainedObjects()).isZero();
    }

    /** A repack's pack reached the region well before its index: the index's retention keeps the pack. */
    @Test
    void anIndexKeptByRetentionKeepsThePacksItNamesThoughTheirOwnRetentionPassed() throws Exception {
        ReplicationConfig.Region worm = new ReplicationConfig.Region(
                "worm", null, "file:///unused", "async", null, null, new Retention(7, null));
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore region = new LocalBlobStore(tmp.resolve("worm"));
        primary.put("config", b("{repo}"));
        primary.put("data/aa/pack1", b("pack one"));
        primary.put("index/i1", b("names pack1"));
        primary.put("snapshots/s1", b("manifest"));
        Replicator r = new Replicator(primary, region, worm);
        r.pass(Cancellation.none());
        Instant now = Instant.now();
        Files.setLastModifiedTime(tmp.resolve("worm/snapshots/s1"), FileTime.from(now.minus(Duration.ofDays(9))));
        Files.setLastModifiedTime(tmp.resolve("worm/data/aa/pack1"), FileTime.from(now.minus(Duration.ofDays(9))));
        Files.setLastModifiedTime(tmp.resolve("worm/index/i1"), FileTime.from(now.minus(Duration.ofDays(3))));
        for (String k : List.of("snapshots/s1", "index/i1", "data/aa/pack1")) {
            primary.delete(k);
        }
        for (int i = 0; i < 3; i++) {
            r.pass(Cancellation.none());
        }
        assertThat(region.stat("snapshots/s1")).as("its retention passed").isEmpty();
        assertThat(region.stat("index/i1")).as("retained").isPresent();
        assertThat(region.stat("data/aa/pack1"))
                .as("named by an index still in the region")
                .isPresent();
    }

    /**
     * A partial segment's store time is its last rewrite: the region RPO counts from the version the region holds, or
     * (a write-once region, which never gets one) from the newest whole segment it holds.
     */
    @Test
    void aPartialSegmentCountsFromWhatTheRegionHoldsNotFromItsLastRewrite() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("wal/00000001/000000010000000000000001", b("wal one"));
        primary.put("wal/00000001/000000010000000000000002.partial", b("stream v1"));
        new Replicator(primary, eu, EU).pass(Cancellation.none());
        Instant copied = eu.stat("wal/00000001/000000010000000000000002.partial")
                .orElseThrow()
                .lastModified();
        Thread.sleep(1100); // a rewrite in another second: the replicator's memory is per process, status reads times
        primary.put("wal/00000001/000000010000000000000002.partial", b("stream v2"));
        Clock later = Clock.fixed(copied.plusSeconds(100), ZoneOffset.UTC);
        assertThat(new Replicator(primary, eu, EU, later).liveStatus().rpoSeconds())
                .as("from the version eu holds, not from the rewrite")
                .isCloseTo(100.0, within(0.01));

        ReplicationConfig.Region worm = new ReplicationConfig.Region(
                "worm", null, "file:///unused", "async", null, null, new Retention(7, null));
        LocalBlobStore vault = new LocalBlobStore(tmp.resolve("worm"));
        new Replicator(primary, vault, worm).pass(Cancellation.none());
        Instant segmentOne = primary.stat("wal/00000001/000000010000000000000001")
                .orElseThrow()
                .lastModified();
        Replicator.Status s = new Replicator(
                        primary, vault, worm, Clock.fixed(segmentOne.plusSeconds(50), ZoneOffset.UTC))
                .liveStatus();
        assertThat(s.lagObjects()).as("the partial is never copied there").isZero();
        assertThat(s.rpoSeconds()).as("but its commits are missing there").isCloseTo(50.0, within(0.01));

        // once the segment is whole and copied, nothing is missing
        primary.put("wal/00000001/000000010000000000000002", b("wal two"));
        primary.delete("wal/00000001/000000010000000000000002.partial");
        new Replicator(primary, vault, worm).pass(Cancellation.none());
        assertThat(new Replicator(primary, vault, worm).liveStatus().rpoSeconds())
                .isZero();
    }

    @Test
    void verifyOnAWriteOnceRegionNeitherWantsThePartialNorDeletesWhatRetentionKeeps() throws Exception {
        ReplicationConfig.Region worm = new ReplicationConfig.Region(
                "worm", null, "file:///unused", "async", null, null, new Retention(7, null));
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore vault = new LocalBlobStore(tmp.resolve("worm"));
        primary.put("config", b("{repo}"));
        primary.put("snapshots/s1", b("manifest"));
        primary.put("wal/00000001/000000010000000000000002.partial", b("stream"));
        new Replicator(primary, vault, worm).pass(Cancellation.none());
        primary.delete("snapshots/s1");
        Replicator.Verification v = new Replicator(primary, vault, worm).verify(true, Cancellation.none());
        assertThat(v.ok()).as(v.toString()).isTrue();
        assertThat(v.retained()).containsExactly("snapshots/s1");
        assertThat(v.repaired()).isZero();
        assertThat(vault.stat("snapshots/s1")).isPresent();
        assertThat(vault.stat("wal/00000001/000000010000000000000002.partial")).isEmpty();
    }

    /**
     * After a promotion the old timeline's partial stays on the primary for good: a write-once region never gets it,
     * but its commits up to the switch point are in the new timeline's whole segment, and the rest is the abandoned
     * branch, so a region holding those is caught up.
     */
    @Test
    void aPartialLeftOnTheOldTimelineIsNoLossOnceTheNewTimelineIsThere() throws Exception {
        ReplicationConfig.Region worm = new ReplicationConfig.Region(
                "worm", null, "file:///unused", "async", null, null, new Retention(7, null));
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore vault = new LocalBlobStore(tmp.resolve("worm"));
        primary.put("config", b("{repo}"));
        primary.put("wal/00000001/000000010000000000000001", b("wal one"));
        primary.put("wal/00000001/000000010000000000000002.partial", b("old timeline tail"));
        new Replicator(primary, vault, worm).pass(Cancellation.none());
        Clock later = Clock.fixed(Instant.now().plusSeconds(600), ZoneOffset.UTC);
        assertThat(new Replicator(primary, vault, worm, later).liveStatus().rpoSeconds())
                .as("before the promotion the partial's commits are missing there")
                .isGreaterThan(500.0);

        primary.put("wal/00000002/00000002.history", b("1\t0/2000100\tno recovery target specified"));
        assertThat(Replicator.partialSuperseded(
                        "wal/00000001/000000010000000000000002.partial",
                        primary.list("").stream().map(BlobInfo::key).toList()))
                .as("a later timeline's history ends the old timeline's partial")
                .isTrue();
        primary.put("wal/00000002/000000020000000000000002", b("switch segment"));
        new Replicator(primary, vault, worm).pass(Cancellation.none());
        assertThat(new Replicator(primary, vault, worm, later).liveStatus().rpoSeconds())
                .as("the new timeline is in the region")
                .isZero();

        assertThat(Replicator.partialSuperseded(
                        "wal/00000002/000000020000000000000003.partial",
                        List.of("wal/00000002/000000020000000000000002", "wal/00000001/000000010000000000000009")))
                .as("neither an older segment nor a later one on an older timeline holds its commits")
                .isFalse();
        assertThat(Replicator.partialSuperseded(
                        "wal/00000002/000000020000000000000003.partial",
                        List.of("wal/00000002/000000020000000000000004")))
                .as("streaming moved past it")
                .isTrue();
    }

    /**
     * Retention keeps an object only until its release: verify on a write-once region calls what the region still
     * keeps retained and what it no longer has to keep extra, which --repair deletes; a pack stays with a kept index.
     */
    @Test
    void verifyOnAWriteOnceRegionCallsWhatRetentionNoLongerKeepsExtra() throws Exception {
        ReplicationConfig.Region worm = new ReplicationConfig.Region(
                "worm", null, "file:///unused", "async", null, null, new Retention(7, null));
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore vault = new LocalBlobStore(tmp.resolve("worm"));
        primary.put("config", b("{repo}"));
        primary.put("index/old", b("index naming pack old"));
        primary.put("data/old", b("pack old"));
        primary.put("snapshots/expired", b("manifest"));
        new Replicator(primary, vault, worm).pass(Cancellation.none());
        for (String key : List.of("data/old", "snapshots/expired")) {
            Files.setLastModifiedTime(
                    tmp.resolve("worm").resolve(key),
                    FileTime.from(Instant.now().minus(Duration.ofDays(8))));
        }
        primary.delete("snapshots/expired");
        primary.delete("index/old");
        primary.delete("data/old");
        Replicator.Verification v = new Replicator(primary, vault, worm).verify(false, Cancellation.none());
        assertThat(v.extra()).as("released by its retention").containsExactly("snapshots/expired");
        assertThat(v.retained())
                .as("the index is still kept, and so is the pack it names")
                .containsExactly("index/old", "data/old");

        Replicator.Verification repaired = new Replicator(primary, vault, worm).verify(true, Cancellation.none());
        assertThat(repaired.repaired()).isEqualTo(1);
        assertThat(vault.stat("snapshots/expired")).isEmpty();
        assertThat(vault.stat("data/old")).isPresent();
    }

    /** A pass per process (replication run --once, an agent job) still deletes what waits a pass. */
    @Test
    void delayedDeletesHappenWhenEveryPassIsANewProcess() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        primary.put("config", b("{repo}"));
        primary.put("data/aa/pack1", b("pack"));
        new Replicator(primary, eu, EU).pass(Cancellation.none());
        primary.delete("data/aa/pack1");
        assertThat(new Replicator(primary, eu, EU).pass(Cancellation.none()).deleted())
                .isZero();
        assertThat(primary.stat(PendingDeletes.key("eu")))
                .as("the wait is kept in the primary")
                .isPresent();
        assertThat(eu.stat(PendingDeletes.key("eu"))).as("and never replicated").isEmpty();
        assertThat(new Replicator(primary, eu, EU).pass(Cancellation.none()).deleted())
                .isEqualTo(1);
        assertThat(eu.stat("data/aa/pack1")).isEmpty();
        assertThat(primary.stat(PendingDeletes.key("eu")))
                .as("nothing left waiting")
                .isEmpty();
    }
}
