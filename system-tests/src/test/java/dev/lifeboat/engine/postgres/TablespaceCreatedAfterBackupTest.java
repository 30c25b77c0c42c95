package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.count;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restore refuses, before it writes anything, to replay a CREATE TABLESPACE whose location exists on this host and
 * is not empty: the copy would share the source's live tablespace files.
 * <p>
 * History: only tablespaces that the backup holds were checked (requireEmpty / --tablespace-map). A tablespace
 * created after the backup reaches the copy as an XLOG_TBLSPC_CREATE record, and PostgreSQL's redo
 * ({@code create_tablespace_directories} in tablespace.c, InRecovery) removes and recreates, or reuses, the
 * PG_15_* directory at the record's LOCATION and points the copy's pg_tblspc symlink at it. A {@code --to-latest}
 * restore on the source's host reported success, and the copy then replayed into, and wrote into, the source's
 * relation files (dropping the table in the copy emptied the source's).
 */
class TablespaceCreatedAfterBackupTest {
    @TempDir
    Path tmp;

    @Test
    void restoreRefusesToReplayATablespaceIntoTheSourcesLocation() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        try (LocalCluster prod = LocalCluster.create(
                tmp.resolve("prod"), List.of("archive_mode = on", archive.archiveCommand(), "autovacuum = off"))) {
            prod.start();
            exec(prod, "create table base_t (id int)", "insert into base_t select generate_series(1, 10)");
            CliResult b = cli(
                    "backup",
                    "--repo",
                    archive.uri(),
                    "--key-file",
                    archive.keyFile().toString(),
                    "--pgdata",
                    prod.dataDir().toString(),
                    "-q");
            assertThat(b.exitCode()).as(b.all()).isZero();

            // after the backup: a tablespace, a table in it
            Path ts = prod.tablespaceDir("ts");
            exec(
                    prod,
                    "create tablespace ts location '" + ts + "'",
                    "create table tt (id int) tablespace ts",
                    "insert into tt select generate_series(1, 1000)",
                    "checkpoint");
            long oid = count(prod, "select oid from pg_tablespace where spcname = 'ts'");
            PgTestSupport.drainArchive(prod);

            Path data = tmp.resolve("copy").resolve("data");
            CliResult r = cli(
                    "restore",
                    "--repo",
                    archive.uri(),
                    "--key-file",
                    archive.keyFile().toString(),
                    "--target",
                    data.toString(),
                    "--to-latest",
                    "-q");
            assertThat(r.exitCode()).as(r.all()).isNotZero();
            assertThat(r.all())
                    .contains("tablespace " + oid)
                    .contains(ts.toString())
                    .contains("--to-lsn");
            assertThat(Files.exists(data))
                    .as("nothing written before the refusal")
                    .isFalse();
            assertThat(count(prod, "select count(*) from tt")).isEqualTo(1000);
        }
    }
}
