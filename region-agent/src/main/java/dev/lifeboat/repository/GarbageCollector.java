package dev.lifeboat.repository;

import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.local.LocalBlobStore;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes data no backup references: packs left by interrupted backups (never indexed, or indexed but not used by
 * any manifest) and packs whose chunks all belong to deleted backups; then rewrites the index without them.
 * Runs under the exclusive lock with no readers, so nothing an in-progress backup or restore needs is removed.
 */
public final class GarbageCollector {
    public record Result(int packsDeleted, long bytesFreed, int packsKept, int indexFilesRewritten, boolean dryRun) {
    }

    private final Repository repo;

    public GarbageCollector(Repository repo) {
        this.repo = repo;
    }

    public Result collect(boolean dryRun) throws IOException {
        try (RepositoryLock ignored = RepositoryLock.exclusive(repo, "gc", null, true)) {
            Set<ChunkId> referenced = new HashSet<>();
            for (Snapshot s : repo.loadSnapshots()) {
                for (Snapshot.FileEntry f : s.files()) {
                    if (f.chunks() != null) {
                        f.chunks().forEach(h -> referenced.addAll(ChunkRefs.ids(h)));
                    }
                }
            }
            ChunkIndex index = repo.loadIndex();
            Map<String, List<PackedChunk>> chunksByPack = new HashMap<>();
            for (PackedChunk c : index.chunks().values()) {
                chunksByPack.computeIfAbsent(c.packId(), k -> new ArrayList<>()).add(c);
            }
            Set<String> livePacks = new HashSet<>();
            int unindexed = 0;
            for (ChunkId id : referenced) {
                PackedChunk c = index.get(id);
                if (c != null) {
                    livePacks.add(c.packId());
                } else {
                    unindexed++;
                }
            }
            if (unindexed > 0) {
                // a pack is only known to be in use through the index: never delete on an index with holes
                throw new RepositoryException.Corrupt(unindexed + " chunk(s) used by backups are missing from the index of "
                        + repo.uri() + "; run `lifeboat rebuild-index` and then `lifeboat verify` before gc");
            }
            int deleted = 0;
            long freed = 0;
            int kept = 0;
            for (BlobInfo b : repo.listPacks()) {
                String packId = Repository.packIdOf(b.key());
                if (livePacks.contains(packId)) {
                    kept++;
                    continue;
                }
                deleted++;
                freed += b.size();
                if (!dryRun) {
                    repo.store().delete(b.key());
                }
            }
            int rewritten = 0;
            boolean indexHasDeadPacks = index.packSizes().keySet().stream().anyMatch(p -> !livePacks.contains(p));
            if (!dryRun && indexHasDeadPacks) {
                // write the replacement first: a crash in between leaves duplicate entries, never missing ones
                List<PackedChunk> keep = new ArrayList<>();
                Map<String, Long> sizes = new HashMap<>();
                for (String p : livePacks) {
                    keep.addAll(chunksByPack.getOrDefault(p, List.of()));
                    sizes.put(p, index.packSizes().getOrDefault(p, -1L));
                }
                List<BlobInfo> oldIndexFiles = repo.store().list(Repository.INDEX);
                String newKey = keep.isEmpty() ? null : repo.writeIndex(keep, sizes).key();
                for (BlobInfo old : oldIndexFiles) {
                    if (!old.key().equals(newKey)) {
                        repo.store().delete(old.key());
                        rewritten++;
                    }
                }
            }
            if (!dryRun && repo.store() instanceof LocalBlobStore local) {
                local.removeStaleTemporaryFiles(Duration.ofMinutes(10));
            }
            return new Result(deleted, freed, kept, rewritten, dryRun);
        }
    }

    /** Rebuilds the index from the packs' own trailers, replacing all index files. */
    public int rebuildIndex() throws IOException {
        try (RepositoryLock ignored = RepositoryLock.exclusive(repo, "rebuild-index", null, false)) {
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
                    repo.store().delete(b.key());
                }
            }
            return sizes.size();
        }
    }
}
