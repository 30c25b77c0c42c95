package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Page checksums are checked while backing up, as pg_basebackup and pgBackRest do. */
class PageChecksumsTest {
    @TempDir
    Path tmp;

    private LocalCluster checksummedCluster() throws Exception {
        return LocalCluster.create(tmp.resolve("pg"), List.of("autovacuum = off"), List.of("--data-checksums"));
    }

    private static String relationPath(LocalCluster pg, String table) throws Exception {
        try (var c = pg.connect("postgres");
                var st = c.createStatement();
                var rs = st.executeQuery("select pg_relation_filepath('" + table + "')")) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test
    void computesTheChecksumsPostgresqlWrote() throws Exception {
        try (LocalCluster pg = checksummedCluster()) {
            pg.start();
            exec(pg, "create table t as select g, repeat('x', g % 300) as s from generate_series(1, 20000) g");
            exec(pg, "create index on t (g)", "vacuum t");
            String rel = relationPath(pg, "t");
            exec(pg, "checkpoint");
            pg.stop();
            int checked = 0;
            for (String f : List.of(rel, rel + "_fsm", rel + "_vm")) {
                byte[] file = Files.readAllBytes(pg.dataDir().resolve(f));
                for (int off = 0; off < file.length; off += 8192) {
                    int stored = Short.toUnsignedInt(ByteBuffer.wrap(file, off + 8, 2)
                            .order(ByteOrder.nativeOrder())
                            .getShort());
                    if (ByteBuffer.wrap(file, off + 14, 2)
                                    .order(ByteOrder.nativeOrder())
                                    .getShort()
                            == 0) {
                        continue; // a new page carries no checksum
                    }
                    assertThat(PageChecksums.checksum(file, off, 8192, off / 8192))
                            .as("%s block %d", f, off / 8192)
                            .isEqualTo(stored);
                    checked++;
                }
            }
            assertThat(checked).isGreaterThan(100);
        }
    }

    @Test
    void aDamagedPageIsReportedByFileAndBlockAndABusyClusterGivesNoFalseAlarm() throws Exception {
        try (LocalCluster pg = checksummedCluster()) {
            pg.start();
            pg.pgbench(List.of("-i", "-s", "5", "-q"), Duration.ofMinutes(5));
            exec(pg, "create table victim as select g from generate_series(1, 5000) g");
            String rel = relationPath(pg, "victim");
            exec(pg, "checkpoint");
            Repository repo = newRepo();

            // pgbench writes throughout the backup: pages torn by concurrent writes must not be reported
            Process load = pg.pgbenchAsync(List.of("-n", "-c", "2", "-T", "20"));
            Snapshot busy;
            try {
                Thread.sleep(1000);
                busy = backup(repo, pg);
            } finally {
                load.destroy();
                load.waitFor();
            }
            assertThat(PostgresBackupInfo.of(busy).pageChecksumFailures()).isNull();
            assertThat(PostgresBackupInfo.of(busy).pagesChecksummed()).isGreaterThan(1000);

            // damage block 3 of the victim on disk behind the server's back (the page is not in shared buffers
            // after a restart, and its LSN stays older than the next backup's start)
            pg.stop();
            try (FileChannel ch = FileChannel.open(pg.dataDir().resolve(rel), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[] {0x5a, 0x5a, 0x5a}), 3 * 8192 + 4000);
            }
            pg.start();
            Snapshot damaged = backup(repo, pg);
            assertThat(PostgresBackupInfo.of(damaged).pageChecksumFailures()).isEqualTo(rel + ": block 3");
        }
    }

    private Repository newRepo() throws Exception {
        LocalBlobStore store = new LocalBlobStore(tmp.resolve("repo"));
        Repository.init(store, null, true);
        return Repository.open(store, (KeySource) null);
    }

    private static Snapshot backup(Repository repo, LocalCluster pg) throws Exception {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                        null,
                        null)
                .run();
    }
}
