package dev.lifeboat.engine.postgres.differential;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restore from a replication region alone, judged against the source: a backup and the WAL after it (updates,
 * deletes, VACUUM, a new index, a TOASTed table) are replicated to region dr, the primary repository is deleted, and a
 * restore with {@code --from-region dr --to-latest} (whose {@code restore_command} reads the region too) must equal
 * the quiesced source by pg_dump, visibility map, index-only scans, index probes and pg_amcheck --heapallindexed. The
 * region is opened read-only: the restore and its replay leave nothing in it.
 */
class RegionRestoreDifferentialTest {
    @TempDir
    Path tmp;

    @Test
    void aRestoreFromARegionAloneEqualsTheSource() throws Exception {
        PgTestSupport.ArchiveSetup repo = PgTestSupport.archiveRepository(tmp);
        String key = repo.keyFile().toString();
        Path regionDir = tmp.resolve("dr");
        Path replication = tmp.resolve("replication.json");
        Files.writeString(replication, """
                {"regions": [{"name": "dr", "uri": "%s"}]}""".formatted(regionDir.toUri()));
        TestLauncher.shareWithPostgres(replication);
        List<String> settings = new ArrayList<>(DiffCluster.SETTINGS);
        settings.addAll(List.of("archive_mode = on", repo.archiveCommand()));
        try (LocalCluster source = LocalCluster.create(tmp.resolve("source"), settings)) {
            source.start();
            DiffCluster.exec(
                    source,
                    "postgres",
                    "create extension pg_visibility",
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
                    source.dataDir().toString(),
                    "-q");
            assertThat(full.exitCode()).as(full.all()).isZero();
            DiffCluster.exec(
                    source,
                    "postgres",
                    "update w set v = v || '+' where id % 10 = 0",
                    "delete from w where k = 3",
                    "vacuum w",
                    "create index w_v on w (v)",
                    "create table big (id int primary key, doc text)",
                    "insert into big select g, repeat(md5(g::text), 400) from generate_series(1, 200) g",
                    "update w set k = k + 1000 where id % 7 = 0",
                    "vacuum freeze big");
            PgTestSupport.drainArchive(source);

            CliResult once =
                    cli("replication", "run", "--once", "--repo", repo.uri(), "--replication", replication.toString());
            assertThat(once.exitCode()).as(once.all()).isZero();
            // the primary is gone: the restore and its replay have only the region
            try (Stream<Path> walk = Files.walk(repo.repoDir())) {
                walk.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
            }
            assertThat(repo.repoDir()).doesNotExist();
            if (Processes.isRoot()) {
                Processes.check(List.of("chown", "-R", "postgres", regionDir.toString()), Duration.ofSeconds(60));
            }

            Map<String, String> regionBefore = tree(regionDir);
            Path restoreBase = tmp.resolve("restore");
            CliResult r = cli(
                    "restore",
                    "--replication",
                    replication.toString(),
                    "--from-region",
                    "dr",
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
                assertThat(ClusterComparator.compareAndDescribe(source, restored, "region-restore"))
                        .as("differences between the source and its restore from region dr")
                        .isEmpty();
            }
            assertThat(tree(regionDir))
                    .as("the restore and its replay wrote nothing in the region: no lock, no lease, no directory")
                    .isEqualTo(regionBefore);
        }
    }

    /** Every file and directory under {@code dir}: its size and modification time (a directory's changes with it). */
    private static Map<String, String> tree(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.toList()) {
                out.put(
                        dir.relativize(p).toString(),
                        Files.size(p) + " " + Files.getLastModifiedTime(p).toMillis());
            }
        }
        return out;
    }
}
