package dev.lifeboat.engine.postgres.differential;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An incremental planned from the WAL since its parent reads the blocks that WAL touched, not the files they are in:
 * after a few row changes in a 40 MB table it reads a small share of it, and its restore (and the next one's, on top
 * of blocks taken over twice) equals the source by every check of the differential comparison.
 */
class WalSummaryIncrementalTest {
    @TempDir
    Path tmp;

    @Test
    void anIncrementalReadsTheBlocksTheWalTouched() throws Exception {
        Repository repo = DiffCluster.newRepository(tmp);
        try (LocalCluster pg = DiffCluster.createSource(tmp.resolve("source"))) {
            DiffCluster.exec(
                    pg,
                    "postgres",
                    "create extension pg_visibility",
                    "create table t (id int primary key, v text)",
                    "insert into t select g, md5(g::text) from generate_series(1, 500000) g",
                    "vacuum freeze t",
                    "checkpoint");
            Snapshot full = DiffCluster.backup(repo, pg, "full");
            // changes at both ends and in the middle, a delete that clears visibility map bits, a truncation
            DiffCluster.exec(
                    pg,
                    "postgres",
                    "update t set v = 'changed' where id in (1, 250000, 499999)",
                    "delete from t where id between 1000 and 1010",
                    "create table small as select g from generate_series(1, 100) g",
                    "checkpoint");
            Snapshot incr1 = DiffCluster.backup(repo, pg, "incr");
            assertRestoreEqualsSource(repo, incr1, pg, "1");
            DiffCluster.exec(
                    pg,
                    "postgres",
                    "delete from t where id > 490000",
                    "vacuum t", // truncates the table's end
                    "insert into t values (490001, 'after the truncation')",
                    "checkpoint");
            Snapshot incr2 = DiffCluster.backup(repo, pg, "incr");
            assertThat(incr1.parent()).isEqualTo(full.id());
            assertThat(incr2.parent()).isEqualTo(incr1.id());
            long table;
            try (Connection c = pg.connect("postgres")) {
                table = DiffCluster.queryLong(c, "select pg_relation_size('t')");
            }
            assertThat(dataRead(full)).isGreaterThan(table);
            assertThat(dataRead(incr1))
                    .as("bytes of data files the first incremental read (the full read %d)", dataRead(full))
                    .isLessThan(dataRead(full) / 5);
            assertRestoreEqualsSource(repo, incr2, pg, "2");
            // a third link: blocks the chain stored as page deltas are taken over too (their content ids are in
            // the manifest), so what it reads stays small
            DiffCluster.exec(pg, "postgres", "update t set v = 'third' where id = 2", "checkpoint");
            Snapshot incr3 = DiffCluster.backup(repo, pg, "incr");
            assertThat(incr3.files().stream()
                            .filter(f -> f.kind() == Snapshot.Kind.FILE)
                            .flatMap(f -> f.chunks().stream())
                            .anyMatch(r -> r.contains("=")))
                    .as("the chain holds page deltas with content ids")
                    .isTrue();
            assertThat(dataRead(incr3))
                    .as("bytes of data files the third incremental read (the first read %d)", dataRead(incr1))
                    .isLessThan(dataRead(full) / 5);
            assertRestoreEqualsSource(repo, incr3, pg, "3");
        }
    }

    /** Bytes a backup read from data files (what it read less the WAL it copied). */
    private static long dataRead(Snapshot s) {
        return s.stats().bytesRead()
                - s.files().stream()
                        .filter(e -> e.path().startsWith("pg_wal/"))
                        .mapToLong(Snapshot.FileEntry::size)
                        .sum();
    }

    private void assertRestoreEqualsSource(Repository repo, Snapshot s, LocalCluster source, String n)
            throws Exception {
        try (LocalCluster restored = DiffCluster.restoreAndStart(repo, s, tmp.resolve("restore-" + n))) {
            assertThat(new ClusterComparator(source, restored, Files.createDirectories(tmp.resolve("cmp-" + n)))
                            .compare())
                    .as("restore of %s against the source", s.id())
                    .isEmpty();
        }
    }
}
