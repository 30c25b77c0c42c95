package dev.lifeboat.replication;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import dev.lifeboat.util.Processes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Asynchronous replication of a live repository (pgbench and a one-row-per-commit writer, WAL archived through
 * archive_command) to two secondary regions on local disk, by {@code lifeboat replication run} as its own process.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicationTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static Path config;
    static String primary;
    static Map<String, String> secondaries = new TreeMap<>();

    /** One committed row: its id and commit time. */
    record Tick(long id, Instant committed) {}

    static final List<Tick> ticks = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        Path launcher = TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        primary = PgTestSupport.repoUri(tmp.resolve("primary"));
        assertThat(cli("repo-init", "--repo", primary, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        for (String region : List.of("eu", "us")) {
            Path dir = tmp.resolve("region-" + region);
            Files.createDirectories(dir);
            secondaries.put(region, PgTestSupport.repoUri(dir));
        }
        // us is throttled so that the replicator can be killed while it still has work to do
        config = tmp.resolve("replication.json");
        Files.writeString(config, """
                {"regions": [
                  {"name": "eu", "region": "eu-west-1", "uri": "%s", "mode": "async"},
                  {"name": "us", "region": "us-east-1", "uri": "%s", "mode": "async", "bandwidth": "1MiB"}
                ]}""".formatted(secondaries.get("eu"), secondaries.get("us")));
        chownPostgres(tmp.resolve("primary"));
        pg = LocalCluster.create(
                tmp.resolve("pg"),
                List.of(
                        "archive_mode = on",
                        "archive_command = '" + launcher + " wal-push --repo " + primary + " --key-file " + keyFile
                                + " %p'",
                        "track_commit_timestamp = on"));
        pg.start();
        pg.pgbench(List.of("-i", "-s", "3", "-q"), Duration.ofMinutes(2));
        exec(pg, "create table ticks (id bigint primary key, note text)");
        assertThat(cli(
                                "backup",
                                "--repo",
                                primary,
                                "--key-file",
                                keyFile.toString(),
                                "--pgdata",
                                pg.dataDir().toString(),
                                "-q")
                        .exitCode())
                .isZero();
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    static void chownPostgres(Path dir) throws Exception {
        if (Processes.isRoot()) {
            Processes.check(List.of("chown", "-R", "postgres", dir.toString()), Duration.ofSeconds(30));
            TestLauncher.shareWithPostgres(dir.resolve("config"));
        }
    }

    /** Commits {@code n} rows about 50 ms apart (with some pgbench traffic in between), switching WAL now and then. */
    static void write(int n) throws Exception {
        try (Connection c = pg.connect("postgres");
                PreparedStatement ins = c.prepareStatement("insert into ticks values (?, 'tick')");
                Statement st = c.createStatement()) {
            for (int i = 0; i < n; i++) {
                long id = ticks.size() + 1;
                ins.setLong(1, id);
                ins.executeUpdate();
                try (ResultSet rs =
                        st.executeQuery("select pg_xact_commit_timestamp(xmin) from ticks where id = " + id)) {
                    rs.next();
                    ticks.add(new Tick(id, rs.getTimestamp(1).toInstant()));
                }
                st.execute("update pgbench_accounts set abalance = abalance + 1 where aid % 97 = " + (id % 97));
                if (id % 20 == 0) {
                    st.execute("select pg_switch_wal()");
                }
                Thread.sleep(50);
            }
            st.execute("select pg_switch_wal()");
        }
    }

    static JsonNode status() throws Exception {
        PgTestSupport.CliResult r =
                cli("replication", "status", "--repo", primary, "--replication", config.toString(), "--json");
        assertThat(r.exitCode()).as(r.all()).isZero();
        return Json.MAPPER.readTree(r.out()).get("regions");
    }

    static long lag(JsonNode status, String region) {
        return region(status, region).get("lagObjects").asLong();
    }

    static JsonNode region(JsonNode status, String region) {
        for (JsonNode n : status) {
            if (n.get("name").asText().equals(region)) {
                return n;
            }
        }
        throw new AssertionError("no region " + region + " in " + status);
    }

    static void await(String what, Duration timeout, BooleanSupplier done) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(200);
        }
    }

    static long count(Path dir, String prefix) {
        try {
            return new LocalBlobStore(dir).list(prefix).size();
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    static boolean archived() {
        try {
            return PgTestSupport.count(
                            pg, "select count(*) from pg_ls_dir('pg_wal/archive_status') f where f like '%.ready'")
                    == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    @Order(1)
    void killedMidCopyTheReplicatorConvergesAndEveryRegionRestoresOnItsOwn() throws Exception {
        Path log1 = tmp.resolve("replicator-1.log");
        Process first = PgTestSupport.cliProcess(
                log1, "replication", "run", "--repo", primary, "--replication", config.toString(), "--interval", "0.2");
        write(40);
        // kill -9 while the throttled region has copied some packs but not all of what the primary holds
        Path us = tmp.resolve("region-us");
        await("the throttled region to start copying", Duration.ofSeconds(60), () -> count(us, "data/") > 0);
        JsonNode midPass = region(status(), "us");
        assertThat(midPass.get("lagObjects").asLong())
                .as("objects still to copy to us when the replicator is killed")
                .isPositive();
        // the heartbeat shows the pass under way, not only its end
        assertThat(midPass.get("replicatorAlive").asBoolean())
                .as(midPass.toString())
                .isTrue();
        JsonNode progress = midPass.get("replicator").get("progress");
        assertThat(progress).as("progress of the pass under way: " + midPass).isNotNull();
        assertThat(progress.get("objectsTotal").asLong()).isPositive();
        assertThat(progress.get("objectsDone").asLong())
                .isLessThan(progress.get("objectsTotal").asLong());
        first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        long copiedBeforeKill = count(us, "");
        // a killed replicator writes no last heartbeat: status goes on calling it alive until its beat is older than
        // ALIVE_WITHIN (30 s), and shows no exit
        JsonNode afterKill = region(status(), "us");
        assertThat(afterKill.get("replicatorAlive").asBoolean())
                .as(afterKill.toString())
                .isTrue();
        assertThat(afterKill.get("replicator").has("exitedAt"))
                .as(afterKill.toString())
                .isFalse();

        write(40);
        Path log2 = tmp.resolve("replicator-2.log");
        Process second = PgTestSupport.cliProcess(
                log2, "replication", "run", "--repo", primary, "--replication", config.toString(), "--interval", "0.2");
        try {
            await("WAL archived", Duration.ofSeconds(30), ReplicationTest::archived);
            await("both regions in sync", Duration.ofSeconds(120), () -> {
                try {
                    JsonNode s = status();
                    return lag(s, "eu") == 0 && lag(s, "us") == 0;
                } catch (Exception e) {
                    return false;
                }
            });
            assertThat(count(us, "")).isGreaterThan(copiedBeforeKill);
            // stop asks the running replicator to exit on its own
            assertThat(cli("replication", "stop", "--repo", primary, "--replication", config.toString())
                            .exitCode())
                    .isZero();
            assertThat(second.waitFor(30, TimeUnit.SECONDS))
                    .as(Files.readString(log2))
                    .isTrue();
            assertThat(second.exitValue())
                    .as("stopped by request: exit 4, so systemd (RestartPreventExitStatus=4) does not restart it; "
                            + Files.readString(log2))
                    .isEqualTo(4);
            for (String region : List.of("eu", "us")) {
                JsonNode n = region(status(), region);
                assertThat(n.get("replicatorAlive").asBoolean())
                        .as(n.toString())
                        .isFalse();
                assertThat(n.get("replicator").get("exitReason").asText()).contains("stopped by request");
            }
            PgTestSupport.CliResult again =
                    cli("replication", "run", "--repo", primary, "--replication", config.toString());
            assertThat(again.exitCode()).as(again.all()).isEqualTo(4);
            assertThat(again.err())
                    .contains("region eu is stopped")
                    .contains("lifeboat replication resume --region us");
        } finally {
            second.destroyForcibly();
            cli("replication", "resume", "--repo", primary, "--replication", config.toString());
        }

        PgTestSupport.CliResult v =
                cli("replication", "validate", "--repo", primary, "--replication", config.toString());
        assertThat(v.exitCode()).as(v.all()).isZero();
        assertThat(v.out()).contains("eu: in sync").contains("us: in sync");
        // no temporary files of the killed copy left visible, and locks are not replicated
        for (String region : secondaries.keySet()) {
            Path dir = tmp.resolve("region-" + region);
            assertThat(new LocalBlobStore(dir).list("locks/")).isEmpty();
        }

        // a point-in-time restore from each region alone: exactly the rows committed up to the target
        Tick target = ticks.get(59);
        for (String region : secondaries.keySet()) {
            Path dir = tmp.resolve("region-" + region);
            chownPostgres(dir);
            List<Long> ids = PgTestSupport.restoreAndReadIds(
                    tmp.resolve("restore-" + region),
                    secondaries.get(region),
                    keyFile,
                    "ticks",
                    "--to-time",
                    target.committed().toString());
            assertThat(ids).as("rows restored from region " + region).isEqualTo(PgTestSupport.range(1, target.id()));
        }
    }

    @Test
    @Order(3)
    void throttledRegionReportsTheLagAndRpoMeasuredIndependently() throws Exception {
        assertThat(cli("replication", "run", "--once", "--repo", primary, "--replication", config.toString())
                        .exitCode())
                .isZero();
        Path slow = tmp.resolve("replication-slow.json");
        Files.writeString(slow, """
                {"regions": [{"name": "us", "region": "us-east-1", "uri": "%s", "mode": "async",
                              "bandwidth": "32KiB"}]}""".formatted(secondaries.get("us")));
        Process replicator = PgTestSupport.cliProcess(
                tmp.resolve("replicator-4.log"),
                "replication",
                "run",
                "--repo",
                primary,
                "--replication",
                slow.toString(),
                "--interval",
                "0.2");
        try {
            Instant beforeWrite = Instant.now();
            write(20);
            await("WAL archived", Duration.ofSeconds(30), ReplicationTest::archived);
            Thread.sleep(1500);
            // independently, from both stores: what the region lacks and the newest WAL it holds
            LocalBlobStore primaryStore = new LocalBlobStore(tmp.resolve("primary"));
            LocalBlobStore usStore = new LocalBlobStore(tmp.resolve("region-us"));
            Map<String, Long> held = new TreeMap<>();
            for (String p : List.of("wal/", "data/", "index/", "snapshots/")) {
                usStore.list(p).forEach(b -> held.put(b.key(), b.size()));
            }
            long lacking = 0;
            Instant newestHeld = null;
            Instant oldestMissing = null;
            for (String p : List.of("wal/", "data/", "index/", "snapshots/")) {
                for (BlobInfo b : primaryStore.list(p)) {
                    if (!Long.valueOf(b.size()).equals(held.get(b.key()))) {
                        lacking++;
                        if (p.equals("wal/")
                                && (oldestMissing == null || b.lastModified().isBefore(oldestMissing))) {
                            oldestMissing = b.lastModified();
                        }
                    } else if (p.equals("wal/")
                            && (newestHeld == null || b.lastModified().isAfter(newestHeld))) {
                        newestHeld = b.lastModified();
                    }
                }
            }
            JsonNode us = null;
            PgTestSupport.CliResult r =
                    cli("replication", "status", "--repo", primary, "--replication", slow.toString(), "--json");
            for (JsonNode n : Json.MAPPER.readTree(r.out()).get("regions")) {
                us = n;
            }
            Instant now = Instant.now();
            assertThat(lacking).as("objects the throttled region still lacks").isPositive();
            // one object may land between the two measurements
            assertThat(us.get("lagObjects").asLong()).isBetween(lacking - 1, lacking);
            // region RPO: the age of the oldest WAL the region lacks; no more than the age of the newest it holds
            assertThat(oldestMissing).as("WAL the throttled region lacks").isNotNull();
            double measuredRpo = Duration.between(oldestMissing, now).toMillis() / 1000.0;
            assertThat(us.get("rpoSeconds").asDouble()).isBetween(measuredRpo - 1.5, measuredRpo + 0.5);
            assertThat(us.get("rpoSeconds").asDouble())
                    .isLessThanOrEqualTo(Duration.between(newestHeld, now).toMillis() / 1000.0 + 0.5);
            assertThat(newestHeld).isBefore(ticks.getLast().committed());
            assertThat(us.get("oldestPendingSeconds").asDouble())
                    .isLessThanOrEqualTo(Duration.between(beforeWrite, now).toMillis() / 1000.0 + 0.5);
        } finally {
            replicator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        assertThat(cli("replication", "run", "--once", "--repo", primary, "--replication", config.toString())
                        .exitCode())
                .isZero();
        assertThat(cli("replication", "validate", "--repo", primary, "--replication", config.toString())
                        .exitCode())
                .isZero();
    }

    @Test
    @Order(2)
    void pausedRegionReportsItsLagAndRpoAndCatchesUpOnResume() throws Exception {
        // in sync to begin with
        assertThat(cli("replication", "run", "--once", "--repo", primary, "--replication", config.toString())
                        .exitCode())
                .isZero();
        assertThat(cli("replication", "pause", "--region", "us", "--repo", primary, "--replication", config.toString())
                        .exitCode())
                .isZero();
        Process replicator = PgTestSupport.cliProcess(
                tmp.resolve("replicator-3.log"),
                "replication",
                "run",
                "--repo",
                primary,
                "--replication",
                config.toString(),
                "--interval",
                "0.2");
        try {
            LocalBlobStore primaryStore = new LocalBlobStore(tmp.resolve("primary"));
            Instant beforeWrite = Instant.now();
            write(20);
            await("WAL archived", Duration.ofSeconds(30), ReplicationTest::archived);
            await("eu in sync", Duration.ofSeconds(60), () -> {
                try {
                    return lag(status(), "eu") == 0;
                } catch (Exception e) {
                    return false;
                }
            });
            Thread.sleep(2000);
            // independently: what the primary holds that the paused region lacks, and the newest WAL the region has
            LocalBlobStore usStore = new LocalBlobStore(tmp.resolve("region-us"));
            Map<String, Long> usKeys = new TreeMap<>();
            for (String p : List.of("wal/", "data/", "index/", "snapshots/")) {
                usStore.list(p).forEach(b -> usKeys.put(b.key(), b.size()));
            }
            List<BlobInfo> newWal = primaryStore.list("wal/").stream()
                    .filter(b -> !usKeys.containsKey(b.key()))
                    .toList();
            Instant newestUsWal = primaryStore.list("wal/").stream()
                    .filter(b -> usKeys.containsKey(b.key()))
                    .map(BlobInfo::lastModified)
                    .max(Instant::compareTo)
                    .orElseThrow();
            JsonNode us = null;
            for (JsonNode n : status()) {
                if (n.get("name").asText().equals("us")) {
                    us = n;
                }
            }
            Instant now = Instant.now();
            assertThat(us.get("state").asText()).isEqualTo("PAUSED");
            assertThat(newWal).as("WAL written while us was paused").isNotEmpty();
            assertThat(us.get("lagObjects").asLong()).isGreaterThanOrEqualTo(newWal.size());
            // the region RPO is the age of the oldest WAL it lacks (written during the burst), at most the age of
            // the newest it holds
            Instant oldestMissing = newWal.stream()
                    .map(BlobInfo::lastModified)
                    .min(Instant::compareTo)
                    .orElseThrow();
            double rpo = us.get("rpoSeconds").asDouble();
            assertThat(rpo)
                    .isBetween(
                            Duration.between(oldestMissing, now).toMillis() / 1000.0 - 2,
                            Duration.between(oldestMissing, now).toMillis() / 1000.0 + 0.5);
            assertThat(rpo)
                    .isLessThanOrEqualTo(Duration.between(newestUsWal, now).toMillis() / 1000.0 + 0.5);
            assertThat(newestUsWal).isBefore(beforeWrite.plusSeconds(1));
            assertThat(oldestMissing).isAfter(beforeWrite.minusSeconds(1));
            double oldest = us.get("oldestPendingSeconds").asDouble();
            assertThat(oldest)
                    .isLessThanOrEqualTo(Duration.between(beforeWrite, now).toMillis() / 1000.0 + 0.5);
            // eu kept up: it lacks no WAL, so it loses nothing (0), however long ago the last WAL came
            JsonNode eu = region(status(), "eu");
            if (eu.get("lagObjects").asLong() == 0) {
                assertThat(eu.get("rpoSeconds").asDouble()).as(eu.toString()).isZero();
            }
            assertThat(eu.get("rpoSeconds").asDouble()).isLessThan(rpo);
            assertThat(cli(
                                    "replication",
                                    "resume",
                                    "--region",
                                    "us",
                                    "--repo",
                                    primary,
                                    "--replication",
                                    config.toString())
                            .exitCode())
                    .isZero();
            JsonNode[] caughtUp = new JsonNode[1];
            await("us catches up after resume", Duration.ofSeconds(60), () -> {
                try {
                    caughtUp[0] = region(status(), "us");
                    return caughtUp[0].get("lagObjects").asLong() == 0;
                } catch (Exception e) {
                    return false;
                }
            });
            assertThat(caughtUp[0].get("rpoSeconds").asDouble())
                    .as("caught up: nothing to lose " + caughtUp[0])
                    .isZero();
            // SIGTERM: every region's replicator writes its exit heartbeat before the process ends
            replicator.destroy();
            assertThat(replicator.waitFor(30, TimeUnit.SECONDS)).isTrue();
            for (String region : List.of("eu", "us")) {
                JsonNode n = region(status(), region);
                assertThat(n.get("replicatorAlive").asBoolean())
                        .as(n.toString())
                        .isFalse();
                assertThat(n.get("replicator").get("exitReason").asText())
                        .as(n.toString())
                        .isEqualTo("cancelled");
            }
        } finally {
            replicator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
