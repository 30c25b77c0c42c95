package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.storage.BlobInfo;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Checks that backups are restorable. Always: every manifest opens, every chunk a file needs is indexed, every pack
 * it lives in exists with the indexed size; and, when all backups are checked, the WAL archive has every segment and
 * history file a recovery needs ({@link WalVerifier}). With {@code readData} it proves every byte a restore would
 * write: every referenced pack is read whole once, its SHA-256 must equal its name, every chunk in it must
 * authenticate, decompress and re-hash to its keyed id (encrypted or not), every delta block is rebuilt from its base,
 * and every file's manifest digest is recomputed from the content ids of the bytes a restore would write; every WAL
 * object is read, authenticated and checked page by page and record by record. Problems name the backup and file (or
 * the timeline and WAL file) they affect.
 */
public final class Verifier {
    /**
     * @param backup   the backup a damaged file belongs to (null for the WAL archive and for unreferenced damage)
     * @param file     the file in the backup, or the WAL file ({@code 000000010000000000000003}, {@code
     * 00000002.history})
     * @param timeline the WAL timeline the problem breaks (WAL problems only)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Problem(String backup, String file, String detail, Integer timeline) {
        public Problem(String backup, String file, String detail) {
            this(backup, file, detail, null);
        }

        public static Problem wal(int timeline, String file, String detail) {
            return new Problem(null, file, detail, timeline);
        }
    }

    /**
     * @param filesDigested files whose manifest digest was recomputed from the bytes a restore would write
     * @param deltaBlocks   delta blocks rebuilt from their base
     * @param wal           what the WAL check covered (null when a single backup was checked)
     */
    public record Report(
            String repository,
            List<String> backups,
            boolean readData,
            long files,
            long chunks,
            long packs,
            long bytesRead,
            long filesDigested,
            long deltaBlocks,
            WalVerifier.Summary wal,
            double seconds,
            List<Problem> problems) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private final Repository repo;

    public Verifier(Repository repo) {
        this.repo = repo;
    }

    /** A file of a backup, as the chunk and delta maps name their users. */
    private record User(String backup, Snapshot.FileEntry file) {}

