package dev.lifeboat.crash;

import static dev.lifeboat.crash.CrashMatrix.FULL;
import static dev.lifeboat.engine.postgres.PgTestSupport.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.crash.CrashMatrix.Findings;
import dev.lifeboat.crash.CrashMatrix.Leftovers;
import dev.lifeboat.crash.CrashMatrix.Point;
import dev.lifeboat.crash.CrashMatrix.Run;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.storage.faults.CrashPoints;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash matrix of {@code expire} and {@code gc}: each runs in a JVM of its own and halts before or after one of its
 * numbered writes (lock, manifest and WAL deletions, new packs and index file, index file and pack deletions). Then
 * no kept backup may be gone, {@code verify --read-data} is clean, the index names no deleted pack, every kept backup
 * restores, and the next run succeeds and finishes the job: the same backups and WAL as after a clean run, no pack
 * that no backup uses, and nothing left for another run to do.
 * <p>
 * The repository: four backups (full, full, incr, full) of a changing database with WAL archived by archive_command;
 * for gc also the leftovers of two killed backups (one indexed, one not).
 */
@Tag("crash")
class ExpireGcCrashTest {
    @TempDir
    static Path tmp;

    static Path keyFile;
    static Path expireBase;
    static Path gcBase;
    /** backup id → rows in ids when it was taken */
    static final Map<String, Long> rowsOf = new LinkedHashMap<>();

    static final String[] POLICY = {
        "--keep-full", "2", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0", "--pitr-window", "0"
    };

    @BeforeAll
    static void setUp() throws Exception {
        Path launcher = TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        expireBase = tmp.resolve("expire-base");
        String uri = PgTestSupport.repoUri(expireBase);
        CliResult init = cli("repo-init", "--repo", uri, "--key-file", keyFile.toString());
        if (init.exitCode() != 0) {
            throw new AssertionError(init.all());
        }
        CrashMatrix.shareWithPostgres(expireBase);
        try (LocalCluster pg = LocalCluster.create(
                tmp.resolve("pg"),
                List.of(
                        "archive_mode = on",
                        "archive_command = '" + launcher + " wal-push --repo " + uri + " --key-file " + keyFile
                                + " %p'"))) {
            pg.start();
            CrashMatrix.seed(pg, 1000, 20);
            backup(pg, uri, "full");
            for (String type : List.of("full", "incr", "full")) {
                CrashMatrix.churn(pg, type.equals("incr") ? 4 : 8);
                CrashMatrix.addIds(pg, 100);
                PgTestSupport.exec(pg, "select pg_switch_wal()");
                backup(pg, uri, type);
            }
            gcBase = tmp.resolve("gc-base");
            CrashMatrix.copyTree(expireBase, gcBase);
            // what killed backups leave: packs and their index file but no manifest; packs with no index file
            String gcUri = PgTestSupport.repoUri(gcBase);
            CrashMatrix.churn(pg, 6);
            killedBackup(pg, gcUri, "snapshots/", "indexed");
            CrashMatrix.churn(pg, 6);
            killedBackup(pg, gcUri, "index/", "unindexed");
        }
        System.out.println("[crash-matrix] expire/gc repository: backups " + rowsOf.keySet());
    }

    @AfterAll
    static void tearDown() {}

    private static void backup(LocalCluster pg, String uri, String type) throws Exception {
        List<String> before = CrashMatrix.listed(uri, keyFile);
        CliResult r = cli(
                "backup",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "--type",
                type,
                "-q");
        if (r.exitCode() != 0) {
            throw new AssertionError(type + " backup failed: " + r.all());
        }
        // the backup this call added (not the last by name: two backups of one second sort by a random suffix)
        List<String> added = CrashMatrix.listed(uri, keyFile).stream()
                .filter(id -> !before.contains(id))
                .toList();
        if (added.size() != 1) {
            throw new AssertionError(type + " backup should have added one backup; added: " + added);
        }
        rowsOf.put(added.getFirst(), PgTestSupport.count(pg, "select count(*) from ids"));
    }

    /** A backup halted right before its first write under {@code prefix}. */
    private static void killedBackup(LocalCluster pg, String uri, String prefix, String name) throws Exception {
        Run r = CrashMatrix.run(
                tmp.resolve("setup"),
                name,
                CrashMatrix.env(CrashPoints.KEYS, prefix, CrashPoints.BEFORE_WRITE, 1),
                Duration.ofMinutes(10),
                "backup",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "-q");
        if (!r.crashed()) {
            throw new AssertionError("the backup to leave " + name + " leftovers did not halt: " + r.describe());
        }
    }

    /** Outcome of a clean run: what the repository holds afterwards. */
    record State(List<String> backups, List<String> wal) {}

    private static State state(Path repoDir) throws IOException {
        List<String> wal = new ArrayList<>();
        Path w = repoDir.resolve("wal");
        if (Files.exists(w)) {
            try (Stream<Path> s = Files.walk(w)) {
                s.filter(Files::isRegularFile)
                        .map(p -> p.getFileName().toString())
                        .filter(n -> !n.endsWith(".lifeboat-tmp"))
                        .sorted()
                        .forEach(wal::add);
            }
        }
        return new State(CrashMatrix.listed(PgTestSupport.repoUri(repoDir), keyFile), wal);
    }

