package dev.lifeboat.agent.metrics;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.engine.postgres.WalReceiver;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The RPO probe against real PostgreSQL servers archiving through {@code archive_command = lifeboat wal-push} (or
 * streaming with the WAL receiver) into real repositories on local disk. Expected RPOs are computed independently by
 * a writer that notes when each commit was acknowledged and the WAL position after it: the truth at a moment is the
 * age of the first acknowledged commit beyond the durable position.
 */
class RpoProbeTest {
    private static final long SEG = 16L << 20;
    private static final Duration INTERVAL = Duration.ofMillis(200);

    @TempDir
    static Path tmp;

    static Path launcher;
    static Path keyFile;

    @BeforeAll
    static void setUp() throws Exception {
        launcher = TestLauncher.install(); // archive_command runs the CLI as the postgres user
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
    }

    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void rpoStaysLowWhileArchivingWorksGrowsWithWallTimeWhileItFailsAndDropsWhenItResumes() throws Exception {
        Repository repo = repository("a-repo");
        MeterRegistry registry = new SimpleMeterRegistry();
        try (LocalCluster pg = cluster("a", "a-repo", "archive_timeout = 2");
                RpoProbe probe = new RpoProbe(
                        registry,
                        List.of(new ProbeTarget(
                                "orders", ProbeTarget.pgdata(pg.dataDir(), "postgres"), "home", repo, Map.of())),
                        INTERVAL)) {
            exec(pg, "create table ticks (id bigint primary key, at timestamptz not null)");
            Writer w = new Writer(pg);
            try {
                awaitFirstArchived(pg, probe);

                // archiving works: a segment at least every 2 s (archive_timeout), each pushed by a new process
                List<RpoReading> working = watch(probe, "orders/home", Duration.ofSeconds(4));
                double worst = working.stream()
                        .mapToDouble(RpoReading::rpoSeconds)
                        .max()
                        .orElseThrow();
                System.out.printf("[rpo probe] archiving works: RPO %s s%n", rpos(working));
                assertThat(working).allSatisfy(r -> {
                    assertThat(r.error()).isNull();
                    assertThat(r.estimatedFromObjectTime()).isFalse();
                    assertThat(r.rpoSeconds()).isCloseTo(truth(w, r), within(1.0));
                });
                assertThat(worst).as("RPO while archiving works").isLessThan(5.0);

                // archiving breaks on purpose, commits continue: RPO grows with the wall clock
                long failedBefore = Long.parseLong(one(pg, "select failed_count from pg_stat_archiver"));
                exec(pg, "alter system set archive_command = 'false'", "select pg_reload_conf()");
                Instant broken = Instant.now();
                // a push already under way may still finish (a JVM per segment can take seconds on a loaded host);
                // the archiver is sequential, so once it has run 'false' nothing more gets archived
                await(
                        "the archiver ran the broken archive_command",
                        Duration.ofSeconds(60),
                        () -> Long.parseLong(one(pg, "select failed_count from pg_stat_archiver")) > failedBefore);
                long archivedEnd = archiverEnd(pg);
                List<RpoReading> failing = watch(probe, "orders/home", Duration.ofSeconds(5));
                System.out.printf("[rpo probe] archive_command = 'false' from %s: RPO %s s%n", broken, rpos(failing));
                for (RpoReading r : failing) {
                    assertThat(r.durableLsn())
                            .as("durable end = end of the last segment the server archived")
                            .isEqualTo(archivedEnd);
                    assertThat(r.currentLsn()).isGreaterThan(archivedEnd);
                    assertThat(r.rpoSeconds())
                            .as("measured RPO vs the commits' own acknowledgement times")
                            .isCloseTo(truth(w, r), within(1.0));
                    assertThat(r.rpoSeconds())
                            .as("at least the time since archiving broke")
                            .isGreaterThanOrEqualTo(seconds(broken, r.measuredAt()) - 1.0);
                }
                RpoReading first = failing.getFirst();
                RpoReading last = failing.getLast();
                assertThat(last.rpoSeconds() - first.rpoSeconds())
                        .as("RPO grows like the wall clock")
                        .isCloseTo(seconds(first.measuredAt(), last.measuredAt()), within(2.0));
                assertThat(last.rpoSeconds()).isGreaterThan(worst + 3);
                // the gauge shows what latest() says
                assertThat(registry.get(RpoProbe.RPO_SECONDS)
                                .tags("database", "orders", "region", "home")
                                .gauge()
                                .value())
                        .isCloseTo(reading(probe, "orders/home").rpoSeconds(), within(0.5));
                assertThat(registry.get(RpoProbe.PROBE_ERRORS)
                                .tags("database", "orders", "region", "home")
                                .counter()
                                .count())
                        .isZero();

                // the writer stops, archiving is repaired and the open segment switched: once the backlog is pushed,
                // every commit is durable and RPO is back to 0 (without the timed switches, so the backlog only
                // shrinks)
                w.stop();
                exec(
                        pg,
                        "alter system reset archive_command",
                        "alter system set archive_timeout = 0",
                        "select pg_reload_conf()");
                long end = Lsn.parse(one(pg, "select pg_switch_wal()::text"));
                Instant repaired = Instant.now();
                await(pg, probe, "RPO back to 0", Duration.ofSeconds(60), () -> {
                    RpoReading r = reading(probe, "orders/home");
                    return r.measuredAt().isAfter(repaired) && r.rpoSeconds() == 0;
                });
                RpoReading back = reading(probe, "orders/home");
                System.out.printf(
                        "[rpo probe] archiving repaired: RPO back to 0 after %.1f s%n",
                        seconds(repaired, back.measuredAt()));
                assertThat(back.durableLsn()).isGreaterThanOrEqualTo(end);
                assertThat(back.error()).isNull();
            } finally {
                w.stop();
            }
        }
    }

