package dev.lifeboat.engine.postgres.differential;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restore that replays across a timeline switch, judged against the cluster that made the switch: a backup on
 * timeline 1, a point-in-time copy of it promoted to timeline 2 that replaces the original and keeps changing
 * (updates, deletes, VACUUM, a new index, a TOASTed table), then a restore from the timeline-1 backup to the archive's
 * end. Replay
 * runs through timeline 2's first segment, which the archive holds twice (timeline 1's copy goes on with timeline 1's
 * own history); the restore must equal the quiesced timeline-2 cluster by pg_dump, visibility map, index-only scans,
 * index probes and pg_amcheck --heapallindexed.
 */
class TimelineSwitchDifferentialTest {
    @TempDir
    Path tmp;

    @Test
    void aRestoreAcrossATimelineSwitchEqualsTheClusterThatSwitched() throws Exception {
        PgTestSupport.ArchiveSetup repo = PgTestSupport.archiveRepository(tmp);
        String key = repo.keyFile().toString();
        List<String> settings = new ArrayList<>(DiffCluster.SETTINGS);
        settings.addAll(List.of("archive_mode = on", repo.archiveCommand(), "track_commit_timestamp = on"));
        Map<Long, Instant> committed = new TreeMap<>();
        Path copyBase = tmp.resolve("tl2");
        try (LocalCluster a = LocalCluster.create(tmp.resolve("a"), settings)) {
            a.start();
            DiffCluster.exec(
                    a,
                    "postgres",
                    "create extension pg_visibility",
                    "create table t (id bigint primary key)",
                    "create table w (id int primary key, k int, v text)",
                    "create index w_k on w (k)",
                    "insert into w select g, g % 97, repeat('v' || g, 20) from generate_series(1, 20000) g",
                    "vacuum freeze w");
            CliResult full = cli(
                    "backup",
                    "--repo",
                    repo.uri(),
                    "--key-file",
                    key,
                    "--pgdata",
                    a.dataDir().toString(),
                    "-q");
            assertThat(full.exitCode()).as(full.all()).isZero();
            DiffCluster.exec(a, "postgres", "update w set v = v || '+' where id % 10 = 0", "delete from w where k = 3");
            PgTestSupport.insertTimed(a, 1, 10, committed, 20);
            // timeline 1 goes on after the point the copy branches from: its copy of the switch segment differs
            DiffCluster.exec(a, "postgres", "delete from w where k = 5", "vacuum w");
            PgTestSupport.insertTimed(a, 11, 20, committed, 20);
            PgTestSupport.drainArchive(a);
            a.stop();

            CliResult r = cli(
                    "restore",
                    "--repo",
                    repo.uri(),
                    "--key-file",
                    key,
                    "--target",
                    copyBase.resolve("data").toString(),
                    "--to-time",
                    committed.get(10L).toString(),
                    "--archive-mode",
                    "preserve",
                    "-q");
            assertThat(r.exitCode()).as(r.all()).isZero();
        }
        PgTestSupport.giveRepositoryToPostgres(repo.uri());
        try (LocalCluster tl2 = LocalCluster.attach(copyBase, true)) {
            tl2.start();
            DiffCluster.waitUntilPromoted(tl2, Duration.ofMinutes(3));
            assertThat(PgTestSupport.count(tl2, "select timeline_id from pg_control_checkpoint()"))
                    .isEqualTo(2);
            DiffCluster.exec(
                    tl2,
                    "postgres",
                    "update w set k = k + 1000 where id % 7 = 0",
                    "delete from w where k = 11",
                    "vacuum w",
                    "create index w_v on w (v)",
                    "create table big (id int primary key, doc text)",
                    "insert into big select g, repeat(md5(g::text), 400) from generate_series(1, 200) g",
                    "update w set v = 'hot' where id between 100 and 120",
                    "vacuum freeze big");
            PgTestSupport.insertTimed(tl2, 101, 110, committed, 20);
            PgTestSupport.drainArchive(tl2);

            Path restoreBase = tmp.resolve("restore");
            CliResult r = cli(
                    "restore",
                    "--repo",
                    repo.uri(),
                    "--key-file",
                    key,
                    "--target",
                    restoreBase.resolve("data").toString(),
                    "--to-latest",
                    "-q");
            assertThat(r.exitCode()).as(r.all()).isZero();
            Files.writeString(
                    restoreBase.resolve("data").resolve("postgresql.auto.conf"),
                    "\n" + String.join("\n", DiffCluster.SETTINGS) + "\n",
                    StandardOpenOption.APPEND);
            try (LocalCluster restored = LocalCluster.attach(restoreBase)) {
                restored.start();
                DiffCluster.waitUntilPromoted(restored, Duration.ofMinutes(3));
                assertThat(PgTestSupport.ids(restored))
                        .as("timeline 1 to the branch point, then timeline 2")
                        .isEqualTo(PgTestSupport.concat(PgTestSupport.range(1, 10), PgTestSupport.range(101, 110)));
                assertThat(ClusterComparator.compareAndDescribe(tl2, restored, "timeline-switch"))
                        .as("differences between the timeline-2 cluster and its restore")
                        .isEmpty();
            }
        }
    }
}
