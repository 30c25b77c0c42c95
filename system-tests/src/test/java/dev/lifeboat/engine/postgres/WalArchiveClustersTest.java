package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryBinding;
import dev.lifeboat.repository.TimelineOwners;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real PostgreSQL clusters archiving into one repository through {@code archive_command = 'lifeboat wal-push …'}
 * (the launcher, as the postgres user), and the streaming receiver: another cluster is refused and named, and so is a
 * restored copy writing onto production's timeline, while production keeps archiving.
 */
class WalArchiveClustersTest {
    @TempDir
    Path tmp;

    Path launcher;
    Path keyFile;
    String uri;

    @BeforeEach
    void repository() throws Exception {
        launcher = TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        CliResult init = cli("repo-init", "--repo", uri, "--key-file", keyFile.toString());
        assertThat(init.exitCode()).as(init.all()).isZero();
        if (Processes.isRoot()) {
            Processes.check(
                    List.of("chown", "-R", "postgres", tmp.resolve("repo").toString()), Duration.ofSeconds(30));
        }
    }

    private Repository repo() throws Exception {
        return Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
    }

    private List<String> archiving() {
        return List.of(
                "archive_mode = on",
                "archive_command = '" + launcher + " wal-push --repo " + uri + " --key-file " + keyFile + " %p'");
    }

    private static String one(LocalCluster pg, String sql) throws Exception {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Writes a little WAL and switches segments; returns the name of the segment that was completed. */
    private static String writeAndSwitch(LocalCluster pg, String table) throws Exception {
        exec(
                pg,
                "create table if not exists " + table + " (id bigint)",
                "insert into " + table + " select generate_series(1, 1000)");
        String seg = one(pg, "select pg_walfile_name(pg_current_wal_lsn())");
        exec(pg, "select pg_switch_wal()");
        return seg;
    }

    private static void awaitArchived(LocalCluster pg, String seg) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (one(pg, "select coalesce(last_archived_wal, '') from pg_stat_archiver")
                            .compareTo(seg)
                    >= 0) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(seg + " was not archived; pg_stat_archiver: "
                + one(
                        pg,
                        "select row(archived_count, last_archived_wal, failed_count, last_failed_wal)::text "
                                + "from pg_stat_archiver"));
    }

