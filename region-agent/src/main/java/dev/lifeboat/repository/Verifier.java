package dev.lifeboat.repository;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.storage.BlobInfo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Checks that backups are restorable. Always: every manifest opens, every chunk a file needs is indexed, every pack
 * it lives in exists with the indexed size. With {@code readData}: every referenced pack is read whole, its SHA-256
 * must equal its name, and every chunk in it must authenticate, decompress and match its keyed id. Problems name
 * the backup and the file they affect.
 */
public final class Verifier {
    public record Problem(String backup, String file, String detail) {
    }

    public record Report(String repository, List<String> backups, boolean readData, long files, long chunks,
                         long packs, long bytesRead, double seconds, List<Problem> problems) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private final Repository repo;

    public Verifier(Repository repo) {
        this.repo = repo;
    }

    public Report verify(String backupId, boolean readData, int parallel, ProgressListener listener, Cancellation cancel)
            throws IOException {
        long t0 = System.nanoTime();
        List<Problem> problems = new ArrayList<>();
        ChunkIndex index = repo.loadIndex();
        List<String> ids = backupId == null ? repo.listSnapshotIds() : List.of(repo.resolveSnapshotId(backupId));
        // chunk -> the (backup, file) pairs that need it, to name what a damaged chunk breaks
        Map<ChunkId, List<String[]>> users = new HashMap<>();
        Map<String, Set<String[]>> packUsers = new LinkedHashMap<>();
        long files = 0;
        for (String id : ids) {
            cancel.throwIfCancelled();
            Snapshot s;
            try {
                s = repo.loadSnapshot(id);
            } catch (RepositoryException | IllegalArgumentException e) {
                problems.add(new Problem(id, null, e.getMessage()));
                continue;
            }
            for (Snapshot.FileEntry f : s.files()) {
                if (f.kind() != Snapshot.Kind.FILE) {
                    continue;
                }
                files++;
                String[] user = {id, f.path()};
                for (ChunkId cid : f.chunks().stream().flatMap(r -> ChunkRefs.ids(r).stream()).toList()) {
                    PackedChunk c = index.get(cid);
                    if (c == null) {
                        problems.add(new Problem(id, f.path(), "chunk " + cid + " is missing from the repository"));
                        continue;
                    }
                    users.computeIfAbsent(cid, k -> new ArrayList<>(1)).add(user);
                    packUsers.computeIfAbsent(c.packId(), k -> new LinkedHashSet<>()).add(user);
                }
            }
        }
        // which chunks each referenced pack must hold
        Map<String, List<PackedChunk>> byPack = new HashMap<>();
        for (ChunkId cid : users.keySet()) {
            PackedChunk c = index.get(cid);
            byPack.computeIfAbsent(c.packId(), k -> new ArrayList<>()).add(c);
        }
        long totalBytes = 0;
        for (String packId : byPack.keySet()) {
            Optional<BlobInfo> info = repo.store().stat(Pack.key(packId));
            Long expected = index.packSizes().get(packId);
            if (info.isEmpty()) {
                reportPack(problems, packUsers.get(packId), "pack " + packId + " is missing");
            } else if (expected != null && expected >= 0 && info.get().size() != expected) {
                reportPack(problems, packUsers.get(packId), "pack " + packId + " has " + info.get().size()
                        + " bytes, the index says " + expected);
            } else {
                totalBytes += info.get().size();
            }
        }
        long bytesRead = 0;
        if (readData) {
            ProgressTracker progress = new ProgressTracker("verify", "read-data", totalBytes, byPack.size(), listener);
            Map<ChunkId, String> bad = new ConcurrentHashMap<>();
            Map<String, String> badPacks = new ConcurrentHashMap<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallel))) {
                List<Future<?>> futures = new ArrayList<>();
                for (var e : byPack.entrySet()) {
                    futures.add(pool.submit(() -> {
                        cancel.throwIfCancelled();
                        checkPack(e.getKey(), e.getValue(), bad, badPacks, progress);
                        return null;
                    }));
                }
                for (Future<?> f : futures) {
                    try {
                        f.get();
                    } catch (java.util.concurrent.ExecutionException ex) {
                        if (ex.getCause() instanceof RuntimeException re) {
                            throw re;
                        }
                        throw new IOException(ex.getCause());
                    } catch (InterruptedException ex) {
                        Thread.currentThread().interrupt();
                        throw new IOException(ex);
                    }
                }
            }
            bytesRead = progress.bytesDone();
            progress.finish(null);
            badPacks.forEach((packId, why) -> reportPack(problems, packUsers.get(packId), why));
            bad.forEach((cid, why) -> {
                for (String[] u : users.get(cid)) {
                    problems.add(new Problem(u[0], u[1], why));
                }
            });
        }
        problems.sort(java.util.Comparator.comparing((Problem p) -> String.valueOf(p.backup()))
                .thenComparing(p -> String.valueOf(p.file())));
        return new Report(repo.uri(), ids, readData, files, users.size(), byPack.size(), bytesRead,
                (System.nanoTime() - t0) / 1e9, problems);
    }

    private void checkPack(String packId, List<PackedChunk> chunks, Map<ChunkId, String> bad, Map<String, String> badPacks,
                           ProgressTracker progress) throws IOException {
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
        for (PackedChunk c : chunks) {
            if (c.offset() + c.length() > bytes.length) {
                bad.put(c.id(), "chunk " + c.id() + " lies beyond the end of pack " + packId);
                continue;
            }
            try {
                repo.openChunk(c, bytes, (int) c.offset());
            } catch (RepositoryException.Corrupt e) {
                bad.put(c.id(), e.getMessage());
            }
        }
        progress.fileDone();
    }

    private static void reportPack(List<Problem> problems, Set<String[]> users, String why) {
        if (users == null) {
            problems.add(new Problem(null, null, why));
            return;
        }
        for (String[] u : users) {
            problems.add(new Problem(u[0], u[1], why));
        }
    }
}
