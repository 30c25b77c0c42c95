package dev.lifeboat.engine.postgres;

import dev.lifeboat.common.Backoff;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.OperationCancelledException;
import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.RefusedException;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.WalSource;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.util.Hosts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams WAL from a running server into the repository's WAL archive with PostgreSQL's physical replication
 * protocol, like pg_receivewal, so the archive lags the server by about a second instead of a whole segment.
 *
 * <p>A permanent physical replication slot keeps the server from recycling WAL the archive does not hold yet. Received
 * bytes collect in memory for the current segment; at least once per flush interval (sooner, so that no byte waits
 * longer than the interval) the segment so far is written durably as {@code <segment>.partial}, and a completed
 * segment as {@code <segment>} (after which its partial is deleted). Only after a write is durable is its end reported
 * to the server as flushed, so when the receiver's name is in {@code synchronous_standby_names}, commits return only
 * once they are in the repository; in that mode the receiver writes as soon as the stream goes idle.
 *
 * <p>Dropped connections are retried with backoff (100 ms doubling to 10 s) until cancelled; whatever was received
 * is written before reconnecting. Each connection resumes from what the repository holds for the server's current
 * timeline (its newest segment or partial), so a restart of the receiver, of the server, or a switch to a new timeline
 * (a promoted standby) continues where the archive ends, and the new timeline's history file is archived first.
 *
 * <p>The receiver writes as the cluster it streams from ({@link WalSource}: the server's system identifier, and the
 * cluster id of its restore marker, read from {@code --pgdata} or through the server with {@code pg_read_file}), so
 * the archive refuses it like {@code wal-push} when that is another cluster or a copy writing onto another cluster's
 * timeline. Its partial of a segment is checked against the archive once, when it starts on the segment; later
 * rewrites extend its own last write and are not read back.
 */
public final class WalReceiver {
    private static final Logger log = LoggerFactory.getLogger(WalReceiver.class);
    private static final Pattern SLOT_NAME = Pattern.compile("[a-z0-9_]{1,63}");
    private static final Duration MIN_BACKOFF = Duration.ofMillis(100);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

    /** When to write: AUTO writes on idle if the server lists us in synchronous_standby_names, else on the interval. */
    public enum FlushMode {
        AUTO,
        IMMEDIATE,
        INTERVAL
    }

    /**
     * @param slot            physical replication slot (created if missing)
     * @param applicationName the name the server sees (for synchronous_standby_names)
     * @param flushInterval   no received byte waits longer than this before it is durable in the repository
     */
    public record Options(String slot, String applicationName, Duration flushInterval, FlushMode flushMode) {
        public Options {
            if (slot == null || !SLOT_NAME.matcher(slot).matches()) {
                throw new IllegalArgumentException(
                        "--slot must be 1-63 lower-case letters, digits or underscores, got '" + slot + "'");
            }
            if (applicationName == null || applicationName.isBlank() || applicationName.length() > 63) {
                throw new IllegalArgumentException("--name must be 1-63 characters");
            }
            if (flushInterval == null || flushInterval.isNegative() || flushInterval.isZero()) {
                throw new IllegalArgumentException("--flush-interval must be positive");
            }
            if (flushMode == null) {
                flushMode = FlushMode.AUTO;
            }
        }

        public static Options defaults() {
            return new Options("lifeboat", "lifeboat", Duration.ofSeconds(1), FlushMode.AUTO);
        }
    }

