package dev.lifeboat.crash;

import static dev.lifeboat.crash.CrashMatrix.FULL;
import static dev.lifeboat.engine.postgres.PgTestSupport.cli;

import dev.lifeboat.crash.CrashMatrix.Findings;
import dev.lifeboat.crash.CrashMatrix.Mode;
import dev.lifeboat.crash.CrashMatrix.Point;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.storage.faults.CrashPoints;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash matrix of archive_command = {@code lifeboat wal-push}, synchronous and asynchronous. PostgreSQL runs a wrapper
 * script that takes the crash variables for the next push from a file the test writes, with a one-shot token
 * ({@code LIFEBOAT_CRASH_TOKEN}) so exactly one process halts. Synchronous: the push halts before or after its write
 * of the WAL object; asynchronous: the background pusher (started by wal-push with the same environment) halts at its
 * N-th write. Then PostgreSQL must retry until the segment is archived, every segment it marked {@code .done} in
 * {@code pg_wal/archive_status} must read back with {@code wal-get} byte for byte equal to its {@code pg_wal} copy,
 * and archiving goes on.
 */
@Tag("crash")
class WalPushCrashTest {
    @TempDir
    static Path tmp;

    /** A cluster archiving through the wrapper into a repository of its own. */
    private static final class Env implements AutoCloseable {
        final Path dir;
        final Path ctl;
        final Path spool;
        final String uri;
        final Path keyFile;
        final LocalCluster pg;
        int tokens;

        Env(String name, boolean async) throws Exception {
            Path launcher = TestLauncher.install();
            dir = tmp.resolve(name);
            keyFile = PgTestSupport.keyFile(tmp);
            TestLauncher.shareWithPostgres(keyFile);
            Path repo = dir.resolve("repo");
            uri = PgTestSupport.repoUri(repo);
            CliResult init = cli("repo-init", "--repo", uri, "--key-file", keyFile.toString());
            if (init.exitCode() != 0) {
                throw new AssertionError(init.all());
            }
            ctl = Files.createDirectories(dir.resolve("ctl"));
            spool = dir.resolve("spool");
            Path script = dir.resolve("archive.sh");
            // the crash variables for the next pushes come from crash.env, which the test rewrites per point
            Files.writeString(
                    script,
                    "#!/bin/sh\n[ -f " + ctl + "/crash.env ] && . " + ctl + "/crash.env\n"
                            + "exec " + launcher + " wal-push --repo " + uri + " --key-file " + keyFile
                            + (async ? " --async --spool-dir " + spool : "") + " \"$1\"\n");
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
            CrashMatrix.shareWithPostgres(dir);
            pg = LocalCluster.create(
                    dir.resolve("pg"),
                    List.of(
                            "archive_mode = on",
                            "archive_command = '" + script + " %p'",
                            // keep every segment (and its .done) in pg_wal, to compare with the archive
                            "wal_keep_size = '4GB'",
                            "max_wal_size = '4GB'",
                            "checkpoint_timeout = '1h'"));
            pg.start();
            PgTestSupport.exec(pg, "create table ids (id bigint primary key)");
        }

        /** The next pushes run with this crash point, once (a new token). */
        void arm(Point p) throws IOException {
            Path token = ctl.resolve("token-" + (++tokens));
            Files.writeString(token, "");
            StringBuilder env = new StringBuilder();
            p.env()
                    .forEach((k, v) -> env.append("export ")
                            .append(k)
                            .append('=')
                            .append(v)
                            .append('\n'));
            env.append("export ")
                    .append(CrashPoints.TOKEN)
                    .append('=')
                    .append(token)
                    .append('\n');
            env.append("export ")
                    .append(CrashPoints.LOG)
                    .append('=')
                    .append(ctl.resolve("crash.log"))
                    .append('\n');
            Files.writeString(ctl.resolve("crash.env"), env.toString());
            CrashMatrix.shareWithPostgres(ctl);
            this.token = token;
        }

        Path token;

        /** Commits some rows and ends the segment; returns its name. */
        String switchSegment() throws SQLException {
            CrashMatrix.addIds(pg, 100);
            return CrashMatrix.one(pg, "select pg_walfile_name(pg_switch_wal())");
        }

        String lastArchived() throws SQLException {
            return CrashMatrix.one(pg, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
        }

        String crashLine() throws IOException {
            List<String> lines = CrashMatrix.lines(ctl.resolve("crash.log"));
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (lines.get(i).contains(" crash ")) {
                    return lines.get(i).substring(lines.get(i).indexOf(" crash ") + 1);
                }
            }
            return null;
        }

        /**
         * Every WAL file PostgreSQL marked archived must be in the archive: wal-get returns it, byte for byte equal
         * to the server's own copy. Returns how many were compared.
         */
        int checkDone(Findings f) throws IOException {
            Path walDir = pg.dataDir().resolve("pg_wal");
            List<String> done = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(walDir.resolve("archive_status"), "*.done")) {
                ds.forEach(p -> done.add(p.getFileName().toString().replace(".done", "")));
            }
            done.sort(null);
            Path out = Files.createDirectories(dir.resolve("fetched"));
            List<String> bad = new ArrayList<>();
            for (String name : done) {
                Path dest = out.resolve(name);
                Files.deleteIfExists(dest);
                CliResult r = cli("wal-get", "--repo", uri, "--key-file", keyFile.toString(), name, dest.toString());
                if (r.exitCode() != 0) {
                    bad.add(name + " (wal-get exit " + r.exitCode() + ": "
                            + r.all().strip() + ")");
                } else if (Files.exists(walDir.resolve(name))
                        && !Arrays.equals(Files.readAllBytes(dest), Files.readAllBytes(walDir.resolve(name)))) {
                    bad.add(name + " (the archived copy differs from pg_wal/" + name + ": " + Files.size(dest) + " vs "
                            + Files.size(walDir.resolve(name)) + " bytes)");
                }
                Files.deleteIfExists(dest);
            }
            if (!bad.isEmpty()) {
                f.problem(bad.size()
                        + " WAL file(s) PostgreSQL was told are archived (.done) do not read back from the archive: "
                        + bad);
            }
            if (done.isEmpty()) {
                f.problem("no segment is marked .done: nothing was checked");
            }
            return done.size();
        }

