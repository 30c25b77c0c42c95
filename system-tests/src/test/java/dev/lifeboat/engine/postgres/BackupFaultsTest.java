package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.count;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static dev.lifeboat.engine.postgres.PgTestSupport.repoUri;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.OperationCancelledException;
import dev.lifeboat.repository.ChunkId;
import dev.lifeboat.repository.Pack;
import dev.lifeboat.repository.PackedChunk;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryException;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input and faults, through the real CLI against a real PostgreSQL. */
class BackupFaultsTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;

    @BeforeAll
    static void startCluster() throws Exception {
        pg = LocalCluster.create(tmp.resolve("pg"), List.of());
        pg.start();
        pg.pgbench(List.of("-i", "-s", "20", "-q"), Duration.ofMinutes(5));
        // ~60 MB that does not compress, so packs fill (and kills land between packs) quickly
        exec(
                pg,
                "create table noise (id int, b bytea)",
                "insert into noise select g, (select string_agg(decode(md5(random()::text || g::text || x::text), "
                        + "'hex'), ''::bytea) "
                        + "from generate_series(1, 60) x) from generate_series(1, 60000) g");
        keyFile = PgTestSupport.keyFile(tmp);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        pg.close();
    }

    private String newRepo(String name) {
        String uri = repoUri(tmp.resolve(name));
        CliResult r = cli("repo-init", "--repo", uri, "--key-file", keyFile.toString());
        assertThat(r.exitCode()).as(r.all()).isZero();
        return uri;
    }

    private CliResult backup(String uri, String... extra) {
        String[] base = {
            "backup",
            "--repo",
            uri,
            "--key-file",
            keyFile.toString(),
            "--pgdata",
            pg.dataDir().toString(),
            "-q"
        };
        return cli(Stream.concat(Stream.of(base), Stream.of(extra)).toArray(String[]::new));
    }

    @Test
    void wrongKeyFileIsRefusedAndWritesNothing() throws Exception {
        String uri = newRepo("wrongkey");
        Path other = tmp.resolve("other.key");
        KeySource.KeyFile.create(other);
        List<BlobInfo> before = new LocalBlobStore(tmp.resolve("wrongkey")).list("");
        CliResult r = cli(
                "backup",
                "--repo",
                uri,
                "--key-file",
                other.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "-q");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("wrong key file");
        assertThat(new LocalBlobStore(tmp.resolve("wrongkey")).list("")).isEqualTo(before);
        assertThat(cli("list", "--repo", uri, "--key-file", other.toString()).exitCode())
                .isNotZero();
    }

    @Test
    void wrongPassphraseIsRefused() throws Exception {
        LocalBlobStore store = new LocalBlobStore(tmp.resolve("pass"));
        Repository.init(store, new KeySource.Passphrase("right".toCharArray()), false);
        List<BlobInfo> before = store.list("");
        try {
            Repository.open(store, new KeySource.Passphrase("wrong".toCharArray()));
            throw new AssertionError("opened with a wrong passphrase");
        } catch (RepositoryException.WrongKey e) {
            assertThat(e.getMessage()).contains("wrong passphrase");
        }
        assertThat(store.list("")).isEqualTo(before);
    }

    @Test
    void missingAndForeignRepositoriesAreReported() throws Exception {
        CliResult missing =
                cli("list", "--repo", repoUri(tmp.resolve("nothing-here")), "--key-file", keyFile.toString());
        assertThat(missing.exitCode()).isNotZero();
        assertThat(missing.err()).contains("no Lifeboat repository").contains("repo-init");

        Path foreign = tmp.resolve("foreign");
        Files.createDirectories(foreign);
        Files.writeString(foreign.resolve("config"), "[global]\nrepo1-path=/var/lib/pgbackrest\n");
        CliResult f = cli("list", "--repo", repoUri(foreign), "--key-file", keyFile.toString());
        assertThat(f.exitCode()).isNotZero();
        assertThat(f.err()).contains("not a Lifeboat repository");

        CliResult relative = cli("list", "--repo", "file://relative/path");
        assertThat(relative.exitCode()).isNotZero();
        assertThat(relative.err()).contains("absolute");
    }

    @Test
    void pgdataThatIsNotAClusterIsRefused() throws Exception {
        String uri = newRepo("notcluster");
        Path empty = Files.createDirectories(tmp.resolve("empty-dir"));
        CliResult r =
                cli("backup", "--repo", uri, "--key-file", keyFile.toString(), "--pgdata", empty.toString(), "-q");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("is not a PostgreSQL data directory");
        CliResult none = cli(
                "backup",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--pgdata",
                tmp.resolve("nope").toString());
        assertThat(none.err()).contains("does not exist");
    }

    @Test
    void serverOfAnotherClusterIsRefused() throws Exception {
        String uri = newRepo("mismatch");
        try (LocalCluster other = LocalCluster.create(tmp.resolve("other"), List.of())) {
            other.start();
            CliResult r =
                    backup(uri, "--pghost", other.socketDir().toString(), "--pgport", Integer.toString(other.port()));
            assertThat(r.exitCode()).isNotZero();
            assertThat(r.err()).contains("system identifier");
            CliResult tcp = backup(uri, "--pghost", "127.0.0.1", "--pgport", Integer.toString(other.port()));
            assertThat(tcp.exitCode()).isNotZero();
            assertThat(tcp.err()).contains("system identifier");
        }
        assertThat(cli("list", "--repo", uri, "--key-file", keyFile.toString(), "--json")
                        .out())
                .contains("\"backups\" : [ ]");
    }

    @Test
    void flippedByteIsFoundByVerifyAndFailsTheRestoreOfThatFile() throws Exception {
        String uri = newRepo("flip");
        CliResult b = backup(uri, "--compress", "lz4");
        assertThat(b.exitCode()).as(b.all()).isZero();
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("flip")), KeySource.KeyFile.read(keyFile));
        Snapshot snap = repo.loadSnapshot(repo.resolveSnapshotId("latest"));
        // damage the middle of the largest file's first chunk
        Snapshot.FileEntry victim = snap.files().stream()
                .filter(f -> f.kind() == Snapshot.Kind.FILE)
                .max(Comparator.comparingLong(Snapshot.FileEntry::size))
                .orElseThrow();
        PackedChunk c = repo.loadIndex().get(ChunkId.parse(victim.chunks().getFirst()));
        Path pack = tmp.resolve("flip").resolve(Pack.key(c.packId()));
        try (RandomAccessFile f = new RandomAccessFile(pack.toFile(), "rw")) {
            long pos = c.offset() + c.length() / 2;
            f.seek(pos);
            int v = f.read();
            f.seek(pos);
            f.write(v ^ 0x01);
        }
        CliResult quick = cli("verify", "--repo", uri, "--key-file", keyFile.toString());
        assertThat(quick.exitCode()).as("structure is intact: " + quick.all()).isZero();
        CliResult v = cli("verify", "--repo", uri, "--key-file", keyFile.toString(), "--read-data", "-q");
        assertThat(v.exitCode()).isNotZero();
        assertThat(v.out()).contains("backup " + snap.id()).contains("file " + victim.path());

        Path target = tmp.resolve("flip-restore");
        CliResult r =
                cli("restore", "--repo", uri, "--key-file", keyFile.toString(), "--target", target.toString(), "-q");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains(victim.path()).contains(snap.id());
        assertThat(target.resolve("global/pg_control"))
                .as("an incomplete restore must not be startable")
                .doesNotExist();
    }

    @Test
    void concurrentBackupIsRefusedNamingTheHolder() throws Exception {
        String uri = newRepo("concurrent");
        Path log = tmp.resolve("first-backup.log");
        Process first = PgTestSupport.cliProcess(
                log,
                "backup",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "--compress",
                "high",
                "--parallel",
                "1");
        Path lock = tmp.resolve("concurrent/locks/exclusive");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.exists(lock) && first.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(lock).as(Files.exists(log) ? Files.readString(log) : "").exists();
        CliResult second = backup(uri);
        assertThat(second.exitCode()).isNotZero();
        assertThat(second.err())
                .contains("locked by backup")
                .contains("pid " + first.pid())
                .contains("lifeboat unlock");
        assertThat(first.waitFor()).as(Files.readString(log)).isZero();
        assertThat(backup(uri).exitCode()).isZero();
    }

    @Test
    void killedBackupLeavesAVerifiableRepositoryAndTheNextBackupSucceeds() throws Exception {
        String uri = newRepo("kill");
        // keep the database changing so every attempt has new data to store
        Process load = pg.pgbenchAsync(List.of("-c", "1", "-T", "120", "-n", "-R", "200"));
        try {
            Path repoDir = tmp.resolve("kill");
            int orphanPacksSeen = 0;
            int completed = 0;
            StringBuilder logs = new StringBuilder();
            // kill points: right away, once the lock is taken, after the first pack, after several packs, once an index
            // exists
            List<String> killPoints = List.of("start", "lock", "pack>=1", "pack>=3", "pack>=5", "index");
            for (String point : killPoints) {
                Path log = tmp.resolve("kill-" + point.replace('>', '_').replace('=', '_') + ".log");
                int packsBefore = packCount(repoDir);
                int indexBefore = fileCount(repoDir.resolve("index"));
                Process p = PgTestSupport.cliProcess(
                        log,
                        "backup",
                        "--repo",
                        uri,
                        "--key-file",
                        keyFile.toString(),
                        "--pgdata",
                        pg.dataDir().toString(),
                        "--compress",
                        "medium",
                        "--parallel",
                        "1");
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (p.isAlive()
                        && System.nanoTime() < deadline
                        && !reached(point, repoDir, packsBefore, indexBefore)) {
                    Thread.sleep(5);
                }
                if (!p.isAlive()) {
                    completed++; // finished before the kill: it must be listed and verify
                }
                p.destroyForcibly(); // SIGKILL
                p.waitFor();
                orphanPacksSeen = Math.max(orphanPacksSeen, packCount(repoDir));
                logs.append("--- killed at ").append(point).append(":\n").append(Files.readString(log));
                CliResult list = cli("list", "--repo", uri, "--key-file", keyFile.toString(), "--json");
                assertThat(list.exitCode()).isZero();
                long listed =
                        list.out().lines().filter(l -> l.contains("\"id\"")).count();
                assertThat(listed)
                        .as("a killed backup must not be listed (killed at %s)", point)
                        .isEqualTo(completed);
                CliResult verify = cli("verify", "--repo", uri, "--key-file", keyFile.toString(), "--read-data", "-q");
                assertThat(verify.exitCode()).as(verify.all()).isZero();
                // the server noticed: the temporary slot is gone once the backend exits
                long slotDeadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (count(pg, "select count(*) from pg_replication_slots") > 0 && System.nanoTime() < slotDeadline) {
                    Thread.sleep(50);
                }
                assertThat(count(pg, "select count(*) from pg_replication_slots"))
                        .isZero();
            }
            assertThat(orphanPacksSeen)
                    .as("some kill landed after packs were written\n" + logs)
                    .isPositive();
            assertThat(completed).as("most kills must land mid-backup").isLessThan(killPoints.size() / 2);

            CliResult ok = backup(uri);
            assertThat(ok.exitCode()).as(ok.all()).isZero();
            CliResult gc = cli("gc", "--repo", uri, "--key-file", keyFile.toString(), "--json");
            assertThat(gc.exitCode()).as(gc.all()).isZero();
            assertThat(gc.out()).containsPattern("\"packsDeleted\" : [1-9]");
            CliResult verify = cli("verify", "--repo", uri, "--key-file", keyFile.toString(), "--read-data", "-q");
            assertThat(verify.exitCode()).as(verify.all()).isZero();
            CliResult restore = cli(
                    "restore",
                    "--repo",
                    uri,
                    "--key-file",
                    keyFile.toString(),
                    "--target",
                    tmp.resolve("after-kill").toString(),
                    "--validate",
                    "-q");
            assertThat(restore.exitCode()).as(restore.all()).isZero();
            assertThat(restore.out()).contains("validation passed");
        } finally {
            load.destroy();
            load.waitFor();
        }
    }

    private static boolean reached(String point, Path repoDir, int packsBefore, int indexBefore) throws IOException {
        return switch (point) {
            case "start" -> true;
            case "lock" -> Files.exists(repoDir.resolve("locks/exclusive"));
            case "index" -> fileCount(repoDir.resolve("index")) > indexBefore;
            default -> packCount(repoDir) - packsBefore >= Integer.parseInt(point.substring("pack>=".length()));
        };
    }

    private static int packCount(Path repoDir) throws IOException {
        return fileCount(repoDir.resolve("data"));
    }

    private static int fileCount(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return (int) s.filter(Files::isRegularFile)
                    .filter(f -> !f.getFileName().toString().endsWith(".lifeboat-tmp"))
                    .count();
        }
    }

    @Test
    void cancelledBackupStopsAndLeavesNothingListed() throws Exception {
        String uri = newRepo("cancel");
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("cancel")), KeySource.KeyFile.read(keyFile));
        Cancellation cancel = new Cancellation();
        PgBackup backup = new PgBackup(
                repo,
                new PgBackupOptions(pg.dataDir(), null, null, null, "full", Compression.LOW, 1),
                e -> {
                    if (e.bytesDone() > 20 << 20) {
                        cancel.cancel("test");
                    }
                },
                cancel);
        try {
            backup.run();
            throw new AssertionError("backup was not cancelled");
        } catch (OperationCancelledException expected) {
            // cancelled
        }
        assertThat(repo.listSnapshotIds()).isEmpty();
        assertThat(tmp.resolve("cancel/locks/exclusive")).doesNotExist();
        assertThat(count(pg, "select count(*) from pg_replication_slots")).isZero();
        exec(pg, "select 1");
    }
}