    /**
     * A snapshot of the receiver.
     *
     * @param receivedLsn  end of the WAL received so far (-1 before the first connection)
     * @param flushedLsn   end of the WAL durable in the repository and reported to the server
     * @param synchronous  writing on idle (listed in synchronous_standby_names, or FlushMode.IMMEDIATE)
     * @param conflicts    completed segments the archive already held with different content (archive_command wins)
     */
    public record Status(
            boolean connected,
            int timeline,
            long receivedLsn,
            long flushedLsn,
            Instant lastFlush,
            long bytesReceived,
            long segmentsStored,
            long segmentsAlreadyArchived,
            long conflicts,
            long reconnects,
            boolean synchronous,
            String lastError) {
        public String describe() {
            return String.format(
                    "%s, timeline %d, received %s, flushed %s (%d bytes behind), %s, %d segments "
                            + "(%d already archived), %d reconnects%s",
                    connected ? "streaming" : "disconnected",
                    timeline,
                    receivedLsn < 0 ? "-" : Lsn.format(receivedLsn),
                    flushedLsn < 0 ? "-" : Lsn.format(flushedLsn),
                    Math.max(0, receivedLsn - flushedLsn),
                    synchronous ? "synchronous" : "asynchronous",
                    segmentsStored + segmentsAlreadyArchived,
                    segmentsAlreadyArchived,
                    reconnects,
                    lastError == null ? "" : "; last error: " + lastError);
        }
    }

    /** Errors retrying cannot fix (another cluster, a copy on another cluster's timeline, a logical slot of that name).
     * */
    static final class FatalException extends PgException {
        FatalException(String message) {
            super(message);
        }
    }

    private final Repository repo;
    private final WalArchive archive;
    private final PgConnections conns;
    private final Options opts;
    private final ProgressListener listener;
    private final Cancellation cancel;

    // the segment being received; only the receiver thread touches these
    private long segSize = 16L << 20;
    private int timeline;
    private long segNo = -1;
    private byte[] buf;
    private int bufLen;
    private int durableLen;
    private long firstUndurableNanos;
    private long lastFlushNanos = 1_000_000L; // how long the last write took, to start the next one early enough
    private boolean synchronous;
    private boolean connected;
    private final Path pgdata;
    /** Who the server is, as of the current connection. */
    private WalSource source;
    /** The partial the archive holds as this receiver last wrote it (its next write may replace it unread). */
    private String ownPartial;

    private long bytesReceived;
    private long segmentsStored;
    private long segmentsAlreadyArchived;
    private long conflicts;
    private long reconnects;
    private Instant lastFlush;
    private String lastError;
    private long lastEventNanos;
    private final long startNanos = System.nanoTime();
    private volatile Status status = new Status(false, 0, -1, -1, null, 0, 0, 0, 0, 0, false, null);

    public WalReceiver(
            Repository repo, PgConnections conns, Options opts, ProgressListener listener, Cancellation cancel) {
        this(repo, conns, null, opts, listener, cancel);
    }

    /**
     * @param pgdata the server's data directory, if this host can read it (its restore marker tells a restored copy
     *               from the original); null to read the marker through the server
     */
    public WalReceiver(
            Repository repo,
            PgConnections conns,
            Path pgdata,
            Options opts,
            ProgressListener listener,
            Cancellation cancel) {
        this.repo = repo;
        this.pgdata = pgdata;
        this.archive = new WalArchive(repo);
        this.conns = conns;
        this.opts = opts == null ? Options.defaults() : opts;
        this.listener = listener == null ? ProgressListener.NONE : listener;
        this.cancel = cancel == null ? Cancellation.none() : cancel;
    }

    /** The current state; safe to call from any thread. */
    public Status status() {
        return status;
    }

