package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.repository.Expirer;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RetentionPolicy;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention across a timeline switch, on real clusters archiving into one repository:
 * <pre>
 *   A (timeline 1): B1, rows 1..10, B2, rows 11..20,           | window | rows 21..25
 *   R (timeline 2): PITR of B1 to row 5, promoted; rows 101..110 (and segment switches), B3 | rows 111..115
 * </pre>
 * The PITR window starts after B3. The newest backup before the window, B3, lies on timeline 2; timeline 1's is B2
 * (stopped after the branch point, so not on timeline 2's history). With one base for the whole window, B2 expired
 * and no point of the window on timeline 1 could be restored. Expire must keep B2 and B3, expire B1, and delete the
 * WAL only B1 needed on either timeline: timeline 1 before B2's start, timeline 2 before B3's start.
 */
class TimelineRetentionTest {
    @TempDir
    Path tmp;

    @Test
    void expireKeepsABaseOnBothTimelinesAndPitrInsideTheWindowWorksOnBoth() throws Exception {
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
        Instant windowStart;
        Path rBase = tmp.resolve("r");
        try (LocalCluster a = LocalCluster.create(
                tmp.resolve("a"), List.of("archive_mode = on", archive, "track_commit_timestamp = on"))) {
            a.start();
            PgTestSupport.exec(a, "create table t (id bigint primary key)");
            backup(uri, keyFile, a);
            PgTestSupport.insertTimed(a, 1, 10, committed, 20);
            PgTestSupport.drainArchive(a);
            backup(uri, keyFile, a);
            PgTestSupport.insertTimed(a, 11, 20, committed, 20);
            PgTestSupport.drainArchive(a);

            // timeline 2: restore timeline 1 to just after row 5 (from B1, the newest backup before it) and promote
            CliResult r = cli(
                    "restore",
                    "--repo",
                    uri,
                    "--key-file",
                    keyFile.toString(),
                    "--target",
                    rBase.resolve("data").toString(),
                    "--to-time",
                    committed.get(5L).toString(),
                    "--timeline",
                    "1",
                    "--validate",
                    "-q",
                    "--archive-mode",
                    "preserve");
            assertThat(r.exitCode()).as(r.all()).isZero();
            PgTestSupport.giveRepositoryToPostgres(uri);
            try (LocalCluster r2 = LocalCluster.attach(rBase, true)) {
                r2.start();
                assertThat(PgTestSupport.count(r2, "select timeline_id from pg_control_checkpoint()"))
                        .isEqualTo(2);
                // several segments on timeline 2 before B3, numbered past B2's start on timeline 1
                for (long id = 101; id <= 109; id += 2) {
                    PgTestSupport.insertTimed(r2, id, id + 1, committed, 20);
                    PgTestSupport.drainArchive(r2);
                }
                backup(uri, keyFile, r2);
                Thread.sleep(50);
                windowStart = Instant.now();
                PgTestSupport.insertTimed(a, 21, 25, committed, 20);
                PgTestSupport.insertTimed(r2, 111, 115, committed, 20);
                PgTestSupport.drainArchive(a);
                PgTestSupport.drainArchive(r2);
            }
        }
        List<Snapshot> backups = repo.loadSnapshots();
        assertThat(backups).hasSize(3);
        Snapshot b1 = backups.get(0);
        Snapshot b2 = backups.get(1);
        Snapshot b3 = backups.get(2);
        assertThat(b3.engineInfo().timeline()).isEqualTo(2);
        assertThat(b3.stopTime()).isBefore(windowStart);
        long segSize = b1.engineInfo().walSegmentSize();
        long b2Start = startSegment(b2, segSize);
        long b3Start = startSegment(b3, segSize);
        List<String> tl2Before = new WalArchive(repo)
                .list().stream()
                        .filter(n -> WalArchive.isSegment(n)
                                && n.startsWith("00000002")
                                && segmentNumber(n, segSize) < b3Start)
                        .toList();
        assertThat(tl2Before)
                .as("timeline 2 segments only B1 needs, some numbered at or after B2's start")
                .anyMatch(n -> segmentNumber(n, segSize) >= b2Start);

        Instant now = Instant.now();
        RetentionPolicy policy = new RetentionPolicy(1, 0, 0, 0, Duration.between(windowStart, now));
        Expirer.Result res = new Expirer(repo, Clock.fixed(now, ZoneOffset.UTC)).expire(policy, false);

        assertThat(res.expired()).containsExactly(b1.id());
        assertThat(res.kept()).containsOnlyKeys(b2.id(), b3.id());
        List<String> archived = new WalArchive(repo).list();
        assertThat(archived).contains("00000002.history");
        for (String n : archived) {
            if (!WalArchive.isSegment(n)) {
                continue;
            }
            long seg = segmentNumber(n, segSize);
            assertThat(seg).as(n).isGreaterThanOrEqualTo(n.startsWith("00000001") ? b2Start : b3Start);
        }
        assertThat(res.walDeleted())
                .containsAll(tl2Before)
                .contains(segmentName(1, startSegment(b1, segSize), segSize));
        assertThat(archived).contains(segmentName(1, b2Start, segSize), segmentName(2, b3Start, segSize));

        // points of the window restore on both timelines: its start, and late in it (PostgreSQL stops a time target
        // before the first later commit, so the last archived commit itself cannot be a target)
        assertThat(restoreIds(uri, keyFile, "tl1-start", "--to-time", windowStart.toString(), "--timeline", "1"))
                .isEqualTo(PgTestSupport.range(1, 20));
        assertThat(restoreIds(
                        uri,
                        keyFile,
                        "tl1-late",
                        "--to-time",
                        committed.get(24L).toString(),
                        "--timeline",
                        "1"))
                .isEqualTo(PgTestSupport.range(1, 24));
        assertThat(restoreIds(uri, keyFile, "tl2-start", "--to-time", windowStart.toString(), "--timeline", "2"))
                .isEqualTo(PgTestSupport.concat(PgTestSupport.range(1, 5), PgTestSupport.range(101, 110)));
        assertThat(restoreIds(
                        uri,
                        keyFile,
                        "tl2-late",
                        "--to-time",
                        committed.get(114L).toString(),
                        "--timeline",
                        "2"))
                .isEqualTo(PgTestSupport.concat(PgTestSupport.range(1, 5), PgTestSupport.range(101, 114)));
    }

    private static long startSegment(Snapshot s, long segSize) {
        return Lsn.segmentOf(s.engineInfo().startLsn(), segSize);
    }

    private static long segmentNumber(String name, long segSize) {
        return WalArchive.segmentNumber(name, segSize);
    }

    private static String segmentName(int tli, long seg, long segSize) {
        return Lsn.segmentName(tli, seg, segSize);
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

    private List<Long> restoreIds(String uri, Path key, String name, String... target) throws Exception {
        return PgTestSupport.restoreAndReadIds(tmp.resolve("restore-" + name), uri, key, "t", target);
    }
}
