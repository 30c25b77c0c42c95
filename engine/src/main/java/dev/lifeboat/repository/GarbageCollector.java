package dev.lifeboat.repository;

import dev.lifeboat.storage.BlobInfo;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes data no backup references: packs left by interrupted backups (never indexed, or indexed but not used by
 * any manifest) and packs whose chunks all belong to deleted backups; then rewrites the index without them.
 * Runs under the exclusive lock with no readers, so nothing an in-progress backup or restore needs is removed.
 * For {@code expire} it can also repack: a pack in which less than half of the bytes are still referenced is
 * replaced by a new pack holding only its referenced chunk blobs (copied as sealed, never decrypted).
 */
public final class GarbageCollector {
    public record Result(int packsDeleted, long bytesFreed, int packsKept, int indexFilesRewritten, boolean dryRun) {}

    /**
     * What a collection did (or, in a dry run, would do).
     *
     * @param packsDeleted  packs deleted because nothing references them
     * @param bytesDeleted  bytes of those packs plus the bytes of repacked packs
     * @param packsRepacked partly used packs replaced by new packs
     * @param packsWritten  new packs holding the referenced chunks of the repacked ones
     * @param bytesWritten  bytes of the new packs
     * @param packsKept     packs in use that were left as they are
     */
    record Outcome(
            int packsDeleted,
            long bytesDeleted,
            int packsRepacked,
            int packsWritten,
            long bytesWritten,
            int packsKept,
            int indexFilesRewritten,
            boolean dryRun) {
        long bytesFreed() {
            return bytesDeleted - bytesWritten;
        }
    }

    /** Everything a collection decides before it writes or deletes anything. */
    static final class Plan {
        final List<BlobInfo> oldIndexFiles;
        final ChunkIndex index;
        final Set<String> livePacks;
        /** every chunk the index locates in each pack */
        final Map<String, List<PackedChunk>> chunksByPack;

        final List<BlobInfo> dead = new ArrayList<>();
        final List<BlobInfo> kept = new ArrayList<>();
        final List<BlobInfo> repack = new ArrayList<>();
        /** the referenced chunks of the packs to repack, in source order, split into the new packs */
        final List<List<PackedChunk>> newPacks = new ArrayList<>();

        long newPackBytes;

        Plan(
                List<BlobInfo> oldIndexFiles,
                ChunkIndex index,
                Set<String> livePacks,
                Map<String, List<PackedChunk>> chunksByPack) {
            this.oldIndexFiles = oldIndexFiles;
            this.index = index;
            this.livePacks = livePacks;
            this.chunksByPack = chunksByPack;
        }

        boolean indexNeedsRewrite() {
            return !repack.isEmpty() || index.packSizes().keySet().stream().anyMatch(p -> !livePacks.contains(p));
        }
    }

    private final Repository repo;

    public GarbageCollector(Repository repo) {
        this.repo = repo;
    }

