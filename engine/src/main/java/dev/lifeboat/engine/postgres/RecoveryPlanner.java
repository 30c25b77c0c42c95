package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.TimelineOwners;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.storage.BlobInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Works out what a repository can recover: per timeline the window from the earliest consistent backup to the last
 * archived commit, and any gap in the WAL archive; and for a point-in-time restore, which base backup to start from
 * and whether the target lies inside what the archive can replay.
 */
public final class RecoveryPlanner {
    /**
     * @param owner  who archives this timeline: the original cluster or a restored copy (its owner record, else the
     *               cluster id of the backups on it; timelines from before owner records count as the original's)
     * @param source whether the timeline is on the history of the source's latest timeline (what {@code --to-latest}
     *               follows by default)
     */
    public record Window(
            int timeline,
            Instant earliest,
            String earliestBackup,
            Instant latest,
            String latestSegment,
            List<String> missingSegments,
            String owner,
            String ownerClusterId,
            boolean source) {}

    /**
     * @param targetLsn for a restore point or transaction target: where in the archived WAL recovery will stop
     *                  (null for other targets)
     * @param historyNote which cluster's history "latest" chose, when that is not the highest-numbered timeline's
     *                    owner (null otherwise; see {@link #latestHistoryNote()})
     * @param newestCommitLsn where the newest commit archived after the backup lies (null if none): recovery to the
     *                        end of the archived WAL replays it
     */
    public record Plan(
            Snapshot backup,
            int targetTimeline,
            Instant recoverableUntil,
            String lastSegment,
            Long targetLsn,
            String historyNote,
            Long newestCommitLsn) {
        /**
         * The archived segments the replay reads after the backup's own WAL, up to {@link #lastSegment} (a partial
         * excluded), as ranges {@code FIRST-LAST} of consecutive segments on one timeline: wal-get refuses to call
         * one of these "not archived", so a segment lost after planning stops recovery instead of ending it early.
         */
        public List<String> expectedRanges(RecoveryPlanner planner) {
            return planner.expectedRanges(backup, targetTimeline, lastSegment);
        }
    }

    private final Repository repo;
    private final WalArchive archive;
    private final List<Snapshot> snapshots;
    private final long segSize;
    private final Map<Integer, TreeSet<Long>> segmentsByTimeline = new TreeMap<>();
    /** In-progress segments ({@code .partial}, from the streaming receiver): usable as the last segment of a replay. */
    private final Map<Integer, TreeSet<Long>> partialsByTimeline = new TreeMap<>();

    private final Map<Integer, TimelineHistory> histories = new HashMap<>();
    private final Map<Integer, TimelineOwners.Owner> owners;
    /** When each timeline's newest WAL object was stored (its keys: the timelines that have archived WAL). */
    private final Map<Integer, Instant> newestWal = new HashMap<>();
    /** When each archived WAL file was stored (the store's clock). */
    private final Map<String, Instant> storedAt = new HashMap<>();

    public RecoveryPlanner(Repository repo) throws IOException {
        this.repo = repo;
        this.archive = new WalArchive(repo);
        // a manifest that does not say where its WAL starts and stops cannot be a base for replay (listing it is
        // the caller's business): plan only with those that do
        this.snapshots =
                repo.loadSnapshots().stream().filter(RecoveryPlanner::plannable).toList();
        this.segSize = snapshots.isEmpty() || snapshots.getLast().engineInfo().walSegmentSize() == 0
                ? 16L << 20
                : snapshots.getLast().engineInfo().walSegmentSize();
        this.owners = new TimelineOwners(repo).all();
        for (BlobInfo b : archive.listObjects()) {
            String name = b.key().substring(b.key().lastIndexOf('/') + 1);
            if (WalArchive.isWalFileName(name) && b.lastModified() != null) {
                storedAt.merge(name, b.lastModified(), (x, y) -> x.isAfter(y) ? x : y);
            }
        }
        for (String name : archive.list()) {
            if (WalArchive.isSegment(name)) {
                segmentsByTimeline
                        .computeIfAbsent(Integer.parseInt(name.substring(0, 8), 16), k -> new TreeSet<>())
                        .add(segmentNumber(name));
            } else if (WalArchive.isPartial(name)) {
                partialsByTimeline
                        .computeIfAbsent(Integer.parseInt(name.substring(0, 8), 16), k -> new TreeSet<>())
                        .add(segmentNumber(name));
            } else if (WalArchive.isHistory(name)) {
                int tli = Integer.parseInt(name.substring(0, 8), 16);
                archive.read(name)
                        .ifPresent(b ->
                                histories.put(tli, TimelineHistory.parse(tli, new String(b, StandardCharsets.UTF_8))));
            }
        }
        storedAt.forEach((name, at) -> {
            if (!isPromotionPartial(name)) {
                newestWal.merge(Integer.parseInt(name.substring(0, 8), 16), at, (x, y) -> x.isAfter(y) ? x : y);
            }
        });
    }