    @Test
    void idleDatabaseWithEverythingArchivedReadsZeroAndACommitBeyondTheArchiveCounts() throws Exception {
        Repository repo = repository("b-repo");
        MeterRegistry registry = new SimpleMeterRegistry();
        try (LocalCluster pg = cluster("b", "b-repo");
                RpoProbe probe = new RpoProbe(
                        registry,
                        List.of(new ProbeTarget("orders", ProbeTarget.fixed(pg.connections()), "home", repo, Map.of())),
                        INTERVAL)) {
            exec(
                    pg,
                    "create table ticks (id bigint primary key, at timestamptz not null)",
                    "insert into ticks select g, now() from generate_series(1, 1000) g");
            switchAndAwaitArchived(pg);
            probe.probeNow();
            RpoReading idle = reading(probe, "orders/home");
            assertThat(idle.rpoSeconds()).isZero();
            assertThat(idle.durableLsn()).isGreaterThanOrEqualTo(idle.currentLsn());
            assertThat(idle.error()).isNull();

            // a checkpoint writes WAL beyond the archive, but no commit: nothing would be lost
            exec(pg, "checkpoint");
            probe.probeNow();
            RpoReading checkpointed = reading(probe, "orders/home");
            assertThat(checkpointed.currentLsn()).isGreaterThan(checkpointed.durableLsn());
            assertThat(checkpointed.rpoSeconds()).isZero();
            Thread.sleep(1500);
            assertThat(reading(probe, "orders/home").rpoSeconds()).isZero();

            // one commit that is not archived: from then on RPO is its age
            exec(pg, "insert into ticks values (1001, now())");
            Instant committed = Instant.now();
            Thread.sleep(2000);
            probe.probeNow();
            RpoReading pending = reading(probe, "orders/home");
            assertThat(pending.rpoSeconds())
                    .isGreaterThan(seconds(committed, pending.measuredAt()) - INTERVAL.toMillis() / 1000.0 - 0.1)
                    .isLessThanOrEqualTo(seconds(committed, pending.measuredAt()) + 0.1);

            switchAndAwaitArchived(pg);
            probe.probeNow();
            assertThat(reading(probe, "orders/home").rpoSeconds()).isZero();

            // the server is gone: RPO falls back to the age of the newest archived object, and says so
            long durable = reading(probe, "orders/home").durableLsn();
            pg.stop();
            probe.probeNow();
            RpoReading estimated = reading(probe, "orders/home");
            Path newest;
            try (Stream<Path> s =
                    Files.list(tmp.resolve("b-repo").resolve("wal").resolve("00000001"))) {
                newest = s.filter(p -> WalArchive.isSegment(p.getFileName().toString()))
                        .max(Path::compareTo)
                        .orElseThrow();
            }
            double objectAge = seconds(Files.getLastModifiedTime(newest).toInstant(), estimated.measuredAt());
            assertThat(estimated.estimatedFromObjectTime()).isTrue();
            assertThat(estimated.error()).contains("cannot ask the server of orders");
            assertThat(estimated.durableLsn()).isEqualTo(durable);
            assertThat(estimated.rpoSeconds()).isCloseTo(objectAge, within(0.05));
            assertThat(registry.get(RpoProbe.ESTIMATED)
                            .tags("database", "orders", "region", "home")
                            .gauge()
                            .value())
                    .isEqualTo(1.0);
            assertThat(registry.get(RpoProbe.CURRENT_LSN)
                            .tags("database", "orders")
                            .gauge()
                            .value())
                    .isNaN();
            assertThat(registry.get(RpoProbe.PROBE_ERRORS)
                            .tags("database", "orders", "region", "home")
                            .counter()
                            .count())
                    .isPositive();
        }
    }