        @Override
        public void close() throws Exception {
            pg.close();
        }
    }

    static void await(Findings f, String what, Duration timeout, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                f.problem("timed out after " + timeout.toSeconds() + " s waiting until " + what);
                return;
            }
            Thread.sleep(50);
        }
    }

    static boolean archivedUpTo(Env env, String segment) {
        try {
            return env.lastArchived().compareTo(segment) >= 0;
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Synchronous wal-push: each push makes one write (the WAL object), so the points are before and after it, on
     * successive segments.
     */
    @TestFactory
    Stream<DynamicTest> synchronous() throws Exception {
        Env env = new Env("sync", false);
        int pushes = FULL ? 5 : 1;
        List<Point> points = new ArrayList<>();
        for (int i = 0; i < pushes; i++) {
            points.add(new Point(Mode.BEFORE, 1, 1));
            points.add(new Point(Mode.AFTER, 1, 1));
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < points.size(); i++) {
            Point p = points.get(i);
            String name = "synchronous wal-push, crash " + (p.mode() == Mode.BEFORE ? "before" : "after")
                    + " its write (segment " + (i + 1) + ")";
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Findings f = new Findings(name);
                env.arm(p);
                String seg = env.switchSegment();
                await(
                        f,
                        "a wal-push halted at its crash point",
                        Duration.ofSeconds(90),
                        () -> !Files.exists(env.token));
                await(
                        f,
                        "PostgreSQL archived " + seg + " after the crash",
                        Duration.ofSeconds(180),
                        () -> archivedUpTo(env, seg));
                f.note("crash: " + env.crashLine());
                // (pg_stat_archiver.failed_count does not count it: an exit code above 125 looks like a signal to
                // PostgreSQL, whose archiver then exits and is restarted without reporting the failure)
                f.note(env.checkDone(f) + " .done segment(s) read back");
                // archiving goes on
                String next = env.switchSegment();
                await(
                        f,
                        "the next segment " + next + " is archived",
                        Duration.ofSeconds(60),
                        () -> archivedUpTo(env, next));
                f.done();
            }));
        }
        tests.add(DynamicTest.dynamicTest("synchronous wal-push: stop the cluster", env::close));
        return tests.stream();
    }

    /**
     * Asynchronous wal-push: the background pusher halts at its N-th write (one per segment; up to four in flight).
     * Each point starts a fresh pusher (the previous one exits after 30 s without work) so writes are numbered from
     * its start, and ends N + 1 segments at once.
     */
    @TestFactory
    Stream<DynamicTest> asynchronous() throws Exception {
        Env env = new Env("async", true);
        List<Point> points = new ArrayList<>();
        if (FULL) {
            for (int n = 1; n <= 5; n++) {
                points.add(new Point(Mode.BEFORE, n, n + 1));
                points.add(new Point(Mode.AFTER, n, n + 1));
            }
        } else {
            points.add(new Point(Mode.AFTER, 2, 3)); // the CI slice: one pusher, killed between two of its pushes
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (Point p : points) {
            String name = "asynchronous wal-push, crash the background pusher "
                    + (p.mode() == Mode.BEFORE ? "before" : "after") + " its write " + p.n();
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Findings f = new Findings(name);
                await(
                        f,
                        "the previous background pusher has exited (30 s without work)",
                        Duration.ofSeconds(120),
                        () -> !pusherRunning(env.spool));
                env.arm(p);
                List<String> segs = new ArrayList<>();
                for (int i = 0; i < p.of(); i++) {
                    segs.add(env.switchSegment());
                }
                String last = segs.getLast();
                await(
                        f,
                        "the background pusher halted at its crash point",
                        Duration.ofSeconds(90),
                        () -> !Files.exists(env.token));
                await(
                        f,
                        "PostgreSQL archived " + last + " after the crash",
                        Duration.ofSeconds(240),
                        () -> archivedUpTo(env, last));
                f.note("crash: " + env.crashLine());
                f.note(env.checkDone(f) + " .done segment(s) read back");
                List<String> errors = new ArrayList<>();
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(env.spool.resolve("out"), "*.error")) {
                    ds.forEach(e -> errors.add(e.getFileName().toString()));
                }
                if (!errors.isEmpty()) {
                    f.problem("error markers left in the spool: " + new TreeSet<>(errors));
                }
                String next = env.switchSegment();
                await(
                        f,
                        "the next segment " + next + " is archived",
                        Duration.ofSeconds(60),
                        () -> archivedUpTo(env, next));
                f.done();
            }));
        }
        tests.add(DynamicTest.dynamicTest("asynchronous wal-push: stop the cluster", env::close));
        return tests.stream();
    }

    /** Whether a background pusher holds the spool's lock. */
    static boolean pusherRunning(Path spool) {
        Path lock = spool.resolve("push.lock");
        if (!Files.exists(lock)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE);
                FileLock l = ch.tryLock()) {
            return l == null;
        } catch (IOException | OverlappingFileLockException e) {
            return true;
        }
    }
}
