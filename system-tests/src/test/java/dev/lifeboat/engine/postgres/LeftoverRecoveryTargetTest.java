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
 * A restore sets every recovery_target* setting itself (in postgresql.auto.conf, read last), so recovery settings
 * left in the source's postgresql.conf never change where the copy stops.
 * <p>
 * History: RecoverySettings replaced earlier recovery settings only in postgresql.auto.conf, and --to-latest wrote
 * no recovery_target. Since PostgreSQL 12 the documented place for recovery settings is postgresql.conf, and
 * PostgreSQL ignores them outside recovery, so a cluster that was itself born from a restored base backup (the usual
 * recipe: recovery_target = 'immediate', recovery_target_action = 'promote' in postgresql.conf) runs happily with
 * them. The leftover 'immediate' applied: the copy stopped at the end of the base backup and promoted, silently
 * recovering none of the archived WAL, while the restore reported "the end of the archived WAL" and --validate
 * passed.
 */
class LeftoverRecoveryTargetTest {
    @TempDir
    Path tmp;

    @Test
    void toLatestIgnoresRecoverySettingsInPostgresqlConf() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        try (LocalCluster prod = LocalCluster.create(
                tmp.resolve("prod"),
                List.of(
                        "archive_mode = on",
                        archive.archiveCommand(),
                        "autovacuum = off",
                        "# left from when this cluster was restored from a base backup",
                        "recovery_target = 'immediate'",
                        "recovery_target_action = 'promote'"))) {
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
            exec(prod, "insert into t values (2)", "insert into t values (3)");
            PgTestSupport.drainArchive(prod);
            List<Long> ids = PgTestSupport.restoreAndReadIds(
                    tmp.resolve("copy"), archive.uri(), archive.keyFile(), "t", "--to-latest");
            assertThat(ids).containsExactly(1L, 2L, 3L);
        }
    }
}
