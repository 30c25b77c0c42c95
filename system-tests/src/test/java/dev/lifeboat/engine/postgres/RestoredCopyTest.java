package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.count;
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
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
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
 * A restored copy is a cluster of its own: it ends on a new timeline, does not archive into its source's repository
 * unless asked, its incrementals never build on its source's backups, and its recovery settings do not outlive its
 * recovery. Production archives through the real launcher as archive_command throughout.
 */
class RestoredCopyTest {
    @TempDir
    static Path tmp;

    static LocalCluster prod;
    static Path keyFile;
    static String uri;
    static Repository repo;

    @BeforeAll
    static void setUp() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        keyFile = archive.keyFile();
        uri = archive.uri();
        prod = LocalCluster.create(
                tmp.resolve("prod"), List.of("archive_mode = on", archive.archiveCommand(), "autovacuum = off"));
        prod.start();
        exec(
                prod,
                "create table t (id int primary key, source text)",
                "insert into t select g, 'prod' from generate_series(1, 100) g");
        repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (prod != null) {
            prod.close();
        }
    }

    private static Snapshot backup(LocalCluster pg, String type) throws Exception {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(pg.dataDir(), null, null, "postgres", type, Compression.LOW, 2),
                        null,
                        new Cancellation())
                .run();
    }

    private static void restore(Path base, String... args) {
        List<String> all = new ArrayList<>(List.of(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                base.resolve("data").toString(),
                "-q"));
        all.addAll(List.of(args));
        CliResult r = cli(all.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.all()).isZero();
        try {
            PgTestSupport.giveRepositoryToPostgres(uri);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int timeline(LocalCluster pg) throws Exception {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")) {
            rs.next();
            return Integer.parseInt(rs.getString(1), 16);
        }
    }

    private static String one(LocalCluster pg, String sql) throws Exception {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Switches production's WAL and waits until its archiver has archived it, without failures. */
    private static void archiveProduction() throws Exception {
        String last = one(prod, "select pg_walfile_name(pg_switch_wal())");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (one(prod, "select coalesce(last_archived_wal, '')::text from pg_stat_archiver")
                        .compareTo(last)
                < 0) {
            assertThat(one(prod, "select failed_count::text from pg_stat_archiver"))
                    .as("production's archiver failed: " + one(prod, "select last_failed_wal from pg_stat_archiver"))
                    .isEqualTo("0");
            assertThat(System.nanoTime()).as("archiving of " + last).isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    @Test
    void aPlainRestoreEndsOnANewTimelineAndNeverArchivesIntoItsSource() throws Exception {
        long rowsAtBackup = count(prod, "select count(*) from t");
        Snapshot full = backup(prod, "full");
        int prodTimeline = timeline(prod);
        exec(prod, "insert into t values (1001, 'prod after the backup')");
        archiveProduction();

        Path base = tmp.resolve("copy-plain");
        restore(base, "--backup", full.id());
        // started with the archiving settings the copy got from its source (plus what restore wrote)
        try (LocalCluster copy = LocalCluster.attach(base, true).start()) {
            assertThat(timeline(copy)).as("the copy's timeline").isGreaterThan(prodTimeline);
            assertThat(one(copy, "show archive_mode")).isEqualTo("off");
            assertThat(count(copy, "select count(*) from t"))
                    .as("rows as they were when the backup ended")
                    .isEqualTo(rowsAtBackup);
            exec(copy, "insert into t values (2001, 'copy')", "delete from t where id <= 10");
            one(copy, "select pg_switch_wal()::text");
            exec(copy, "checkpoint");
            Thread.sleep(1500); // time for an archiver, had the copy one
        }
        // production keeps archiving, and nothing of the copy's timeline reached the repository
        exec(prod, "insert into t values (1002, 'prod later')");
        archiveProduction();
        String copyTli = String.format("%08X", prodTimeline + 1);
        assertThat(new WalArchive(repo).list()).noneMatch(n -> n.startsWith(copyTli));

        long prodRows = count(prod, "select count(*) from t");
        Path latest = tmp.resolve("prod-latest");
        restore(latest, "--to-latest");
        try (LocalCluster back = LocalCluster.attach(latest).start()) {
            assertThat(count(back, "select count(*) from t where source = 'copy'"))
                    .isZero();
            assertThat(count(back, "select count(*) from t")).isEqualTo(prodRows);
        }
    }

    @Test
    void restoreToOneTimeLookThenRestoreToALaterTime() throws Exception {
        backup(prod, "full");
        exec(prod, "insert into t values (3001, 'first')");
        Instant first = Instant.parse(one(prod, "select to_json(now())::text").replace("\"", ""));
        Thread.sleep(1100);
        exec(prod, "insert into t values (3002, 'second')");
        Thread.sleep(1100);
        Instant second = Instant.now();
        exec(prod, "insert into t values (3003, 'third')");
        archiveProduction();

        Path look = tmp.resolve("look");
        restore(look, "--to-time", first.plusMillis(500).toString());
        try (LocalCluster copy = LocalCluster.attach(look, true).start()) {
            assertThat(count(copy, "select count(*) from t where id in (3001, 3002)"))
                    .isEqualTo(1);
            exec(copy, "insert into t values (4001, 'looked')");
            one(copy, "select pg_switch_wal()::text");
            Thread.sleep(1500);
        }
        Path later = tmp.resolve("later");
        restore(later, "--to-time", second.toString());
        try (LocalCluster copy = LocalCluster.attach(later).start()) {
            assertThat(count(copy, "select count(*) from t where id in (3001, 3002)"))
                    .isEqualTo(2);
            assertThat(count(copy, "select count(*) from t where id in (3003, 4001)"))
                    .isZero();
        }
    }

    @Test
    void anIncrementalOfACopyNeverBuildsOnItsSourcesBackups() throws Exception {
        Snapshot prodFull = backup(prod, "full");
        Path base = tmp.resolve("copy-lineage");
        restore(base, "--backup", prodFull.id());
        try (LocalCluster copy = LocalCluster.attach(base).start()) {
            exec(copy, "delete from t where id <= 50", "checkpoint");
            // production moves on and takes a newer full backup of the same system identifier
            exec(prod, "update t set source = 'prod changed' where id > 50", "checkpoint");
            Snapshot prodNewer = backup(prod, "full");

            Snapshot first = backup(copy, "incr");
            assertThat(first.type())
                    .as("no backup of the copy's own line exists yet: a full one")
                    .isEqualTo("full");
            assertThat(PostgresBackupInfo.of(first).clusterId())
                    .isNotEqualTo(PostgresBackupInfo.of(prodNewer).clusterId());
            exec(copy, "insert into t values (5001, 'copy')", "checkpoint");
            Thread.sleep(2100);
            Snapshot second = backup(copy, "incr");
            assertThat(second.parent()).isEqualTo(first.id());
            Snapshot diff = backup(copy, "diff");
            assertThat(diff.parent()).isEqualTo(first.id());
            String copyRows = one(copy, "select string_agg(id || ':' || source, ',' order by id) from t");

            Path again = tmp.resolve("copy-lineage-restored");
            restore(again, "--backup", second.id());
            try (LocalCluster restored = LocalCluster.attach(again).start()) {
                assertThat(one(restored, "select string_agg(id || ':' || source, ',' order by id) from t"))
                        .isEqualTo(copyRows);
            }
        }
        // and production's own incremental still builds on production's newest backup
        assertThat(backup(prod, "incr").parent())
                .isNotNull()
                .satisfies(p -> assertThat(
                                PostgresBackupInfo.of(repo.loadSnapshot(p)).clusterId())
                        .isEqualTo(ClusterIdentity.ORIGIN));
    }

    @Test
    void recoverySettingsAreReplacedAndRemovedOnceRecoveryEnds() throws Exception {
        backup(prod, "full");
        exec(prod, "insert into t values (6001, 'pitr')");
        Instant target = Instant.now();
        Thread.sleep(200);
        // PostgreSQL stops at a time target on meeting the first commit after it
        exec(prod, "insert into t values (6003, 'after the target')");
        archiveProduction();

        Path base = tmp.resolve("pitr-then-backup");
        restore(base, "--to-time", target.toString());
        String written = Files.readString(base.resolve("data/postgresql.auto.conf"));
        assertThat(written)
                .containsOnlyOnce("restore_command")
                .contains("recovery_target_time")
                .contains("recovery_end_command");
        try (LocalCluster copy = LocalCluster.attach(base).start()) {
            String after = Files.readString(base.resolve("data/postgresql.auto.conf"));
            assertThat(after)
                    .doesNotContain("restore_command")
                    .doesNotContain("recovery_target")
                    .contains("archive_mode = 'off'");
            exec(copy, "insert into t values (6002, 'after promotion')");
            Snapshot copyFull = backup(copy, "full");
            Path again = tmp.resolve("pitr-then-backup-restored");
            restore(again, "--backup", copyFull.id(), "--to-latest", "--timeline", "current");
            String conf = Files.readString(again.resolve("data/postgresql.auto.conf"));
            // every target setting is written, the unused ones empty
            assertThat(conf)
                    .containsOnlyOnce("restore_command")
                    .contains("recovery_target_time = ''")
                    .doesNotContainPattern("recovery_target_time\\s*=\\s*'[^']");
            try (LocalCluster restored = LocalCluster.attach(again).start()) {
                assertThat(count(restored, "select count(*) from t where id in (6001, 6002)"))
                        .isEqualTo(2);
            }
        }
    }
}
