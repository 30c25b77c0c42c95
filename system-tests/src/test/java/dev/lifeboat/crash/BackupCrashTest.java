package dev.lifeboat.crash;

import static dev.lifeboat.crash.CrashMatrix.FULL;
import static dev.lifeboat.engine.postgres.PgTestSupport.cli;

import dev.lifeboat.crash.CrashMatrix.Findings;
import dev.lifeboat.crash.CrashMatrix.Leftovers;
import dev.lifeboat.crash.CrashMatrix.Mode;
import dev.lifeboat.crash.CrashMatrix.Point;
import dev.lifeboat.crash.CrashMatrix.Run;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.engine.postgres.TestLauncher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
 * Crash matrix of {@code backup} (full, incremental, differential): the backup runs in a JVM of its own and halts
 * like kill -9 before or after one of its numbered repository writes (packs, index files, manifest, lock). Then, as
 * a user would: the repository verifies with --read-data, the dead backup is listed only if its manifest was written,
 * the server dropped the backup's slot, the next backup of the same type succeeds without `unlock` (the dead
 * process's lock is stale: same host, pid gone) and restores, and gc leaves no pack that no backup uses.
 */
@Tag("crash")
class BackupCrashTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;

    @BeforeAll
    static void setUp() throws Exception {
        TestLauncher.install(); // restore_command of restored copies runs as the postgres user
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        pg = LocalCluster.create(tmp.resolve("pg"), List.of());
        pg.start();
        CrashMatrix.seed(pg, 1000, FULL ? 40 : 24);
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> fullBackup() throws Exception {
        return matrix("full", base -> {});
    }

    @TestFactory
    Stream<DynamicTest> incrementalBackup() throws Exception {
        return matrix("incr", base -> {
            backup(base, "full");
            CrashMatrix.churn(pg, 12); // the incremental has new data to store: several packs
        });
    }

    @TestFactory
    Stream<DynamicTest> differentialBackup() throws Exception {
        return matrix("diff", base -> {
            backup(base, "full");
            CrashMatrix.churn(pg, 6);
            backup(base, "incr");
            CrashMatrix.churn(pg, 12);
        });
    }

    @FunctionalInterface
    interface Prepare {
        void into(Path baseRepo) throws Exception;
    }

    private static String uri(Path repoDir) {
        return PgTestSupport.repoUri(repoDir);
    }

    private static void backup(Path repoDir, String type) {
        CliResult r = cli(
                "backup",
                "--repo",
                uri(repoDir),
                "--key-file",
                keyFile.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "--type",
                type,
                "--parallel",
                "2",
                "-q");
        if (r.exitCode() != 0) {
            throw new AssertionError(type + " backup failed: " + r.all());
        }
    }

    private static String[] backupArgs(String uri, String type) {
        return new String[] {
            "backup",
            "--repo",
            uri,
            "--key-file",
            keyFile.toString(),
            "--pgdata",
            pg.dataDir().toString(),
            "--type",
            type,
            "--parallel",
            "2",
            "-q"
        };
    }

    /**
     * Prepares a base repository, counts the writes of a clean run of the backup on a copy of it, and returns one
     * test per crash point, each on its own copy of the base.
     */
    private Stream<DynamicTest> matrix(String type, Prepare prepare) throws Exception {
        if (points(type, 10).isEmpty()) {
            return Stream.empty();
        }
        Path dir = tmp.resolve(type);
        Path base = dir.resolve("base");
        CliResult init = cli("repo-init", "--repo", uri(base), "--key-file", keyFile.toString());
        if (init.exitCode() != 0) {
            throw new AssertionError(init.all());
        }
        prepare.into(base);

        Path cleanRepo = dir.resolve("clean").resolve("repo");
        CrashMatrix.copyTree(base, cleanRepo);
        Run clean = CrashMatrix.run(
                dir.resolve("clean"), "backup", Map.of(), Duration.ofMinutes(10), backupArgs(uri(cleanRepo), type));
        if (clean.exitCode() != 0) {
            throw new AssertionError("the clean " + type + " backup failed: " + clean.describe());
        }
        List<String> writes = clean.writes();
        CrashMatrix.deleteTree(cleanRepo);
        System.out.printf("[crash-matrix] %s backup: a clean run makes %d writes: %s%n", type, writes.size(), writes);
        List<Point> points = points(type, writes.size());
        // restoring starts a server: every point in the full matrix, one per backup type in the CI slice
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < points.size(); i++) {
            Point p = points.get(i);
            boolean restore = FULL || i == points.size() - 1;
            String name = type + " backup, crash " + p.label()
                    + (p.of() > 0 ? " (clean run: " + writes.get(p.n() - 1) + ")" : "");
            tests.add(DynamicTest.dynamicTest(name, () -> crashAt(type, base, dir, p, name, restore)));
        }
        return tests.stream();
    }

    /**
     * Numbered points over the writes of a clean run except its last three, and the phases at the end named by key:
     * the number of pack writes varies by one or two from run to run (parallel workers, a changing database), so
     * "write N" near the end would land on a different step each time.
     */
    private static List<Point> points(String type, int writes) {
        Point beforeIndex =
                Point.keyed(Mode.BEFORE, 1, "index/", "before the first index file (packs written, none indexed)");
        Point beforeManifest =
                Point.keyed(Mode.BEFORE, 1, "snapshots/", "before the manifest (packs and index files written)");
        Point afterManifest =
                Point.keyed(Mode.AFTER, 1, "snapshots/", "after the manifest, before the lock is released");
        List<Point> numbered = CrashMatrix.writePoints(Math.max(2, writes - 3), FULL ? 7 : 3);
        if (FULL) {
            List<Point> all = new ArrayList<>(numbered);
            all.addAll(List.of(beforeIndex, beforeManifest, afterManifest));
            return all;
        }
        // the CI slice: a few points that together cover the lock, packs, index, manifest and lock release
        return switch (type) {
            case "full" -> List.of(numbered.getFirst(), beforeManifest, afterManifest);
            case "incr" -> List.of(beforeIndex);
            default -> List.of(); // differential backups only in the full matrix
        };
    }

    private void crashAt(String type, Path base, Path dir, Point p, String name, boolean restore) throws Exception {
        Path pd = dir.resolve(p.dirName());
        Path repoDir = pd.resolve("repo");
        CrashMatrix.copyTree(base, repoDir);
        String uri = uri(repoDir);
        List<String> before = CrashMatrix.listed(uri, keyFile);
        Findings f = new Findings(name);

        Run r = CrashMatrix.run(pd, "backup", p.env(), Duration.ofMinutes(10), backupArgs(uri, type));
        f.crashed(r);
        if (!r.crashed()) {
            f.problem(CrashMatrix.notReached(p, r));
            f.done();
            return;
        }
        boolean manifestWritten = r.writes().stream().anyMatch(w -> w.startsWith("put snapshots/"));
        List<String> after = CrashMatrix.listed(uri, keyFile);
        List<String> added = after.stream().filter(id -> !before.contains(id)).toList();
        if (!after.containsAll(before)) {
            f.problem("backups that existed before the crash are no longer listed: before " + before + ", after "
                    + after);
        }
        if (manifestWritten && added.size() != 1) {
            f.problem("the dead backup wrote its manifest, so it is complete and must be listed; listed now: " + after);
        } else if (!manifestWritten && !added.isEmpty()) {
            f.problem("a backup killed before its manifest was written is listed: " + added);
        }
        CrashMatrix.verifyReadData(f, "right after the crash", uri, keyFile);
        f.attempt("the server ends the dead backup (its temporary slot is dropped)", () -> {
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            long slots;
            while ((slots = PgTestSupport.count(
                                    pg, "select count(*) from pg_replication_slots where slot_name like 'lifeboat%'"))
                            > 0
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            if (slots > 0) {
                throw new AssertionError(slots + " lifeboat slot(s) still exist 15 s after the backup died");
            }
        });
        boolean lockLeft = Files.exists(repoDir.resolve("locks").resolve("exclusive"));
        f.note("lock left: " + (lockLeft ? "yes" : "no") + ", manifest written: " + (manifestWritten ? "yes" : "no"));

        // the next backup, with no `unlock`: a lock of a dead process on this host is stale and broken
        long rows = CrashMatrix.addIds(pg, 10);
        CliResult next = cli(backupArgs(uri, type));
        if (!f.expectOk(
                "the next " + type + " backup (without `lifeboat unlock`"
                        + (lockLeft ? ", with the dead backup's lock left)" : ")"),
                next)) {
            f.done();
            return;
        }
        List<String> now = CrashMatrix.listed(uri, keyFile);
        // the one backup listed since the crash: not the last by name, which the dead backup can be when both started
        // in the same second (ids are a timestamp and a random suffix)
        List<String> since = now.stream().filter(id -> !after.contains(id)).toList();
        if (since.size() != 1) {
            f.problem("the next backup should add exactly one backup to the list; added: " + since);
            f.done();
            return;
        }
        String nextId = since.getFirst();
        CrashMatrix.verifyReadData(f, "after the next backup", uri, keyFile);
        if (restore) {
            f.attempt("restore of the next backup " + nextId, () -> {
                long n = CrashMatrix.restoreAndCount(uri, keyFile, pd.resolve("restore"), nextId);
                if (n != rows) {
                    throw new AssertionError("the restored copy has " + n + " rows in ids, the server had " + rows);
                }
            });
            if (manifestWritten && added.size() == 1 && FULL) {
                f.attempt(
                        "restore of the backup that died after writing its manifest (" + added.getFirst() + ")",
                        () -> CrashMatrix.restoreAndCount(uri, keyFile, pd.resolve("restore-dead"), added.getFirst()));
            }
        }

        CliResult gc = cli("gc", "--repo", uri, "--key-file", keyFile.toString(), "--json");
        if (f.expectOk("gc after the next backup", gc)) {
            Leftovers l = CrashMatrix.leftovers(repoDir, keyFile);
            if (!l.clean()) {
                f.problem("gc left what the dead backup wrote: " + l);
            }
            CrashMatrix.verifyReadData(f, "after gc", uri, keyFile);
            List<String> locks = CrashMatrix.locks(repoDir);
            if (!locks.isEmpty()) {
                f.note("locks left after the next backup and gc: " + locks);
            }
            if (!CrashMatrix.listed(uri, keyFile).equals(now)) {
                f.problem("gc changed the list of backups: " + now + " → " + CrashMatrix.listed(uri, keyFile));
            }
        }
        f.done();
        CrashMatrix.deleteTree(repoDir);
    }
}
