package dev.lifeboat.engine.postgres.differential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.List;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Heap page changes PostgreSQL does not WAL-log when data checksums and wal_log_hints are off (initdb's default):
 * hint bits, and the page's PD_ALL_VISIBLE flag that VACUUM sets along with the visibility map bit (only the map
 * page gets the record's LSN). Such a page keeps the LSN it had when the parent backup was taken although its bytes
 * changed. Found by {@link DifferentialBackupTest} (seed 1); these are the smallest reproductions.
 */
class NonWalLoggedPageChangeTest {
    @TempDir
    Path tmp;

    /**
     * A block stored as a delta in one incremental and taken over by page LSN in the next, after hint bits changed
     * it, must still restore: the manifest digest has to describe the bytes the restore writes.
     */
    @Test
    void hintBitsOnABlockStoredAsDeltaKeepTheNextIncrementalRestorable() throws Exception {
        Repository repo = DiffCluster.newRepository(tmp);
        try (LocalCluster pg = DiffCluster.createSource(tmp.resolve("source"))) {
            // six pages, the last one half empty: an update there stays on it (HOT), is stored as a page delta (one
            // page of six changed), and leaves enough free space that reading the page does not prune it (WAL-logged)
            DiffCluster.exec(
                    pg,
                    "postgres",
                    "create table t (id int primary key, v text)",
                    "insert into t select g, 'row ' || g from generate_series(1, 1000) g",
                    "select count(*) from t",
                    "checkpoint");
            Snapshot full = DiffCluster.backup(repo, pg, "full");
            // the change reaches disk before the hint bits of the new row versions are set
            DiffCluster.exec(pg, "postgres", "update t set v = v || '!' where id > 997", "checkpoint");
            Snapshot incr1 = DiffCluster.backup(repo, pg, "incr");
            DiffCluster.exec(
                    pg, "postgres", "select count(*) from t", "checkpoint"); // hint bits only: no WAL, same LSN
            Snapshot incr2 = DiffCluster.backup(repo, pg, "incr");
            assertThat(List.of(incr1.parent(), incr2.parent())).containsExactly(full.id(), incr1.id());
            String fingerprint = fingerprint(pg);
            assertThatCode(() -> {
                        try (LocalCluster restored = DiffCluster.restoreAndStart(repo, incr2, tmp.resolve("restore"))) {
                            assertThat(fingerprint(restored)).isEqualTo(fingerprint);
                        }
                    })
                    .as(
                            "restore of %s (incr on %s, incr on full %s) after hint bits changed a block the first "
                                    + "incremental "
                                    + "stored as a delta",
                            incr2.id(), incr1.id(), full.id())
                    .doesNotThrowAnyException();
        }
    }

    /**
     * VACUUM sets PD_ALL_VISIBLE on an unchanged page: the restore must have it, or the next DELETE on the restored
     * copy skips clearing the map bit (heap_delete clears it only when the page says all-visible) and index-only
     * scans return deleted rows from then on.
     */
    @Test
    void vacuumAfterTheFullBackupReachesThePageFlagInTheIncremental() throws Exception {
        Repository repo = DiffCluster.newRepository(tmp);
        try (LocalCluster pg = DiffCluster.createSource(tmp.resolve("source"))) {
            DiffCluster.exec(
                    pg,
                    "postgres",
                    "create extension pg_visibility",
                    "create table t (id int primary key, v text)",
                    "insert into t select g, 'row ' || g from generate_series(1, 10) g",
                    "select count(*) from t",
                    "checkpoint");
            Snapshot full = DiffCluster.backup(repo, pg, "full");
            DiffCluster.exec(pg, "postgres", "vacuum t", "checkpoint");
            Snapshot incr = DiffCluster.backup(repo, pg, "incr");
            List<String> sourceVm;
            try (Connection c = pg.connect("postgres")) {
                sourceVm = DiffCluster.rows(
                        c, "select blkno, all_visible, all_frozen, pd_all_visible from pg_visibility('t') order by 1");
            }
            assertThat(sourceVm).as("source after VACUUM (the control)").containsExactly("0|t|f|t");
            SoftAssertions soft = new SoftAssertions();
            String where = " (full " + full.id() + ", VACUUM, incremental " + incr.id() + ")";
            try (LocalCluster restored = DiffCluster.restoreAndStart(repo, incr, tmp.resolve("restore"));
                    Connection c = restored.connect("postgres")) {
                soft.assertThat(DiffCluster.rows(
                                c,
                                "select blkno, all_visible, all_frozen, pd_all_visible from pg_visibility('t') "
                                        + "order by 1"))
                        .as("restored visibility (blkno|all_visible|all_frozen|pd_all_visible)" + where)
                        .isEqualTo(sourceVm);
                DiffCluster.exec(restored, "postgres", "delete from t where id <= 5");
                soft.assertThat(DiffCluster.rows(c, "select * from pg_check_visible('t')"))
                        .as("pg_check_visible after a DELETE on the restored copy" + where)
                        .isEmpty();
                soft.assertThat(indexOnlyCount(c))
                        .as("index-only count after a DELETE of 5 of 10 rows on the restored copy" + where)
                        .isEqualTo(5);
            }
            soft.assertAll();
        }
    }

    private static long indexOnlyCount(Connection c) throws Exception {
        try (var st = c.createStatement()) {
            st.execute("set enable_seqscan = off");
            st.execute("set enable_bitmapscan = off");
            assertThat(String.join("\n", DiffCluster.rows(c, "explain select count(*) from t")))
                    .contains("Index Only Scan");
            return DiffCluster.queryLong(c, "select count(*) from t");
        }
    }

    private static String fingerprint(LocalCluster pg) throws Exception {
        try (Connection c = pg.connect("postgres")) {
            return DiffCluster.rows(c, "select md5(string_agg(t::text, ',' order by id)) from t")
                    .getFirst();
        }
    }
}
