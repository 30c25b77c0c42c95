package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restore point or transaction target picks the newest backup that ends before it, found in the archived WAL: a
 * backup taken after the target cannot reach it (PostgreSQL would replay to the end and stop with "recovery ended
 * before configured recovery target was reached").
 */
class NamedTargetTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static String uri;
    static Snapshot full;
    static Snapshot incr;
    static long xid;

    @BeforeAll
    static void setUp() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        keyFile = archive.keyFile();
        uri = archive.uri();
        pg = LocalCluster.create(tmp.resolve("pg"), List.of("archive_mode = on", archive.archiveCommand()));
        pg.start();
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
        exec(pg, "create table t (id int primary key)");
        full = backup(repo, "full");
        exec(pg, "insert into t select generate_series(1, 10)", "select pg_create_restore_point('before_migration')");
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("insert into t values (11) returning txid_current()")) {
            rs.next();
            xid = rs.getLong(1);
        }
        exec(pg, "insert into t select generate_series(12, 20)", "select pg_switch_wal()");
        incr = backup(repo, "incr");
        exec(
                pg,
                "insert into t select generate_series(21, 25)",
                "select pg_create_restore_point('after_incr')",
                "insert into t select generate_series(26, 30)");
        String last;
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pg_walfile_name(pg_switch_wal())")) {
            rs.next();
            last = rs.getString(1);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            try (Connection c = pg.connect("postgres");
                    Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select coalesce(last_archived_wal, '') from pg_stat_archiver")) {
                rs.next();
                if (rs.getString(1).compareTo(last) >= 0) {
                    break;
                }
            }
            Thread.sleep(100);
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        pg.close();
    }

    private static Snapshot backup(Repository repo, String type) throws Exception {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(pg.dataDir(), null, null, "postgres", type, Compression.LOW, 2),
                        null,
                        new Cancellation())
                .run();
    }

    private static List<Long> restoreAndRead(String name, String... target) throws Exception {
        Path base = tmp.resolve(name);
        List<String> args = new ArrayList<>(List.of(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                base.resolve("data").toString(),
                "-q",
                "--json"));
        args.addAll(List.of(target));
        CliResult r = cli(args.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.all()).isZero();
        PgTestSupport.giveRepositoryToPostgres(uri);
        try (LocalCluster copy = LocalCluster.attach(base).start();
                Connection c = copy.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select id from t order by id")) {
            List<Long> ids = new ArrayList<>();
            while (rs.next()) {
                ids.add(rs.getLong(1));
            }
            lastOutput = r.out();
            return ids;
        }
    }

    static String lastOutput;

    @Test
    void aRestorePointBeforeTheNewestBackupRecoversFromTheBackupBeforeIt() throws Exception {
        assertThat(restoreAndRead("to-name", "--to-name", "before_migration")).isEqualTo(PgTestSupport.range(1, 10));
        assertThat(lastOutput).contains(full.id());
    }

    @Test
    void aTransactionBeforeTheNewestBackupRecoversFromTheBackupBeforeIt() throws Exception {
        assertThat(restoreAndRead("to-xid", "--to-xid", Long.toString(xid))).isEqualTo(PgTestSupport.range(1, 11));
        assertThat(lastOutput).contains(full.id());
    }

    @Test
    void aRestorePointAfterTheNewestBackupRecoversFromIt() throws Exception {
        assertThat(restoreAndRead("after-incr", "--to-name", "after_incr")).isEqualTo(PgTestSupport.range(1, 25));
        assertThat(lastOutput).contains(incr.id());
    }

    @Test
    void aSegmentLostAfterPlanningStopsRecoveryInsteadOfEndingItEarly() throws Exception {
        Path base = tmp.resolve("lost-segment");
        CliResult r = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                base.resolve("data").toString(),
                "-q",
                "--to-latest");
        assertThat(r.exitCode()).as(r.all()).isZero();
        PgTestSupport.giveRepositoryToPostgres(uri);
        String conf = Files.readString(base.resolve("data/postgresql.auto.conf"));
        Matcher m = Pattern.compile("--expect ([0-9A-F]{24})-").matcher(conf);
        assertThat(m.find())
                .as("restore_command names the segments it planned: " + conf)
                .isTrue();
        assertThat(conf).contains("--strict");
        String lost = m.group(1);
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
        byte[] saved = repo.store().get(WalArchive.key(lost));
        repo.store().delete(WalArchive.key(lost));
        try (LocalCluster copy = LocalCluster.attach(base)) {
            // PostgreSQL must stop recovery (FATAL) rather than take the hole for the end of the archive and promote
            Assertions.assertThatThrownBy(copy::start).isInstanceOf(IOException.class);
            assertThat(Files.readString(base.resolve("run/server.log")))
                    .contains("is missing now")
                    .contains("could not restore file \"" + lost + "\" from archive");
        } finally {
            repo.store().put(WalArchive.key(lost), saved);
            PgTestSupport.giveRepositoryToPostgres(uri);
        }
    }

    @Test
    void anUnknownRestorePointIsRefusedBeforeAnythingIsWritten() {
        Path target = tmp.resolve("unknown/data");
        CliResult r = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                target.toString(),
                "-q",
                "--to-name",
                "no_such_point");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("restore point 'no_such_point' is not in the archived WAL");
        assertThat(Files.exists(target)).isFalse();
    }
}