    /** Waits until archiving {@code seg} has failed, and returns the server log. */
    private static String awaitRefused(LocalCluster pg, String seg) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (seg.equals(one(pg, "select coalesce(last_failed_wal, '') from pg_stat_archiver"))) {
                return Files.readString(pg.socketDir().resolve("server.log"));
            }
            Thread.sleep(100);
        }
        throw new AssertionError("archiving " + seg + " did not fail; pg_stat_archiver: "
                + one(
                        pg,
                        "select row(archived_count, last_archived_wal, failed_count, last_failed_wal)::text "
                                + "from pg_stat_archiver"));
    }

    /** Runs a receiver from {@code pg} into the repository and returns what ended it (it must end by itself). */
    private Throwable receiverFailure(Repository repo, LocalCluster pg) throws Exception {
        Cancellation cancel = new Cancellation();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        WalReceiver r = new WalReceiver(
                repo,
                pg.connections(),
                null,
                new WalReceiver.Options("refused", "refused", Duration.ofSeconds(1), WalReceiver.FlushMode.AUTO),
                null,
                cancel);
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                r.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join(Duration.ofSeconds(60));
        cancel.cancel("test over");
        t.join(Duration.ofSeconds(30));
        assertThat(failure.get()).as("the receiver gave up by itself").isNotNull();
        assertThat(one(pg, "select count(*) from pg_replication_slots where slot_name = 'refused'"))
                .as("refused before creating its slot")
                .isEqualTo("0");
        return failure.get();
    }

    @Test
    void aSecondClusterPointedAtTheRepositoryIsRefusedAndNamed() throws Exception {
        try (LocalCluster prod = LocalCluster.create(tmp.resolve("prod"), archiving());
                LocalCluster other = LocalCluster.create(tmp.resolve("other"), archiving())) {
            prod.start();
            awaitArchived(prod, writeAndSwitch(prod, "t"));
            long prodId = new PgDataDirectory(prod.dataDir()).systemIdentifier();
            long otherId = new PgDataDirectory(other.dataDir()).systemIdentifier();
            assertThat(otherId).as("its own initdb").isNotEqualTo(prodId);
            Repository repo = repo();
            assertThat(RepositoryBinding.read(repo.store())).hasValueSatisfying(b -> {
                assertThat(b.systemId()).isEqualTo(prodId);
                assertThat(b.pgdata()).isEqualTo(prod.dataDir().toString());
            });
            List<String> before = new WalArchive(repo).list();

            other.start();
            String seg = writeAndSwitch(other, "o");
            String log = awaitRefused(other, seg);
            assertThat(log)
                    .contains("cannot archive " + seg + " (timeline 1)")
                    .contains("belongs to PostgreSQL system identifier " + Long.toUnsignedString(prodId))
                    .contains("system identifier " + Long.toUnsignedString(otherId))
                    .contains("PGDATA " + other.dataDir())
                    .contains("Give each cluster its own repository");
            assertThat(new WalArchive(repo).list())
                    .as("nothing of the other cluster's")
                    .isEqualTo(before);

            Throwable streamed = receiverFailure(repo, other);
            assertThat(streamed)
                    .isInstanceOf(WalReceiver.FatalException.class)
                    .hasMessageContaining("belongs to PostgreSQL system identifier " + Long.toUnsignedString(prodId))
                    .hasMessageContaining("wal-stream from");

            awaitArchived(prod, writeAndSwitch(prod, "t"));
            assertThat(one(prod, "select failed_count from pg_stat_archiver")).isEqualTo("0");
        }
    }

    /**
     * The defect from the review: a copy of production (a data directory with a restore marker, so another cluster id,
     * but production's system identifier and timeline) archiving into production's repository. It is the copy's
     * archiver that fails now, naming both; production archives its own segment of the same name.
     * <p>
     * The copy is production's stopped data directory plus the marker a restore writes, rather than a restore: that
     * keeps it on production's timeline whatever restore does about timelines.
     */
    @Test
    void aCopyCannotArchiveOntoProductionsTimelineWhileProductionKeepsArchiving() throws Exception {
        try (LocalCluster prod = LocalCluster.create(tmp.resolve("prod"), archiving())) {
            prod.start();
            awaitArchived(prod, writeAndSwitch(prod, "t"));
            prod.stop();
            Path copyData = tmp.resolve("copy").resolve("data");
            Files.createDirectories(copyData.getParent());
            Processes.check(
                    List.of("cp", "-a", prod.dataDir().toString(), copyData.toString()), Duration.ofSeconds(60));
            Files.writeString(
                    copyData.resolve(ClusterIdentity.MARKER),
                    ClusterIdentity.newMarker("20260101T000000Z", ClusterIdentity.ORIGIN, Instant.now()));
            if (Processes.isRoot()) {
                Processes.check(
                        List.of(
                                "chown",
                                "postgres",
                                copyData.resolve(ClusterIdentity.MARKER).toString()),
                        Duration.ofSeconds(10));
            }
            String copyId = ClusterIdentity.of(copyData).clusterId();
            prod.start();
            try (LocalCluster copy = LocalCluster.attach(tmp.resolve("copy"), true)) {
                copy.start();
                // the copy completes the segment first, as in the review
                String seg = writeAndSwitch(copy, "copy_rows");
                String log = awaitRefused(copy, seg);
                assertThat(log)
                        .contains("timeline 1 of " + uri + " is archived by the original cluster")
                        .contains("cluster id " + copyId)
                        .contains("PGDATA " + copyData)
                        .contains("two clusters are writing one timeline")
                        .contains("restore it with archiving off");

                // production's own segment of that name is archived, and it is production's
                String prodSeg = writeAndSwitch(prod, "t");
                assertThat(prodSeg).isEqualTo(seg);
                awaitArchived(prod, prodSeg);
                assertThat(one(prod, "select failed_count from pg_stat_archiver"))
                        .isEqualTo("0");
                Repository repo = repo();
                Path prodFile = prod.dataDir().resolve("pg_wal").resolve(seg);
                if (Files.exists(prodFile)) {
                    assertThat(new WalArchive(repo).read(seg)).hasValueSatisfying(b -> {
                        try {
                            assertThat(b).isEqualTo(Files.readAllBytes(prodFile));
                        } catch (IOException e) {
                            throw new AssertionError(e);
                        }
                    });
                }
                Map<Integer, TimelineOwners.Owner> owners = new WalArchive(repo).timelineOwners();
                assertThat(owners.keySet()).containsExactly(1);
                assertThat(owners.get(1).isOrigin()).isTrue();
                assertThat(owners.get(1).pgdata()).isEqualTo(prod.dataDir().toString());

                Throwable streamed = receiverFailure(repo, copy);
                assertThat(streamed)
                        .isInstanceOf(WalReceiver.FatalException.class)
                        .hasMessageContaining("cluster id " + copyId)
                        .hasMessageContaining("two clusters are writing one timeline");
            }
        }
    }

    @Test
    void walPushFindsItsClusterFromThePathOrPgdata() throws Exception {
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("pg"), List.of())) {
            Path seg = pg.dataDir().resolve("pg_wal").resolve("000000010000000000000001");
            CliResult pushed = cli("wal-push", "--repo", uri, "--key-file", keyFile.toString(), "-v", seg.toString());
            assertThat(pushed.exitCode()).as(pushed.all()).isZero();
            assertThat(pushed.err()).contains("STORED");
            Path loose = Files.createDirectories(tmp.resolve("loose")).resolve(seg.getFileName());
            Files.copy(seg, loose);
            CliResult unknown = cli("wal-push", "--repo", uri, "--key-file", keyFile.toString(), loose.toString());
            assertThat(unknown.exitCode()).isNotZero();
            assertThat(unknown.err()).contains("cannot tell which cluster").contains("--pgdata");
            CliResult named = cli(
                    "wal-push",
                    "--repo",
                    uri,
                    "--key-file",
                    keyFile.toString(),
                    "-v",
                    "--pgdata",
                    pg.dataDir().toString(),
                    loose.toString());
            assertThat(named.exitCode()).as(named.all()).isZero();
            assertThat(named.err()).contains("ALREADY_ARCHIVED");
            assertThat(new WalArchive(repo()).timelineOwners().get(1).pgdata())
                    .isEqualTo(pg.dataDir().toString());
        }
    }
}