    /**
     * Whether {@code name} is the {@code .partial} a promoted copy archives of its parent's last segment
     * ({@code CleanupAfterArchiveRecovery} in xlog.c): stored by the copy, it says nothing about the parent still
     * archiving. It is the segment of a timeline switch away from its timeline.
     */
    private boolean isPromotionPartial(String name) {
        if (!WalArchive.isPartial(name)) {
            return false;
        }
        int tli = Integer.parseInt(name.substring(0, 8), 16);
        long seg = segmentNumber(name.substring(0, 24));
        return histories.values().stream()
                .flatMap(h -> h.entries().stream())
                .anyMatch(e -> e.parent() == tli && Lsn.segmentOf(e.switchLsn(), segSize) == seg);
    }

    private long segmentNumber(String name) {
        long perId = 0x1_0000_0000L / segSize;
        return Long.parseLong(name.substring(8, 16), 16) * perId + Long.parseLong(name.substring(16, 24), 16);
    }

    private String segmentName(int tli, long seg) {
        return Lsn.segmentName(tli, seg, segSize);
    }

    public List<Snapshot> snapshots() {
        return snapshots;
    }

    private TimelineHistory history(int tli) {
        return histories.getOrDefault(tli, new TimelineHistory(tli, List.of()));
    }

    private static int timelineOf(Snapshot s) {
        return s.engineInfo().timeline() > 0 ? s.engineInfo().timeline() : 1;
    }

    private static boolean plannable(Snapshot s) {
        return s.engineInfo().stopLsn() != 0;
    }

    private static long stopLsn(Snapshot s) {
        return s.engineInfo().stopLsn();
    }

    /** Timelines known to the repository: from backups, archived segments and history files. */
    public TreeSet<Integer> timelines() {
        TreeSet<Integer> t = new TreeSet<>(segmentsByTimeline.keySet());
        t.addAll(partialsByTimeline.keySet());
        t.addAll(histories.keySet());
        snapshots.forEach(s -> t.add(timelineOf(s)));
        return t;
    }

    /**
     * Follows the WAL a recovery onto timeline {@code target} would replay, starting after {@code from}'s own WAL,
     * and returns the last segment it can read without a gap, plus the first missing one (if any).
     */
    private String[] replayableEnd(Snapshot from, int target) {
        TimelineHistory h = history(target);
        long seg = Lsn.segmentOf(stopLsn(from), segSize);
        String last = segmentName(timelineOf(from), seg);
        String missing = null;
        long maxSeg = segmentsByTimeline.getOrDefault(target, new TreeSet<>()).isEmpty()
                ? seg
                : segmentsByTimeline.get(target).last();
        if (!partialsByTimeline.getOrDefault(target, new TreeSet<>()).isEmpty()) {
            maxSeg = Math.max(maxSeg, partialsByTimeline.get(target).last());
        }
        for (long s = seg + 1; s <= Math.max(maxSeg, seg + 1); s++) {
            int tli = timelineOfSegment(h, s);
            boolean have = segmentsByTimeline.getOrDefault(tli, new TreeSet<>()).contains(s)
                    || segmentsByTimeline.getOrDefault(target, new TreeSet<>()).contains(s);
            if (!have) {
                boolean laterExists =
                        segmentsByTimeline.getOrDefault(target, new TreeSet<>()).higher(s) != null;
                if (laterExists) {
                    missing = segmentName(tli, s);
                } else {
                    // the streaming receiver's in-progress segment: wal-get serves it, zero-padded, as the end of WAL
                    int ptli = partialsByTimeline
                                    .getOrDefault(target, new TreeSet<>())
                                    .contains(s)
                            ? target
                            : partialsByTimeline
                                            .getOrDefault(tli, new TreeSet<>())
                                            .contains(s)
                                    ? tli
                                    : -1;
                    if (ptli > 0) {
                        last = segmentName(ptli, s) + ".partial";
                    }
                }
                break;
            }
            last = segmentName(
                    segmentsByTimeline.getOrDefault(target, new TreeSet<>()).contains(s) ? target : tli, s);
        }
        return new String[] {last, missing};
    }

    /**
     * The newest commit recovery can reach: found by reading back from the last replayable segment along the
     * target timeline's path, one pg_waldump pass per {@link #SCAN_BATCH} segments, until a batch holds a commit or
     * the backup's stop segment is reached (a quiet server may close many segments without a commit: archive_timeout,
     * pg_switch_wal, checkpoints). Two-phase commits count: PostgreSQL stops at a time target on COMMIT PREPARED too
     * ({@code recoveryStopsBefore} in xlogrecovery.c).
     */
    private Instant lastCommit(Snapshot from, String lastSegment, int target) throws IOException {
        return newestEnd(from, lastSegment, target, WalInspector.Marker::isCommit)
                .map(WalInspector.Marker::time)
                .filter(t -> t.isAfter(from.stopTime()))
                .orElse(from.stopTime());
    }

