package dev.lifeboat.crash;

import static dev.lifeboat.crash.CrashMatrix.FULL;
import static dev.lifeboat.engine.postgres.PgTestSupport.cli;

import dev.lifeboat.crash.CrashMatrix.Findings;
import dev.lifeboat.crash.CrashMatrix.Point;
import dev.lifeboat.crash.CrashMatrix.Run;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.faults.CrashPoints;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash matrix of {@code wal-stream} as a synchronous standby (synchronous_standby_names = 'lifeboat'): a writer
 * commits one row at a time (each commit returns only once the receiver reports it durable) and ends a segment every
 * 40 commits; the receiver, a JVM of its own, halts before or after one of its numbered writes (partial segments,
 * completed segments, deletions of partials). Right after the crash the archive must reach every byte the server was
 * told is flushed; a restarted receiver resumes, and a restore to the end of the archive holds every committed row.
 */
@Tag("crash")
class WalStreamCrashTest {
    @TempDir
    static Path tmp;

    static Path keyFile;
    static LocalCluster pg;
    static Path repoDir;
    static String uri;
    static final AtomicLong nextId = new AtomicLong(1);
    static final int SWITCH_EVERY = 40;

    @BeforeAll
    static void setUp() throws Exception {
        TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        repoDir = tmp.resolve("repo");
        uri = PgTestSupport.repoUri(repoDir);
        CliResult init = cli("repo-init", "--repo", uri, "--key-file", keyFile.toString());
        if (init.exitCode() != 0) {
            throw new AssertionError(init.all());
        }
        pg = LocalCluster.create(tmp.resolve("pg"), List.of("synchronous_commit = on"));
        pg.start();
        // the base backup is taken while a receiver streams, so the archive continues right where the backup ends
        Process receiver = startReceiver(tmp.resolve("setup"), "receiver", Map.of());
        awaitStreaming(receiver, tmp.resolve("setup"), "receiver", false);
        PgTestSupport.exec(pg, "create table ids (id bigint primary key)");
        CliResult b = cli(
                "backup",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "-q");
        if (b.exitCode() != 0) {
            throw new AssertionError(b.all());
        }
        PgTestSupport.exec(pg, "alter system set synchronous_standby_names = 'lifeboat'", "select pg_reload_conf()");
        stopReceiver(receiver, "setup receiver");
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    static Process startReceiver(Path dir, String name, Map<String, String> env) throws Exception {
        return CrashMatrix.start(
                dir,
                name,
                env,
                "wal-stream",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--pghost",
                pg.socketDir().toString(),
                "--pgport",
                Integer.toString(pg.port()),
                "--pguser",
                "postgres",
                "--status-interval",
                "0");
    }

    /** Waits until the server lists the receiver as streaming (as its synchronous standby when {@code sync}). */
    static void awaitStreaming(Process p, Path dir, String name, boolean sync) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String q =
                "select count(*) from pg_stat_replication where application_name = 'lifeboat' and state = 'streaming'"
                        + (sync ? " and sync_state = 'sync'" : "");
        while (PgTestSupport.count(pg, q) == 0) {
            if (!p.isAlive()
                    && p.exitValue() == CrashPoints.EXIT_CODE
                    && !dir.getFileName().toString().equals("setup")) {
                return; // it reached its crash point before the server listed it (e.g. after its first write)
            }
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("the receiver is not streaming (exit " + (p.isAlive() ? "-" : p.exitValue())
                        + "):\n" + CrashMatrix.read(dir.resolve(name + ".out")));
            }
            Thread.sleep(50);
        }
    }

    /** SIGTERM: the receiver writes what it holds and exits. */
    static void stopReceiver(Process p, String what) throws Exception {
        p.destroy();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(what + " did not stop within 90 s of SIGTERM");
        }
    }

    /** Commits one row per transaction (a segment switch every SWITCH_EVERY) and records which commits returned. */
    static final class Writer {
        final List<Long> acked = Collections.synchronizedList(new ArrayList<>());
        volatile boolean stop;
        volatile Throwable error;
        final Thread thread;

        Writer() {
            thread = Thread.ofPlatform().name("writer").start(() -> {
                try (Connection c = pg.connect("postgres");
                        PreparedStatement ins = c.prepareStatement("insert into ids values (?)");
                        Statement st = c.createStatement()) {
                    for (int n = 1; !stop; n++) {
                        long id = nextId.getAndIncrement();
                        ins.setLong(1, id);
                        ins.executeUpdate();
                        acked.add(id);
                        if (n % SWITCH_EVERY == 0) {
                            st.execute("select pg_switch_wal()");
                        }
                    }
                } catch (SQLException e) {
                    error = e;
                }
            });
        }

        void stop() throws InterruptedException {
            stop = true;
            thread.join(Duration.ofSeconds(120));
            if (thread.isAlive()) {
                throw new AssertionError("the writer is still blocked in a commit 120 s after it was told to stop");
            }
        }
    }

    /** Samples the flush position the server has been told (the most any sample saw). */
    static final class FlushMonitor {
        final AtomicLong told = new AtomicLong(-1);
        volatile boolean stop;
        final Thread thread = Thread.ofPlatform().daemon().name("flush-monitor").start(() -> {
            try (Connection c = pg.connect("postgres");
                    Statement st = c.createStatement()) {
                while (!stop) {
                    try (ResultSet rs = st.executeQuery(
                            "select flush_lsn::text from pg_stat_replication where application_name = 'lifeboat'")) {
                        while (rs.next()) {
                            if (rs.getString(1) != null) {
                                long lsn = Lsn.parse(rs.getString(1));
                                told.accumulateAndGet(lsn, Math::max);
                            }
                        }
                    }
                    Thread.sleep(2);
                }
            } catch (SQLException | InterruptedException ignored) {
                // the test reads what was sampled
            }
        });
    }

    /** How far the archive reaches on timeline 1: the end of its newest segment or partial. */
    static long archiveEnd() throws Exception {
        Repository repo = Repository.open(new LocalBlobStore(repoDir), KeySource.KeyFile.read(keyFile));
        WalArchive archive = new WalArchive(repo);
        long seg = 16L << 20;
        long end = -1;
        for (String name : archive.list()) {
            if (!name.startsWith("00000001")) {
                continue;
            }
            if (WalArchive.isSegment(name)) {
                end = Math.max(end, (WalArchive.segmentNumber(name, seg) + 1) * seg);
            } else if (WalArchive.isPartial(name)) {
                end = Math.max(
                        end, WalArchive.segmentNumber(name, seg) * seg + archive.partialLength(repo.store(), name));
            }
        }
        return end;
    }

    /** Placeholder key filter: the segment the writer completes first in the run, known only once the run starts. */
    static final String FIRST_SEGMENT = "FIRST_SEGMENT";

    /** Ends the current segment, so every run starts on a segment boundary and numbers its writes alike. */
    static String beginRun() throws SQLException {
        PgTestSupport.exec(pg, "select pg_switch_wal()");
        return CrashMatrix.one(pg, "select pg_walfile_name(pg_current_wal_insert_lsn() + 1)");
    }

    @TestFactory
    List<DynamicTest> walStream() throws Exception {
        // a clean run of the same workload: how many writes 120 commits make
        Path dir = tmp.resolve("clean");
        beginRun();
        Process clean = startReceiver(dir, "receiver", Map.of());
        awaitStreaming(clean, dir, "receiver", true);
        Writer w = new Writer();
        while (w.acked.size() < 120 && w.error == null) {
            Thread.sleep(20);
        }
        w.stop();
        stopReceiver(clean, "the clean receiver");
        List<String> writes = new Run("clean", 0, "", CrashMatrix.lines(dir.resolve("receiver.crashlog"))).writes();
        System.out.printf(
                "[crash-matrix] wal-stream: 120 commits make %d writes: %s%n",
                writes.size(), writes.subList(0, Math.min(60, writes.size())));
        Point segmentStored = Point.keyed(
                CrashMatrix.Mode.AFTER,
                1,
                FIRST_SEGMENT,
                "after a completed segment is stored, before its .partial is deleted");
        Point segmentFull = Point.keyed(
                CrashMatrix.Mode.BEFORE,
                1,
                FIRST_SEGMENT,
                "before a completed segment is stored (its last bytes only in memory and in the .partial)");
        List<Point> points = new ArrayList<>();
        if (FULL) {
            points.addAll(CrashMatrix.writePoints(writes.size(), 8));
            points.add(segmentFull);
        }
        points.add(segmentStored); // the CI slice: this point only
        List<DynamicTest> tests = new ArrayList<>();
        for (Point p : points) {
            String name = "wal-stream (synchronous standby), crash " + p.label()
                    + (p.of() > 0 ? " (clean run: " + writes.get(p.n() - 1) + ")" : "");
            tests.add(DynamicTest.dynamicTest(name, () -> crashAt(p, name)));
        }
        return tests;
    }

    private void crashAt(Point p, String name) throws Exception {
        Findings f = new Findings(name);
        Path dir = tmp.resolve(p.dirName());
        String first = beginRun();
        Map<String, String> env = new HashMap<>(p.env());
        if (FIRST_SEGMENT.equals(p.keys())) {
            env.put(CrashPoints.KEYS, WalArchive.key(first) + "$");
        }
        Process receiver = startReceiver(dir, "receiver", env);
        awaitStreaming(receiver, dir, "receiver", true);
        FlushMonitor monitor = new FlushMonitor();
        Writer w = new Writer();
        Process again = null;
        try {
            if (!receiver.waitFor(180, TimeUnit.SECONDS)) {
                receiver.destroyForcibly();
                f.problem("the receiver did not reach its crash point within 180 s");
            }
            Thread.sleep(200); // a last sample of what the server had been told
            monitor.stop = true;
            monitor.thread.join();
            Run r = CrashMatrix.finish(dir, "receiver", "lifeboat wal-stream", receiver, Duration.ofSeconds(1));
            f.crashed(r);
            if (!r.crashed()) {
                f.problem(CrashMatrix.notReached(p, r));
            }
            Set<Long> ackedAtCrash = new TreeSet<>(w.acked);
            long told = monitor.told.get();
            long end = archiveEnd();
            f.note(ackedAtCrash.size() + " commits acknowledged before the crash; server told flushed up to "
                    + (told < 0 ? "-" : Lsn.format(told)) + ", archive reaches " + (end < 0 ? "-" : Lsn.format(end)));
            if (told > end) {
                f.problem("the server was told WAL up to " + Lsn.format(told)
                        + " is flushed, but the archive reaches only " + (end < 0 ? "nothing" : Lsn.format(end))
                        + " right after the crash");
            }
            // a new receiver resumes from what the archive holds, and the blocked commits return
            again = startReceiver(dir, "receiver-again", Map.of());
            long target = ackedAtCrash.size() + 30;
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (w.acked.size() < target && w.error == null && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            if (w.acked.size() < target) {
                f.problem("commits do not go on after the receiver was restarted (" + w.acked.size() + " acknowledged, "
                        + (w.error == null ? "still blocked" : w.error.getMessage()) + "):\n"
                        + CrashMatrix.read(dir.resolve("receiver-again.out")));
            }
        } finally {
            w.stop();
            if (again != null) {
                stopReceiver(again, "the restarted receiver");
            }
        }
        // the restarted receiver finishes what the dead one left: no .partial next to its completed segment
        List<String> names =
                new WalArchive(Repository.open(new LocalBlobStore(repoDir), KeySource.KeyFile.read(keyFile))).list();
        List<String> stale = names.stream()
                .filter(n -> WalArchive.isPartial(n) && names.contains(n.substring(0, 24)))
                .toList();
        if (!stale.isEmpty()) {
            f.problem(".partial left beside its completed segment after the restart: " + stale);
        }
        Set<Long> server = new TreeSet<>();
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select id from ids")) {
            while (rs.next()) {
                server.add(rs.getLong(1));
            }
        }
        CrashMatrix.shareWithPostgres(repoDir);
        f.attempt("restore --to-latest holds every committed row", () -> {
            Path base = dir.resolve("restore");
            CliResult r = cli(
                    "restore",
                    "--repo",
                    uri,
                    "--key-file",
                    keyFile.toString(),
                    "--target",
                    base.resolve("data").toString(),
                    "--to-latest",
                    "-q");
            if (r.exitCode() != 0) {
                throw new AssertionError("restore --to-latest failed: " + r.all());
            }
            Set<Long> restored = new TreeSet<>();
            try (LocalCluster copy = LocalCluster.attach(base)) {
                copy.start();
                try (Connection c = copy.connect("postgres");
                        Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery("select id from ids")) {
                    while (rs.next()) {
                        restored.add(rs.getLong(1));
                    }
                }
            } catch (IOException | SQLException e) {
                throw new AssertionError(
                        "the restored copy does not start: " + e.getMessage() + CrashMatrix.serverLog(base));
            } finally {
                CrashMatrix.deleteTree(base);
            }
            Set<Long> lost = new TreeSet<>(w.acked);
            lost.removeAll(restored);
            if (!lost.isEmpty()) {
                throw new AssertionError(lost.size() + " acknowledged commit(s) are missing from the restore, e.g. "
                        + lost.stream().limit(10).toList() + " (restored " + restored.size() + " rows)");
            }
            if (!restored.equals(server)) {
                Set<Long> extra = new TreeSet<>(restored);
                extra.removeAll(server);
                Set<Long> missing = new TreeSet<>(server);
                missing.removeAll(restored);
                throw new AssertionError(
                        "the restore differs from the server (all its WAL was streamed before the receiver stopped): "
                                + "missing " + missing.stream().limit(10).toList() + ", extra "
                                + extra.stream().limit(10).toList());
            }
        });
        f.done();
    }
}