    /**
     * Streams until cancelled, reconnecting as needed, and returns the final status once everything received is
     * durable. Throws only for problems retrying cannot fix.
     */
    public Status run() throws IOException {
        Backoff.Attempts retries = Backoff.exponential(MIN_BACKOFF, MAX_BACKOFF).start();
        boolean first = true;
        while (!cancel.isCancelled()) {
            if (!first) {
                reconnects++;
            }
            first = false;
            try {
                if (streamOnce()) {
                    retries.reset(); // the server ended the timeline: reconnect at once to follow it
                    continue;
                }
            } catch (FatalException e) {
                lastError = e.getMessage();
                publish();
                throw e;
            } catch (SQLException | IOException | RuntimeException e) {
                if (e instanceof OperationCancelledException) {
                    break;
                }
                if (connectedOnce) {
                    retries.reset();
                    connectedOnce = false;
                }
                lastError = e.getMessage();
                long wait = retries.nextDelay().toMillis();
                log.warn(
                        "WAL streaming from {} interrupted: {}; retrying in about {} ms",
                        conns.describe(),
                        e.getMessage(),
                        wait);
                publish();
                event("connection lost: " + e.getMessage() + "; retrying in about " + wait + " ms");
            }
            try {
                retries.pause(cancel::isCancelled);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                cancel.cancel("interrupted");
            }
        }
        try {
            flushBuffer(null); // anything a failed write left behind
        } catch (IOException | SQLException | RuntimeException e) {
            lastError = e.getMessage();
            log.warn("could not write the last received WAL: {}", e.getMessage());
        }
        publish();
        return status;
    }

    /** Set once START_REPLICATION succeeded on a connection: the next retry starts with the shortest backoff. */
    private boolean connectedOnce;

    /**
     * One connection: identify the server, prepare slot and start position, stream until cancelled (false) or the
     * server ends the timeline (true). Whatever was received is durable before this returns or throws.
     */
    private boolean streamOnce() throws SQLException, IOException {
        flushBuffer(null); // a write that failed before the last disconnect
        try (Connection conn = conns.openReplication(opts.applicationName())) {
            Identity id = identify(conn);
            source = identifySource(conn, id);
            checkSource(id.timeline());
            segSize = walSegmentSize(conn);
            synchronous = switch (opts.flushMode()) {
                case IMMEDIATE -> true;
                case INTERVAL -> false;
                case AUTO -> listedAsSynchronous(show(conn, "synchronous_standby_names"), opts.applicationName());
            };
            long restartLsn = ensureSlot(conn);
            TimelineHistory history =
                    id.timeline() > 1 ? archiveHistory(conn, id.timeline()) : new TimelineHistory(1, List.of());
            ownPartial = null; // who knows what was written while we were away: check the first write again
            long start = startPosition(id, restartLsn, history);
            PGReplicationStream stream;
            try {
                stream = startStream(conn, start);
            } catch (SQLException e) {
                if (!"58P01".equals(e.getSQLState())) {
                    throw e;
                }
                // the WAL we would resume from is gone from the server: the archive gets a gap, say so and go on
                long from = restartLsn >= 0 ? restartLsn : id.xlogPos();
                from -= from % segSize;
                log.error(
                        "WAL at {} on timeline {} is no longer on the server ({}); the archive will miss the WAL "
                                + "before {}",
                        Lsn.format(start),
                        id.timeline(),
                        e.getMessage(),
                        Lsn.format(from));
                lastError = "gap in the archive before " + Lsn.format(from) + ": " + e.getMessage();
                resetBuffer(id.timeline(), from / segSize);
                stream = startStream(conn, from);
            }
            connected = true;
            connectedOnce = true;
            publish();
            event("streaming from " + Lsn.format(received()) + " on timeline " + timeline);
            log.info(
                    "streaming WAL from {} at {} on timeline {} ({})",
                    conns.describe(),
                    Lsn.format(received()),
                    timeline,
                    synchronous
                            ? "synchronous: writing on idle"
                            : "flush interval " + opts.flushInterval().toMillis() + " ms");
            try {
                return pump(stream);
            } finally {
                connected = false;
                try {
                    flushBuffer(stream.isClosed() ? null : stream);
                } finally {
                    publish(); // closing the connection ends the stream (Terminate); no CopyDone handshake to wait for
                }
            }
        }
    }