    /**
     * The newest transaction end of {@code kind} (commits, or commits and aborts) after the backup's stop segment, up
     * to {@code lastSegment}; see {@link #lastCommit}.
     */
    private Optional<WalInspector.Marker> newestEnd(
            Snapshot from, String lastSegment, int target, Predicate<WalInspector.Marker> kind) throws IOException {
        long stopSeg = Lsn.segmentOf(stopLsn(from), segSize);
        long lastSeg = segmentNumber(lastSegment.substring(0, 24));
        WalInspector inspector = new WalInspector(archive, binariesOf(from));
        // batches overlap by one segment, so a commit record that crosses into the next batch is read whole
        for (long hi = lastSeg; hi > stopSeg; hi -= SCAN_BATCH - 1) {
            List<String> run = new ArrayList<>();
            for (long sn = Math.max(stopSeg + 1, hi - SCAN_BATCH + 1); sn <= hi; sn++) {
                run.add(pathSegment(sn, target, lastSegment));
            }
            Optional<WalInspector.Marker> newest = inspector.transactionEnds(run, target, segSize).stream()
                    .filter(kind)
                    .reduce((x, y) -> y);
            if (newest.isPresent()) {
                return newest;
            }
            if (hi - SCAN_BATCH + 1 <= stopSeg + 1) {
                break;
            }
        }
        return Optional.empty();
    }

    private static PgBinaries binariesOf(Snapshot s) {
        return PgBinaries.forVersion(PostgresBackupInfo.of(s).majorVersion("15"));
    }

    /** The recoverable window and archive gaps of every timeline. */
    public List<Window> windows() throws IOException {
        List<Window> out = new ArrayList<>();
        Integer sourceLatest = latestTimelineOf(sourceClusterId(null));
        TimelineHistory sourceHistory = sourceLatest == null ? null : history(sourceLatest);
        for (int tli : timelines()) {
            String owner = describeOwner(tli);
            String ownerId = ownerOf(tli);
            boolean source = sourceHistory != null
                    && (tli == sourceLatest || sourceHistory.entries().stream().anyMatch(e -> e.parent() == tli));
            TimelineHistory h = history(tli);
            List<Snapshot> usable = snapshots.stream()
                    .filter(s -> h.contains(timelineOf(s), stopLsn(s)) && ownsItsTimeline(s))
                    .toList();
            List<String> missing = new ArrayList<>();
            TreeSet<Long> segs = segmentsByTimeline.getOrDefault(tli, new TreeSet<>());
            if (!segs.isEmpty()) {
                for (long s = segs.first(); s < segs.last(); s++) {
                    if (!segs.contains(s)) {
                        missing.add(segmentName(tli, s));
                    }
                }
            }
            if (usable.isEmpty()) {
                out.add(new Window(
                        tli,
                        null,
                        null,
                        null,
                        segs.isEmpty() ? null : segmentName(tli, segs.last()),
                        missing,
                        owner,
                        ownerId,
                        source));
                continue;
            }
            Snapshot first = usable.getFirst();
            Snapshot newest = usable.getLast();
            String[] end = replayableEnd(newest, tli);
            if (end[1] != null && !missing.contains(end[1])) {
                missing.add(end[1]);
            }
            // the way from the earliest backup may cross a gap the newest one starts after: a segment of this
            // timeline's history that only an ancestor's copy stands in for (its first segment), say
            String[] fromFirst = replayableEnd(first, tli);
            if (fromFirst[1] != null && !missing.contains(fromFirst[1])) {
                missing.add(fromFirst[1]);
            }
            out.add(new Window(
                    tli,
                    first.stopTime(),
                    first.id(),
                    lastCommit(newest, end[0], tli),
                    end[0],
                    missing,
                    owner,
                    ownerId,
                    source));
        }
        return out;
    }