    public Result collect(boolean dryRun) throws IOException {
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            Outcome o = apply(plan(repo.loadSnapshots(), false), dryRun, lock);
            return new Result(o.packsDeleted(), o.bytesFreed(), o.packsKept(), o.indexFilesRewritten(), dryRun);
        }
    }

    /**
     * Decides what to delete and (with {@code repack}) what to rewrite, treating {@code live} as every backup there
     * is. Reads only the index and the pack listing. The caller holds the exclusive lock with no readers.
     *
     * @throws RepositoryException.Corrupt if a chunk a backup uses is missing from the index (nothing is decided then)
     */
    Plan plan(Collection<Snapshot> live, boolean repack) throws IOException {
        Set<ChunkId> referenced = new HashSet<>();
        for (Snapshot s : live) {
            for (Snapshot.FileEntry f : s.files()) {
                if (f.chunks() != null) {
                    f.chunks().forEach(h -> referenced.addAll(ChunkRefs.ids(h)));
                }
            }
        }
        // listed before loading: every index file we may delete later is one whose entries we have read
        List<BlobInfo> oldIndexFiles = repo.store().list(Repository.INDEX);
        ChunkIndex index = repo.loadIndex();
        Map<String, List<PackedChunk>> chunksByPack = new HashMap<>();
        for (PackedChunk c : index.chunks().values()) {
            chunksByPack.computeIfAbsent(c.packId(), k -> new ArrayList<>()).add(c);
        }
        Map<String, List<PackedChunk>> referencedByPack = new HashMap<>();
        int unindexed = 0;
        for (ChunkId id : referenced) {
            PackedChunk c = index.get(id);
            if (c != null) {
                referencedByPack
                        .computeIfAbsent(c.packId(), k -> new ArrayList<>())
                        .add(c);
            } else {
                unindexed++;
            }
        }
        if (unindexed > 0) {
            // a pack is only known to be in use through the index: never delete on an index with holes
            throw new RepositoryException.Corrupt(unindexed + " chunk(s) used by backups are missing from the index of "
                    + repo.uri() + "; run `lifeboat rebuild-index` and then `lifeboat verify` before gc");
        }
        Plan plan = new Plan(oldIndexFiles, index, referencedByPack.keySet(), chunksByPack);
        for (BlobInfo b : repo.listPacks()) {
            String packId = Repository.packIdOf(b.key());
            List<PackedChunk> used = referencedByPack.get(packId);
            if (used == null) {
                plan.dead.add(b);
            } else if (repack && standaloneSize(used) * 2 < b.size()) {
                plan.repack.add(b);
            } else {
                plan.kept.add(b);
            }
        }
        if (!plan.repack.isEmpty()) {
            plan.repack.sort(Comparator.comparing(BlobInfo::key));
            List<PackedChunk> current = new ArrayList<>();
            long pos = Pack.headerLength(repo.version());
            for (BlobInfo b : plan.repack) {
                List<PackedChunk> used = new ArrayList<>(referencedByPack.get(Repository.packIdOf(b.key())));
                used.sort(Comparator.comparingLong(PackedChunk::offset));
                for (PackedChunk c : used) {
                    current.add(c);
                    pos += c.length();
                    if (pos >= repo.config().packSize()) { // the rule ChunkWriter closes packs by
                        plan.newPacks.add(current);
                        plan.newPackBytes += standaloneSize(current);
                        current = new ArrayList<>();
                        pos = Pack.headerLength(repo.version());
                    }
                }
            }
            if (!current.isEmpty()) {
                plan.newPacks.add(current);
                plan.newPackBytes += standaloneSize(current);
            }
        }
        return plan;
    }

    /** The size of a pack holding exactly these chunk blobs: header, blobs, sealed trailer, footer. */
    private long standaloneSize(List<PackedChunk> chunks) {
        long blobs = 0;
        for (PackedChunk c : chunks) {
            blobs += c.length();
        }
        return Pack.headerLength(repo.version())
                + blobs
                + 4L
                + (long) chunks.size() * Pack.ENTRY_BYTES
                + repo.metadataOverhead()
                + Pack.FOOTER_BYTES;
    }

    /**
     * Carries out a plan. Crash-safe order: new packs, then one new index file for every pack still in use, then
     * the old index files, and only then the old packs. A crash leaves duplicate index entries or unindexed packs
     * (which the next gc deletes), never an index entry for a deleted pack that could win over the new one.
     */
    Outcome apply(Plan plan, boolean dryRun, RepositoryLock lock) throws IOException {
        long deletedBytes = 0;
        for (BlobInfo b : plan.dead) {
            deletedBytes += b.size();
        }
        for (BlobInfo b : plan.repack) {
            deletedBytes += b.size();
        }
        if (dryRun) {
            return new Outcome(
                    plan.dead.size(),
                    deletedBytes,
                    plan.repack.size(),
                    plan.newPacks.size(),
                    plan.newPackBytes,
                    plan.kept.size(),
                    0,
                    true);
        }
        List<PackedChunk> newEntries = new ArrayList<>();
        Map<String, Long> newSizes = new HashMap<>();
        long written = 0;
        String sourceId = null;
        byte[] source = null;
        for (List<PackedChunk> group : plan.newPacks) {
            PackWriter w = new PackWriter(repo, (int) Math.min(Integer.MAX_VALUE - 16, standaloneSize(group) + 1024));
            for (PackedChunk c : group) {
                if (!c.packId().equals(sourceId)) {
                    sourceId = c.packId();
                    source = readWholePack(sourceId);
                }
                if (c.offset() < Pack.headerLength(repo.version()) || c.offset() + c.length() > source.length) {
                    throw new RepositoryException.Corrupt("chunk " + c.id() + " lies outside pack " + sourceId
                            + "; no pack or index file was deleted: run `lifeboat verify --read-data`");
                }
                w.addSealed(c.id(), source, (int) c.offset(), c.length(), c.rawLength());
            }
            PackWriter.Finished f = w.finish();
            repo.store().put(Pack.key(f.packId()), f.bytes(), 0, f.length());
            newEntries.addAll(f.entries());
            newSizes.put(f.packId(), (long) f.length());
            written += f.length();
        }
        int rewritten = 0;
        if (plan.indexNeedsRewrite()) {
            Set<String> repacked = new HashSet<>();
            plan.repack.forEach(b -> repacked.add(Repository.packIdOf(b.key())));
            List<PackedChunk> keep = new ArrayList<>(newEntries);
            Map<String, Long> sizes = new HashMap<>(newSizes);
            for (String p : plan.livePacks) {
                if (!repacked.contains(p)) {
                    keep.addAll(plan.chunksByPack.getOrDefault(p, List.of()));
                    sizes.put(p, plan.index.packSizes().getOrDefault(p, -1L));
                }
            }
            String newKey = keep.isEmpty() ? null : repo.writeIndex(keep, sizes).key();
            for (BlobInfo old : plan.oldIndexFiles) {
                if (!old.key().equals(newKey)) {
                    lock.assertHeld(); // a lock lost to another writer: stop before deleting what it may use
                    repo.store().delete(old.key());
                    rewritten++;
                }
            }
        }
        List<BlobInfo> old = new ArrayList<>(plan.dead);
        old.addAll(plan.repack);
        for (BlobInfo b : old) {
            if (!newSizes.containsKey(Repository.packIdOf(b.key()))) { // never delete a pack we just wrote (same bytes)
                lock.assertHeld();
                repo.store().delete(b.key());
            }
        }
        repo.store().removeStaleTemporaryFiles(Duration.ofMinutes(10));
        return new Outcome(
                plan.dead.size(),
                deletedBytes,
                plan.repack.size(),
                plan.newPacks.size(),
                written,
                plan.kept.size(),
                rewritten,
                false);
    }

    /** Reads a pack to copy blobs out of it; its SHA-256 must equal its name, so damage is never copied on silently. */
    private byte[] readWholePack(String packId) throws IOException {
        byte[] bytes = repo.store().get(Pack.key(packId));
        if (!PackWriter.sha256Hex(bytes, 0, bytes.length).equals(packId)) {
            throw new RepositoryException.Corrupt(
                    "pack " + packId + " is damaged (its SHA-256 does not match its name), so it "
                            + "was not repacked and no pack or index file was deleted: run `lifeboat verify "
                            + "--read-data`");
        }
        return bytes;
    }

    /**
     * Rebuilds the index from the packs' own trailers, replacing all index files. Exclusive: it deletes index files a
     * reader that is opening the repository may be about to read.
     */
    public int rebuildIndex() throws IOException {
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "rebuild-index", null)) {
            List<PackedChunk> all = new ArrayList<>();
            Map<String, Long> sizes = new HashMap<>();
            for (BlobInfo b : repo.listPacks()) {
                String packId = Repository.packIdOf(b.key());
                all.addAll(repo.readPackTrailer(packId, b.size()));
                sizes.put(packId, b.size());
            }
            List<BlobInfo> old = repo.store().list(Repository.INDEX);
            String newKey = all.isEmpty() ? null : repo.writeIndex(all, sizes).key();
            for (BlobInfo b : old) {
                if (!b.key().equals(newKey)) {
                    lock.assertHeld();
                    repo.store().delete(b.key());
                }
            }
            return sizes.size();
        }
    }
}
