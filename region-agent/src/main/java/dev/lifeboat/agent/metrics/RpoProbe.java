package dev.lifeboat.agent.metrics;

import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.replication.Heartbeat;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures each database's recovery point objective per region, from the running server and what the region's
 * repository holds, rather than from configuration.
 *
 * <p>Every interval the probe asks the server for its WAL write position ({@code pg_current_wal_lsn()}) and its
 * transaction horizon, and remembers when it first saw each position. It then finds the newest WAL durable in each
 * region: the end of the newest archived segment, or the flushed end of a streamed {@code .partial} segment. A region's
 * RPO is 0 when that durable position has reached the server's position; otherwise it is the age of the oldest WAL not
 * yet durable there: now − the time the probe first saw a position beyond the durable one. WAL beyond the durable
 * position that holds no commit (a checkpoint or standby-snapshot record written while no transaction ran and no
 * transaction id was handed out) does not count, so an idle database whose last commit is archived reads 0 rather
 * than an ever-growing age. The resolution is one interval.
 *
 * <p>When the server cannot be reached, the RPO falls back to now − the write time of the newest durable WAL object
 * (an upper bound: without the server's position an idle database cannot be told from a stalled one), flagged
 * {@link RpoReading#estimatedFromObjectTime()}.
 *
 * <p>Listing stays cheap however long the archive is: only the current timeline, and within it only the segments
 * whose 4 GiB block holds the last durable position (or the server's current one); partials are read (a header, not
 * their content) only when their size or time changed.
 */
public final class RpoProbe implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RpoProbe.class);

    public static final String RPO_SECONDS = "lifeboat.rpo.seconds";
    public static final String DURABLE_LSN = "lifeboat.wal.durable.lsn";
    public static final String DURABLE_AGE_SECONDS = "lifeboat.wal.durable.age.seconds";
    public static final String ESTIMATED = "lifeboat.rpo.estimated";
    public static final String CURRENT_LSN = "lifeboat.wal.current.lsn";
    public static final String PROBE_ERRORS = "lifeboat.rpo.probe.errors";
    public static final String REPLICATOR_HEARTBEAT_AGE = "lifeboat.replicator.heartbeat.age.seconds";
    public static final String REPLICATOR_EXITED = "lifeboat.replicator.exited";

    /** Samples beyond this drop the second-oldest one: at one a second that is more than a day of history. */
    static final int MAX_SAMPLES = 100_000;
    /** Used only until the server has told us its wal_segment_size. */
    static final long DEFAULT_SEGMENT_SIZE = 16L << 20;
    /** More 4 GiB blocks than this between the last durable position and the server's: list the whole timeline. */
    private static final int MAX_BLOCKS_LISTED = 16;

    private final MeterRegistry registry;
    private final List<Target> targets = new ArrayList<>();
    private final List<Meter> meters = new ArrayList<>();
    private final Map<String, RpoReading> latest = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;
    private final Duration interval;
    private final Object lock = new Object();
    private boolean closed;

    /**
     * Seconds a reading is overdue: its age beyond a generous allowance (two intervals, and more than any one probe
     * round of all targets may take), so a slow neighbour does not inflate it but a hung probe cannot hide forever.
     */
    private double overdueSeconds(RpoReading r) {
        long age = Duration.between(r.measuredAt(), Instant.now()).toMillis();
        long allowed = Math.max(interval.multipliedBy(2).toMillis(), 60_000);
        return age > allowed ? (age - allowed) / 1000.0 : 0;
    }

    /** Starts probing every {@code interval} (the first measurement right away) and publishes the gauges. */
    public RpoProbe(MeterRegistry registry, List<ProbeTarget> targets, Duration interval) {
        if (interval == null || interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("the RPO probe interval must be positive, got " + interval);
        }
        this.registry = Objects.requireNonNull(registry, "registry");
        this.interval = interval;
        Set<String> names = new HashSet<>();
        for (ProbeTarget t : targets) {
            if (!names.add(t.database())) {
                throw new IllegalArgumentException(
                        "database " + t.database() + " is named twice among the RPO probe's targets");
            }
            this.targets.add(new Target(t));
        }
        timer = Executors.newSingleThreadScheduledExecutor(
                r -> Thread.ofPlatform().daemon().name("lifeboat-rpo-probe").unstarted(r));
        timer.scheduleWithFixedDelay(this::probeNow, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The key of {@link #latest()}: {@code database/region}. */
    public static String key(String database, String region) {
        return database + "/" + region;
    }

    /** The newest reading of every (database, region), keyed by {@link #key}. */
    public Map<String, RpoReading> latest() {
        return Collections.unmodifiableMap(new TreeMap<>(latest));
    }

    public Duration interval() {
        return interval;
    }

    /** Measures every target now, on the caller's thread (the scheduled rounds do the same). */
    public void probeNow() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            for (Target t : targets) {
                try {
                    t.probe();
                } catch (RuntimeException e) {
                    // a bug must not stop the schedule: say so and keep measuring the others
                    log.error("RPO probe of {} failed unexpectedly", t.spec.database(), e);
                }
            }
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        timer.shutdownNow();
        try {
            timer.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lock) {
            meters.forEach(registry::remove);
            for (Target t : targets) {
                t.closeConnection();
                for (Region r : t.regions) {
                    if (!r.primary) {
                        try {
                            r.store.close();
                        } catch (IOException e) {
                            log.debug("closing {}: {}", r.store.uri(), e.getMessage());
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------

    /**
     * The server's state at one moment. {@code quiet}: no transaction held a transaction id, so every commit so far
     * lies before {@code lsn}; with the same {@code nextXid} later, no commit was written since.
     */
    private record ServerState(long lsn, int timeline, long segmentSize, long nextXid, boolean quiet) {}

    /** A server state and when the probe first saw it. */
    private record Sample(long lsn, long nextXid, boolean quiet, Instant firstSeen) {}

    private record PartialSeen(long size, Instant lastModified, long length) {}

    private static final String SERVER_SQL =
            "select l::text, pg_walfile_name(l), pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text, "
                    + "(select setting::bigint from pg_settings where name = 'wal_segment_size') "
                    // the snapshot is the statement's, taken before the position is read: commits it counts as done lie
                    // before l
                    + "from (select pg_current_wal_lsn() l, pg_current_snapshot() s) x";

    private final class Target {
        final ProbeTarget spec;
        final WalArchive archive;
        final List<Region> regions = new ArrayList<>();
        final List<Sample> samples = new ArrayList<>();
        Connection conn;
        long segmentSize = DEFAULT_SEGMENT_SIZE;
        int timeline = -1;
        volatile long currentLsn = -1;
        String lastDbError;

        Target(ProbeTarget spec) {
            this.spec = spec;
            this.archive = new WalArchive(spec.primary());
            regions.add(new Region(this, spec.primaryRegion(), spec.primary().store(), true));
            spec.replicas().forEach((name, store) -> regions.add(new Region(this, name, store, false)));
            meters.add(Gauge.builder(CURRENT_LSN, this, t -> t.currentLsn < 0 ? Double.NaN : t.currentLsn)
                    .description("The server's WAL write position (pg_current_wal_lsn) as a number")
                    .tags("database", spec.database())
                    .strongReference(true)
                    .register(registry));
        }

        void probe() {
            Instant now = Instant.now();
            ServerState server = null;
            String dbError = null;
            try {
                server = queryServer();
            } catch (SQLException | IOException | RuntimeException e) {
                closeConnection();
                currentLsn = -1; // unknown now; the timeline stays, to find this region's WAL without the server
                dbError = "cannot ask the server of " + spec.database() + " for its WAL position: " + e.getMessage();
            }
            if (!Objects.equals(dbError, lastDbError)) {
                if (dbError != null) {
                    log.warn("{}; RPO falls back to the age of the newest durable WAL object", dbError);
                } else if (lastDbError != null) {
                    log.info("server of {} reachable again", spec.database());
                }
                lastDbError = dbError;
            }
            if (server != null) {
                record(server, now);
            }
            long minDurable = Long.MAX_VALUE;
            for (Region r : regions) {
                String regionError = null;
                if (!r.primary) {
                    r.readHeartbeat(now);
                }
                try {
                    r.refresh();
                } catch (IOException | RuntimeException e) {
                    regionError =
                            "cannot read the WAL in region " + r.name + " (" + r.store.uri() + "): " + e.getMessage();
                }
                if (regionError != null || dbError != null) {
                    r.errors.increment();
                }
                if (regionError != null && !regionError.equals(r.lastError)) {
                    log.warn("{}", regionError);
                }
                r.lastError = regionError;
                if (regionError == null && r.durable < 0 && r.timeline >= 0) {
                    regionError =
                            "region " + r.name + " (" + r.store.uri() + ") holds no WAL of timeline " + r.timeline;
                }
                RpoReading reading = server != null
                        ? new RpoReading(
                                spec.database(),
                                r.name,
                                measured(r, server, now),
                                r.durable,
                                server.lsn(),
                                now,
                                false,
                                regionError)
                        : new RpoReading(
                                spec.database(),
                                r.name,
                                r.durableTime == null ? Double.NaN : seconds(r.durableTime, now),
                                r.durable,
                                -1,
                                now,
                                true,
                                join(dbError, regionError));
                r.reading = reading;
                r.durableAge = r.durableTime == null ? Double.NaN : seconds(r.durableTime, now);
                latest.put(key(spec.database(), r.name), reading);
                minDurable = Math.min(minDurable, r.durable);
            }
            prune(minDurable);
        }

        private void record(ServerState server, Instant now) {
            if (server.timeline() != timeline
                    || (!samples.isEmpty() && server.lsn() < samples.getLast().lsn())) {
                samples.clear(); // a new timeline or another server: earlier positions say nothing about this one
            }
            timeline = server.timeline();
            segmentSize = server.segmentSize();
            currentLsn = server.lsn();
            Sample last = samples.isEmpty() ? null : samples.getLast();
            if (last == null
                    || last.lsn() != server.lsn()
                    || last.nextXid() != server.nextXid()
                    || last.quiet() != server.quiet()) {
                samples.add(new Sample(server.lsn(), server.nextXid(), server.quiet(), now));
                if (samples.size() > MAX_SAMPLES) {
                    samples.remove(1); // the oldest stays: it anchors the largest RPO
                }
            }
        }

        /** Age of the oldest WAL with (possibly) a commit that is not durable in the region; 0 if there is none. */
        private double measured(Region r, ServerState server, Instant now) {
            long durable = r.durable;
            if (durable >= server.lsn()) {
                return 0;
            }
            int last = -1; // the newest sample the region covers
            for (int i = samples.size() - 1; i >= 0; i--) {
                if (samples.get(i).lsn() <= durable) {
                    last = i;
                    break;
                }
            }
            Sample covered = last >= 0 ? samples.get(last) : null;
            for (int i = last + 1; i < samples.size(); i++) {
                Sample s = samples.get(i);
                if (s.lsn() <= durable) {
                    continue;
                }
                if (covered != null && covered.quiet() && s.quiet() && s.nextXid() == covered.nextXid()) {
                    continue; // nothing committed since the covered moment: the WAL beyond holds no commit
                }
                Instant from = s.firstSeen();
                if (covered == null && r.durableTime != null && r.durableTime.isBefore(from)) {
                    // the region was behind before the probe started: the WAL beyond it was written by the time
                    // the newest durable object was (it began when that one's segment filled)
                    from = r.durableTime;
                }
                return seconds(from, now);
            }
            return 0;
        }

        /** Drops samples older than the newest one every region covers (they can no longer decide any RPO). */
        private void prune(long minDurable) {
            int keepFrom = -1;
            for (int i = samples.size() - 1; i >= 0; i--) {
                if (samples.get(i).lsn() <= minDurable) {
                    keepFrom = i;
                    break;
                }
            }
            if (keepFrom > 0) {
                samples.subList(0, keepFrom).clear();
            }
        }

        private ServerState queryServer() throws SQLException, IOException {
            for (int attempt = 0; ; attempt++) {
                boolean reused = conn != null;
                try {
                    if (conn == null) {
                        conn = spec.postgres().connections().open("postgres");
                        // a hung server must not stall the probe of the other databases for long
                        conn.setNetworkTimeout(Runnable::run, (int) Math.max(5_000, 2 * interval.toMillis()));
                    }
                    try (Statement st = conn.createStatement();
                            ResultSet rs = st.executeQuery(SERVER_SQL)) {
                        rs.next();
                        long lsn = Lsn.parse(rs.getString(1));
                        int tli = Integer.parseUnsignedInt(rs.getString(2).substring(0, 8), 16);
                        long xmin = Long.parseLong(rs.getString(3));
                        long xmax = Long.parseLong(rs.getString(4));
                        return new ServerState(lsn, tli, rs.getLong(5), xmax, xmin == xmax);
                    }
                } catch (SQLException e) {
                    closeConnection();
                    if ("55000".equals(e.getSQLState())) {
                        throw new SQLException(
                                "the server is in recovery (a standby): measure RPO on the primary",
                                e.getSQLState(),
                                e);
                    }
                    if (!reused || attempt > 0) {
                        throw e;
                    }
                    // the kept connection died (server restarted): one fresh attempt before falling back
                }
            }
        }

        void closeConnection() {
            if (conn != null) {
                try {
                    conn.close();
                } catch (SQLException e) {
                    log.debug("closing the probe's connection: {}", e.getMessage());
                }
                conn = null;
            }
        }
    }

    private final class Region {
        final Target target;
        final String name;
        final BlobStore store;
        final boolean primary;
        final Counter errors;
        final Map<String, PartialSeen> partials = new HashMap<>();
        volatile RpoReading reading;
        volatile double durableAge = Double.NaN;
        volatile double replicatorAge = Double.NaN;
        volatile double replicatorExited = Double.NaN;
        int timeline = -1;
        volatile long durable = -1;
        int durableTimeline = -1;
        String durableKey;
        Instant durableModified;
        Instant durableTime;
        String lastError;

        Region(Target target, String name, BlobStore store, boolean primary) {
            this.target = target;
            this.name = name;
            this.store = store;
            this.primary = primary;
            String db = target.spec.database();
            errors = Counter.builder(PROBE_ERRORS)
                    .description("RPO measurements that could not ask the server or read the region")
                    .tags("database", db, "region", name)
                    .register(registry);
            meters.add(errors);
            // a reading the probe has not renewed (a hung listing or server) ages with the clock, so it cannot look
            // healthy
            meters.add(Gauge.builder(
                            RPO_SECONDS,
                            this,
                            r -> r.reading == null ? Double.NaN : r.reading.rpoSeconds() + overdueSeconds(r.reading))
                    .description("Age of the oldest WAL with a commit not yet durable in the region (0: all durable)")
                    .tags("database", db, "region", name)
                    .strongReference(true)
                    .register(registry));
            meters.add(Gauge.builder(DURABLE_LSN, this, r -> r.durable < 0 ? Double.NaN : r.durable)
                    .description("End of the newest WAL durable in the region, as a number")
                    .tags("database", db, "region", name)
                    .strongReference(true)
                    .register(registry));
            meters.add(Gauge.builder(DURABLE_AGE_SECONDS, this, r -> r.durableAge)
                    .description("Time since the newest durable WAL object in the region was written")
                    .tags("database", db, "region", name)
                    .strongReference(true)
                    .register(registry));
            if (!primary) {
                meters.add(Gauge.builder(REPLICATOR_HEARTBEAT_AGE, this, r -> r.replicatorAge)
                        .description("Seconds since the region's replicator last wrote its heartbeat (NaN: none ever)")
                        .tags("database", db, "region", name)
                        .strongReference(true)
                        .register(registry));
                meters.add(Gauge.builder(REPLICATOR_EXITED, this, r -> r.replicatorExited)
                        .description("1 when the region's replicator's last heartbeat was its exit")
                        .tags("database", db, "region", name)
                        .strongReference(true)
                        .register(registry));
            }
            meters.add(Gauge.builder(
                            ESTIMATED, this, r -> r.reading != null && r.reading.estimatedFromObjectTime() ? 1 : 0)
                    .description(
                            "1 when the server could not be asked and the RPO is the newest durable WAL object's age")
                    .tags("database", db, "region", name)
                    .strongReference(true)
                    .register(registry));
        }

        /**
         * The region's replicator, from the heartbeat it writes to the primary: seconds since its last beat and
         * whether that beat was its exit (NaN both when no replicator ever ran for it; one read per probe).
         */
        void readHeartbeat(Instant now) {
            try {
                Optional<Heartbeat> beat = Heartbeat.read(target.spec.primary().store(), name);
                replicatorAge = beat.map(b -> seconds(b.at(), now)).orElse(Double.NaN);
                replicatorExited =
                        beat.map(b -> b.exitedAt() != null ? 1.0 : 0.0).orElse(Double.NaN);
            } catch (IOException | RuntimeException e) {
                replicatorAge = Double.NaN;
                replicatorExited = Double.NaN;
            }
        }

        /** Finds the newest durable WAL position in this region's repository. */
        void refresh() throws IOException {
            int tli = target.timeline >= 0 ? target.timeline : timeline >= 0 ? timeline : newestTimeline();
            if (tli < 0) {
                return; // no server yet and no WAL at all
            }
            boolean newTimeline = tli != timeline;
            if (newTimeline) {
                timeline = tli;
                partials.clear();
                durableKey =
                        null; // positions continue across timelines: the old durable end stays until the new one has
                // WAL
            }
            String dir = WalArchive.PREFIX + String.format("%08X", tli) + "/";
            List<BlobInfo> objects = null;
            if (durableKey != null) {
                long from = (durable - 1) >>> 32;
                long to = target.currentLsn >= 0 && target.timeline == tli
                        ? Math.max(from, target.currentLsn >>> 32)
                        : from + 1;
                if (to - from < MAX_BLOCKS_LISTED) {
                    objects = new ArrayList<>();
                    for (long block = from; block <= to; block++) {
                        objects.addAll(list(dir + String.format("%08X%08X", tli, block)));
                    }
                    if (objects.stream().noneMatch(b -> isWal(b.key()))) {
                        objects = null; // nothing where the newest WAL was: look at the whole timeline again
                    }
                }
            }
            if (objects == null) {
                objects = list(dir);
            }
            scan(objects);
        }

        /**
         * A listing, tried again when a file vanished during it: a local directory walk fails if a writer's temporary
         * file is renamed away between reading the directory and reading the file's attributes.
         */
        private List<BlobInfo> list(String prefix) throws IOException {
            for (int attempt = 1; ; attempt++) {
                try {
                    return store.list(prefix);
                } catch (NoSuchFileException e) {
                    if (attempt == 3) {
                        throw e;
                    }
                }
            }
        }

        private static boolean isWal(String key) {
            String n = key.substring(key.lastIndexOf('/') + 1);
            return WalArchive.isSegment(n) || WalArchive.isPartial(n);
        }

        private void scan(List<BlobInfo> objects) throws IOException {
            long segSize = target.segmentSize;
            BlobInfo newestSegment = null;
            long newestSegNo = -1;
            BlobInfo newestPartial = null;
            long newestPartialNo = -1;
            for (BlobInfo b : objects) {
                String n = b.key().substring(b.key().lastIndexOf('/') + 1);
                if (WalArchive.isSegment(n)) {
                    long no = WalArchive.segmentNumber(n, segSize);
                    if (no > newestSegNo) {
                        newestSegNo = no;
                        newestSegment = b;
                    }
                } else if (WalArchive.isPartial(n)) {
                    long no = WalArchive.segmentNumber(n, segSize);
                    if (no > newestPartialNo) {
                        newestPartialNo = no;
                        newestPartial = b;
                    }
                }
            }
            long end = -1;
            BlobInfo holder = null;
            if (newestSegment != null) {
                end = (newestSegNo + 1) * segSize;
                holder = newestSegment;
            }
            if (newestPartial != null && newestPartialNo > newestSegNo) {
                long len = partialLength(newestPartial);
                if (len >= 0 && newestPartialNo * segSize + len > end) {
                    end = newestPartialNo * segSize + len;
                    holder = newestPartial;
                }
            }
            String keep = newestPartial == null ? null : newestPartial.key();
            partials.keySet().removeIf(k -> !k.equals(keep));
            if (holder == null) {
                if (durableTimeline == timeline) {
                    durable = -1; // the region's WAL of this timeline is gone (emptied)
                    durableTime = null;
                    durableKey = null;
                }
                // else: positions continue across timelines, so the older timeline's end stays durable until
                // this one has WAL in the region
                return;
            }
            durable = end;
            durableTimeline = timeline;
            if (!holder.key().equals(durableKey) || !holder.lastModified().equals(durableModified)) {
                durableKey = holder.key();
                durableModified = holder.lastModified();
                durableTime = writeTime(holder);
            }
        }

        /** Bytes of WAL the partial holds, read again only when its size or time changed. */
        private long partialLength(BlobInfo b) throws IOException {
            PartialSeen seen = partials.get(b.key());
            if (seen != null && seen.size() == b.size() && seen.lastModified().equals(b.lastModified())) {
                return seen.length();
            }
            long len = target.archive.partialLength(
                    store, b.key().substring(b.key().lastIndexOf('/') + 1));
            partials.put(b.key(), new PartialSeen(b.size(), b.lastModified(), len));
            return len;
        }

        /**
         * When the object's WAL was written: in a replica, the primary's write time if the primary still holds it and
         * wrote it earlier (the copy's own time is when replication caught up, not when the WAL was written).
         */
        private Instant writeTime(BlobInfo b) throws IOException {
            if (primary) {
                return b.lastModified();
            }
            return target.spec
                    .primary()
                    .store()
                    .stat(b.key())
                    .map(BlobInfo::lastModified)
                    .filter(t -> t.isBefore(b.lastModified()))
                    .orElse(b.lastModified());
        }

        /** Without a server: the highest timeline that has segments in this region (one listing of all WAL). */
        private int newestTimeline() throws IOException {
            int newest = -1;
            for (BlobInfo b : list(WalArchive.PREFIX)) {
                String n = b.key().substring(b.key().lastIndexOf('/') + 1);
                if (WalArchive.isSegment(n) || WalArchive.isPartial(n)) {
                    newest = Math.max(newest, Integer.parseUnsignedInt(n.substring(0, 8), 16));
                }
            }
            return newest;
        }
    }

    private static double seconds(Instant from, Instant to) {
        return Math.max(0, Duration.between(from, to).toNanos() / 1e9);
    }

    private static String join(String a, String b) {
        return a == null ? b : b == null ? a : a + "; " + b;
    }
}