    @Test
    void aLaggingReplicationRegionHasALargerRpoAndMetricsShowEveryRegion() throws Exception {
        Repository repo = repository("c-repo");
        Path far = tmp.resolve("c-far");
        Files.createDirectories(far);
        Path replication = tmp.resolve("c-replication.json");
        Files.writeString(
                replication,
                "{\"regions\": [{\"name\": \"far\", \"region\": \"eu-west-1\", \"uri\": \"" + PgTestSupport.repoUri(far)
                        + "\", \"mode\": \"async\"}]}");
        ReplicationConfig config = ReplicationConfig.load(replication);
        try (LocalCluster pg = cluster("c", "c-repo", "archive_timeout = 2");
                AgentMetrics metrics =
                        new AgentMetrics(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), null);
                RpoProbe probe = new RpoProbe(
                        metrics.registry(),
                        List.of(ProbeTarget.of("orders", ProbeTarget.fixed(pg.connections()), "home", repo, config)),
                        INTERVAL)) {
            exec(pg, "create table ticks (id bigint primary key, at timestamptz not null)");
            Writer w = new Writer(pg);
            try {
                awaitFirstArchived(pg, probe);
                Replicator replicator = new Replicator(repo.store(), new LocalBlobStore(far), config.region("far"));
                replicator.pass(new Cancellation());
                Instant replicated = Instant.now();
                await(
                        "the region's copy seen",
                        Duration.ofSeconds(10),
                        () -> reading(probe, "orders/far").durableLsn() > 0);

                Thread.sleep(6000); // the primary keeps archiving; nothing is copied to the region
                probe.probeNow();
                RpoReading home = reading(probe, "orders/home");
                RpoReading region = reading(probe, "orders/far");
                System.out.printf(
                        "[rpo probe] replication paused for %.1f s: home RPO %.2f s at %s, far RPO %.2f s at %s%n",
                        seconds(replicated, region.measuredAt()),
                        home.rpoSeconds(),
                        Lsn.format(home.durableLsn()),
                        region.rpoSeconds(),
                        Lsn.format(region.durableLsn()));
                assertThat(region.durableLsn()).isLessThan(home.durableLsn());
                assertThat(region.rpoSeconds()).isGreaterThan(home.rpoSeconds() + 2);
                assertThat(region.rpoSeconds()).isCloseTo(truth(w, region), within(1.0));
                assertThat(home.rpoSeconds()).isCloseTo(truth(w, home), within(1.0));

                // /metrics over HTTP shows every gauge for both regions
                String text = HttpClient.newHttpClient()
                        .send(
                                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metrics.port() + "/metrics"))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .body();
                List<PrometheusText.Sample> samples = PrometheusText.parse(text);
                for (String r : List.of("home", "far")) {
                    Map<String, String> labels = Map.of("database", "orders", "region", r);
                    for (String name : List.of(
                            "lifeboat_rpo_seconds",
                            "lifeboat_wal_durable_lsn",
                            "lifeboat_wal_durable_age_seconds",
                            "lifeboat_rpo_probe_errors_total",
                            "lifeboat_rpo_estimated")) {
                        assertThat(PrometheusText.find(samples, name, labels))
                                .as(name + labels + " in\n" + text)
                                .isPresent();
                    }
                    assertThat(PrometheusText.find(samples, "lifeboat_rpo_probe_errors_total", labels)
                                    .orElseThrow()
                                    .value())
                            .isZero();
                    assertThat(PrometheusText.find(samples, "lifeboat_rpo_estimated", labels)
                                    .orElseThrow()
                                    .value())
                            .isZero();
                }
                Map<String, String> farLabels = Map.of("database", "orders", "region", "far");
                // the region's durable end does not move while nothing is copied: served exactly
                assertThat(PrometheusText.find(samples, "lifeboat_wal_durable_lsn", farLabels)
                                .orElseThrow()
                                .value())
                        .isEqualTo((double) region.durableLsn());
                assertThat(PrometheusText.find(samples, "lifeboat_rpo_seconds", farLabels)
                                .orElseThrow()
                                .value())
                        .isGreaterThanOrEqualTo(region.rpoSeconds());
                assertThat(PrometheusText.find(samples, "lifeboat_wal_durable_age_seconds", farLabels)
                                .orElseThrow()
                                .value())
                        .isGreaterThan(3.0);
                assertThat(PrometheusText.find(samples, "lifeboat_wal_current_lsn", Map.of("database", "orders"))
                                .orElseThrow()
                                .value())
                        .isGreaterThan(region.durableLsn());
                assertThat(metrics.snapshot()).anySatisfy(s -> {
                    assertThat(s.getName()).isEqualTo("lifeboat_rpo_seconds");
                    assertThat(s.getLabelsMap()).isEqualTo(farLabels);
                });

                // the region catches up: everything the primary held before the pass is durable there too
                probe.probeNow();
                long homeBefore = reading(probe, "orders/home").durableLsn();
                replicator.pass(new Cancellation());
                probe.probeNow();
                RpoReading caughtUp = reading(probe, "orders/far");
                assertThat(caughtUp.durableLsn()).isGreaterThanOrEqualTo(homeBefore);
                assertThat(caughtUp.rpoSeconds())
                        .isCloseTo(truth(w, caughtUp), within(1.0))
                        .isLessThan(region.rpoSeconds() - 1.5);

                // single passes leave no heartbeat; a running replicator does, and its exit is the last word
                assertThat(metrics.registry()
                                .get(RpoProbe.REPLICATOR_HEARTBEAT_AGE)
                                .tags("region", "far")
                                .gauge()
                                .value())
                        .as("no continuous replicator yet")
                        .isNaN();
                Cancellation stopReplicator = new Cancellation();
                Thread running = Thread.ofVirtual().start(() -> {
                    try {
                        new Replicator(repo.store(), new LocalBlobStore(far), config.region("far"))
                                .run(Duration.ofMillis(200), stopReplicator);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
                await("the replicator's heartbeat read", Duration.ofSeconds(10), () -> {
                    probe.probeNow();
                    return metrics.registry()
                                    .get(RpoProbe.REPLICATOR_HEARTBEAT_AGE)
                                    .tags("region", "far")
                                    .gauge()
                                    .value()
                            < 10;
                });
                assertThat(metrics.registry()
                                .get(RpoProbe.REPLICATOR_EXITED)
                                .tags("region", "far")
                                .gauge()
                                .value())
                        .isZero();
                stopReplicator.cancel("test over");
                running.join(Duration.ofSeconds(10));
                probe.probeNow();
                assertThat(metrics.registry()
                                .get(RpoProbe.REPLICATOR_EXITED)
                                .tags("region", "far")
                                .gauge()
                                .value())
                        .isEqualTo(1.0);
            } finally {
                w.stop();
            }
        }
    }

    @Test
    void streamedPartialSegmentsCountUpToTheirFlushedEnd() throws Exception {
        Repository repo = repository("d-repo");
        MeterRegistry registry = new SimpleMeterRegistry();
        Cancellation cancel = new Cancellation();
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("d"), List.of("autovacuum = off"))
                        .start();
                RpoProbe probe = new RpoProbe(
                        registry,
                        List.of(new ProbeTarget("orders", ProbeTarget.fixed(pg.connections()), "home", repo, Map.of())),
                        INTERVAL)) {
            exec(pg, "create table ticks (id bigint primary key, at timestamptz not null)");
            WalReceiver receiver = new WalReceiver(
                    repo,
                    pg.connections(),
                    new WalReceiver.Options(
                            "lifeboat", "lifeboat", Duration.ofMillis(500), WalReceiver.FlushMode.INTERVAL),
                    null,
                    cancel);
            Thread streaming = Thread.ofPlatform().daemon().name("wal-receiver").start(() -> {
                try {
                    receiver.run();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Writer w = new Writer(pg);
            try {
                await(
                        "streamed WAL seen",
                        Duration.ofSeconds(30),
                        () -> reading(probe, "orders/home").durableLsn() > 0);
                List<RpoReading> streamingReadings = watch(probe, "orders/home", Duration.ofSeconds(3));
                long flushed = receiver.status().flushedLsn();
                System.out.printf("[rpo probe] streaming: RPO %s s%n", rpos(streamingReadings));
                assertThat(streamingReadings).allSatisfy(r -> {
                    assertThat(r.durableLsn()).isLessThanOrEqualTo(flushed);
                    assertThat(r.rpoSeconds()).isLessThan(2.0).isCloseTo(truth(w, r), within(1.0));
                });
                // durable ends inside segments: the partials' flushed ends, not segment boundaries
                assertThat(streamingReadings)
                        .anySatisfy(r -> assertThat(r.durableLsn() % SEG).isNotZero());

                cancel.cancel("test: streaming stops");
                streaming.join(Duration.ofSeconds(30));
                Instant stopped = Instant.now();
                Thread.sleep(3000);
                probe.probeNow();
                RpoReading r = reading(probe, "orders/home");
                assertThat(r.durableLsn()).isEqualTo(receiver.status().flushedLsn());
                assertThat(r.rpoSeconds())
                        .isGreaterThanOrEqualTo(seconds(stopped, r.measuredAt()) - 0.5)
                        .isCloseTo(truth(w, r), within(1.0));
            } finally {
                cancel.cancel("test done");
                w.stop();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** A new repository that the postgres user (archive_command) can write. */
    private static Repository repository(String name) throws Exception {
        Path dir = tmp.resolve(name);
        PgTestSupport.CliResult init =
                cli("repo-init", "--repo", PgTestSupport.repoUri(dir), "--key-file", keyFile.toString());
        assertThat(init.exitCode()).as(init.all()).isZero();
        if (Processes.isRoot()) {
            TestLauncher.shareWithPostgres(dir);
            Processes.check(List.of("chown", "-R", "postgres", dir.toString()), Duration.ofSeconds(30));
        }
        return Repository.open(new LocalBlobStore(dir), KeySource.KeyFile.read(keyFile));
    }

    /** A started cluster archiving into the repository {@code repoName} with wal-push. */
    private static LocalCluster cluster(String name, String repoName, String... extra) throws Exception {
        List<String> conf = new ArrayList<>(List.of(
                "archive_mode = on",
                "archive_command = '" + launcher + " wal-push --repo " + PgTestSupport.repoUri(tmp.resolve(repoName))
                        + " --key-file " + keyFile + " %p'",
                "autovacuum = off")); // no background commits: the idle test means idle
        conf.addAll(List.of(extra));
        LocalCluster pg = LocalCluster.create(tmp.resolve(name), conf).start();
        // a checkpointer that started while the server was still finishing startup sleeps a whole checkpoint_timeout
        // before it looks at archive_timeout; a reload wakes it
        exec(pg, "select pg_reload_conf()");
        return pg;
    }

    private static RpoReading reading(RpoProbe probe, String key) {
        RpoReading r = probe.latest().get(key);
        if (r == null) {
            throw new AssertionError(
                    "no reading for " + key + " yet; have " + probe.latest().keySet());
        }
        return r;
    }

    /** The readings of {@code key} every 250 ms for {@code d}. */
    private static List<RpoReading> watch(RpoProbe probe, String key, Duration d) throws InterruptedException {
        List<RpoReading> out = new ArrayList<>();
        long end = System.nanoTime() + d.toNanos();
        while (System.nanoTime() < end) {
            Thread.sleep(250);
            out.add(reading(probe, key));
        }
        return out;
    }

    private static String rpos(List<RpoReading> rs) {
        return rs.stream()
                .map(r -> String.format("%.2f", r.rpoSeconds()))
                .toList()
                .toString();
    }

    /** End of the newest segment the server reports archived. */
    private static long archiverEnd(LocalCluster pg) throws SQLException {
        String last = one(pg, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
        assertThat(WalArchive.isSegment(last)).as("last archived: " + last).isTrue();
        return (WalArchive.segmentNumber(last, SEG) + 1) * SEG;
    }

    private static void awaitFirstArchived(LocalCluster pg, RpoProbe probe) throws Exception {
        await(
                pg,
                probe,
                "the first archived segment",
                Duration.ofSeconds(60),
                () -> reading(probe, "orders/home").durableLsn() > 0);
    }

    /** {@link #await}, saying on a timeout what the probe, the archiver and the server's log said. */
    private static void await(LocalCluster pg, RpoProbe probe, String what, Duration timeout, Check cond)
            throws Exception {
        try {
            await(what, timeout, cond);
        } catch (AssertionError e) {
            List<String> log = Files.readAllLines(pg.socketDir().resolve("server.log"));
            throw new AssertionError(
                    e.getMessage() + "; probe: " + probe.latest() + "; archiver: "
                            + one(pg, "select row(s.*)::text from pg_stat_archiver s") + "; server log:\n"
                            + String.join("\n", log.subList(Math.max(0, log.size() - 30), log.size())),
                    e);
        }
    }

    private static void switchAndAwaitArchived(LocalCluster pg) throws Exception {
        String seg = one(pg, "select pg_walfile_name(pg_switch_wal())");
        await(
                "archive_command archived " + seg,
                Duration.ofSeconds(60),
                () -> one(pg, "select coalesce(last_archived_wal, '') from pg_stat_archiver")
                                .compareTo(seg)
                        >= 0);
    }

    /**
     * The RPO at {@code r.measuredAt()} from the writer's own records: the age of the first acknowledged commit whose
     * WAL reaches beyond the durable position (0 if there is none).
     */
    private static double truth(Writer w, RpoReading r) {
        List<Ack> acks;
        synchronized (w.acks) {
            acks = new ArrayList<>(w.acks);
        }
        for (Ack a : acks) {
            if (a.lsnAfter() > r.durableLsn() && !a.acked().isAfter(r.measuredAt())) {
                return seconds(a.acked(), r.measuredAt());
            }
        }
        return 0;
    }

    private static double seconds(Instant from, Instant to) {
        return Duration.between(from, to).toNanos() / 1e9;
    }

    private static String one(LocalCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private static void await(String what, Duration timeout, Check cond) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (cond.ok()) {
                    return;
                }
            } catch (AssertionError | SQLException e) {
                // not there yet
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    record Ack(Instant acked, long lsnAfter) {}

    /** Commits one row every ~50 ms, noting when each was acknowledged and the server's WAL position after it. */
    private static final class Writer {
        final List<Ack> acks = Collections.synchronizedList(new ArrayList<>());
        volatile boolean stop;
        volatile Exception error;
        final Thread thread;

        Writer(LocalCluster pg) {
            thread = Thread.ofPlatform().name("writer").start(() -> {
                try (Connection c = pg.connect("postgres");
                        PreparedStatement ins = c.prepareStatement("insert into ticks values (?, clock_timestamp())");
                        Statement st = c.createStatement()) {
                    for (long id = 1; !stop; id++) {
                        ins.setLong(1, id);
                        ins.executeUpdate();
                        Instant acked = Instant.now();
                        try (ResultSet rs = st.executeQuery("select pg_current_wal_lsn()::text")) {
                            rs.next();
                            acks.add(new Ack(acked, Lsn.parse(rs.getString(1))));
                        }
                        Thread.sleep(50);
                    }
                } catch (SQLException | InterruptedException e) {
                    error = e;
                }
            });
        }

        void stop() throws InterruptedException {
            stop = true;
            thread.join(Duration.ofSeconds(30));
            assertThat(error).as("writer").isNull();
        }
    }
}
