package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --to-xid} of a two-phase transaction stops at its COMMIT PREPARED, as PostgreSQL does
 * ({@code recoveryStopsBefore/After} in xlogrecovery.c match the prepared xid of XLOG_XACT_COMMIT_PREPARED).
 * <p>
 * History: WalInspector's marker pattern "(RESTORE_POINT|COMMIT|ABORT)\b" never matched pg_waldump's
 * "COMMIT_PREPARED 726: ..." (the underscore is a word character, and the record's tx is 0, not the prepared xid),
 * so RecoveryPlanner refused --to-xid of any two-phase transaction ("not in the archived WAL"). The same pattern
 * made the newest-commit search ignore COMMIT_PREPARED times for --to-time.
 */
class PreparedTransactionTargetTest {
    @TempDir
    Path tmp;

    @Test
    void toXidOfAPreparedTransaction() throws Exception {
        PgTestSupport.ArchiveSetup archive = PgTestSupport.archiveRepository(tmp);
        try (LocalCluster prod = LocalCluster.create(
                tmp.resolve("prod"),
                List.of(
                        "archive_mode = on",
                        archive.archiveCommand(),
                        "autovacuum = off",
                        "max_prepared_transactions = 5"))) {
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
            String xid;
            try (Connection c = prod.connect("postgres");
                    Statement st = c.createStatement()) {
                st.execute("begin");
                st.execute("insert into t values (1)");
                try (ResultSet rs = st.executeQuery("select txid_current()::text")) {
                    rs.next();
                    xid = rs.getString(1);
                }
                st.execute("prepare transaction 'g1'");
                st.execute("commit prepared 'g1'");
                st.execute("insert into t values (2)");
            }
            PgTestSupport.drainArchive(prod);
            List<Long> ids = PgTestSupport.restoreAndReadIds(
                    tmp.resolve("copy"), archive.uri(), archive.keyFile(), "t", "--to-xid", xid);
            assertThat(ids).containsExactly(1L);
        }
    }
}
