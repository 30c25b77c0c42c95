package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Point-in-time recovery on real WAL: one row is committed every ~100 ms, WAL is archived through
 * archive_command = 'lifeboat wal-push …', and restores to times, LSNs and restore points must hold exactly the rows
 * committed up to the target.
 */
class PitrTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static String uri;
    static Repository repo;
    /** id, commit time, and the WAL insert position right after the commit. */
    record Tick(long id, Instant committed, String lsnAfter) {}

    static final List<Tick> ticks = new ArrayList<>();
    static long idAtRestorePoint;
    /** A time after tick 20's commit and before an aborted transaction, and the insert position after the abort. */
    static Instant beforeAbort;

    static String lsnAfterAbort;
    /** The insert position after a transaction aborted after the last tick: the archive's last transaction end. */
    static String lsnAfterLastAbort;

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
        new PgBackup(
                        repo,
                        new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                        null,
                        new Cancellation())
                .run();

        try (Connection c = pg.connect("postgres");
                PreparedStatement ins = c.prepareStatement("insert into ticks values (?, 'tick')");
                Statement st = c.createStatement()) {
            for (long id = 1; id <= 60; id++) {
                ins.setLong(1, id);
                ins.executeUpdate();
                try (ResultSet rs =
                        st.executeQuery("select pg_xact_commit_timestamp(xmin), pg_current_wal_insert_lsn()::text "
                                + "from ticks where id = " + id)) {
                    rs.next();
                    ticks.add(new Tick(id, rs.getTimestamp(1).toInstant(), rs.getString(2)));
                }
                if (id == 15 || id == 30 || id == 45) {
                    st.execute(
                            "select pg_switch_wal()"); // several segments, so the gap test can remove one in the middle
                }
                if (id == 20) {
                    // a transaction that writes and rolls back: its abort record carries a time, and recovery to a
                    // time stops before an abort as before a commit
                    Thread.sleep(20);
                    beforeAbort = Instant.parse(one(
                            st,
                            "select to_char(clock_timestamp() at time zone 'UTC',"
                                    + " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
                    Thread.sleep(20);
                    c.setAutoCommit(false);
                    ins.setLong(1, -1);
                    ins.executeUpdate();
                    c.rollback();
                    c.setAutoCommit(true);
                    lsnAfterAbort = one(st, "select pg_current_wal_insert_lsn()::text");
                }
                if (id == 40) {
                    st.execute("select pg_create_restore_point('before-migration')");
                    idAtRestorePoint = id;
                }
                Thread.sleep(100);
            }
            Thread.sleep(50);
            c.setAutoCommit(false);
            ins.setLong(1, -2);
            ins.executeUpdate();
            c.rollback();
            c.setAutoCommit(true);
            lsnAfterLastAbort = one(st, "select pg_current_wal_insert_lsn()::text");
            st.execute("select pg_switch_wal()");
            String last = one(st, "select pg_walfile_name(pg_current_wal_lsn() - 1)");
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (System.nanoTime() < deadline) {
                String archived = one(st, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
                if (archived.compareTo(last) >= 0 && !archived.isEmpty()) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(one(st, "select failed_count::text from pg_stat_archiver"))
                    .isEqualTo("0");
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

    private static List<Long> restoreAndRead(String name, String... targetArgs) throws Exception {
        return PgTestSupport.restoreAndReadIds(tmp.resolve("restore-" + name), uri, keyFile, "ticks", targetArgs);
    }

    private static List<Long> idsUpTo(long last) {
        return PgTestSupport.range(1, last);
    }

    @Test
    void toTimeBetweenTwoCommitsHoldsExactlyTheEarlierRows() throws Exception {
        Tick a = ticks.get(19);
        Tick b = ticks.get(20);
        Instant between = a.committed()
                .plus(Duration.between(a.committed(), b.committed()).dividedBy(2));
        assertThat(restoreAndRead("mid", "--to-time", between.toString())).isEqualTo(idsUpTo(a.id()));
    }

    @Test
    void toTimeExactlyAtACommitIsInclusiveUnlessExclusive() throws Exception {
        Tick t = ticks.get(29);
        assertThat(restoreAndRead("incl", "--to-time", t.committed().toString()))
                .isEqualTo(idsUpTo(t.id()));
        assertThat(restoreAndRead("excl", "--to-time", t.committed().toString(), "--exclusive"))
                .isEqualTo(idsUpTo(t.id() - 1));
    }

    @Test
    void toLsnAndToName() throws Exception {
        Tick t = ticks.get(49);
        assertThat(restoreAndRead("lsn", "--to-lsn", t.lsnAfter())).isEqualTo(idsUpTo(t.id()));
        assertThat(restoreAndRead("name", "--to-name", "before-migration")).isEqualTo(idsUpTo(idAtRestorePoint));
    }

    @Test
    void targetsOutsideTheWindowAreRefusedNamingIt() throws Exception {
        CliResult early = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                tmp.resolve("bad-early").toString(),
                "--to-time",
                "2000-01-01T00:00:00Z");
        assertThat(early.exitCode()).isNotZero();
        assertThat(early.err()).contains("before the earliest point").contains(" .. ");
        CliResult late = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                tmp.resolve("bad-late").toString(),
                "--to-time",
                Instant.now().plus(Duration.ofDays(1)).toString());
        assertThat(late.exitCode()).isNotZero();
        assertThat(late.err())
                .contains("is not before the newest commit")
                .contains(" .. ")
                .contains("--to-latest");
        // the newest archived commit itself: no later commit, but the later abort stops recovery (recoveryStopsBefore
        // takes both); without it PostgreSQL would replay to the end and fail with "recovery ended before configured
        // recovery target was reached"
        RecoveryCatalog.Plan atLast = RecoveryCatalog.plan(
                repo, target(RecoveryTarget.Kind.TIME, ticks.getLast().committed(), false), null);
        assertThat(Lsn.parse(atLast.stopLsn()))
                .isGreaterThanOrEqualTo(Lsn.parse(ticks.getLast().lsnAfter()))
                .isLessThan(Lsn.parse(lsnAfterLastAbort));
        CliResult list = cli("list", "--repo", uri, "--key-file", keyFile.toString());
        assertThat(list.exitCode()).as(list.all()).isZero();
        assertThat(list.out()).containsPattern("timeline 1 \\(the original cluster [^;]*\\): recoverable from");
    }

    @Test
    void aPlanStopsAtTheCommitPostgresStopsBeforeAndCountsTheWalUpToIt() throws Exception {
        // between ticks 20 and 21: recovery stops before tick 21's commit, which the source wrote after tick 20's
        Tick a = ticks.get(19);
        Tick b = ticks.get(20);
        Instant between = a.committed()
                .plus(Duration.between(a.committed(), b.committed()).dividedBy(2));
        RecoveryCatalog.Plan mid = RecoveryCatalog.plan(repo, target(RecoveryTarget.Kind.TIME, between, false), null);
        assertThat(Lsn.parse(mid.stopLsn()))
                .isGreaterThanOrEqualTo(Lsn.parse(a.lsnAfter()))
                .isLessThan(Lsn.parse(b.lsnAfter()));
        // exactly at tick 30's commit time: inclusive stops at the next commit, exclusive at that one
        Tick t = ticks.get(29);
        Tick next = ticks.get(30);
        RecoveryCatalog.Plan incl =
                RecoveryCatalog.plan(repo, target(RecoveryTarget.Kind.TIME, t.committed(), false), null);
        RecoveryCatalog.Plan excl =
                RecoveryCatalog.plan(repo, target(RecoveryTarget.Kind.TIME, t.committed(), true), null);
        assertThat(Lsn.parse(incl.stopLsn()))
                .isGreaterThanOrEqualTo(Lsn.parse(t.lsnAfter()))
                .isLessThan(Lsn.parse(next.lsnAfter()));
        assertThat(Lsn.parse(excl.stopLsn()))
                .isGreaterThanOrEqualTo(Lsn.parse(ticks.get(28).lsnAfter()))
                .isLessThan(Lsn.parse(t.lsnAfter()));
        // an aborted transaction ends a time target's replay as a commit does
        RecoveryCatalog.Plan abort =
                RecoveryCatalog.plan(repo, target(RecoveryTarget.Kind.TIME, beforeAbort, false), null);
        assertThat(Lsn.parse(abort.stopLsn()))
                .isGreaterThanOrEqualTo(Lsn.parse(a.lsnAfter()))
                .isLessThan(Lsn.parse(lsnAfterAbort));
        // the WAL counted runs from the backup's start to the stop's segment, both as named
        long seg = 16L << 20;
        String backupStart = repo.loadSnapshots()
                .getFirst()
                .engineInfo()
                .summary()
                .get("startLsn")
                .toString();
        assertThat(mid.firstSegment().substring(8))
                .isEqualTo(Lsn.segmentName(1, Lsn.parse(backupStart) / seg, seg).substring(8));
        assertThat(mid.lastSegment().substring(8))
                .isEqualTo(
                        Lsn.segmentName(1, Lsn.parse(mid.stopLsn()) / seg, seg).substring(8));
        assertThat(mid.walSegments()).isEqualTo(Lsn.parse(mid.stopLsn()) / seg - Lsn.parse(backupStart) / seg + 1);
        assertThat(mid.walBytes()).isEqualTo(mid.walSegments() * seg);
        // a later target needs more WAL; the newest point needs all of it
        RecoveryCatalog.Plan latest = RecoveryCatalog.plan(repo, RecoveryTarget.latest(null), null);
        assertThat(latest.walSegments()).isGreaterThan(mid.walSegments());
        assertThat(latest.stopLsn()).isNull();
        // the CLI says the same (its --plan is the same operation)
        CliResult r = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--plan",
                "--to-time",
                between.toString(),
                "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out())
                .contains("\"stopLsn\" : \"" + mid.stopLsn() + "\"")
                .contains("\"walSegments\" : " + mid.walSegments());
        CliResult text = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--plan",
                "--to-lsn",
                ticks.get(49).lsnAfter());
        assertThat(Lsn.parse(text.out().replaceAll("(?s).*recovery stops at ([0-9A-F]+/[0-9A-F]+).*", "$1")))
                .isGreaterThanOrEqualTo(Lsn.parse(ticks.get(49).lsnAfter()))
                .isLessThan(Lsn.parse(ticks.get(50).lsnAfter()));
        // an LSN in the zero-filled tail of a switched segment: recovery stops at the next segment's first record
        long tailSegment = Lsn.parse(ticks.get(14).lsnAfter()) / seg;
        RecoveryCatalog.Plan tail = RecoveryCatalog.plan(
                repo,
                new RecoveryTarget(RecoveryTarget.Kind.LSN, Lsn.format((tailSegment + 1) * seg - 0x100), false, null),
                null);
        assertThat(Lsn.parse(tail.stopLsn()) / seg).isEqualTo(tailSegment + 1);
        assertThat(tail.lastSegment().substring(8))
                .isEqualTo(Lsn.segmentName(1, tailSegment + 1, seg).substring(8));
        // an LSN after the archive's last record: PostgreSQL would replay to the end and fail, so no plan
        long lastSegment = Lsn.parse(lsnAfterLastAbort) / seg;
        assertThatThrownBy(() -> RecoveryCatalog.plan(
                        repo,
                        new RecoveryTarget(
                                RecoveryTarget.Kind.LSN, Lsn.format((lastSegment + 1) * seg - 0x100), false, null),
                        null))
                .hasMessageContaining("is not before the last record");
    }

    private static RecoveryTarget target(RecoveryTarget.Kind kind, Instant t, boolean exclusive) {
        return new RecoveryTarget(kind, t.toString(), exclusive, null);
    }

    @Test
    void aGapInTheArchiveIsNamed() throws Exception {
        // copy the repository and remove one archived segment from the middle of the copy
        Path copy = tmp.resolve("repo-gap");
        Processes.check(List.of("cp", "-a", tmp.resolve("repo").toString(), copy.toString()), Duration.ofSeconds(60));
        Repository gapRepo = Repository.open(new LocalBlobStore(copy), KeySource.KeyFile.read(keyFile));
        List<String> segs = new WalArchive(gapRepo)
                .list().stream().filter(WalArchive::isSegment).toList();
        assertThat(segs.size()).as("archived segments " + segs).isGreaterThanOrEqualTo(5);
        String removed = segs.get(segs.size() - 3);
        new WalArchive(gapRepo).delete(removed);
        String gapUri = PgTestSupport.repoUri(copy);
        CliResult r = cli(
                "restore",
                "--repo",
                gapUri,
                "--key-file",
                keyFile.toString(),
                "--target",
                tmp.resolve("gap").toString(),
                "--to-time",
                ticks.getLast().committed().toString());
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("missing segment " + removed);
        assertThat(cli("list", "--repo", gapUri, "--key-file", keyFile.toString())
                        .out())
                .contains("MISSING WAL: " + removed);
        assertThatThrownBy(() -> new RecoveryPlanner(gapRepo)
                        .plan(
                                new RecoveryTarget(
                                        RecoveryTarget.Kind.TIME,
                                        ticks.getLast().committed().toString(),
                                        false,
                                        null),
                                null))
                .hasMessageContaining(removed);
        // the catalog places the gap between the store times of the segments around it
        RecoveryCatalog.Catalog catalog = RecoveryCatalog.read(gapRepo);
        assertThat(catalog.gaps()).hasSize(1);
        RecoveryCatalog.Gap gap = catalog.gaps().getFirst();
        assertThat(gap.segment()).isEqualTo(removed);
        assertThat(gap.after()).isNotNull();
        assertThat(gap.before()).isNotNull().isAfterOrEqualTo(gap.after());
    }
}
