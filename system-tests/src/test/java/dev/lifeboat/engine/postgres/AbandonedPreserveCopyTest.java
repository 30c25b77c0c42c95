package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * "latest" follows the line of history that is still being archived: the cluster whose timeline received archived
 * WAL most recently, not the highest timeline number.
 * <p>
 * History: "latest" was the newest timeline *number* that had archived WAL (RecoveryPlanner.sourceClusterId). A copy
 * restored with --archive-mode preserve (e.g. a DR drill that is started, checked and thrown away) archives a
 * timeline N+1; the source goes on archiving timeline N. From then on every "restore --to-latest" (and every target
 * with the default --timeline latest) silently followed the abandoned copy's history: the copy's rows instead of the
 * source's newest ones, with --validate passing.
 */
class AbandonedPreserveCopyTest {
    @TempDir
    Path tmp;

    @Test
    void latestFollowsTheSourceThatIsStillArchiving() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        try (LocalCluster prod = LocalCluster.create(
                tmp.resolve("prod"), List.of("archive_mode = on", archive.archiveCommand(), "autovacuum = off"))) {
            prod.start();
            exec(prod, "create table t (id bigint primary key)", "insert into t values (1)");
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

            // a drill: restore with archiving preserved, start, write, throw away
            Path drill = tmp.resolve("drill");
            CliResult r = cli(
                    "restore",
                    "--repo",
                    archive.uri(),
                    "--key-file",
                    archive.keyFile().toString(),
                    "--target",
                    drill.resolve("data").toString(),
                    "-q",
                    "--archive-mode",
                    "preserve");
            assertThat(r.exitCode()).as(r.all()).isZero();
            PgTestSupport.giveRepositoryToPostgres(archive.uri());
            try (LocalCluster copy = LocalCluster.attach(drill, true)) {
                copy.start();
                exec(copy, "insert into t values (900)");
                PgTestSupport.drainArchive(copy);
            }

            // production goes on
            exec(prod, "insert into t values (2)", "insert into t values (3)");
            PgTestSupport.drainArchive(prod);
            List<Long> ids = PgTestSupport.restoreAndReadIds(
                    tmp.resolve("latest"), archive.uri(), archive.keyFile(), "t", "--to-latest");
            assertThat(ids).containsExactly(1L, 2L, 3L);
            // the choice is visible to an operator who did fail over to the copy
            CliResult list = cli(
                    "list",
                    "--repo",
                    archive.uri(),
                    "--key-file",
                    archive.keyFile().toString());
            assertThat(list.exitCode()).as(list.all()).isZero();
            assertThat(list.out()).contains("pass --timeline 2");
        }
    }
}
