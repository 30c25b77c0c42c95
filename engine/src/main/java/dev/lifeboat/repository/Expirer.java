package dev.lifeboat.repository;

import dev.lifeboat.engine.BackupInfo;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.TimelineHistory;
import dev.lifeboat.storage.BlobInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Applies a {@link RetentionPolicy}: deletes the manifests of expired backups, the archived WAL that no kept backup,
 * no point of the PITR window and no live {@link ReplayLease} needs, stale replay leases, and then the chunks only
 * expired backups used (deleting unreferenced packs and repacking packs that are less than half in use).
 * <p>
 * Runs under the exclusive lock as operation {@code gc} with no live readers: a backup holds the exclusive lock, so
 * expire cannot run during one, and restores and verifies hold shared locks, so nothing they read can disappear.
 * A recovery that replays archived WAL after its restore ended is covered by its replay lease instead.
 * Order: everything is decided (and the index checked) before anything is deleted; then manifests, then WAL, then
 * packs, where new packs and the new index are durable before any old pack or index file is deleted. Before each
 * deletion it checks that it still holds the lock ({@link RepositoryLock#assertHeld()}).
 */
public final class Expirer {
    /** A WAL file name whose first 24 characters name a segment: a segment, a {@code .partial} or a {@code .backup}
     * file. */
    private static final Pattern SEGMENT_BASED = Pattern.compile("[0-9A-F]{24}(\\.partial|\\.[0-9A-F]{8}\\.backup)?");

    private static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");

    /**
     * @param kept                 kept backup id → why, oldest first
     * @param expired              expired backup ids, oldest first
     * @param walKeptFrom          the earliest segment any kept backup or live replay lease starts in (nothing before
     *                             its segment number is kept on any timeline), or null when no WAL is deleted
     * @param walKeptFromByTimeline per timeline in the archive: its first kept segment, or null if every segment on it
     *                             was deleted (no kept backup or lease lies on its history)
     * @param walNote              why no WAL is deleted, or null
     * @param walDeleted           names of the deleted (or, in a dry run, deletable) archived WAL files
     * @param walKeptForRecoveries the live replay leases, each "kept for the recovery into DIR on HOST, lease …"
     * @param replayLeasesDeleted  stale replay leases deleted (or, in a dry run, deletable)
     * @param packsDeleted         packs no kept backup uses
     * @param packsRepacked        packs less than half in use, replaced by {@code packsWritten} new packs
     * @param bytesFreed           manifests, WAL and packs deleted, minus the new packs written
     */
    public record Result(
            boolean dryRun,
            Instant now,
            String policy,
            Map<String, List<String>> kept,
            List<String> expired,
            String walKeptFrom,
            Map<Integer, String> walKeptFromByTimeline,
            String walNote,
            List<String> walDeleted,
            List<String> walKeptForRecoveries,
            List<String> replayLeasesDeleted,
            int packsDeleted,
            int packsRepacked,
            int packsWritten,
            int packsKept,
            int indexFilesRewritten,
            long bytesFreed) {}

    private record WalPlan(
            String keptFrom, Map<Integer, String> keptFromByTimeline, String note, List<BlobInfo> delete) {}

    /** Something that needs archived WAL from its start on: a kept backup or a live replay lease. */
    private record WalNeed(int timeline, long startLsn, long startSegment, long segmentSize) {}

    private final Repository repo;
    private final Clock clock;
    private final Duration replayLeaseTtl;

    public Expirer(Repository repo) {
        this(repo, Clock.systemUTC());
    }

    /** @param clock what "now" is for the PITR window (tests use a fixed clock) */
    public Expirer(Repository repo, Clock clock) {
        this(repo, clock, ReplayLease.DEFAULT_TTL);
    }

    /**
     * @param replayLeaseTtl a replay lease not renewed for this long is stale (judged by the real clock: leases are
     *                       renewed in real time whatever {@code clock} says)
     */
    public Expirer(Repository repo, Clock clock, Duration replayLeaseTtl) {
        this.repo = repo;
        this.clock = clock;
        this.replayLeaseTtl = replayLeaseTtl;
    }

    public Result expire(RetentionPolicy policy, boolean dryRun) throws IOException {
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "expire", null)) {
            Instant now = clock.instant();
            List<Snapshot> all = repo.loadSnapshots();
            WalArchive archive = new WalArchive(repo);
            List<BlobInfo> walObjects = archive.listObjects();
            RetentionPolicy.Timelines timelines = timelines(archive, walObjects);
            List<RetentionPolicy.Backup> summaries =
                    all.stream().map(RetentionPolicy.Backup::of).toList();
            RetentionPolicy.Decision decision = policy.apply(summaries, timelines, now);
            List<Snapshot> kept = all.stream()
                    .filter(s -> decision.kept().containsKey(s.id()))
                    .toList();

            ReplayLease.Listing leases = ReplayLease.list(repo.store());
            Instant realNow = Instant.now();
            List<ReplayLease.Lease> live = leases.live(realNow, replayLeaseTtl);
            List<ReplayLease.Lease> stale = leases.stale(realNow, replayLeaseTtl);
            List<BlobInfo> staleUnreadable = new ArrayList<>();
            List<BlobInfo> freshUnreadable = new ArrayList<>();
            for (BlobInfo b : leases.unreadable()) {
                boolean old = b.lastModified() != null
                        && Duration.between(b.lastModified(), realNow).compareTo(replayLeaseTtl) > 0;
                (old ? staleUnreadable : freshUnreadable).add(b);
            }

            WalPlan wal = planWal(kept, live, freshUnreadable, walObjects, timelines);
            GarbageCollector gc = new GarbageCollector(repo);
            GarbageCollector.Plan packs = gc.plan(kept, true); // throws on an index with holes, before any deletion

            Map<String, Long> manifestSizes = new HashMap<>();
            for (BlobInfo b : repo.store().list(Repository.SNAPSHOTS)) {
                manifestSizes.put(b.key().substring(Repository.SNAPSHOTS.length()), b.size());
            }
            long freed = 0;
            for (String id : decision.expired()) {
                freed += manifestSizes.getOrDefault(id, 0L);
            }
            List<String> walNames = new ArrayList<>();
            for (BlobInfo b : wal.delete()) {
                freed += b.size();
                walNames.add(b.key().substring(b.key().lastIndexOf('/') + 1));
            }
            List<String> leasesDeleted = new ArrayList<>();
            stale.forEach(l -> leasesDeleted.add(l.describe() + " (not renewed since " + l.lastRenewed() + ")"));
            staleUnreadable.forEach(
                    b -> leasesDeleted.add("unreadable " + b.key() + " (last written " + b.lastModified() + ")"));

            if (!dryRun) {
                for (String id : decision.expired()) {
                    lock.assertHeld();
                    repo.store().delete(Repository.SNAPSHOTS + id);
                }
                for (BlobInfo b : wal.delete()) {
                    lock.assertHeld(); // reads the lock at most once a second
                    repo.store().delete(b.key());
                }
                for (ReplayLease.Lease l : stale) {
                    lock.assertHeld();
                    repo.store().delete(l.key());
                }
                for (BlobInfo b : staleUnreadable) {
                    lock.assertHeld();
                    repo.store().delete(b.key());
                }
                Set<String> unexpected = new HashSet<>(repo.listSnapshotIds());
                unexpected.removeAll(decision.kept().keySet());
                if (!unexpected.isEmpty()) {
                    // impossible under the lock unless it was broken by hand: never delete chunks a new backup may use
                    throw new RepositoryException(
                            "backup(s) " + unexpected + " appeared in " + repo.uri() + " while expire ran; "
                                    + "the expired backups and WAL are deleted, but no packs: run `lifeboat gc` when "
                                    + "no backup is running");
                }
            }
            GarbageCollector.Outcome gco = gc.apply(packs, dryRun, lock);
            freed += gco.bytesFreed();
            List<String> recoveries = new ArrayList<>();
            for (ReplayLease.Lease l : live) {
                recoveries.add("kept for " + l.describe() + " (backup " + l.backup() + ", timeline " + l.timeline()
                        + ", from segment " + l.firstSegment() + ", renewed " + l.lastRenewed() + ")");
            }
            return new Result(
                    dryRun,
                    now,
                    policy.describe(),
                    decision.kept(),
                    decision.expired(),
                    wal.keptFrom(),
                    wal.keptFromByTimeline(),
                    wal.note(),
                    walNames,
                    recoveries,
                    leasesDeleted,
                    gco.packsDeleted(),
                    gco.packsRepacked(),
                    gco.packsWritten(),
                    gco.packsKept(),
                    gco.indexFilesRewritten(),
                    freed);
        }
    }

    /**
     * The archive's timelines: their history files, and when each timeline's newest WAL object was archived (a
     * history file counts: a timeline just promoted has points before its first segment is archived).
     */
    private static RetentionPolicy.Timelines timelines(WalArchive archive, List<BlobInfo> walObjects)
            throws IOException {
        Map<Integer, TimelineHistory> histories = new HashMap<>();
        Map<Integer, Instant> walEnd = new HashMap<>();
        for (BlobInfo b : walObjects) {
            String name = b.key().substring(b.key().lastIndexOf('/') + 1);
            boolean history = HISTORY.matcher(name).matches();
            if (!history && !SEGMENT_BASED.matcher(name).matches()) {
                continue;
            }
            int tli = Integer.parseInt(name.substring(0, 8), 16);
            Instant at = b.lastModified() == null ? Instant.MAX : b.lastModified();
            walEnd.merge(tli, at, (x, y) -> x.isAfter(y) ? x : y);
            if (history) {
                try {
                    archive.read(name)
                            .ifPresent(c -> histories.put(
                                    tli, TimelineHistory.parse(tli, new String(c, StandardCharsets.UTF_8))));
                } catch (RuntimeException e) {
                    // unreadable: the timeline's ancestry stays unknown, which keeps more WAL, never less
                }
            }
        }
        return new RetentionPolicy.Timelines(histories, walEnd);
    }

    /**
     * Which segment-based WAL objects no one needs. A WAL object (timeline T, segment n) is kept iff some kept backup
     * or live replay lease B has n at or after B's start segment and B's start lies on T's history (T is B's timeline,
     * or descends from it and branched off after B's start LSN): exactly the WAL a replay from B onto T reads. History
     * files, and names the segment size cannot produce, are always kept. Nothing is deleted when a kept backup or
     * lease does not say where it starts, when they disagree on the segment size, or when a fresh lease is unreadable.
     */
    private WalPlan planWal(
            List<Snapshot> kept,
            List<ReplayLease.Lease> leases,
            List<BlobInfo> unreadableLeases,
            List<BlobInfo> walObjects,
            RetentionPolicy.Timelines timelines) {
        if (!unreadableLeases.isEmpty()) {
            return none("replay lease " + unreadableLeases.getFirst().key()
                    + " is unreadable, so the WAL it protects is unknown");
        }
        if (kept.isEmpty() && leases.isEmpty()) {
            return none("no backup is kept");
        }
        List<WalNeed> needs = new ArrayList<>();
        for (Snapshot s : kept) {
            BackupInfo info = s.engineInfo();
            if (info == null || info.startLsn() == 0 || info.walSegmentSize() == 0) {
                return none("backup " + s.id() + " does not record its start LSN and WAL segment size");
            }
            long lsn = info.startLsn();
            long sz = info.walSegmentSize();
            int tli = info.timeline() > 0 ? info.timeline() : 1;
            needs.add(new WalNeed(tli, lsn, sz > 0 ? Lsn.segmentOf(lsn, sz) : -1, sz));
        }
        for (ReplayLease.Lease l : leases) {
            try {
                long lsn = Lsn.parse(l.startLsn());
                long sz = l.walSegmentSize();
                needs.add(new WalNeed(l.timeline(), lsn, sz > 0 ? Lsn.segmentOf(lsn, sz) : -1, sz));
            } catch (RuntimeException e) {
                return none("replay lease " + l.key() + " has an unreadable start LSN");
            }
        }
        long segSize = needs.getFirst().segmentSize();
        for (WalNeed n : needs) {
            if (n.segmentSize() <= 0 || Long.bitCount(n.segmentSize()) != 1 || n.segmentSize() != segSize) {
                return none("the kept backups and replay leases disagree on the WAL segment size");
            }
        }
        WalNeed earliest = needs.stream()
                .min(Comparator.comparingLong(WalNeed::startSegment))
                .orElseThrow();
        long perLogId = 0x1_0000_0000L / segSize;
        Map<Integer, Long> firstKept = new TreeMap<>();
        List<BlobInfo> delete = new ArrayList<>();
        for (BlobInfo b : walObjects) {
            String name = b.key().substring(b.key().lastIndexOf('/') + 1);
            if (!SEGMENT_BASED.matcher(name).matches()) {
                continue; // timeline history files and anything unknown stay
            }
            long logId = Long.parseLong(name.substring(8, 16), 16);
            long low = Long.parseLong(name.substring(16, 24), 16);
            if (low >= perLogId) {
                continue; // not a name this segment size produces: leave it alone
            }
            int tli = Integer.parseInt(name.substring(0, 8), 16);
            long cutoff = firstKept.computeIfAbsent(tli, t -> {
                long c = Long.MAX_VALUE;
                for (WalNeed n : needs) {
                    if (timelines.onHistory(t, n.timeline(), n.startLsn())) {
                        c = Math.min(c, n.startSegment());
                    }
                }
                return c;
            });
            if (logId * perLogId + low < cutoff) {
                delete.add(b);
            }
        }
        Map<Integer, String> byTimeline = new TreeMap<>();
        firstKept.forEach((t, c) -> byTimeline.put(t, c == Long.MAX_VALUE ? null : Lsn.segmentName(t, c, segSize)));
        return new WalPlan(
                Lsn.segmentName(earliest.timeline(), earliest.startSegment(), segSize), byTimeline, null, delete);
    }

    private static WalPlan none(String why) {
        return new WalPlan(null, Map.of(), why, List.of());
    }
}
