package dev.lifeboat.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
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
        r.run(Duration.ofMillis(10), Cancellation.none()); // returns at once: stopped
        assertThat(eu.list("")).isEmpty();
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
}
