package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
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
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RPO of the streaming WAL receiver on real servers: a writer commits one row every ~20 ms and notes when each commit
 * was acknowledged; the primary's postmaster is killed with SIGKILL; the repository (base backup + streamed WAL,
 * no archive_command) is restored to the end of its WAL and must hold every commit acknowledged up to 1 s before the
 * kill, and in synchronous mode every acknowledged commit.
 */
class WalStreamRpoTest {
    @TempDir
    static Path tmp;

    static Path keyFile;

    record Ack(long id, Instant acked, long lsnAfter, long commitMicros) {}

    record Restored(Set<Long> ids, LocalCluster cluster) {}

    record Sample(Instant at, long flushed) {}

    @BeforeAll
    static void setUp() throws Exception {
        TestLauncher.install(); // restore_command (wal-get) runs as the postgres user
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
    }

    /** A cluster, a repository, and a receiver streaming from one into the other. */
    private static final class Env implements AutoCloseable {
        final String name;
        final Path base;
        final Path repoDir;
        final String uri;
        final LocalCluster pg;
        final Repository repo;
        final Cancellation cancel = new Cancellation();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        WalReceiver receiver;
        Thread thread;
        Thread monitor;

        Env(String name, List<String> config) throws Exception {
            this.name = name;
            this.base = tmp.resolve(name);
            this.repoDir = base.resolve("repo");
            this.uri = PgTestSupport.repoUri(repoDir);
            PgTestSupport.CliResult init = cli("repo-init", "--repo", uri, "--key-file", keyFile.toString());
            assertThat(init.exitCode()).as(init.all()).isZero();
            repo = Repository.open(new LocalBlobStore(repoDir), KeySource.KeyFile.read(keyFile));
            pg = LocalCluster.create(base.resolve("pg"), config);
            pg.start();
        }

        void startReceiver(WalReceiver.Options opts) throws Exception {
            startReceiver(opts, pg.connections());
        }

