package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.repository.Expirer;
import dev.lifeboat.repository.ReplayLease;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RetentionPolicy;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A point-in-time restore from an old backup writes its files and ends (its shared lock with it); before PostgreSQL
 * starts replaying, expire runs with a policy that expires that backup. Without a replay lease expire deletes the WAL
 * the replay needs (checked with a dry run); with the lease the WAL stays, and the replay, started after expire ran,
 * reaches its target. Released, the lease no longer holds anything.
 */
class ReplayLeasePitrTest {
    @TempDir
    Path tmp;

    @Test
    void aReplayLeaseKeepsTheWalOfARecoveryThatStartsAfterExpire() throws Exception {
        Path launcher = TestLauncher.install();
        Path keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        String uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        assertThat(cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        if (Processes.isRoot()) {
            Processes.check(
                    List.of("chown", "-R", "postgres", tmp.resolve("repo").toString()), Duration.ofSeconds(30));
        }
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
        String archive =
                "archive_command = '" + launcher + " wal-push --repo " + uri + " --key-file " + keyFile + " %p'";
        Map<Long, Instant> committed = new TreeMap<>();
        try (LocalCluster a = LocalCluster.create(
                tmp.resolve("a"), List.of("archive_mode = on", archive, "track_commit_timestamp = on"))) {
            a.start();
            PgTestSupport.exec(a, "create table t (id bigint primary key)");
            backup(uri, keyFile, a);
            PgTestSupport.insertTimed(a, 1, 5, committed, 20);
            PgTestSupport.exec(a, "select pg_switch_wal()");
            PgTestSupport.insertTimed(a, 6, 10, committed, 20);
            PgTestSupport.drainArchive(a);
            backup(uri, keyFile, a);
            PgTestSupport.insertTimed(a, 11, 15, committed, 20);
            PgTestSupport.drainArchive(a);
        }
        List<Snapshot> backups = repo.loadSnapshots();
        Snapshot b1 = backups.get(0);
        Snapshot b2 = backups.get(1);
        long segSize = b1.engineInfo().walSegmentSize();

        // what the replay from B1 to row 8 reads: B1's start segment up to the one holding row 8, all before B2's start
        long from = Lsn.segmentOf(b1.engineInfo().startLsn(), segSize);
        long b2Start = Lsn.segmentOf(b2.engineInfo().startLsn(), segSize);
        List<String> needed = new ArrayList<>();
        for (long s = from; s < b2Start; s++) {
            needed.add(Lsn.segmentName(1, s, segSize));
        }
        assertThat(needed).hasSizeGreaterThanOrEqualTo(2);
        assertThat(new WalArchive(repo).list()).containsAll(needed);
        RetentionPolicy keepNewest = new RetentionPolicy(1, 0, 0, 0, Duration.ZERO);
        Expirer.Result without = new Expirer(repo).expire(keepNewest, true);
        assertThat(without.expired()).containsExactly(b1.id());
        assertThat(without.walDeleted())
                .as("without a lease expire would delete the replay's WAL")
                .containsAll(needed);

        // the restore: files only, PostgreSQL not started yet; it takes a replay lease while its shared lock holds
        Path base = tmp.resolve("pitr");
        Path data = base.resolve("data");
        CliResult r = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                data.toString(),
                "--to-time",
                committed.get(8L).toString(),
                "-q",
                "--json");
        assertThat(r.exitCode()).as(r.all()).isZero();
        ReplayLease.Lease lease = ReplayLease.list(repo.store()).leases().stream()
                .filter(l -> l.target().equals(data.toString()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("the restore took no replay lease"));
        assertThat(r.out()).contains(lease.id());
        PgTestSupport.giveRepositoryToPostgres(uri);

        Expirer.Result res = new Expirer(repo).expire(keepNewest, false);
        assertThat(res.expired()).containsExactly(b1.id());
        assertThat(res.walDeleted()).doesNotContainAnyElementsOf(needed);
        assertThat(res.walKeptForRecoveries())
                .singleElement()
                .asString()
                .startsWith("kept for the recovery into " + data + " on ")
                .contains("lease " + lease.id());
        assertThat(new WalArchive(repo).list()).containsAll(needed);
        assertThat(repo.listSnapshotIds()).containsExactly(b2.id());

        // the replay starts now, after expire ran, and fetches its WAL with wal-get; when recovery ends, the
        // recovery_end_command the restore wrote releases the lease
        try (LocalCluster restored = LocalCluster.attach(base)) {
            restored.start();
            assertThat(PgTestSupport.ids(restored)).isEqualTo(PgTestSupport.range(1, 8));
        }
        assertThat(ReplayLease.list(repo.store()).leases())
                .as("leases after recovery ended")
                .isEmpty();

        // so the next expire deletes what only the recovery needed
        Expirer.Result after = new Expirer(repo).expire(keepNewest, false);
        assertThat(after.walDeleted()).containsAll(needed);
        assertThat(after.walKeptForRecoveries()).isEmpty();
    }

    private static void backup(String uri, Path key, LocalCluster pg) {
        CliResult r = cli(
                "backup",
                "--repo",
                uri,
                "--key-file",
                key.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "-q");
        assertThat(r.exitCode()).as(r.all()).isZero();
    }
}
