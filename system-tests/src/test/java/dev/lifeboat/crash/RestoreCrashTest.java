package dev.lifeboat.crash;

import static dev.lifeboat.crash.CrashMatrix.FULL;
import static dev.lifeboat.engine.postgres.PgTestSupport.cli;

import dev.lifeboat.crash.CrashMatrix.Findings;
import dev.lifeboat.crash.CrashMatrix.Point;
import dev.lifeboat.crash.CrashMatrix.Run;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash matrix of {@code restore}: it writes to local disk, so the crash points are its finished files (the progress
 * hook {@code LIFEBOAT_CRASH_AFTER_FILES}). A restore that died before its last file must leave a directory PostgreSQL
 * refuses to start (no {@code global/pg_control}, which is written last); one that died after it holds a complete
 * copy. Either way the dead restore's reader lock must not block gc, and a retry into a new directory succeeds.
 */
@Tag("crash")
class RestoreCrashTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static String uri;
    static long rows;

    @BeforeAll
    static void setUp() throws Exception {
        TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        pg = LocalCluster.create(tmp.resolve("pg"), List.of());
        pg.start();
        CrashMatrix.seed(pg, 1000, 30);
        rows = PgTestSupport.count(pg, "select count(*) from ids");
        uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        CliResult init = cli("repo-init", "--repo", uri, "--key-file", keyFile.toString());
        CliResult b = cli(
                "backup",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "-q");
        if (init.exitCode() != 0 || b.exitCode() != 0) {
            throw new AssertionError(init.all() + b.all());
        }
        pg.close(); // the backup is all the restores need
        CrashMatrix.shareWithPostgres(tmp.resolve("repo"));
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    private static String[] restoreArgs(Path target) {
        return new String[] {
            "restore", "--repo", uri, "--key-file", keyFile.toString(), "--target", target.toString(), "-q"
        };
    }

    @TestFactory
    Stream<DynamicTest> restore() throws Exception {
        Path dir = tmp.resolve("restore");
        Run clean = CrashMatrix.run(
                dir.resolve("clean"),
                "restore",
                Map.of(),
                Duration.ofMinutes(10),
                restoreArgs(dir.resolve("clean").resolve("data")));
        if (clean.exitCode() != 0) {
            throw new AssertionError("the clean restore failed: " + clean.describe());
        }
        int files = (int) clean.files();
        CrashMatrix.deleteTree(dir.resolve("clean"));
        System.out.printf("[crash-matrix] restore: a clean run finishes %d files%n", files);
        // the CI slice: one restore killed halfway
        List<Point> points = FULL
                ? CrashMatrix.filePoints(files, 10)
                : List.of(CrashMatrix.filePoints(files, 3).get(1));
        return points.stream().map(p -> DynamicTest.dynamicTest("restore, crash " + p.label(), () -> crashAt(dir, p)));
    }

    private void crashAt(Path dir, Point p) throws Exception {
        Findings f = new Findings("restore, crash " + p.label());
        Path pd = dir.resolve(p.dirName());
        Path target = pd.resolve("data");
        Run r = CrashMatrix.run(pd, "restore", p.env(), Duration.ofMinutes(10), restoreArgs(target));
        f.crashed(r);
        if (!r.crashed()) {
            f.problem(CrashMatrix.notReached(p, r));
            f.done();
            return;
        }
        boolean control = Files.exists(target.resolve("global").resolve("pg_control"));
        if (p.n() < p.of()) {
            if (control) {
                f.problem("the restore died after " + p.n() + " of " + p.of() + " files, yet " + target
                        + "/global/pg_control exists: the incomplete directory looks restorable");
            }
            f.attempt("PostgreSQL refuses to start the incomplete directory", () -> refusesToStart(target, pd));
        } else {
            // pg_control is the last file: after it the copy is complete (only the final fsync and report are missing)
            f.attempt("the restore died after its last file: the copy is complete and starts", () -> {
                try (LocalCluster copy = LocalCluster.attach(pd)) {
                    copy.start();
                    long n = PgTestSupport.count(copy, "select count(*) from ids");
                    if (n != rows) {
                        throw new AssertionError("the copy has " + n + " rows in ids, the backup " + rows);
                    }
                } catch (IOException | SQLException e) {
                    throw new AssertionError(e.getMessage() + CrashMatrix.serverLog(pd));
                }
            });
        }
        boolean lockLeft;
        try (Stream<Path> locks = Files.list(tmp.resolve("repo").resolve("locks"))) {
            lockLeft = locks.anyMatch(l -> l.getFileName().toString().startsWith("shared-"));
        }
        f.note("reader lock left: " + (lockLeft ? "yes" : "no"));
        // a reader lock of a dead process must not keep gc (which refuses to run under live readers) out
        f.expectOk(
                "gc after the dead restore (its reader lock left behind)",
                cli("gc", "--repo", uri, "--key-file", keyFile.toString()));
        f.attempt("a retry into a new directory", () -> {
            long n = CrashMatrix.restoreAndCount(uri, keyFile, pd.resolve("retry"), "latest");
            if (n != rows) {
                throw new AssertionError("the retried restore has " + n + " rows in ids, the backup " + rows);
            }
        });
        f.done();
        CrashMatrix.deleteTree(pd);
    }

    /** Starts PostgreSQL on the directory as its owner would; it must fail (and is stopped again if it did not). */
    private static void refusesToStart(Path target, Path pd) throws Exception {
        Path bin = pg.binaries().tool("pg_ctl");
        Path log = pd.resolve("start-attempt.log");
        Path sock = Files.createDirectories(pd.resolve("run"));
        String owner = Processes.isRoot() ? "postgres" : Processes.currentUser();
        if (Processes.isRoot()) {
            Processes.check(List.of("chown", owner, sock.toString(), pd.toString()), Duration.ofSeconds(10));
        }
        String opts = "-c port=" + PgValidator.freePort() + " -c unix_socket_directories='" + sock
                + "' -c listen_addresses=''";
        Processes.Result res = Processes.run(
                Processes.asUser(
                        owner,
                        List.of(
                                bin.toString(),
                                "-D",
                                target.toString(),
                                "-l",
                                log.toString(),
                                "-w",
                                "-t",
                                "60",
                                "-o",
                                opts,
                                "start")),
                Duration.ofMinutes(2));
        if (res.exitCode() == 0) {
            Processes.run(
                    Processes.asUser(
                            owner, List.of(bin.toString(), "-D", target.toString(), "-m", "immediate", "stop")),
                    Duration.ofMinutes(1));
            throw new AssertionError(
                    "PostgreSQL started on the directory of a restore that died midway:\n" + CrashMatrix.read(log));
        }
    }
}