    private PGReplicationStream startStream(Connection conn, long start) throws SQLException {
        return conn.unwrap(PGConnection.class)
                .getReplicationAPI()
                .replicationStream()
                .physical()
                .withSlotName(opts.slot())
                .withStartPosition(LogSequenceNumber.valueOf(start))
                // pgjdbc only notices a closed connection when it writes: a status message every second does that
                .withStatusInterval(1, TimeUnit.SECONDS)
                .withAutomaticFlush(false)
                .start();
    }

    /** Reads until cancelled (false) or the server ends the stream (true); writes as the flush policy says. */
    private boolean pump(PGReplicationStream stream) throws SQLException, IOException {
        while (true) {
            if (cancel.isCancelled()) {
                flushBuffer(stream);
                return false;
            }
            ByteBuffer data = stream.readPending();
            if (data != null) {
                accept(data, stream.getLastReceiveLSN().asLong(), stream);
            } else if (stream.isClosed()) {
                log.info("the server ended the stream on timeline {} at {}", timeline, Lsn.format(received()));
                return true;
            }
            boolean idle = data == null;
            if (bufLen > durableLen) {
                long waited = System.nanoTime() - firstUndurableNanos;
                // start writing early enough that the write (as long as recent ones took, with margin) and the
                // polling delay still end within the interval
                long budget = opts.flushInterval().toNanos() - Math.max(3 * lastFlushNanos, 150_000_000L) - 10_000_000L;
                // synchronous: commits wait for this write, so write whenever the stream pauses, and under a
                // continuous stream at least every 50 ms (each write then covers every commit received meanwhile)
                if ((synchronous && (idle || waited >= 50_000_000L)) || waited >= budget) {
                    flushBuffer(stream);
                }
            }
            if (idle) {
                publish();
                sleepQuietly(synchronous ? 1 : 10);
            }
        }
    }

    /** Appends one XLogData payload ending at {@code endLsn} to the segment buffer, completing segments as they fill.
     * */
    private void accept(ByteBuffer data, long endLsn, PGReplicationStream stream) throws IOException, SQLException {
        long start = endLsn - data.remaining();
        long pos = received();
        if (start > pos) {
            throw new PgException(
                    "the server sent WAL from " + Lsn.format(start) + " but the receiver is at " + Lsn.format(pos));
        }
        if (start < pos) {
            long skip = pos - start;
            if (skip >= data.remaining()) {
                return;
            }
            data.position(data.position() + (int) skip);
        }
        while (data.hasRemaining()) {
            int n = Math.min(data.remaining(), (int) segSize - bufLen);
            if (bufLen == durableLen) {
                firstUndurableNanos = System.nanoTime();
            }
            data.get(buf, bufLen, n);
            bufLen += n;
            bytesReceived += n;
            if (bufLen == segSize) {
                completeSegment(stream);
            }
        }
    }

    /** Stores a full segment, deletes its partial, reports it flushed, and moves on to the next segment. */
    private void completeSegment(PGReplicationStream stream) throws IOException, SQLException {
        String name = Lsn.segmentName(timeline, segNo, segSize);
        long t0 = System.nanoTime();
        try {
            if (archive.push(name, buf, source) == WalArchive.PushResult.ALREADY_ARCHIVED) {
                segmentsAlreadyArchived++;
            } else {
                segmentsStored++;
            }
        } catch (RefusedException e) {
            if (e.reason() != RefusedException.Reason.DIFFERENT_CONTENT) {
                throw new FatalException(e.getMessage());
            }
            // archive_command stored it first with other bytes: keep its copy, say so loudly, and go on
            conflicts++;
            lastError = e.getMessage();
            log.error(
                    "streamed segment {} differs from the copy already archived; keeping the archived one: {}",
                    name,
                    e.getMessage());
        }
        archive.delete(name + ".partial");
        ownPartial = null;
        lastFlushNanos = Math.max(System.nanoTime() - t0, lastFlushNanos * 7 / 8);
        durableLen = bufLen;
        lastFlush = Instant.now();
        acknowledge(stream);
        resetBuffer(timeline, segNo + 1);
        event(null);
    }

