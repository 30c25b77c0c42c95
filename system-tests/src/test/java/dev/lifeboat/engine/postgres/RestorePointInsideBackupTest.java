package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restore point name that also occurs between a backup's start and stop LSN: that backup cannot be the base.
 * <p>
 * Before the fix, {@code RecoveryPlanner.findMarker} looked for the name only from each candidate's <em>stop</em> LSN
 * on and picked the
 * newest backup with an occurrence after its stop. PostgreSQL checks {@code recovery_target_name} on every
 * XLOG_RESTORE_POINT it replays from the backup's <em>redo</em> LSN on, also before consistency
 * ({@code recoveryStopsAfter} in xlogrecovery.c has no reachedConsistency test for names), so it stops at the
 * occurrence inside the backup's own WAL and then refuses to start: "FATAL: requested recovery stop point is before
 * consistent recovery point". The restore command succeeded; the copy never started.
 */
class RestorePointInsideBackupTest {
    @TempDir
    static Path tmp;

    @Test
    void aRestorePointNameAlsoMadeDuringTheNewestBackupStillRecovers() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        try (LocalCluster pg =
                LocalCluster.create(tmp.resolve("pg"), List.of("archive_mode = on", archive.archiveCommand()))) {
            pg.start();
            Repository repo =
                    Repository.open(new LocalBlobStore(archive.repoDir()), KeySource.KeyFile.read(archive.keyFile()));
            exec(pg, "create table t (id int primary key)", "insert into t select generate_series(1, 10)");
            backup(repo, pg, ProgressListener.NONE);
            // the nightly "deploy" restore point happens to be made while the next backup copies files
            AtomicBoolean made = new AtomicBoolean();
            Snapshot during = backup(repo, pg, e -> {
                if (made.compareAndSet(false, true)) {
                    try {
                        exec(pg, "insert into t values (11)", "select pg_create_restore_point('deploy')");
                    } catch (SQLException ex) {
                        throw new RuntimeException(ex);
                    }
                }
            });
            assertThat(made).isTrue();
            // ... and again after it
            exec(
                    pg,
                    "insert into t values (12)",
                    "select pg_create_restore_point('deploy')",
                    "insert into t values (13)");
            PgTestSupport.drainArchive(pg);

            Path base = tmp.resolve("copy");
            CliResult r = cli(
                    "restore",
                    "--repo",
                    archive.uri(),
                    "--key-file",
                    archive.keyFile().toString(),
                    "--target",
                    base.resolve("data").toString(),
                    "-q",
                    "--to-name",
                    "deploy");
            assertThat(r.exitCode()).as(r.all()).isZero();
            PgTestSupport.giveRepositoryToPostgres(archive.uri());
            try (LocalCluster copy = LocalCluster.attach(base)) {
                try {
                    copy.start();
                } catch (IOException e) {
                    throw new AssertionError(
                            "restore --to-name deploy (planned on backup " + during.id() + ", which contains "
                                    + "the first 'deploy' in its own WAL) does not start:\n" + e.getMessage(),
                            e);
                }
                // PostgreSQL stops at the first 'deploy' after the redo point of the backup it starts from: with the
                // older backup that is the one made during the newer backup
                assertThat(PgTestSupport.ids(copy)).isEqualTo(PgTestSupport.range(1, 11));
            }
        }
    }

    private static Snapshot backup(Repository repo, LocalCluster pg, ProgressListener l) throws Exception {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 1),
                        l,
                        new Cancellation())
                .run();
    }
}
