package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.count;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A backup taken while pgbench and a committing writer run restores, validates, and holds every earlier commit. */
class OnlineBackupRestoreTest {
    @TempDir
    Path tmp;

    @Test
    void backupUnderWriteLoadRestoresAndValidates() throws Exception {
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("src"), List.of())) {
            pg.start();
            pg.pgbench(List.of("-i", "-s", "10", "--foreign-keys", "-q"), Duration.ofMinutes(5));
            Path spcDir = pg.tablespaceDir("spc1");
            exec(
                    pg,
                    "create tablespace spc1 location '" + spcDir + "'",
                    "create table in_spc (id int primary key, payload text) tablespace spc1",
                    "insert into in_spc select g, md5(g::text) from generate_series(1, 50000) g",
                    "create unlogged table scratch (id int)",
                    "insert into scratch select generate_series(1, 1000)",
                    "create table commits (id bigint primary key, at timestamptz not null default clock_timestamp())");

            // a writer that commits one row at a time, before and during the backup
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong lastCommitted = new AtomicLong();
            Thread writer = Thread.ofPlatform().start(() -> {
                try (Connection c = pg.connect("postgres");
                        PreparedStatement ps = c.prepareStatement("insert into commits (id) values (?)")) {
                    for (long i = 1; !stop.get(); i++) {
                        ps.setLong(1, i);
                        ps.executeUpdate();
                        lastCommitted.set(i);
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Process load = pg.pgbenchAsync(List.of("-c", "2", "-j", "2", "-T", "60", "-n"));
            Thread.sleep(1500);
            long committedBeforeBackup = lastCommitted.get();
            assertThat(committedBeforeBackup).isPositive();

            LocalBlobStore store = new LocalBlobStore(tmp.resolve("repo"));
            KeySource key = new KeySource.Passphrase("correct horse battery staple".toCharArray());
            Repository.init(store, key, false);
            Repository repo = Repository.open(store, key);
            List<ProgressEvent> events = new CopyOnWriteArrayList<>();
            Snapshot snap = new PgBackup(
                            repo,
                            new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                            events::add,
                            new Cancellation())
                    .run();
            stop.set(true);
            writer.join();
            load.destroy();
            load.waitFor();

            assertThat(events).anyMatch(e -> e.phase().equals("copy") && e.bytesTotal() > 0);
            assertThat(snap.files()).anyMatch(f -> f.path().startsWith("pg_wal/0000000"));
            assertThat(snap.files()).anyMatch(f -> f.path().matches("pg_tblspc/\\d+/PG_15_.*"));
            assertThat(snap.files()).noneMatch(f -> f.path().equals("postmaster.pid"));
            PostgresBackupInfo info = PostgresBackupInfo.of(snap);
            assertThat(info.startLsn()).isPositive();
            assertThat(info.stopLsn()).isGreaterThanOrEqualTo(info.startLsn());
            assertThat(info.backupLabel()).contains("START WAL LOCATION: " + Lsn.format(info.startLsn()));
            assertThat(info.tablespaceMap()).isNotBlank();
            assertThat(info.systemIdentifier()).isNotZero();
            assertThat(repo.listSnapshotIds()).containsExactly(snap.id());
            // the temporary slot is gone and no backup is left running
            assertThat(count(pg, "select count(*) from pg_replication_slots")).isZero();

            Path restoredBase = tmp.resolve("restored");
            Path target = restoredBase.resolve("data");
            Path newSpc = tmp.resolve("spc1-restored");
            PgRestore.Result rr = new PgRestore(
                            repo,
                            new PgRestore.Options("latest", target, 3, Map.of("spc1", newSpc), null),
                            null,
                            new Cancellation())
                    .run();
            assertThat(rr.bytes()).isEqualTo(snap.totalFileBytes());
            assertThat(Files.readSymbolicLink(target.resolve("pg_tblspc")
                            .resolve(snap.tablespaces().getFirst().oid())))
                    .isEqualTo(newSpc);
            assertThat(Files.getPosixFilePermissions(target)).hasSize(3); // 0700

            PgValidator.Report report = new PgValidator(repo, target, snap, 2, null, new Cancellation()).run();
            assertThat(report.problems()).isEmpty();
            assertThat(report.fileMismatches()).isEmpty();
            PgValidator.DatabaseReport db = report.databases().stream()
                    .filter(d -> d.name().equals("postgres"))
                    .findFirst()
                    .orElseThrow();
            assertThat(db.tables()).anyMatch(t -> t.table().equals("pgbench_accounts") && t.rows() == 1_000_000);
            assertThat(db.tables()).anyMatch(t -> t.table().equals("in_spc") && t.rows() == 50_000);
            assertThat(db.foreignKeys()).isNotEmpty().allMatch(f -> f.violations() == 0);
            assertThat(db.btreeIndexesChecked()).isPositive();

            // the restored database holds every row committed before the backup started
            try (LocalCluster restored = LocalCluster.attach(restoredBase)) {
                restored.start();
                long maxId = count(restored, "select coalesce(max(id), 0) from commits");
                assertThat(maxId).isGreaterThanOrEqualTo(committedBeforeBackup);
                assertThat(count(restored, "select count(*) from commits")).isEqualTo(maxId);
                assertThat(count(restored, "select count(*) from in_spc")).isEqualTo(50_000);
                assertThat(count(restored, "select count(*) from scratch"))
                        .isZero(); // unlogged: reset from its init fork
            }
        }
    }
}