    /** Writes what was received of the current segment as its .partial, then reports it flushed. */
    private void flushBuffer(PGReplicationStream stream) throws IOException, SQLException {
        if (buf == null || bufLen == durableLen) {
            return;
        }
        if (bufLen == segSize) {
            completeSegment(stream);
            return;
        }
        long t0 = System.nanoTime();
        String name = Lsn.segmentName(timeline, segNo, segSize) + ".partial";
        try {
            if (archive.pushPartial(name, Arrays.copyOf(buf, bufLen), source, name.equals(ownPartial))
                    == WalArchive.PushResult.STORED) {
                ownPartial = name;
            }
        } catch (RefusedException e) {
            throw new FatalException(e.getMessage());
        }
        lastFlushNanos = Math.max(System.nanoTime() - t0, lastFlushNanos * 7 / 8);
        durableLen = bufLen;
        lastFlush = Instant.now();
        acknowledge(stream);
        event(null);
    }

    private void acknowledge(PGReplicationStream stream) throws SQLException {
        publish();
        if (stream != null && !stream.isClosed()) {
            LogSequenceNumber lsn = LogSequenceNumber.valueOf(flushed());
            stream.setFlushedLSN(lsn);
            stream.setAppliedLSN(lsn);
            stream.forceUpdateStatus();
        }
    }

    private long received() {
        return segNo < 0 ? -1 : segNo * segSize + bufLen;
    }

    private long flushed() {
        return segNo < 0 ? -1 : segNo * segSize + durableLen;
    }

    private void resetBuffer(int tli, long segment) {
        if (buf == null || buf.length != segSize) {
            buf = new byte[(int) segSize];
        }
        timeline = tli;
        segNo = segment;
        bufLen = 0;
        durableLen = 0;
    }

    // ---------------------------------------------------------------- where to start

    record Identity(String systemId, int timeline, long xlogPos) {}

