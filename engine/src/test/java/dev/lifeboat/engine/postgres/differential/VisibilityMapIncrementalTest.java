package dev.lifeboat.engine.postgres.differential;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The review's reproduction: a change to an all-frozen page after a full backup must reach the visibility map of an
 * incremental's restore. Clearing a visibility map bit is not WAL-logged on the map page itself (the heap record
 * carries it), so the map page keeps its old LSN while its bits change.
 */
class VisibilityMapIncrementalTest {
    @TempDir
    Path tmp;

    /** The issue as reported: index-only scans count deleted rows, pg_check_visible lists them. */
    @Test
    void deleteAfterFreezeReachesTheIncrementalsVisibilityMap() throws Exception {
        scenario("delete from t where id % 2 = 0", 5);
    }

    /** A row lock sets xmax on a frozen tuple: the page stays all-visible but must lose its all-frozen bit. */
    @Test
    void rowLockAfterFreezeClearsAllFrozenInTheIncremental() throws Exception {
        scenario("begin; select * from t where id <= 3 for update; commit", 10);
    }

    @Test
    void keyShareLockAfterFreezeClearsAllFrozenInTheIncremental() throws Exception {
        scenario("begin; select * from t where id <= 3 for key share; commit", 10);
    }

    /** HOT update: the index is untouched, the old versions become dead heap-only tuples. */
    @Test
    void hotUpdateAfterFreezeReachesTheIncrementalsVisibilityMap() throws Exception {
        scenario("update t set v = v || '!' where id <= 5", 10);
    }

    /** Non-HOT update (the key changes): five new index entries, five dead ones an index-only scan would count. */
    @Test
    void keyUpdateAfterFreezeReachesTheIncrementalsVisibilityMap() throws Exception {
        scenario("update t set id = id + 100 where id <= 5", 10);
    }

    private void scenario(String change, long expectedRows) throws Exception {
        Repository repo = DiffCluster.newRepository(tmp);
        try (LocalCluster pg = DiffCluster.createSource(tmp.resolve("source"))) {
            DiffCluster.exec(
                    pg,
                    "postgres",
                    "create extension pg_visibility",
                    "create table t (id int primary key, v text)",
                    "insert into t select g, 'row ' || g from generate_series(1, 10) g",
                    "vacuum freeze t");
            Snapshot full = DiffCluster.backup(repo, pg, "full");
            try (Connection c = pg.connect("postgres");
                    Statement st = c.createStatement()) {
                st.execute(change);
                st.execute("checkpoint");
            }
            Snapshot incr = DiffCluster.backup(repo, pg, "incr");
            SoftAssertions soft = new SoftAssertions();
            soft.assertThat(incr.type()).as("backup type").isEqualTo("incr");
            soft.assertThat(incr.parent()).as("incremental's parent").isEqualTo(full.id());
            List<String> sourceVm;
            try (Connection c = pg.connect("postgres")) {
                sourceVm = DiffCluster.rows(
                        c, "select blkno, all_visible, all_frozen, pd_all_visible from pg_visibility('t') order by 1");
                // the control: PostgreSQL's own view of the source agrees with itself
                soft.assertThat(DiffCluster.rows(c, "select * from pg_check_frozen('t')"))
                        .as("source pg_check_frozen")
                        .isEmpty();
                soft.assertThat(DiffCluster.rows(c, "select * from pg_check_visible('t')"))
                        .as("source pg_check_visible")
                        .isEmpty();
            }
            try (LocalCluster restored = DiffCluster.restoreAndStart(repo, incr, tmp.resolve("restore"));
                    Connection c = restored.connect("postgres")) {
                String where = " (after '" + change + "'; full " + full.id() + ", incremental " + incr.id() + ")";
                soft.assertThat(count(c, false))
                        .as("sequential-scan count of t" + where)
                        .isEqualTo(expectedRows);
                soft.assertThat(count(c, true))
                        .as("index-only-scan count of t" + where)
                        .isEqualTo(expectedRows);
                soft.assertThat(DiffCluster.rows(c, "select * from pg_check_visible('t')"))
                        .as("pg_check_visible('t'): tuples on all-visible pages that are not" + where)
                        .isEmpty();
                soft.assertThat(DiffCluster.rows(c, "select * from pg_check_frozen('t')"))
                        .as("pg_check_frozen('t'): tuples on all-frozen pages that are not frozen" + where)
                        .isEmpty();
                soft.assertThat(DiffCluster.rows(
                                c,
                                "select blkno, all_visible, all_frozen, pd_all_visible from pg_visibility('t') "
                                        + "order by 1"))
                        .as("visibility map of t (blkno|all_visible|all_frozen|pd_all_visible) equal to the source's"
                                + where)
                        .isEqualTo(sourceVm);
            }
            soft.assertAll();
        }
    }

    /** count(*) of t with the plan forced to a sequential or an index-only scan (checked with EXPLAIN). */
    private static long count(Connection c, boolean indexOnly) throws Exception {
        try (Statement st = c.createStatement()) {
            st.execute("set enable_seqscan = " + !indexOnly);
            st.execute("set enable_indexonlyscan = " + indexOnly);
            st.execute("set enable_indexscan = " + indexOnly); // off would disable index-only scans too
            st.execute("set enable_bitmapscan = off");
            String plan = String.join("\n", DiffCluster.rows(c, "explain select count(*) from t"));
            if (!plan.contains(indexOnly ? "Index Only Scan" : "Seq Scan")) {
                throw new AssertionError("could not force the plan: " + plan);
            }
            return DiffCluster.queryLong(c, "select count(*) from t");
        }
    }
}