        void startReceiver(WalReceiver.Options opts, PgConnections conns) throws Exception {
            receiver = new WalReceiver(repo, conns, opts, null, cancel);
            thread = Thread.ofPlatform().daemon().name("wal-receiver-" + name).start(() -> {
                try {
                    receiver.run();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            monitor = Thread.ofPlatform().daemon().name("wal-monitor-" + name).start(() -> {
                while (!cancel.isCancelled()) {
                    samples.add(new Sample(Instant.now(), receiver.status().flushedLsn()));
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            await(
                    "receiver streaming",
                    Duration.ofSeconds(30),
                    () -> receiver.status().connected());
        }

        WalReceiver.Status stopReceiver() throws Exception {
            cancel.cancel("test done");
            thread.join(Duration.ofSeconds(60));
            assertThat(thread.isAlive()).as("receiver stopped").isFalse();
            if (failure.get() != null) {
                throw new AssertionError("receiver failed", failure.get());
            }
            return receiver.status();
        }

        void backup() throws Exception {
            new PgBackup(
                            repo,
                            new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                            null,
                            new Cancellation())
                    .run();
        }

        /** SIGKILL to the postmaster; returns the time just before the signal. */
        Instant killPostmaster() throws Exception {
            String pid = Files.readAllLines(pg.dataDir().resolve("postmaster.pid"))
                    .getFirst()
                    .strip();
            Instant at = Instant.now();
            Processes.check(List.of("kill", "-9", pid), Duration.ofSeconds(10));
            return at;
        }

        /**
         * Restores the newest backup and replays all archived WAL (the last .partial included), validates, starts
         * the copy and reads its ids. The caller closes the running copy.
         */
        Restored restoreLatest(String dir) throws Exception {
            if (Processes.isRoot()) {
                Processes.check(List.of("chown", "-R", "postgres", repoDir.toString()), Duration.ofSeconds(30));
            }
            Path target = base.resolve(dir).resolve("data");
            PgRestore.Result r = new PgRestore(
                            repo,
                            new PgRestore.Options(
                                    "latest",
                                    target,
                                    2,
                                    null,
                                    null,
                                    RecoveryTarget.latest(null),
                                    List.of("--repo", uri, "--key-file", keyFile.toString())),
                            null,
                            null)
                    .run();
            servePlannedPartial(target);
            PgValidator.Report report = new PgValidator(repo, target, repo.loadSnapshot(r.backupId()), 2, null, null)
                    .skipChecksums(r.modifiedFiles())
                    .run();
            assertThat(report.ok()).as(String.join("; ", report.problems())).isTrue();
            Set<Long> ids = new TreeSet<>();
            LocalCluster restored = LocalCluster.attach(base.resolve(dir));
            restored.start();
            try (Connection c = restored.connect("postgres");
                    Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select id from ticks")) {
                while (rs.next()) {
                    ids.add(rs.getLong(1));
                }
            } catch (SQLException e) {
                restored.close();
                throw e;
            }
            return new Restored(ids, restored);
        }

        /**
         * wal-get serves a .partial only for the segment named with --partial, which the restore passes when the plan
         * ends in that partial; until PgRestore does, the test adds it to the restore_command the restore wrote.
         */
        void servePlannedPartial(Path target) throws Exception {
            String last = new RecoveryPlanner(repo)
                    .plan(RecoveryTarget.latest(null), null)
                    .lastSegment();
            Path auto = target.resolve("postgresql.auto.conf");
            String conf = Files.readString(auto);
            if (WalArchive.isPartial(last) && !conf.contains("--partial")) {
                assertThat(conf).contains(" %f %p'");
                Files.writeString(auto, conf.replace(" %f %p'", " --partial " + last.substring(0, 24) + " %f %p'"));
            }
        }

        private Env(Env of) {
            this.name = of.name + "-next";
            this.base = of.base;
            this.repoDir = of.repoDir;
            this.uri = of.uri;
            this.repo = of.repo;
            this.pg = of.pg;
        }

        /** Another receiver into the same repository (from another server). */
        Env successor() {
            return new Env(this);
        }

        @Override
        public void close() throws Exception {
            cancel.cancel("closing");
            if (thread != null) {
                thread.join(Duration.ofSeconds(30));
            }
            pg.close();
        }
    }

    /** Commits one row every ~20 ms and records when each commit returned, until stopped or the server dies. */
    private static final class Writer {
        final List<Ack> acks = Collections.synchronizedList(new ArrayList<>());
        volatile boolean stop;
        volatile Throwable error;
        final Thread thread;

        Writer(LocalCluster pg) {
            thread = Thread.ofPlatform().name("writer").start(() -> {
                try (Connection c = pg.connect("postgres");
                        PreparedStatement ins = c.prepareStatement("insert into ticks values (?, clock_timestamp())");
                        Statement st = c.createStatement()) {
                    for (long id = 1; !stop; id++) {
                        ins.setLong(1, id);
                        long t0 = System.nanoTime();
                        ins.executeUpdate();
                        Instant acked = Instant.now();
                        long micros = (System.nanoTime() - t0) / 1000;
                        long lsn = -1;
                        try (ResultSet rs = st.executeQuery("select pg_current_wal_flush_lsn()::text")) {
                            rs.next();
                            lsn = Lsn.parse(rs.getString(1));
                        } finally {
                            acks.add(new Ack(id, acked, lsn, micros));
                        }
                        Thread.sleep(20);
                    }
                } catch (SQLException | InterruptedException e) {
                    error = e;
                }
            });
        }

        List<Ack> stop() throws InterruptedException {
            stop = true;
            thread.join(Duration.ofSeconds(30));
            return new ArrayList<>(acks);
        }
    }

    static void await(String what, Duration timeout, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** How long after its acknowledgement each commit was durable in the repository, in ms (sorted). */
    static List<Long> durabilityLags(List<Ack> acks, List<Sample> samples) {
        List<Sample> s;
        synchronized (samples) {
            s = new ArrayList<>(samples);
        }
        List<Long> lags = new ArrayList<>();
        int j = 0;
        for (Ack a : acks) {
            if (a.lsnAfter() < 0) {
                continue;
            }
            while (j < s.size() && s.get(j).flushed() < a.lsnAfter()) {
                j++;
            }
            if (j == s.size()) {
                break;
            }
            lags.add(Math.max(0, Duration.between(a.acked(), s.get(j).at()).toMillis()));
        }
        Collections.sort(lags);
        return lags;
    }

    static long percentile(List<Long> sorted, double p) {
        return sorted.isEmpty() ? -1 : sorted.get(Math.min(sorted.size() - 1, (int) Math.floor(p * sorted.size())));
    }

    /** Runs writer → kill -9 → restore to the end of the streamed WAL; checks and prints the RPO. */
    private static Restored killAndRestore(Env env, boolean synchronous) throws Exception {
        PgTestSupport.exec(env.pg, "create table ticks (id bigint primary key, at timestamptz not null)");
        env.backup();
        Writer w = new Writer(env.pg);
        Thread.sleep(4000);
        Instant kill = env.killPostmaster();
        List<Ack> acks = w.stop();
        Thread.sleep(2000);
        WalReceiver.Status st = env.stopReceiver();
        List<Long> lags = durabilityLags(acks, env.samples);
        Restored copy = env.restoreLatest("restore");
        try {
            checkRpo(synchronous, kill, acks, lags, st, copy.ids());
        } catch (Throwable t) {
            copy.cluster().close();
            throw t;
        }
        return copy;
    }

    private static void checkRpo(
            boolean synchronous,
            Instant kill,
            List<Ack> acks,
            List<Long> lags,
            WalReceiver.Status st,
            Set<Long> restored) {

        List<Ack> beforeKill =
                acks.stream().filter(a -> !a.acked().isAfter(kill)).toList();
        List<Ack> required = synchronous
                ? acks
                : beforeKill.stream()
                        .filter(a -> !a.acked().isAfter(kill.minus(Duration.ofSeconds(1))))
                        .toList();
        List<Long> lost = beforeKill.stream()
                .map(Ack::id)
                .filter(id -> !restored.contains(id))
                .toList();
        Instant newestRestored = acks.stream()
                .filter(a -> restored.contains(a.id()))
                .map(Ack::acked)
                .max(Instant::compareTo)
                .orElseThrow();
        long gapMs = Duration.between(newestRestored, kill).toMillis();
        long rpoMs = lost.isEmpty()
                ? 0
                : Duration.between(
                                acks.stream()
                                        .filter(a -> a.id() == lost.getFirst())
                                        .findFirst()
                                        .orElseThrow()
                                        .acked(),
                                kill)
                        .toMillis();
        System.out.printf(
                "[wal-stream RPO, %s] %d commits acknowledged before kill -9 (%d in all), %d restored; "
                        + "acknowledged before the kill but lost: %d (RPO %d ms); newest restored commit acknowledged "
                        + "%d ms "
                        + "before the kill; commit-to-durable-in-repository lag p50 %d ms, p99 %d ms, max %d ms; "
                        + "commit latency avg %.2f ms, max %.2f ms; receiver: %s%n",
                synchronous ? "synchronous" : "asynchronous",
                beforeKill.size(),
                acks.size(),
                restored.size(),
                lost.size(),
                rpoMs,
                gapMs,
                percentile(lags, 0.5),
                percentile(lags, 0.99),
                percentile(lags, 1.0),
                acks.stream().mapToLong(Ack::commitMicros).average().orElse(0) / 1000.0,
                acks.stream().mapToLong(Ack::commitMicros).max().orElse(0) / 1000.0,
                st.describe());

        assertThat(beforeKill).hasSizeGreaterThan(30);
        for (Ack a : required) {
            assertThat(restored)
                    .as(
                            "commit %d acknowledged %d ms before the kill",
                            a.id(), Duration.between(a.acked(), kill).toMillis())
                    .contains(a.id());
        }
        // the restored rows are a prefix of the committed ones: no holes
        long max = restored.stream().mapToLong(Long::longValue).max().orElse(0);
        assertThat(restored).hasSize((int) max);
        if (!synchronous) {
            assertThat(percentile(lags, 1.0))
                    .as("no commit waited more than the flush interval to be durable")
                    .isLessThanOrEqualTo(1000);
        }
    }

    /**
     * Asynchronous RPO, then a timeline switch: the restored copy (promoted to timeline 2) becomes the new primary and
     * a receiver streams it into the same repository; a second restore follows timeline 2 to its end.
     */
    @Test
    void asynchronousReceiverLosesAtMostTheLastSecondAndFollowsANewTimeline() throws Exception {
        try (Env env = new Env("async", List.of())) {
            env.startReceiver(WalReceiver.Options.defaults());
            assertThat(env.receiver.status().synchronous()).isFalse();
            Restored first = killAndRestore(env, false);
            try (LocalCluster promoted = first.cluster()) {
                assertThat(one(promoted, "select timeline_id::text from pg_control_checkpoint()"))
                        .isEqualTo("2");
                Env next = env.successor();
                next.startReceiver(WalReceiver.Options.defaults(), promoted.connections());
                try {
                    assertThat(next.receiver.status().timeline()).isEqualTo(2);
                    PgTestSupport.exec(
                            promoted,
                            "insert into ticks select g, clock_timestamp() from generate_series(100001, 100100) g");
                    long lsn = Lsn.parse(one(promoted, "select pg_current_wal_flush_lsn()::text"));
                    await(
                            "timeline 2 WAL durable",
                            Duration.ofSeconds(10),
                            () -> next.receiver.status().flushedLsn() >= lsn);
                    WalReceiver.Status st = next.stopReceiver();
                    System.out.println("[wal-stream timeline switch] " + st.describe());
                } finally {
                    next.cancel.cancel("test done");
                }
                assertThat(new WalArchive(env.repo).exists("00000002.history")).isTrue();
                Restored second = env.restoreLatest("restore-tli2");
                try (LocalCluster c = second.cluster()) {
                    Set<Long> expected = new TreeSet<>(first.ids());
                    for (long id = 100001; id <= 100100; id++) {
                        expected.add(id);
                    }
                    assertThat(second.ids()).isEqualTo(expected);
                    assertThat(one(c, "select timeline_id::text from pg_control_checkpoint()"))
                            .isEqualTo("3");
                }
            }
        }
    }

    @Test
    void synchronousReceiverLosesNoAcknowledgedCommit() throws Exception {
        try (Env env = new Env("sync", List.of("synchronous_standby_names = 'lifeboat'", "synchronous_commit = on"))) {
            env.startReceiver(WalReceiver.Options.defaults());
            assertThat(env.receiver.status().synchronous()).isTrue();
            await("synchronous standby", Duration.ofSeconds(20), () -> {
                try {
                    return PgTestSupport.count(
                                    env.pg,
                                    "select count(*) from pg_stat_replication where application_name = 'lifeboat' "
                                            + "and sync_state = 'sync'")
                            == 1;
                } catch (SQLException e) {
                    return false;
                }
            });
            killAndRestore(env, true).cluster().close();
        }
    }

    @Test
    void reconnectsAfterARestartAndCoexistsWithArchiveCommand() throws Exception {
        Path launcher = TestLauncher.install();
        String archiveCommand = launcher + " wal-push --repo "
                + PgTestSupport.repoUri(tmp.resolve("reconnect").resolve("repo")) + " --key-file " + keyFile + " %p";
        try (Env env =
                new Env("reconnect", List.of("archive_mode = on", "archive_command = '" + archiveCommand + "'"))) {
            // archive_command runs as postgres and the receiver as root: both must be able to write wal/00000001/
            Path walDir = env.repoDir.resolve("wal").resolve("00000001");
            Files.createDirectories(walDir);
            if (Processes.isRoot()) {
                Processes.check(List.of("chown", "-R", "postgres", env.repoDir.toString()), Duration.ofSeconds(30));
            }
            // archive_command archives the first segment before the receiver starts: the receiver resumes after it
            PgTestSupport.exec(
                    env.pg,
                    "create table ticks (id bigint primary key, at timestamptz not null)",
                    "insert into ticks select g, now() from generate_series(1, 1000) g");
            String switched = switchWal(env.pg);
            awaitArchived(env.pg, switched);
            env.startReceiver(new WalReceiver.Options(
                    "lifeboat", "lifeboat", Duration.ofMillis(500), WalReceiver.FlushMode.AUTO));

            env.pg.stop();
            await(
                    "receiver notices the restart",
                    Duration.ofSeconds(20),
                    () -> !env.receiver.status().connected());
            env.pg.start();
            await(
                    "receiver reconnects",
                    Duration.ofSeconds(30),
                    () -> env.receiver.status().connected());

            PgTestSupport.exec(env.pg, "insert into ticks select g, now() from generate_series(1001, 2000) g");
            long after = Lsn.parse(one(env.pg, "select pg_current_wal_flush_lsn()::text"));
            await(
                    "writes after the restart are durable in the repository",
                    Duration.ofSeconds(10),
                    () -> env.receiver.status().flushedLsn() >= after);
            String switched2 = switchWal(env.pg);
            awaitArchived(env.pg, switched2);
            long segEnd = (Lsn.parse(one(env.pg, "select pg_current_wal_flush_lsn()::text")) >> 24) << 24;
            await(
                    "receiver completed " + switched2,
                    Duration.ofSeconds(10),
                    () -> env.receiver.status().flushedLsn() >= segEnd);
            WalReceiver.Status st = env.stopReceiver();
            System.out.printf(
                    "[wal-stream reconnect] %s; archive_command: %s%n",
                    st.describe(),
                    one(
                            env.pg,
                            "select format('%s archived, %s failed', archived_count, failed_count) from "
                                    + "pg_stat_archiver"));

            assertThat(st.reconnects()).isGreaterThanOrEqualTo(1);
            assertThat(st.conflicts())
                    .as("streamed segments equal the archived ones")
                    .isZero();
            assertThat(one(env.pg, "select failed_count::text from pg_stat_archiver"))
                    .isEqualTo("0");
            // both stored switched2 (the receiver completed it, archive_command archived it without a failure), and
            // WalArchive.push refuses different content under one name: the streamed segment is the archived file
            assertThat(st.segmentsStored() + st.segmentsAlreadyArchived()).isGreaterThanOrEqualTo(1);
            assertThat(new WalArchive(env.repo).list()).contains(switched, switched2);
            // byte for byte: the archived copy of a switched segment is the server's own file
            WalArchive archive = new WalArchive(env.repo);
            int compared = 0;
            for (String seg : List.of(switched, switched2)) {
                Path onDisk = env.pg.dataDir().resolve("pg_wal").resolve(seg);
                if (Files.exists(onDisk)) {
                    assertThat(archive.read(seg).orElseThrow()).as(seg).isEqualTo(Files.readAllBytes(onDisk));
                    compared++;
                }
                assertThat(archive.exists(seg + ".partial"))
                        .as(seg + ".partial deleted")
                        .isFalse();
            }
            assertThat(compared).isPositive();
        }
    }

    static void awaitArchived(LocalCluster pg, String segment) throws InterruptedException {
        await("archive_command archived " + segment, Duration.ofSeconds(60), () -> {
            try {
                return one(pg, "select coalesce(last_archived_wal, '') from pg_stat_archiver")
                                .compareTo(segment)
                        >= 0;
            } catch (SQLException e) {
                return false;
            }
        });
    }

    @Test
    void readsServerSettings() {
        assertThat(WalReceiver.listedAsSynchronous("lifeboat", "lifeboat")).isTrue();
        assertThat(WalReceiver.listedAsSynchronous("FIRST 1 (s1, \"LifeBoat\")", "lifeboat"))
                .isTrue();
        assertThat(WalReceiver.listedAsSynchronous("ANY 2 (*)", "lifeboat")).isTrue();
        assertThat(WalReceiver.listedAsSynchronous("s1, s2", "lifeboat")).isFalse();
        assertThat(WalReceiver.listedAsSynchronous("", "lifeboat")).isFalse();
        assertThat(WalReceiver.parseSize("16MB")).isEqualTo(16L << 20);
        assertThat(WalReceiver.parseSize("1GB")).isEqualTo(1L << 30);
    }

    /** pg_switch_wal() after some WAL; returns the name of the segment it ended. */
    static String switchWal(LocalCluster pg) throws SQLException {
        return one(pg, "select pg_walfile_name(pg_switch_wal())");
    }

    static String one(LocalCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