    private static Identity identify(Connection conn) throws SQLException {
        try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery("IDENTIFY_SYSTEM")) {
            rs.next();
            return new Identity(rs.getString(1), rs.getInt(2), Lsn.parse(rs.getString(3)));
        }
    }

    /**
     * The repository belongs to one cluster (bound here if it is new), and the timeline to one cluster: refuse to
     * stream another cluster's WAL, or a copy's onto another cluster's timeline, before creating a slot.
     */
    private void checkSource(int tli) throws IOException {
        try {
            archive.checkSource(source, tli);
        } catch (RefusedException e) {
            throw new FatalException("the server at " + conns.describe() + ": " + e.getMessage());
        }
    }

    /**
     * Who the server is: its system identifier, and the cluster id of its restore marker (a restored copy has its
     * own), read from the data directory when we were given it, else through the server.
     */
    private WalSource identifySource(Connection conn, Identity id) throws IOException {
        long systemId = Long.parseUnsignedLong(id.systemId());
        String via = "wal-stream from " + conns.describe();
        if (pgdata != null) {
            WalSource s = WalSources.of(pgdata, via);
            if (s.systemIdentifier() != systemId) {
                throw new FatalException("the server at " + conns.describe() + " runs system identifier "
                        + id.systemId()
                        + ", but " + pgdata + " holds system identifier " + Long.toUnsignedString(s.systemIdentifier())
                        + ": pass the data directory of the server you stream from");
            }
            return s;
        }
        String marker;
        try (Statement st = conn.createStatement();
                ResultSet rs =
                        st.executeQuery("SELECT pg_read_file('" + ClusterIdentity.MARKER + "', 0, 65536, true)")) {
            rs.next();
            marker = rs.getString(1);
        } catch (SQLException e) {
            throw new FatalException(
                    "cannot tell whether the server at " + conns.describe() + " is the original cluster "
                            + "or a restored copy: reading its " + ClusterIdentity.MARKER + " failed (" + e.getMessage()
                            + "). Pass "
                            + "--pgdata DIR (its data directory, readable here), or GRANT pg_read_server_files TO "
                            + conns.user());
        }
        String host = conns.isSocket() ? Hosts.name() : conns.host();
        return WalSources.fromMarker(systemId, marker, host, null, via);
    }

    private static String show(Connection conn, String setting) throws SQLException {
        try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static long walSegmentSize(Connection conn) throws SQLException {
        return parseSize(show(conn, "wal_segment_size"));
    }

    static long parseSize(String s) {
        Matcher m = Pattern.compile("\\s*(\\d+)\\s*(B|kB|MB|GB|TB)?\\s*").matcher(s);
        if (!m.matches()) {
            throw new PgException("cannot read wal_segment_size '" + s + "'");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2);
        return n
                << switch (unit) {
                    case "kB" -> 10;
                    case "MB" -> 20;
                    case "GB" -> 30;
                    case "TB" -> 40;
                    default -> 0;
                };
    }

    /**
     * True if {@code name} is one of the standbys in a synchronous_standby_names value ({@code a, b},
     * {@code FIRST 1 (a, "b")}, {@code ANY 2 (*)}); PostgreSQL compares names case-insensitively.
     */
    static boolean listedAsSynchronous(String setting, String name) {
        if (setting == null || setting.isBlank()) {
            return false;
        }
        Matcher m = Pattern.compile("\"((?:[^\"]|\"\")*)\"|([^\\s,()\"]+)").matcher(setting);
        while (m.find()) {
            String token = m.group(1) != null ? m.group(1).replace("\"\"", "\"") : m.group(2);
            if (token.equals("*") || token.equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }

    /** Creates the physical slot if missing; returns its restart LSN, or -1 if it has none. */
    private long ensureSlot(Connection conn) throws SQLException {
        for (int attempt = 0; ; attempt++) {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery(
                            "SELECT slot_type, restart_lsn::text FROM pg_replication_slots WHERE slot_name = '"
                                    + opts.slot() + "'")) {
                if (rs.next()) {
                    if (!"physical".equals(rs.getString(1))) {
                        throw new FatalException("replication slot " + opts.slot() + " on " + conns.describe()
                                + " is a " + rs.getString(1) + " slot; choose another --slot name");
                    }
                    String lsn = rs.getString(2);
                    return lsn == null ? -1 : Lsn.parse(lsn);
                }
            }
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE_REPLICATION_SLOT " + opts.slot() + " PHYSICAL RESERVE_WAL");
                log.info("created physical replication slot {} on {}", opts.slot(), conns.describe());
            } catch (SQLException e) {
                if (!"42710".equals(e.getSQLState()) || attempt > 0) { // duplicate_object: created concurrently
                    throw e;
                }
            }
        }
    }

    /** Archives the history file of {@code tli} (fetched with TIMELINE_HISTORY) and returns it. */
    private TimelineHistory archiveHistory(Connection conn, int tli) throws SQLException, IOException {
        byte[] content;
        try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery("TIMELINE_HISTORY " + tli)) {
            rs.next();
            content = rs.getBytes(2);
        }
        String name = TimelineHistory.fileName(tli);
        try {
            archive.push(name, content, source);
        } catch (RefusedException e) {
            throw new FatalException(
                    "the server's history of timeline " + tli + " cannot be archived: " + e.getMessage());
        }
        return TimelineHistory.parse(tli, new String(content, StandardCharsets.UTF_8));
    }

    /**
     * Where this connection starts: right after what this receiver already holds in memory on the server's timeline;
     * else after what the repository holds for that timeline (its newest .partial is loaded and continued); else
     * the start of the segment where the timeline began, the slot's restart point, or the server's current position.
     */
    private long startPosition(Identity id, long restartLsn, TimelineHistory history) throws IOException {
        if (segNo >= 0 && timeline == id.timeline() && received() <= id.xlogPos()) {
            return received();
        }
        int tli = id.timeline();
        String dir = WalArchive.PREFIX + String.format("%08X", tli) + "/";
        long lastComplete = -1;
        long lastPartial = -1;
        Set<String> complete = new HashSet<>();
        List<String> partials = new ArrayList<>();
        for (BlobInfo b : repo.store().list(dir)) {
            String name = b.key().substring(b.key().lastIndexOf('/') + 1);
            if (WalArchive.isSegment(name)) {
                lastComplete = Math.max(lastComplete, segmentNumber(name));
                complete.add(name);
            } else if (WalArchive.isPartial(name)) {
                lastPartial = Math.max(lastPartial, segmentNumber(name));
                partials.add(name);
            }
        }
        // a receiver stopped between storing a completed segment and deleting its partial leaves the partial behind:
        // finish that step (restores read the complete segment either way)
        for (String p : partials) {
            if (complete.contains(p.substring(0, 24))) {
                archive.delete(p);
                if (segmentNumber(p) == lastPartial) {
                    lastPartial = -1;
                    for (String q : partials) {
                        if (!complete.contains(q.substring(0, 24))) {
                            lastPartial = Math.max(lastPartial, segmentNumber(q));
                        }
                    }
                }
            }
        }
        long start;
        if (lastPartial > lastComplete) {
            resetBuffer(tli, lastPartial);
            Optional<byte[]> partial = archive.read(Lsn.segmentName(tli, lastPartial, segSize) + ".partial");
            byte[] p = partial.orElse(new byte[0]);
            if (p.length < segSize && lastPartial * segSize + p.length <= id.xlogPos()) {
                System.arraycopy(p, 0, buf, 0, p.length);
                bufLen = p.length;
                durableLen = p.length;
                ownPartial = partial.isPresent() ? Lsn.segmentName(tli, lastPartial, segSize) + ".partial" : null;
            }
            start = received();
        } else if (lastComplete >= 0) {
            resetBuffer(tli, lastComplete + 1);
            start = received();
        } else {
            long from = !history.entries().isEmpty()
                    ? history.entries().getLast().switchLsn()
                    : restartLsn >= 0 ? restartLsn : id.xlogPos();
            resetBuffer(tli, from / segSize);
            start = received();
        }
        if (start > id.xlogPos()) {
            throw new PgException("the server at " + conns.describe() + " has written WAL only up to "
                    + Lsn.format(id.xlogPos()) + " on timeline " + tli + ", but repository " + repo.uri()
                    + " already holds it up to " + Lsn.format(start));
        }
        return start;
    }

    private long segmentNumber(String name) {
        long perId = 0x1_0000_0000L / segSize;
        return Long.parseLong(name.substring(8, 16), 16) * perId + Long.parseLong(name.substring(16, 24), 16);
    }

    // ---------------------------------------------------------------- status and progress

    private void publish() {
        status = new Status(
                connected,
                timeline,
                received(),
                flushed(),
                lastFlush,
                bytesReceived,
                segmentsStored,
                segmentsAlreadyArchived,
                conflicts,
                reconnects,
                synchronous,
                lastError);
    }

    private void event(String message) {
        long now = System.nanoTime();
        if (message == null && now - lastEventNanos < 1_000_000_000L) {
            return;
        }
        lastEventNanos = now;
        Status s = status;
        double secs = Math.max(1e-9, (now - startNanos) / 1e9);
        String text = message != null ? message : s.describe();
        listener.onProgress(new ProgressEvent(
                "wal-stream",
                "stream",
                s.bytesReceived(),
                -1,
                s.segmentsStored() + s.segmentsAlreadyArchived(),
                -1,
                s.bytesReceived() / secs,
                null,
                Instant.now(),
                text));
    }

    private void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            cancel.cancel("interrupted");
        }
    }
}
