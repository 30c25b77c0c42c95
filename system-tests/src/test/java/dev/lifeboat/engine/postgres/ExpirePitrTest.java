package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.Expirer;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RetentionPolicy;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.Verifier;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention on real WAL: three backups of a cluster that archives its WAL into the repository, with rows committed
 * between them; expire with keep-full 1 and a PITR window that starts after the second backup expires the first
 * backup and the WAL before the second one, and a point-in-time restore inside the window still recovers exactly the
 * rows committed up to the target.
 */
class ExpirePitrTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static String uri;
    static Repository repo;
    static Snapshot b1;
    static Snapshot b2;
    static Snapshot b3;
    static Instant windowStart;
    static final List<Instant> commits = new ArrayList<>(); // commits.get(i) = commit time of id i + 1

    @BeforeAll
    static void setUp() throws Exception {
        Path launcher = TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        assertThat(cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        TestLauncher.shareWithPostgres(tmp.resolve("repo"));
        runAsRoot(List.of("chown", "-R", "postgres", tmp.resolve("repo").toString()));
        pg = LocalCluster.create(
                tmp.resolve("pg"),
                List.of(
                        "archive_mode = on",
                        "archive_command = '" + launcher + " wal-push --repo " + uri + " --key-file " + keyFile
                                + " %p'",
                        "track_commit_timestamp = on"));
        pg.start();
        exec(pg, "create table ticks (id bigint primary key, note text)");
        repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));

        b1 = backup();
        insert(1, 5, true);
        b2 = backup();
        Thread.sleep(50);
        windowStart = Instant.now();
        assertThat(windowStart).isAfter(b2.stopTime());
        insert(6, 15, true);
        b3 = backup();
        insert(16, 20, true);
        waitForArchive();
    }

    static Snapshot backup() throws Exception {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                        null,
                        new Cancellation())
                .run();
    }

    /** Commits one row per id, ~20 ms apart, then switches to a new WAL segment so the archive gets it. */
    static void insert(long from, long to, boolean switchWal) throws Exception {
        try (Connection c = pg.connect("postgres");
                PreparedStatement ins = c.prepareStatement("insert into ticks values (?, 'tick')");
                Statement st = c.createStatement()) {
            for (long id = from; id <= to; id++) {
                ins.setLong(1, id);
                ins.executeUpdate();
                try (ResultSet rs =
                        st.executeQuery("select pg_xact_commit_timestamp(xmin) from ticks where id = " + id)) {
                    rs.next();
                    commits.add(rs.getTimestamp(1).toInstant());
                }
                Thread.sleep(20);
            }
            if (switchWal) {
                st.execute("select pg_switch_wal()");
            }
        }
    }

    static void waitForArchive() throws Exception {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement()) {
            String last = one(st, "select pg_walfile_name(pg_current_wal_lsn() - 1)");
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            String archived = "";
            while (System.nanoTime() < deadline) {
                archived = one(st, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
                if (!archived.isEmpty() && archived.compareTo(last) >= 0) {
                    break;
                }
                Thread.sleep(100);
            }
            // PostgreSQL retries a failed archive_command, so what counts is that the archive caught up
            assertThat(archived)
                    .as("archiving caught up ("
                            + one(
                                    st,
                                    "select failed_count || ' failures, last '"
                                            + " || coalesce(last_failed_wal, '-') from pg_stat_archiver")
                            + ")")
                    .isGreaterThanOrEqualTo(last);
        }
    }

    static void runAsRoot(List<String> cmd) throws Exception {
        if (Processes.isRoot()) {
            Processes.check(cmd, Duration.ofSeconds(30));
        }
    }

    static String one(Statement st, String sql) throws Exception {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    static long segmentNumber(String name, long segSize) {
        return Long.parseLong(name.substring(8, 16), 16) * (0x1_0000_0000L / segSize)
                + Long.parseLong(name.substring(16, 24), 16);
    }

    @Test
    void expireKeepsWhatTheWindowNeedsAndPitrInsideItStillWorks() throws Exception {
        Instant now = Instant.now();
        RetentionPolicy policy = new RetentionPolicy(1, 0, 0, 0, Duration.between(windowStart, now));
        long segSize = b2.engineInfo().walSegmentSize();
        String b1Start = Lsn.segmentName(1, Lsn.segmentOf(b1.engineInfo().startLsn(), segSize), segSize);
        long b2StartSeg = Lsn.segmentOf(b2.engineInfo().startLsn(), segSize);
        String b2Start = Lsn.segmentName(1, b2StartSeg, segSize);
        assertThat(new WalArchive(repo).list()).contains(b1Start, b2Start);

        Expirer.Result r = new Expirer(repo, Clock.fixed(now, ZoneOffset.UTC)).expire(policy, false);

        assertThat(r.expired()).containsExactly(b1.id());
        assertThat(r.kept()).containsOnlyKeys(b2.id(), b3.id());
        assertThat(r.kept().get(b2.id())).containsExactly("base of PITR window");
        assertThat(r.kept().get(b3.id())).containsExactly("last 1 full", "inside PITR window", "newest backup");
        assertThat(repo.listSnapshotIds()).containsExactlyInAnyOrder(b2.id(), b3.id()); // ids only have whole seconds
        // WAL before the second backup's start segment is gone, from it on everything is still archived
        assertThat(r.walKeptFrom()).isEqualTo(b2Start);
        assertThat(r.walDeleted()).contains(b1Start);
        List<String> archived = new WalArchive(repo).list();
        assertThat(archived).doesNotContain(b1Start).contains(b2Start);
        assertThat(archived.stream().filter(WalArchive::isSegment))
                .allSatisfy(n -> assertThat(segmentNumber(n, segSize)).isGreaterThanOrEqualTo(b2StartSeg));
        assertThat(new Verifier(repo)
                        .verify(null, true, 2, ProgressListener.NONE, Cancellation.none())
                        .problems())
                .isEmpty();

        // a point inside the window, between the second and the third backup: restored from the second plus WAL
        Instant target = commits.get(11); // id 12
        assertThat(target).isAfter(windowStart);
        RecoveryPlanner.Plan plan = new RecoveryPlanner(repo)
                .plan(new RecoveryTarget(RecoveryTarget.Kind.TIME, target.toString(), false, null), null);
        assertThat(plan.backup().id()).isEqualTo(b2.id());
        assertThat(restoreAndRead("inside", "--to-time", target.toString())).isEqualTo(idsUpTo(12));

        // before the window, where only the expired first backup could start from, is refused
        CliResult early = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                tmp.resolve("too-early").toString(),
                "--to-time",
                commits.get(2).toString());
        assertThat(early.exitCode()).isNotZero();
        assertThat(early.err()).contains("before the earliest point");
    }

    private static List<Long> restoreAndRead(String name, String... targetArgs) throws Exception {
        return PgTestSupport.restoreAndReadIds(tmp.resolve("restore-" + name), uri, keyFile, "ticks", targetArgs);
    }

    private static List<Long> idsUpTo(long last) {
        return PgTestSupport.range(1, last);
    }
}