    private static String[] expireArgs(String uri, String... extra) {
        List<String> a = new ArrayList<>(List.of("expire", "--repo", uri, "--key-file", keyFile.toString()));
        a.addAll(List.of(POLICY));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    private static String[] gcArgs(String uri, String... extra) {
        List<String> a = new ArrayList<>(List.of("gc", "--repo", uri, "--key-file", keyFile.toString()));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @TestFactory
    Stream<DynamicTest> expire() throws Exception {
        Path dir = tmp.resolve("expire");
        Path clean = dir.resolve("clean").resolve("repo");
        CrashMatrix.copyTree(expireBase, clean);
        Run r = CrashMatrix.run(
                dir.resolve("clean"),
                "expire",
                Map.of(),
                Duration.ofMinutes(10),
                expireArgs(PgTestSupport.repoUri(clean), "--json"));
        if (r.exitCode() != 0) {
            throw new AssertionError("the clean expire failed: " + r.describe());
        }
        JsonNode res = Json.MAPPER.readTree(r.output().substring(r.output().indexOf('{')));
        List<String> kept = new ArrayList<>();
        res.get("kept").fieldNames().forEachRemaining(kept::add);
        // the matrix is only meaningful if expire has every kind of work to do here
        if (res.get("expired").isEmpty()
                || res.get("walDeleted").isEmpty()
                || res.get("packsDeleted").asInt() == 0
                || res.get("packsRepacked").asInt() == 0) {
            throw new AssertionError(
                    "the test repository does not make expire delete backups, WAL and packs and repack: " + res);
        }
        State after = state(clean);
        List<String> writes = r.writes();
        CrashMatrix.deleteTree(clean);
        System.out.printf("[crash-matrix] expire: a clean run makes %d writes: %s%n", writes.size(), writes);
        return points(writes, FULL ? 12 : 3, (p, name, start) -> expireAt(dir, p, name, kept, after, start));
    }

    @TestFactory
    Stream<DynamicTest> gc() throws Exception {
        Path dir = tmp.resolve("gc");
        Path clean = dir.resolve("clean").resolve("repo");
        CrashMatrix.copyTree(gcBase, clean);
        Run r = CrashMatrix.run(
                dir.resolve("clean"),
                "gc",
                Map.of(),
                Duration.ofMinutes(10),
                gcArgs(PgTestSupport.repoUri(clean), "--json"));
        if (r.exitCode() != 0) {
            throw new AssertionError("the clean gc failed: " + r.describe());
        }
        State after = state(clean);
        List<String> writes = r.writes();
        if (writes.stream().noneMatch(w -> w.startsWith("put index/"))
                || writes.stream().noneMatch(w -> w.startsWith("delete data/"))) {
            throw new AssertionError(
                    "the test repository does not make gc rewrite the index and delete packs: " + writes);
        }
        CrashMatrix.deleteTree(clean);
        System.out.printf("[crash-matrix] gc: a clean run makes %d writes: %s%n", writes.size(), writes);
        return points(writes, FULL ? 12 : 3, (p, name, start) -> gcAt(dir, p, name, after, start));
    }

    @FunctionalInterface
    interface PointTest {
        void run(Point p, String name, boolean startServer) throws Exception;
    }

    private static Stream<DynamicTest> points(List<String> writes, int count, PointTest test) {
        List<Point> points = CrashMatrix.writePoints(writes.size(), count);
        if (!FULL) {
            points = List.of(points.get(points.size() / 2)); // the CI slice: one point halfway through
        }
        List<DynamicTest> out = new ArrayList<>();
        for (int i = 0; i < points.size(); i++) {
            Point p = points.get(i);
            boolean start = FULL; // the CI slice restores without starting a server
            String name = "crash " + p.label() + " (clean run: " + writes.get(p.n() - 1) + ")";
            out.add(DynamicTest.dynamicTest(name, () -> test.run(p, name, start)));
        }
        return out.stream();
    }

    private void expireAt(Path dir, Point p, String name, List<String> kept, State clean, boolean startServer)
            throws Exception {
        Findings f = new Findings("expire, " + name);
        Path pd = dir.resolve(p.dirName());
        Path repoDir = pd.resolve("repo");
        CrashMatrix.copyTree(expireBase, repoDir);
        String uri = PgTestSupport.repoUri(repoDir);
        Run r = CrashMatrix.run(pd, "expire", p.env(), Duration.ofMinutes(10), expireArgs(uri));
        f.crashed(r);
        if (!r.crashed()) {
            f.problem(CrashMatrix.notReached(p, r));
            f.done();
            return;
        }
        List<String> listed = CrashMatrix.listed(uri, keyFile);
        if (!listed.containsAll(kept)) {
            f.problem("kept backups are gone after the crash: kept " + kept + ", listed " + listed);
        }
        afterCrash(f, repoDir, uri, listed.stream().filter(kept::contains).toList(), pd, startServer);
        CliResult next = cli(expireArgs(uri));
        if (f.expectOk("the next expire", next)) {
            finished(f, repoDir, uri, clean);
            CliResult dry = cli(expireArgs(uri, "--dry-run", "--json"));
            if (f.expectOk("expire --dry-run after the next expire", dry)) {
                JsonNode res = Json.MAPPER.readTree(dry.out());
                if (!res.get("expired").isEmpty()
                        || !res.get("walDeleted").isEmpty()
                        || res.get("packsDeleted").asInt() != 0
                        || res.get("packsRepacked").asInt() != 0) {
                    f.problem("the next expire did not finish the job; a further expire would still: " + dry.out());
                }
            }
        }
        f.done();
        CrashMatrix.deleteTree(pd);
    }

    private void gcAt(Path dir, Point p, String name, State clean, boolean startServer) throws Exception {
        Findings f = new Findings("gc, " + name);
        Path pd = dir.resolve(p.dirName());
        Path repoDir = pd.resolve("repo");
        CrashMatrix.copyTree(gcBase, repoDir);
        String uri = PgTestSupport.repoUri(repoDir);
        Run r = CrashMatrix.run(pd, "gc", p.env(), Duration.ofMinutes(10), gcArgs(uri));
        f.crashed(r);
        if (!r.crashed()) {
            f.problem(CrashMatrix.notReached(p, r));
            f.done();
            return;
        }
        List<String> listed = CrashMatrix.listed(uri, keyFile);
        if (!listed.equals(clean.backups())) {
            f.problem("gc changed the backups: listed " + listed + ", expected " + clean.backups());
        }
        afterCrash(f, repoDir, uri, listed, pd, startServer);
        if (f.expectOk("the next gc", cli(gcArgs(uri)))) {
            finished(f, repoDir, uri, clean);
            CliResult dry = cli(gcArgs(uri, "--dry-run", "--json"));
            if (f.expectOk("gc --dry-run after the next gc", dry)
                    && Json.MAPPER.readTree(dry.out()).get("packsDeleted").asInt() != 0) {
                f.problem("the next gc did not finish the job; a further gc would still: " + dry.out());
            }
        }
        f.done();
        CrashMatrix.deleteTree(pd);
    }

    /** Right after the crash: verify, the index, and every backup that must survive restores. */
    private static void afterCrash(
            Findings f, Path repoDir, String uri, List<String> mustRestore, Path pd, boolean startServer)
            throws IOException {
        CrashMatrix.verifyReadData(f, "right after the crash", uri, keyFile);
        Leftovers l = CrashMatrix.leftovers(repoDir, keyFile);
        if (!l.indexedButMissing().isEmpty()) {
            f.problem("right after the crash the index names deleted packs (a later backup would dedup against chunks "
                    + "that are "
                    + "gone): " + l);
        }
        f.note("right after the crash: " + l);
        CrashMatrix.shareWithPostgres(repoDir);
        for (String id : mustRestore) {
            f.attempt("restore of backup " + id, () -> {
                if (startServer) {
                    long n = CrashMatrix.restoreAndCount(uri, keyFile, pd.resolve("restore-" + id), id);
                    if (n != rowsOf.get(id)) {
                        throw new AssertionError("the copy restored from " + id + " has " + n
                                + " rows in ids, the backup " + rowsOf.get(id));
                    }
                } else {
                    // without starting a server: restore itself checks every chunk and every file's digest
                    Path target = pd.resolve("restore-" + id).resolve("data");
                    CliResult res = cli(
                            "restore",
                            "--repo",
                            uri,
                            "--key-file",
                            keyFile.toString(),
                            "--backup",
                            id,
                            "--target",
                            target.toString(),
                            "-q");
                    CrashMatrix.deleteTree(target.getParent());
                    if (res.exitCode() != 0) {
                        throw new AssertionError(
                                "exit " + res.exitCode() + ": " + res.all().strip());
                    }
                }
            });
        }
    }

    /** After the next run: what a clean run leaves, and nothing unused. */
    private static void finished(Findings f, Path repoDir, String uri, State clean) throws IOException {
        State now = state(repoDir);
        if (!now.backups().equals(clean.backups())) {
            f.problem("after the next run the backups are " + now.backups() + ", after a clean run " + clean.backups());
        }
        if (!now.wal().equals(clean.wal())) {
            TreeSet<String> extra = new TreeSet<>(now.wal());
            clean.wal().forEach(extra::remove);
            TreeSet<String> missing = new TreeSet<>(clean.wal());
            now.wal().forEach(missing::remove);
            f.problem("after the next run the archived WAL differs from a clean run's: extra " + extra + ", missing "
                    + missing);
        }
        Leftovers l = CrashMatrix.leftovers(repoDir, keyFile);
        if (!l.clean()) {
            f.problem("after the next run: " + l);
        }
        CrashMatrix.verifyReadData(f, "after the next run", uri, keyFile);
        List<String> locks = CrashMatrix.locks(repoDir);
        if (!locks.isEmpty()) {
            f.note("locks left after the next run: " + locks);
        }
    }
}