    /** Verifies one backup (or all when {@code backupId} is null) under a shared lock, so gc cannot delete under it. */
    public Report verify(
            String backupId, boolean readData, int parallel, ProgressListener listener, Cancellation cancel)
            throws IOException {
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "verify", backupId)) {
            return verifyLocked(backupId, readData, parallel, listener, cancel);
        }
    }

    private Report verifyLocked(
            String backupId, boolean readData, int parallel, ProgressListener listener, Cancellation cancel)
            throws IOException {
        long t0 = System.nanoTime();
        List<Problem> problems = new ArrayList<>();
        ChunkIndex index = repo.loadIndex();
        List<String> ids = backupId == null ? repo.listSnapshotIds() : List.of(repo.resolveSnapshotId(backupId));
        // chunk -> the files that need it, to name what a damaged chunk breaks
        Map<ChunkId, List<User>> users = new HashMap<>();
        Map<String, Set<User>> packUsers = new LinkedHashMap<>();
        // delta reference -> the files that use it
        Map<String, List<User>> deltaUsers = new HashMap<>();
        List<User> allFiles = new ArrayList<>();
        List<Snapshot> snapshots = new ArrayList<>();
        for (String id : ids) {
            cancel.throwIfCancelled();
            Snapshot s;
            try {
                s = repo.loadSnapshot(id);
            } catch (RepositoryException | IllegalArgumentException e) {
                problems.add(new Problem(id, null, e.getMessage()));
                continue;
            }
            snapshots.add(s);
            for (Snapshot.FileEntry f : s.files()) {
                if (f.kind() != Snapshot.Kind.FILE) {
                    continue;
                }
                User user = new User(id, f);
                allFiles.add(user);
                for (String ref : f.chunks()) {
                    if (ChunkRefs.isDelta(ref)) {
                        deltaUsers.computeIfAbsent(ref, k -> new ArrayList<>(1)).add(user);
                    }
                    for (ChunkId cid : ChunkRefs.ids(ref)) {
                        PackedChunk c = index.get(cid);
                        if (c == null) {
                            problems.add(new Problem(id, f.path(), "chunk " + cid + " is missing from the repository"));
                            continue;
                        }
                        List<User> u = users.computeIfAbsent(cid, k -> new ArrayList<>(1));
                        if (u.isEmpty() || u.getLast() != user) {
                            u.add(user);
                        }
                        packUsers
                                .computeIfAbsent(c.packId(), k -> new LinkedHashSet<>())
                                .add(user);
                    }
                }
            }
        }
        // which chunks each referenced pack must hold, and which delta blocks are rebuilt while it is in memory
        Map<String, List<PackedChunk>> byPack = new HashMap<>();
        for (ChunkId cid : users.keySet()) {
            PackedChunk c = index.get(cid);
            byPack.computeIfAbsent(c.packId(), k -> new ArrayList<>()).add(c);
        }
        Map<String, List<String>> deltasByPack = new HashMap<>();
        for (String ref : deltaUsers.keySet()) {
            List<ChunkId> pair = ChunkRefs.ids(ref);
            PackedChunk delta = index.get(pair.get(0));
            if (delta != null && index.get(pair.get(1)) != null) {
                deltasByPack
                        .computeIfAbsent(delta.packId(), k -> new ArrayList<>())
                        .add(ref);
            }
        }
        long totalBytes = 0;
        Set<String> readablePacks = new LinkedHashSet<>();
        for (String packId : byPack.keySet()) {
            Optional<BlobInfo> info = repo.store().stat(Pack.key(packId));
            Long expected = index.packSizes().get(packId);
            if (info.isEmpty()) {
                reportPack(problems, packUsers.get(packId), "pack " + packId + " is missing");
            } else if (expected != null && expected >= 0 && info.get().size() != expected) {
                reportPack(
                        problems,
                        packUsers.get(packId),
                        "pack " + packId + " has " + info.get().size() + " bytes, the index says " + expected);
            } else {
                totalBytes += info.get().size();
                readablePacks.add(packId);
            }
        }
        long bytesRead = 0;
        long filesDigested = 0;
        Map<String, ChunkId> deltaContentIds = new ConcurrentHashMap<>();
        if (readData) {
            ProgressTracker progress =
                    new ProgressTracker("verify", "read-data", totalBytes, readablePacks.size(), listener);
            Map<ChunkId, String> bad = new ConcurrentHashMap<>();
            Map<String, String> badPacks = new ConcurrentHashMap<>();
            Map<String, String> badDeltas = new ConcurrentHashMap<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallel))) {
                List<Future<?>> futures = new ArrayList<>();
                for (String packId : readablePacks) {
                    futures.add(pool.submit(() -> {
                        cancel.throwIfCancelled();
                        checkPack(
                                index,
                                packId,
                                byPack.get(packId),
                                deltasByPack.getOrDefault(packId, List.of()),
                                bad,
                                badPacks,
                                deltaContentIds,
                                badDeltas,
                                progress);
                        return null;
                    }));
                }
                await(futures);
            }
            bytesRead = progress.bytesDone();
            progress.finish(null);
            badPacks.forEach((packId, why) -> reportPack(problems, packUsers.get(packId), why));
            bad.forEach((cid, why) -> {
                for (User u : users.get(cid)) {
                    problems.add(new Problem(u.backup(), u.file().path(), why));
                }
            });
            badDeltas.forEach((ref, why) -> {
                for (User u : deltaUsers.get(ref)) {
                    problems.add(new Problem(u.backup(), u.file().path(), why));
                }
            });
            // the manifest's digest must be the one the bytes a restore writes give: a plain chunk's content id is
            // its id (re-hashed above), a delta block's the id of the rebuilt block
            Set<String> alreadyBroken = new HashSet<>();
            problems.forEach(p -> alreadyBroken.add(p.backup() + "\0" + p.file()));
            for (User u : allFiles) {
                if (alreadyBroken.contains(u.backup() + "\0" + u.file().path())) {
                    continue; // its chunks are damaged or missing: there is no digest to recompute
                }
                String why = checkDigest(index, u.file(), deltaContentIds);
                if (why != null) {
                    problems.add(new Problem(u.backup(), u.file().path(), why));
                }
                filesDigested++;
            }
        }
        problems.sort(Comparator.comparing((Problem p) -> String.valueOf(p.backup()))
                .thenComparing(p -> String.valueOf(p.file())));

        WalVerifier.Summary wal = null;
        if (backupId == null) {
            // the archive serves every backup: check it when the whole repository is verified
            WalVerifier.Result w = new WalVerifier(repo).verify(snapshots, readData, parallel, listener, cancel);
            wal = w.summary();
            problems.addAll(w.problems());
        }
        return new Report(
                repo.uri(),
                ids,
                readData,
                allFiles.size(),
                users.size(),
                byPack.size(),
                bytesRead + (wal == null ? 0 : wal.bytesRead()),
                filesDigested,
                deltaContentIds.size(),
                wal,
                (System.nanoTime() - t0) / 1e9,
                problems);
    }

    /** Null when the file's size and digest are those of its chunks' content, else what differs. */
    private static String checkDigest(ChunkIndex index, Snapshot.FileEntry f, Map<String, ChunkId> deltaContentIds) {
        ContentDigest digest = new ContentDigest();
        long size = 0;
        for (String ref : f.chunks()) {
            ChunkId content = ChunkRefs.isDelta(ref) ? deltaContentIds.get(ref) : ChunkId.parse(ref);
            PackedChunk located = index.get(ChunkRefs.base(ref));
            if (content == null || located == null) {
                return null; // reported as a damaged delta or a missing chunk
            }
            digest.add(content);
            size += located.rawLength();
        }
        String actual = digest.finish();
        if (size != f.size() || !actual.equals(f.digest())) {
            return "the manifest records " + f.size() + " bytes with digest " + f.digest() + ", but its chunks restore "
                    + size + " bytes with digest " + actual
                    + ": the manifest does not describe the data a restore writes";
        }
        return null;
    }

    private void checkPack(
            ChunkIndex index,
            String packId,
            List<PackedChunk> chunks,
            List<String> deltaRefs,
            Map<ChunkId, String> bad,
            Map<String, String> badPacks,
            Map<String, ChunkId> deltaContentIds,
            Map<String, String> badDeltas,
            ProgressTracker progress)
            throws IOException {
        byte[] bytes;
        try {
            bytes = repo.store().get(Pack.key(packId));
        } catch (IOException e) {
            badPacks.put(packId, "pack " + packId + " cannot be read: " + e.getMessage());
            return;
        }
        progress.addBytes(bytes.length);
        if (!PackWriter.sha256Hex(bytes, 0, bytes.length).equals(packId)) {
            badPacks.put(packId, "pack " + packId + " is damaged: its SHA-256 does not match its name");
        }
        // the plaintext of this pack's delta chunks (and of bases that live here), kept until the deltas are rebuilt
        Set<ChunkId> keep = new HashSet<>();
        for (String ref : deltaRefs) {
            keep.addAll(ChunkRefs.ids(ref));
        }
        Map<ChunkId, byte[]> kept = new HashMap<>();
        for (PackedChunk c : chunks) {
            byte[] plain = open(c, bytes, (int) c.offset(), bad);
            if (plain != null && keep.contains(c.id())) {
                kept.put(c.id(), plain);
            }
        }
        for (String ref : deltaRefs) {
            List<ChunkId> pair = ChunkRefs.ids(ref);
            byte[] delta = kept.get(pair.get(0));
            if (delta == null) {
                continue; // the delta chunk itself is damaged: reported with its users
            }
            byte[] base = kept.get(pair.get(1));
            if (base == null) {
                // the base lives in another pack (usually the parent backup's): one ranged read; its damage, if
                // any, is reported when that pack is checked
                PackedChunk b = index.get(pair.get(1));
                if (b.packId().equals(packId)) {
                    continue;
                }
                try {
                    // authenticated and decompressed; its re-hash is left to its own pack's check
                    base = repo.openChunk(b, repo.store().getRange(Pack.key(b.packId()), b.offset(), b.length()), 0);
                } catch (IOException | RepositoryException.Corrupt e) {
                    base = null;
                }
                if (base == null) {
                    continue;
                }
                kept.put(b.id(), base);
            }
            try {
                byte[] block = ChunkRefs.applyDelta(base, delta, pair.get(1));
                ChunkId rebuilt = ChunkId.of(repo.chunkIds().idOf(block, 0, block.length));
                ChunkId recorded = ChunkRefs.contentId(ref);
                if (recorded != null && !recorded.equals(rebuilt)) {
                    badDeltas.put(ref, "delta block " + ref + " rebuilds to other bytes than its content id says");
                    continue;
                }
                deltaContentIds.put(ref, rebuilt);
            } catch (RepositoryException.Corrupt | BufferUnderflowException e) {
                badDeltas.put(ref, "delta block " + ref + " cannot be rebuilt: " + e.getMessage());
            }
        }
        progress.fileDone();
    }

    /**
     * Opens one chunk and proves its plaintext hashes to its id. In an encrypted repository the GCM tag only proves
     * the blob was sealed for this id, not that the id is the hash of these bytes (a writer bug could seal the wrong
     * bytes), so the keyed hash is computed here too; {@link Repository#openChunk} already does it without encryption.
     */
    private byte[] open(PackedChunk c, byte[] blob, int off, Map<ChunkId, String> bad) {
        if (off + (long) c.length() > blob.length) {
            bad.put(c.id(), "chunk " + c.id() + " lies beyond the end of pack " + c.packId());
            return null;
        }
        try {
            byte[] plain = repo.openChunk(c, blob, off);
            if (repo.config().encrypted() && !repo.chunkIds().matches(c.id().bytes(), plain, 0, plain.length)) {
                bad.put(
                        c.id(),
                        "chunk " + c.id() + " in pack " + c.packId() + " authenticates but its content does not "
                                + "match its id");
                return null;
            }
            return plain;
        } catch (RepositoryException.Corrupt e) {
            bad.put(c.id(), e.getMessage());
            return null;
        }
    }

    static void await(List<Future<?>> futures) throws IOException {
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException ex) {
                futures.forEach(x -> x.cancel(true));
                if (ex.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                if (ex.getCause() instanceof IOException io) {
                    throw io;
                }
                throw new IOException(ex.getCause());
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new IOException(ex);
            }
        }
    }

    private static void reportPack(List<Problem> problems, Set<User> users, String why) {
        if (users == null) {
            problems.add(new Problem(null, null, why));
            return;
        }
        for (User u : users) {
            problems.add(new Problem(u.backup(), u.file().path(), why));
        }
    }
}
