package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restore to a point, promote (timeline 2), keep writing into the same repository, back up again: PITR then reaches
 * points on both timelines, including timeline 1's history after the switch.
 */
class TimelineSwitchTest {
    @TempDir
    Path tmp;

    @Test
    void pitrReachesPointsOnBothTimelines() throws Exception {
        Path launcher = TestLauncher.install();
        Path keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        String uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        assertThat(cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        if (Processes.isRoot()) {
            Processes.check(
                    List.of("chown", "-R", "postgres", tmp.resolve("repo").toString()), Duration.ofSeconds(30));
        }
        String archive =
                "archive_command = '" + launcher + " wal-push --repo " + uri + " --key-file " + keyFile + " %p'";
        Map<Long, Instant> committed = new TreeMap<>();
        try (LocalCluster a = LocalCluster.create(
                tmp.resolve("a"), List.of("archive_mode = on", archive, "track_commit_timestamp = on"))) {
            a.start();
            PgTestSupport.exec(a, "create table t (id bigint primary key)");
            assertThat(backup(uri, keyFile, a).exitCode()).isZero();
            PgTestSupport.insertTimed(a, 1, 20, committed, 50);
            PgTestSupport.drainArchive(a);
            // the copy replaces a: a archives no more (its shutdown switches and archives one last segment). A source
            // that archived on after the copy would keep "latest" (AbandonedPreserveCopyTest)
            a.stop();

            // restore timeline 1 to just after row 10 and promote: timeline 2, which replaces timeline 1 (so it
            // archives)
            Path rBase = tmp.resolve("r");
            CliResult r = cli(
                    "restore",
                    "--repo",
                    uri,
                    "--key-file",
                    keyFile.toString(),
                    "--target",
                    rBase.resolve("data").toString(),
                    "--to-time",
                    committed.get(10L).toString(),
                    "--validate",
                    "-q",
                    "--archive-mode",
                    "preserve");
            assertThat(r.exitCode()).as(r.all()).isZero();
            try (LocalCluster r2 = LocalCluster.attach(rBase, true)) {
                r2.start();
                assertThat(PgTestSupport.ids(r2)).isEqualTo(PgTestSupport.range(1, 10));
                assertThat(PgTestSupport.count(r2, "select timeline_id from pg_control_checkpoint()"))
                        .isEqualTo(2);
                PgTestSupport.insertTimed(r2, 101, 120, committed, 50);
                PgTestSupport.drainArchive(r2);
                assertThat(backup(uri, keyFile, r2).exitCode()).isZero();
            }
        }
        CliResult list = cli("list", "--repo", uri, "--key-file", keyFile.toString());
        // timeline 2 is the copy that replaced timeline 1 (it archives now): the source's history runs through both
        assertThat(list.out())
                .containsPattern("timeline 1 \\(the original cluster [^;]*\\): recoverable")
                .containsPattern("timeline 2 \\(a copy restored from backup \\S+ at [^;]*\\): recoverable");

        // a point on timeline 2 (through timeline 1 up to the switch)
        assertThat(restoreIds(
                        uri, keyFile, "tl2", "--to-time", committed.get(105L).toString()))
                .isEqualTo(PgTestSupport.concat(PgTestSupport.range(1, 10), PgTestSupport.range(101, 105)));
        // points on timeline 1, before and after the switch point (timeline 1's own history after it)
        assertThat(restoreIds(
                        uri,
                        keyFile,
                        "tl1-early",
                        "--to-time",
                        committed.get(4L).toString(),
                        "--timeline",
                        "1"))
                .isEqualTo(PgTestSupport.range(1, 4));
        assertThat(restoreIds(
                        uri,
                        keyFile,
                        "tl1-late",
                        "--to-time",
                        committed.get(15L).toString(),
                        "--timeline",
                        "1"))
                .isEqualTo(PgTestSupport.range(1, 15));

        // timeline 2's first segment holds timeline 1's records up to the switch and timeline 2's after it; timeline
        // 1's copy of that segment goes on with timeline 1's future. Without timeline 2's, PostgreSQL would replay
        // timeline 1's and call it timeline 2: the gap must be named, not bridged
        Path copy = tmp.resolve("repo-gap");
        Processes.check(List.of("cp", "-a", tmp.resolve("repo").toString(), copy.toString()), Duration.ofSeconds(60));
        Repository gapRepo = Repository.open(new LocalBlobStore(copy), KeySource.KeyFile.read(keyFile));
        String switchSegment = new WalArchive(gapRepo)
                .list().stream()
                        .filter(n -> WalArchive.isSegment(n) && n.startsWith("00000002"))
                        .sorted()
                        .findFirst()
                        .orElseThrow();
        new WalArchive(gapRepo).delete(switchSegment);
        String gapUri = PgTestSupport.repoUri(copy);
        assertThat(cli("list", "--repo", gapUri, "--key-file", keyFile.toString())
                        .out())
                .containsPattern("timeline 2 [^\\n]*MISSING WAL: [^\\n]*" + switchSegment);
        CliResult plan = cli(
                "restore",
                "--repo",
                gapUri,
                "--key-file",
                keyFile.toString(),
                "--plan",
                "--timeline",
                "2",
                "--to-time",
                committed.get(105L).toString());
        assertThat(plan.exitCode()).as(plan.all()).isNotZero();
        assertThat(plan.err()).contains(switchSegment);
    }

    private static CliResult backup(String uri, Path key, LocalCluster pg) {
        return cli(
                "backup",
                "--repo",
                uri,
                "--key-file",
                key.toString(),
                "--pgdata",
                pg.dataDir().toString(),
                "-q");
    }

    private List<Long> restoreIds(String uri, Path key, String name, String... target) throws Exception {
        return PgTestSupport.restoreAndReadIds(tmp.resolve("restore-" + name), uri, key, "t", target);
    }
}
