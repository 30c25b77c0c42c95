package dev.lifeboat.repository;

import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.storage.BlobInfo;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Applies a {@link RetentionPolicy}: deletes the manifests of expired backups, the archived WAL no kept backup and
 * no point of the PITR window needs, and then the chunks only expired backups used (deleting unreferenced packs and
 * repacking packs that are less than half in use).
 * <p>
 * Runs under the exclusive lock as operation {@code gc} with no live readers: a backup holds the exclusive lock, so
 * expire cannot run during one, and restores and verifies hold shared locks, so nothing they read can disappear.
 * Order: everything is decided (and the index checked) before anything is deleted; then manifests, then WAL, then
 * packs, where new packs and the new index are durable before any old pack or index file is deleted. Before each
 * deletion it checks that it still holds the lock ({@link RepositoryLock#assertHeld()}).
 */
public final class Expirer {
    /** A WAL file name whose first 24 characters name a segment: a segment, a {@code .partial} or a {@code .backup} file. */
    private static final Pattern SEGMENT_BASED = Pattern.compile("[0-9A-F]{24}(\\.partial|\\.[0-9A-F]{8}\\.backup)?");

    /**
     * @param kept          kept backup id → why, oldest first
     * @param expired       expired backup ids, oldest first
     * @param walKeptFrom   first archived WAL segment kept (WAL on any timeline before this segment number is deleted),
     *                      or null when no WAL is deleted
     * @param walNote       why no WAL is deleted, or null
     * @param walDeleted    names of the deleted (or, in a dry run, deletable) archived WAL files
     * @param packsDeleted  packs no kept backup uses
     * @param packsRepacked packs less than half in use, replaced by {@code packsWritten} new packs
     * @param bytesFreed    manifests, WAL and packs deleted, minus the new packs written
     */
    public record Result(boolean dryRun, Instant now, String policy, Map<String, List<String>> kept, List<String> expired,
                         String walKeptFrom, String walNote, List<String> walDeleted, int packsDeleted, int packsRepacked,
                         int packsWritten, int packsKept, int indexFilesRewritten, long bytesFreed) {
    }

    private record WalPlan(String keptFrom, String note, List<BlobInfo> delete) {
    }

    private final Repository repo;
    private final Clock clock;

    public Expirer(Repository repo) {
        this(repo, Clock.systemUTC());
    }

    /** @param clock what "now" is for the PITR window (tests use a fixed clock) */
    public Expirer(Repository repo, Clock clock) {
        this.repo = repo;
        this.clock = clock;
    }

    public Result expire(RetentionPolicy policy, boolean dryRun) throws IOException {
        try (RepositoryLock lock = RepositoryLock.exclusive(repo, "gc", "expire", true)) {
            Instant now = clock.instant();
            List<Snapshot> all = repo.loadSnapshots();
            List<RetentionPolicy.Backup> summaries = all.stream().map(RetentionPolicy.Backup::of).toList();
            RetentionPolicy.Decision decision = policy.apply(summaries, now);
            List<Snapshot> kept = all.stream().filter(s -> decision.kept().containsKey(s.id())).toList();

            WalPlan wal = planWal(kept);
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

            if (!dryRun) {
                for (String id : decision.expired()) {
                    lock.assertHeld();
                    repo.store().delete(Repository.SNAPSHOTS + id);
                }
                for (BlobInfo b : wal.delete()) {
                    lock.assertHeld(); // reads the lock at most once a second
                    repo.store().delete(b.key());
                }
                Set<String> unexpected = new HashSet<>(repo.listSnapshotIds());
                unexpected.removeAll(decision.kept().keySet());
                if (!unexpected.isEmpty()) {
                    // impossible under the lock unless it was broken by hand: never delete chunks a new backup may use
                    throw new RepositoryException("backup(s) " + unexpected + " appeared in " + repo.uri() + " while expire ran; "
                            + "the expired backups and WAL are deleted, but no packs: run `lifeboat gc` when no backup is running");
                }
            }
            GarbageCollector.Outcome gco = gc.apply(packs, dryRun, lock);
            freed += gco.bytesFreed();
            return new Result(dryRun, now, policy.describe(), decision.kept(), decision.expired(), wal.keptFrom(), wal.note(),
                    walNames, gco.packsDeleted(), gco.packsRepacked(), gco.packsWritten(), gco.packsKept(),
                    gco.indexFilesRewritten(), freed);
        }
    }

    /**
     * Archived WAL older than the start of the kept backup that starts earliest is not needed: every kept backup
     * restores from its own start on, and the PITR window's base backup is kept. Compared by segment number on every
     * timeline (conservative across timeline switches); timeline history files are always kept.
     */
    private WalPlan planWal(List<Snapshot> kept) throws IOException {
        if (kept.isEmpty()) {
            return new WalPlan(null, "no backup is kept", List.of());
        }
        long segSize = -1;
        long cutoff = Long.MAX_VALUE;
        Snapshot oldest = null;
        for (Snapshot s : kept) {
            Map<String, String> info = s.engineInfo() == null ? Map.of() : s.engineInfo();
            String start = info.get("startLsn");
            String size = info.get("walSegmentSize");
            if (start == null || size == null) {
                return new WalPlan(null, "backup " + s.id() + " does not record its start LSN and WAL segment size", List.of());
            }
            long sz;
            long seg;
            try {
                sz = Long.parseLong(size);
                seg = Lsn.segmentOf(Lsn.parse(start), sz);
            } catch (IllegalArgumentException e) {
                return new WalPlan(null, "backup " + s.id() + " has an unreadable start LSN or WAL segment size", List.of());
            }
            if (sz <= 0 || Long.bitCount(sz) != 1 || (segSize > 0 && sz != segSize)) {
                return new WalPlan(null, "the kept backups disagree on the WAL segment size", List.of());
            }
            segSize = sz;
            if (seg < cutoff) {
                cutoff = seg;
                oldest = s;
            }
        }
        int timeline;
        try {
            timeline = Integer.parseInt(oldest.engineInfo().getOrDefault("timeline", "1"));
        } catch (NumberFormatException e) {
            return new WalPlan(null, "backup " + oldest.id() + " has an unreadable timeline", List.of());
        }
        long perLogId = 0x1_0000_0000L / segSize;
        List<BlobInfo> delete = new ArrayList<>();
        for (BlobInfo b : new WalArchive(repo).listObjects()) {
            String name = b.key().substring(b.key().lastIndexOf('/') + 1);
            if (!SEGMENT_BASED.matcher(name).matches()) {
                continue; // timeline history files and anything unknown stay
            }
            long logId = Long.parseLong(name.substring(8, 16), 16);
            long low = Long.parseLong(name.substring(16, 24), 16);
            if (low >= perLogId) {
                continue; // not a name this segment size produces: leave it alone
            }
            if (logId * perLogId + low < cutoff) {
                delete.add(b);
            }
        }
        return new WalPlan(Lsn.segmentName(timeline, cutoff, segSize), null, delete);
    }
}
