package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code restore --to-latest} of the source must never start from a restored copy's backup that sits on a timeline
 * number the source later took (before the fix it did, and silently returned the copy's data).
 * <p>
 * A copy restored with the default {@code --archive-mode off} promotes to timeline N+1 but never archives its
 * {@code N+1.history}, so the number stays free in the archive. Its backups may go into the same repository (the
 * docs: "an incremental of a copy builds only on the copy's own backups"). When the source later gets a new timeline
 * (failover of a streaming standby, which numbers it current+1; or any promotion that probes the archive, which has
 * no N+1.history), it takes the same number and owns it in {@code timelines/}. {@code RecoveryPlanner.plan} took
 * every backup whose timeline and stop LSN lie on the target timeline's history as a candidate, whatever its
 * {@code clusterId}; the copy's backup is on "timeline 2" and is the newest, so it was chosen. PostgreSQL accepts it
 * as long as the copy's checkpoint lies after the source's switch point on the (archive's) 00000002.history
 * ({@code tliOfPointInHistory} check in InitWalRecovery) and finds the copy's own WAL in pg_wal, then ends at the end
 * of the copy's backup: the "latest" production restore is the drill copy, without the source's later commits.
 * (When the copy's LSNs lie before the switch point PostgreSQL refuses instead: "requested timeline 2 is not a child
 * of this server's history" -- the restore still cannot be started.) An immediate restore of the copy's backup has
 * the same mix the other way round: wal-get serves the source's 0000000200… segments, which PostgreSQL reads before
 * the backup's own copies in pg_wal.
 */
class CopyTimelineCollisionTest {
    @TempDir
    static Path tmp;

    @Test
    void restoreToLatestOfTheSourceNeverStartsFromACopysBackup() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        Repository repo =
                Repository.open(new LocalBlobStore(archive.repoDir()), KeySource.KeyFile.read(archive.keyFile()));
        try (LocalCluster src =
                LocalCluster.create(tmp.resolve("src"), List.of("archive_mode = on", archive.archiveCommand()))) {
            src.start();
            exec(
                    src,
                    "create table who (id int primary key, note text)",
                    "insert into who values (1, 'source, before the backup')");
            backup(repo, src.dataDir());

            // a drill copy, restored as documented (archiving off), used, and backed up into the same repository
            CliResult r = cli(
                    "restore",
                    "--repo",
                    archive.uri(),
                    "--key-file",
                    archive.keyFile().toString(),
                    "--target",
                    tmp.resolve("drill/data").toString(),
                    "-q");
            assertThat(r.exitCode()).as(r.all()).isZero();
            PgTestSupport.giveRepositoryToPostgres(archive.uri());
            Snapshot drillBackup;
            try (LocalCluster drill = LocalCluster.attach(tmp.resolve("drill")).start()) {
                exec(drill, "insert into who values (100, 'DRILL COPY')");
                for (int i = 0; i < 12; i++) {
                    exec(drill, "insert into who values (" + (200 + i) + ", 'drill filler')", "select pg_switch_wal()");
                }
                drillBackup = backup(repo, drill.dataDir());
            }
            assertThat(drillBackup.engineInfo().timeline()).isEqualTo(2);

            // later the source fails over: restarted as a standby and promoted (a promoted streaming standby does the
            // same); PostgreSQL calls the new timeline 2, the archive has no 00000002.history
            exec(src, "insert into who values (2, 'source, after the backup')");
            src.stop();
            Files.writeString(src.dataDir().resolve("standby.signal"), "");
            Processes.check(
                    List.of(
                            "chown",
                            src.osUser(),
                            src.dataDir().resolve("standby.signal").toString()),
                    Duration.ofSeconds(10));
            src.start();
            Processes.check(
                    Processes.asUser(
                            src.osUser(),
                            List.of(
                                    src.binaries().path("pg_ctl"),
                                    "-D",
                                    src.dataDir().toString(),
                                    "-w",
                                    "promote")),
                    Duration.ofMinutes(2));
            exec(src, "checkpoint");
            assertThat(PgTestSupport.count(src, "select timeline_id from pg_control_checkpoint()"))
                    .isEqualTo(2);
            exec(src, "insert into who values (3, 'source, on its new timeline')");
            PgTestSupport.drainArchive(src);

            // disaster: recover the source with everything archived
            Path base = tmp.resolve("dr");
            r = cli(
                    "restore",
                    "--repo",
                    archive.uri(),
                    "--key-file",
                    archive.keyFile().toString(),
                    "--target",
                    base.resolve("data").toString(),
                    "-q",
                    "--to-latest");
            assertThat(r.exitCode()).as(r.all()).isZero();
            PgTestSupport.giveRepositoryToPostgres(archive.uri());
            List<String> notes = new ArrayList<>();
            try (LocalCluster copy = LocalCluster.attach(base).start();
                    Connection c = copy.connect("postgres");
                    Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select note from who order by id")) {
                while (rs.next()) {
                    notes.add(rs.getString(1));
                }
            }
            assertThat(notes)
                    .as("restore --to-latest of the source (output: %s)", r.all())
                    .doesNotContain("DRILL COPY")
                    .contains("source, after the backup", "source, on its new timeline");
        }
    }

    private static Snapshot backup(Repository repo, Path pgdata) throws Exception {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(pgdata, null, null, "postgres", "full", Compression.LOW, 1),
                        null,
                        new Cancellation())
                .run();
    }
}