    /** Picks the base backup for a point-in-time restore and checks the target is reachable. */
    public Plan plan(RecoveryTarget target, String requestedBackup) throws IOException {
        if (snapshots.isEmpty()) {
            throw new IllegalArgumentException("repository " + repo.uri() + " holds no backups to recover from");
        }
        int tli = resolveTimeline(target.timeline(), requestedBackup);
        TimelineHistory h = history(tli);
        List<Snapshot> candidates = new ArrayList<>();
        for (Snapshot s : snapshots) {
            if (h.contains(timelineOf(s), stopLsn(s)) && ownsItsTimeline(s)) {
                candidates.add(s);
            }
        }
        if (requestedBackup != null && !requestedBackup.equals("latest")) {
            String id = repo.resolveSnapshotId(requestedBackup);
            Optional<Snapshot> requested =
                    snapshots.stream().filter(s -> s.id().equals(id)).findFirst();
            if (requested.isPresent() && !ownsItsTimeline(requested.get())) {
                int t = timelineOf(requested.get());
                throw new IllegalArgumentException(
                        "backup " + id + " was taken by " + describeBackupCluster(requested.get())
                                + " on timeline " + t + ", but timeline " + t + " in this repository is archived by "
                                + describeOwner(t)
                                + " (the copy promoted without archiving, so the number was free when the other "
                                + "cluster took it): "
                                + "the archived WAL of that timeline is not this backup's, so it cannot be a base for "
                                + "recovery");
            }
            candidates.removeIf(s -> !s.id().equals(id));
            if (candidates.isEmpty()) {
                throw new IllegalArgumentException("backup " + id + " is not on the history of timeline " + tli);
            }
        }
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("no backup lies on the history of timeline " + tli);
        }
        Long markerLsn = null;
        Snapshot chosen = switch (target.kind()) {
            case TIME -> {
                Instant t = target.time();
                List<Snapshot> before = candidates.stream()
                        .filter(s -> !s.stopTime().isAfter(t))
                        .toList();
                if (before.isEmpty()) {
                    throw new IllegalArgumentException(
                            "target time " + t + " is before the earliest point this repository can "
                                    + "recover on timeline " + tli + ": " + windowText(tli));
                }
                yield before.getLast();
            }
            case LSN -> {
                long l = Lsn.parse(target.value());
                List<Snapshot> before =
                        candidates.stream().filter(s -> stopLsn(s) <= l).toList();
                if (before.isEmpty()) {
                    throw new IllegalArgumentException("target LSN " + target.value()
                            + " is before the end of the earliest backup " + "on timeline " + tli + " ("
                            + Lsn.format(stopLsn(candidates.getFirst())) + ")");
                }
                yield before.getLast();
            }
            case NAME, XID -> {
                Found f = findMarker(target, candidates, tli);
                markerLsn = f.lsn();
                yield f.backup();
            }
            default -> candidates.getLast();
        };
        String[] end = replayableEnd(chosen, tli);
        Optional<WalInspector.Marker> newestCommit = newestEnd(chosen, end[0], tli, WalInspector.Marker::isCommit);
        Instant until = newestCommit
                .map(WalInspector.Marker::time)
                .filter(c -> c.isAfter(chosen.stopTime()))
                .orElse(chosen.stopTime());
        // PostgreSQL stops at a time target only when it meets a commit after it: a target at or after the newest
        // archived commit would replay to the end and fail with "recovery ended before configured recovery target
        // was reached"
        if (target.kind() == RecoveryTarget.Kind.TIME
                && !target.time().isBefore(until)
                // an abort after the newest commit stops a time target too (recoveryStopsBefore takes both)
                && !target.time()
                        .isBefore(newestEnd(chosen, end[0], tli, WalInspector.Marker::isTransactionEnd)
                                .map(WalInspector.Marker::time)
                                .filter(c -> c.isAfter(chosen.stopTime()))
                                .orElse(chosen.stopTime()))) {
            throw new IllegalArgumentException("target time " + target.time() + " is not before the newest commit this "
                    + "repository can replay from backup " + chosen.id() + " on timeline " + tli + " (" + until
                    + ", in "
                    + end[0] + ", nor before a later abort): PostgreSQL stops at a time only on meeting a later commit"
                    + " or abort"
                    + (end[1] != null ? "; the WAL archive is missing segment " + end[1] : "")
                    + "; use --to-latest to recover everything archived; recoverable window: " + windowText(tli));
        }
        if (target.kind() == RecoveryTarget.Kind.LSN
                && firstRecordFrom(chosen, tli, end[0], Lsn.parse(target.value()))
                        .isEmpty()) {
            // PostgreSQL stops at an LSN on reading a record that starts there or later (recoveryStopsBefore/After);
            // with none archived it replays to the end and fails "recovery ended before configured recovery target
            // was reached"
            throw new IllegalArgumentException("target LSN " + target.value() + " is not before the last record of"
                    + " the archived WAL this repository can replay from backup " + chosen.id() + " on timeline " + tli
                    + " (it ends in " + end[0] + ")"
                    + (end[1] != null ? "; the WAL archive is missing segment " + end[1] : ""));
        }
        // a restore point or transaction found above lies before any gap; only "latest" needs the whole archive
        if (end[1] != null && target.kind() == RecoveryTarget.Kind.LATEST) {
            throw new IllegalArgumentException("the WAL archive is missing segment " + end[1] + " after backup "
                    + chosen.id() + "; recovery cannot go past " + end[0]);
        }
        boolean latestHistory = (target.timeline() == null || target.timeline().equals("latest"))
                && (requestedBackup == null || requestedBackup.equals("latest"));
        return new Plan(
                chosen,
                tli,
                until,
                end[0],
                markerLsn,
                latestHistory ? latestHistoryNote().orElse(null) : null,
                newestCommit.map(WalInspector.Marker::lsn).orElse(null));
    }

    /**
     * What a restore by a plan reads of the WAL archive: the segments from the one holding the backup's start to the
     * one holding {@code stopLsn}, where recovery stops (null: the end of the replayable archive).
     */
    public record Replay(String firstSegment, String lastSegment, long segments, long bytes, Long stopLsn) {}

    /** How far before a time target the forward search for its commit starts, for the store's clock. */
    private static final Duration STORE_CLOCK_MARGIN = Duration.ofMinutes(10);

    /**
     * The WAL a restore by {@code plan} to {@code target} replays. Where recovery stops: for IMMEDIATE the
     * backup's stop; for an LSN, restore point or transaction its LSN; for a time the first transaction end (commit or
     * abort, two-phase ones included) after it (or at it, when exclusive), which PostgreSQL stops before
     * ({@code recoveryStopsBefore} in xlogrecovery.c looks at commit and abort records alike), found by
     * reading the archive forward from the last segment stored at least {@link #STORE_CLOCK_MARGIN} before the time
     * (every record of an earlier segment was written before it was stored); for LATEST, or when no such record is
     * archived, the end of the replayable archive.
     */
    public Replay replay(Plan plan, RecoveryTarget target) throws IOException {
        Snapshot backup = plan.backup();
        int tli = plan.targetTimeline();
        long fromSeg = Lsn.segmentOf(startLsn(backup), segSize);
        long stopSeg = Lsn.segmentOf(stopLsn(backup), segSize);
        long endSeg = Math.max(stopSeg, segmentNumber(plan.lastSegment().substring(0, 24)));
        Long stop = switch (target.kind()) {
            case IMMEDIATE -> stopLsn(backup);
            case LSN ->
                firstRecordFrom(backup, tli, plan.lastSegment(), Lsn.parse(target.value()))
                        .orElse(null);
            case NAME, XID -> plan.targetLsn();
            case TIME -> firstTransactionEndAfter(target, backup, tli, plan.lastSegment());
            case LATEST -> null;
        };
        long lastSeg = stop == null ? endSeg : Math.max(stopSeg, Math.min(endSeg, Lsn.segmentOf(stop, segSize)));
        long segments = lastSeg - fromSeg + 1;
        return new Replay(
                segmentName(timelineOf(backup), fromSeg),
                lastSeg == endSeg ? plan.lastSegment() : pathSegment(lastSeg, tli, plan.lastSegment()),
                segments,
                segments * segSize,
                stop);
    }

    private Long firstTransactionEndAfter(RecoveryTarget target, Snapshot backup, int tli, String lastSegment)
            throws IOException {
        Instant searchFrom = target.time().minus(STORE_CLOCK_MARGIN);
        long stopSeg = Lsn.segmentOf(stopLsn(backup), segSize);
        long lastSeg = segmentNumber(lastSegment.substring(0, 24));
        long from = stopSeg;
        for (long sn = stopSeg + 1; sn <= lastSeg; sn++) {
            Instant at = storedAt.get(pathSegment(sn, tli, lastSegment));
            if (at == null || !at.isBefore(searchFrom)) {
                break;
            }
            from = sn;
        }
        WalInspector inspector = new WalInspector(archive, binariesOf(backup));
        // batches overlap by one segment, so a record that crosses into the next batch is read whole
        for (long lo = from; lo <= lastSeg; lo += SCAN_BATCH - 1) {
            List<String> run = new ArrayList<>();
            for (long sn = lo; sn <= Math.min(lastSeg, lo + SCAN_BATCH - 1); sn++) {
                run.add(pathSegment(sn, tli, lastSegment));
            }
            for (WalInspector.Marker m : inspector.transactionEnds(run, tli, segSize)) {
                if (m.lsn() >= stopLsn(backup) && stopsBefore(m, target)) {
                    return m.lsn();
                }
            }
            if (lo + SCAN_BATCH - 1 >= lastSeg) {
                break;
            }
        }
        return null;
    }

    /**
     * Whether recovery to a time target stops before this record ({@code recoveryStopsBefore} in xlogrecovery.c): a
     * commit or abort after the time, or at it when exclusive, compared with the time as recovery_target_time is
     * written (microseconds, the rest cut off: RecoveryTarget's format).
     */
    private static boolean stopsBefore(WalInspector.Marker m, RecoveryTarget target) {
        Instant t = target.time().truncatedTo(ChronoUnit.MICROS);
        return m.isTransactionEnd()
                && (target.exclusive() ? !m.time().isBefore(t) : m.time().isAfter(t));
    }

    /**
     * The start of the first record at or after {@code lsn} in the WAL a recovery from {@code from} onto {@code tli}
     * replays, up to {@code lastSegment}: where PostgreSQL stops for that LSN target.
     */
    private Optional<Long> firstRecordFrom(Snapshot from, int tli, String lastSegment, long lsn) throws IOException {
        long first = Math.max(Lsn.segmentOf(lsn, segSize), Lsn.segmentOf(stopLsn(from), segSize));
        long last = segmentNumber(lastSegment.substring(0, 24));
        List<String> run = new ArrayList<>();
        // a record starting in a switched segment's zero tail is in the next one: two segments usually do
        for (long sn = first; sn <= Math.min(last, first + SCAN_BATCH - 1); sn++) {
            run.add(pathSegment(sn, tli, lastSegment));
        }
        return new WalInspector(archive, binariesOf(from)).firstRecordFrom(run, tli, segSize, lsn);
    }

    /** The archived segments of a timeline, as numbers (copies). */
    public TreeSet<Long> archivedSegments(int tli) {
        return new TreeSet<>(segmentsByTimeline.getOrDefault(tli, new TreeSet<>()));
    }

    /** When an archived WAL file was stored, by the store's clock. */
    public Optional<Instant> storedAt(String walFileName) {
        return Optional.ofNullable(storedAt.get(walFileName));
    }

    /** A segment name's number (timeline aside). */
    public long segmentNumberOf(String segmentName) {
        return segmentNumber(segmentName.substring(0, 24));
    }

    public String segmentNameOf(int tli, long segment) {
        return segmentName(tli, segment);
    }

    public long segmentSize() {
        return segSize;
    }

    private record Found(Snapshot backup, long lsn) {}

    /** Segments scanned per pg_waldump run (a run overlaps the next by one segment, so no record is cut in two). */
    private static final int SCAN_BATCH = 64;

    /**
     * A restore point or transaction target must lie after the end of the backup recovery starts from: PostgreSQL
     * checks names and transaction ends on every record it replays from the backup's redo point on, also before
     * consistency ({@code recoveryStopsAfter} in xlogrecovery.c), so a match inside the backup's own WAL stops recovery
     * there and the copy refuses to start ("requested recovery stop point is before consistent recovery point"), and
     * with no match after it replays to the end ("recovery ended before configured recovery target was reached").
     * Scans the archived WAL backwards from its end, one backup at a time, and returns the newest backup whose first
     * match at or after its start lies at or after its stop (a restore point name may be used more than once).
     */
    private Found findMarker(RecoveryTarget target, List<Snapshot> candidates, int tli) throws IOException {
        List<Snapshot> byStop = new ArrayList<>(candidates);
        byStop.sort(Comparator.comparingLong(RecoveryPlanner::stopLsn));
        String[] end = replayableEnd(byStop.getLast(), tli);
        long endSeg = segmentNumber(end[0].substring(0, 24));
        WalInspector inspector = new WalInspector(archive, binariesOf(byStop.getLast()));
        // matches found so far, all at or after scannedFrom (unsigned LSN order)
        TreeSet<Long> matches = new TreeSet<>(Long::compareUnsigned);
        Long scannedFromSeg = null;
        Snapshot insideOnly = null;
        for (int k = byStop.size() - 1; k >= 0; k--) {
            Snapshot c = byStop.get(k);
            long start = startLsn(c);
            long fromSeg = Lsn.segmentOf(start, segSize);
            long toSeg = scannedFromSeg == null ? endSeg : scannedFromSeg;
            if (scannedFromSeg == null || fromSeg < scannedFromSeg) {
                for (long b = fromSeg; b <= toSeg; b += SCAN_BATCH - 1) {
                    List<String> run = new ArrayList<>();
                    for (long sn = b; sn <= Math.min(toSeg, b + SCAN_BATCH - 1); sn++) {
                        run.add(pathSegment(sn, tli, end[0]));
                    }
                    for (WalInspector.Marker m : inspector.markers(run, tli, segSize)) {
                        boolean match = target.kind() == RecoveryTarget.Kind.NAME
                                ? m.kind().equals("RESTORE_POINT")
                                        && target.value().equals(m.name())
                                : !m.kind().equals("RESTORE_POINT")
                                        && Long.toString(m.xid()).equals(target.value());
                        if (match) {
                            matches.add(m.lsn());
                        }
                    }
                    if (b + SCAN_BATCH - 1 >= toSeg) {
                        break;
                    }
                }
                scannedFromSeg = fromSeg;
            }
            Long first = matches.ceiling(start);
            if (first != null && Long.compareUnsigned(first, stopLsn(c)) >= 0) {
                return new Found(c, first);
            }
            if (first != null && insideOnly == null) {
                insideOnly = c;
            }
        }
        String what = target.kind() == RecoveryTarget.Kind.NAME
                ? "restore point '" + target.value() + "'"
                : "the end (commit or abort) of transaction " + target.value();
        if (insideOnly != null) {
            throw new IllegalArgumentException(what + " lies only inside the WAL of backup " + insideOnly.id()
                    + " (between its start and its end) or of an older one on timeline " + tli
                    + ": PostgreSQL would stop there, before the copy is consistent; no backup ends before it");
        }
        throw new IllegalArgumentException(what + " is not in the archived WAL after the end of any backup on timeline "
                + tli
                + " (WAL searched from " + Lsn.format(startLsn(byStop.getFirst())) + " to the end of " + end[0] + ")"
                + (end[1] != null ? "; the WAL archive is missing segment " + end[1] : "")
                + ": it is older than the oldest backup, not archived yet, or on another timeline (--timeline)");
    }

    /**
     * The CREATE TABLESPACE records that the planned recovery replays: from the backup's redo point to where
     * {@code target} stops it (for a time or LSN target an over-estimate, never an under-estimate). One pg_waldump
     * pass per {@link #SCAN_BATCH} segments, reading only the Tablespace and Transaction records.
     */
    List<WalInspector.TablespaceCreation> tablespacesCreatedDuringReplay(Plan plan, RecoveryTarget target)
            throws IOException {
        long start = startLsn(plan.backup());
        WalInspector.Records records = replayedRecords(plan, Lsn.segmentOf(start, segSize));
        Long stop = stopBound(plan, target, records);
        return records.tablespaces().stream()
                .filter(c -> Long.compareUnsigned(c.lsn(), start) >= 0)
                .filter(c -> stop == null
                        || Long.compareUnsigned(c.lsn(), stop) < 0
                        || isFirstRecordAtLsnTarget(c, target, records))
                .toList();
    }

    /** Tablespace creations and transaction ends from segment {@code fromSeg} to the plan's last segment. */
    private WalInspector.Records replayedRecords(Plan plan, long fromSeg) throws IOException {
        WalInspector inspector = new WalInspector(archive, binariesOf(plan.backup()));
        long toSeg = segmentNumber(plan.lastSegment().substring(0, 24));
        TreeMap<Long, WalInspector.Marker> ends = new TreeMap<>(Long::compareUnsigned);
        TreeMap<Long, WalInspector.TablespaceCreation> created = new TreeMap<>(Long::compareUnsigned);
        // runs overlap by one segment, so no record is cut in two; the overlap's records are read twice
        for (long b = fromSeg; b <= toSeg; b += SCAN_BATCH - 1) {
            List<String> run = new ArrayList<>();
            for (long sn = b; sn <= Math.min(toSeg, b + SCAN_BATCH - 1); sn++) {
                run.add(pathSegment(sn, plan.targetTimeline(), plan.lastSegment()));
            }
            WalInspector.Records r = inspector.tablespaceCreations(run, plan.targetTimeline(), segSize);
            r.markers().forEach(m -> ends.put(m.lsn(), m));
            r.tablespaces().forEach(c -> created.put(c.lsn(), c));
            if (b + SCAN_BATCH - 1 >= toSeg) {
                break;
            }
        }
        return new WalInspector.Records(List.copyOf(ends.values()), List.copyOf(created.values()));
    }

    /**
     * The LSN before which every record is replayed, null for the end of the plan. A time target stops at the first
     * transaction end after it, a restore point or transaction target at its record ({@code recoveryStopsBefore}
     * and {@code recoveryStopsAfter} in xlogrecovery.c).
     */
    private static Long stopBound(Plan plan, RecoveryTarget target, WalInspector.Records records) {
        return switch (target.kind()) {
            case LSN -> Lsn.parse(target.value());
            case NAME, XID -> plan.targetLsn();
            case TIME ->
                records.markers().stream()
                        .filter(m -> stopsBefore(m, target))
                        .map(WalInspector.Marker::lsn)
                        .findFirst()
                        .orElse(null);
            case LATEST, IMMEDIATE -> null;
        };
    }

    /**
     * An inclusive LSN target also replays the first record at or after it: {@code c} may be that record unless a
     * transaction end or an earlier creation lies between the target and it.
     */
    private static boolean isFirstRecordAtLsnTarget(
            WalInspector.TablespaceCreation c, RecoveryTarget target, WalInspector.Records records) {
        if (target.kind() != RecoveryTarget.Kind.LSN || target.exclusive()) {
            return false;
        }
        long t = Lsn.parse(target.value());
        return Stream.concat(
                        records.markers().stream().map(WalInspector.Marker::lsn),
                        records.tablespaces().stream().map(WalInspector.TablespaceCreation::lsn))
                .noneMatch(l -> Long.compareUnsigned(l, t) >= 0 && Long.compareUnsigned(l, c.lsn()) < 0);
    }

    /** Where recovery from {@code s} begins replaying (its checkpoint's redo point); its stop LSN if not recorded. */
    private static long startLsn(Snapshot s) {
        long start = s.engineInfo().startLsn();
        return start == 0 ? stopLsn(s) : start;
    }

    private List<String> expectedRanges(Snapshot from, int tli, String last) {
        List<String> out = new ArrayList<>();
        long lastSeg = segmentNumber(last.substring(0, 24)) - (WalArchive.isPartial(last) ? 1 : 0);
        String first = null;
        String prev = null;
        for (long sn = Lsn.segmentOf(stopLsn(from), segSize) + 1; sn <= lastSeg; sn++) {
            String name = pathSegment(sn, tli, last);
            if (prev != null && !prev.substring(0, 8).equals(name.substring(0, 8))) {
                out.add(first + "-" + prev);
                first = null;
            }
            if (first == null) {
                first = name;
            }
            prev = name;
        }
        if (first != null) {
            out.add(first + "-" + prev);
        }
        return out;
    }

    /** The archived file a recovery onto {@code tli} reads as segment {@code sn} ({@code last} may be a .partial). */
    private String pathSegment(long sn, int tli, String last) {
        if (last.endsWith(".partial") && segmentNumber(last.substring(0, 24)) == sn) {
            return last;
        }
        int t = segmentsByTimeline.getOrDefault(tli, new TreeSet<>()).contains(sn)
                ? tli
                : timelineOfSegment(history(tli), sn);
        return segmentName(t, sn);
    }

    /**
     * Whose copy of segment {@code sn} a recovery along {@code h} must read: the timeline current at the segment's
     * last byte. A segment in which a timeline switch lies exists twice, and only the child's holds the records after
     * the switch; the parent's goes on with the parent's own future. PostgreSQL falls back to the parent's file when
     * the child's is missing (XLogFileReadAnyTLI) and replays the wrong history, so a missing child file is a gap.
     */
    private int timelineOfSegment(TimelineHistory h, long sn) {
        return h.timelineAt((sn + 1) * segSize - 1);
    }

    private String windowText(int tli) throws IOException {
        for (Window w : windows()) {
            if (w.timeline() == tli) {
                return w.earliest() == null
                        ? "none (no backup on this timeline)"
                        : w.earliest() + " .. " + w.latest()
                                + (w.missingSegments().isEmpty()
                                        ? ""
                                        : " (missing WAL: " + String.join(", ", w.missingSegments()) + ")");
            }
        }
        return "none";
    }

    /** The cluster id that archives {@code tli}: its owner record, else its backups', else the original's. */
    public String ownerOf(int tli) {
        var o = owners.get(tli);
        if (o != null) {
            return o.clusterId();
        }
        return snapshots.stream()
                .filter(s -> timelineOf(s) == tli)
                .map(s -> ClusterIdentity.ofBackup(s))
                .reduce((a, b) -> a.equals(b) ? a : ClusterIdentity.ORIGIN)
                .orElse(ClusterIdentity.ORIGIN);
    }

    /**
     * Whether {@code s} was taken by the cluster that archives its timeline. A copy restored without archiving
     * leaves its timeline number free in the archive; when the source later promotes to the same number, the copy's
     * backups sit on "timeline N" of a history that is not theirs, and replay from them would read the source's WAL.
     * A timeline nobody archives (no owner record) belongs to every backup on it: several non-archiving copies may
     * share its number, each replaying only the WAL in its own backups.
     */
    private boolean ownsItsTimeline(Snapshot s) {
        var o = owners.get(timelineOf(s));
        return o == null || o.clusterId().equals(ClusterIdentity.ofBackup(s));
    }

    private static String describeBackupCluster(Snapshot s) {
        String id = ClusterIdentity.ofBackup(s);
        return ClusterIdentity.ORIGIN.equals(id) ? "the original cluster" : "a restored copy (cluster id " + id + ")";
    }

    private String describeOwner(int tli) {
        var o = owners.get(tli);
        if (o != null) {
            return o.identity() + (o.host() == null ? "" : " on host " + o.host());
        }
        String id = ownerOf(tli);
        return ClusterIdentity.ORIGIN.equals(id) ? "the original cluster" : "a restored copy (cluster id " + id + ")";
    }

    /**
     * The cluster whose history "latest" means: with {@code --backup}, that backup's cluster; otherwise the owner of
     * the timeline that received archived WAL most recently, i.e. the line of history still being archived (a
     * restored copy archives only when restored with --archive-mode preserve: it replaces its source, or it is a
     * drill that was thrown away while the source goes on archiving), or, with no WAL archived, the newest backup's.
     */
    public String sourceClusterId(String requestedBackup) throws IOException {
        if (requestedBackup != null && !requestedBackup.equals("latest")) {
            String id = repo.resolveSnapshotId(requestedBackup);
            return snapshots.stream()
                    .filter(s -> s.id().equals(id))
                    .map(s -> ClusterIdentity.ofBackup(s))
                    .findFirst()
                    .orElse(ClusterIdentity.ORIGIN);
        }
        return mostRecentlyArchivedTimeline()
                .map(this::ownerOf)
                .orElseGet(() ->
                        snapshots.isEmpty() ? ClusterIdentity.ORIGIN : ClusterIdentity.ofBackup(snapshots.getLast()));
    }

    private Optional<Integer> mostRecentlyArchivedTimeline() {
        return newestWal.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey);
    }

    /**
     * Set when "latest" (no {@code --backup}, no {@code --timeline}) does not follow the highest-numbered timeline:
     * another cluster archived that one, but stopped before the one chosen archived its newest WAL. An operator who
     * did fail over to that cluster (and whose new primary has not archived since) sees which history was chosen and
     * can pass {@code --timeline}.
     */
    public Optional<String> latestHistoryNote() {
        Optional<Integer> recent = mostRecentlyArchivedTimeline();
        if (recent.isEmpty()) {
            return Optional.empty();
        }
        int highest = newestWal.keySet().stream().max(Integer::compare).orElseThrow();
        if (ownerOf(highest).equals(ownerOf(recent.get()))) {
            return Optional.empty();
        }
        return Optional.of("followed the history of " + describeOwner(recent.get()) + ", whose timeline "
                + recent.get() + " received archived WAL most recently (" + newestWal.get(recent.get())
                + "), not timeline " + highest + " of " + describeOwner(highest) + " (last archived WAL "
                + newestWal.get(highest) + "); pass --timeline " + highest + " to restore that history instead");
    }

    /** The newest timeline that {@code clusterId} archives or backed up (null if none). */
    private Integer latestTimelineOf(String clusterId) {
        Integer best = null;
        for (int t : timelines()) {
            if (ownerOf(t).equals(clusterId)) {
                best = t;
            }
        }
        return best;
    }

    private int resolveTimeline(String timeline, String requestedBackup) throws IOException {
        if (timeline == null || timeline.equals("latest")) {
            // never a copy's timeline for its source's: the newest timeline of the source's own line of history
            Integer t = latestTimelineOf(sourceClusterId(requestedBackup));
            return t != null ? t : timelines().last();
        }
        if (timeline.equals("current")) {
            String id = requestedBackup == null || requestedBackup.equals("latest")
                    ? snapshots.getLast().id()
                    : repo.resolveSnapshotId(requestedBackup);
            return snapshots.stream()
                    .filter(s -> s.id().equals(id))
                    .map(RecoveryPlanner::timelineOf)
                    .findFirst()
                    .orElseThrow();
        }
        int t = Integer.parseInt(timeline);
        if (!timelines().contains(t)) {
            throw new IllegalArgumentException(
                    "timeline " + t + " is unknown to repository " + repo.uri() + "; known: " + timelines());
        }
        return t;
    }
}
