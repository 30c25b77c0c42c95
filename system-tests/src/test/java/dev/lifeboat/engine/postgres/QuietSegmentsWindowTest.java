package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The newest commit a restore can reach is found however many commit-less segments follow it: a time target between
 * two archived commits is recoverable even when a quiet server closed more than a few segments after them.
 * <p>
 * History: RecoveryPlanner.lastCommit looked for the newest commit only in the last 8 replayable segments and,
 * finding none, fell back to the base backup's stop time. A quiet server whose archive_timeout (or pg_switch_wal)
 * closed more than 8 segments that hold WAL but no commit (running-xacts, checkpoints, logical messages, restore
 * points) therefore "lost" every commit before them: --to-time between two archived commits was refused ("not before
 * the newest commit this repository can replay", naming the backup's stop time), and --to-latest reported
 * "archived WAL reaches" the backup's stop time, although PostgreSQL itself would have stopped at the target fine.
 */
class QuietSegmentsWindowTest {
    @TempDir
    Path tmp;

    @Test
    void timeTargetBeforeQuietSegmentsIsRecoverable() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        try (LocalCluster prod = LocalCluster.create(
                tmp.resolve("prod"),
                List.of(
                        "archive_mode = on",
                        archive.archiveCommand(),
                        "autovacuum = off",
                        "track_commit_timestamp = on"))) {
            prod.start();
            exec(prod, "create table t (id bigint primary key)");
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
            Thread.sleep(200);
            Map<Long, Instant> committed = new TreeMap<>();
            PgTestSupport.insertTimed(prod, 1, 2, committed, 100);
            // a quiet evening: segments closed with WAL in them but no commit
            for (int i = 0; i < 10; i++) {
                exec(prod, "select pg_logical_emit_message(false, 'quiet', 'x')", "select pg_switch_wal()");
            }
            PgTestSupport.drainArchive(prod);
            Instant first = committed.get(1L);
            Instant between =
                    first.plus(Duration.between(first, committed.get(2L)).dividedBy(2));
            List<Long> ids = PgTestSupport.restoreAndReadIds(
                    tmp.resolve("copy"), archive.uri(), archive.keyFile(), "t", "--to-time", between.toString());
            assertThat(ids).containsExactly(1L);
        }
    }
}
