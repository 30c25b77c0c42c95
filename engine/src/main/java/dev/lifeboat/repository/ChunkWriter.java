package dev.lifeboat.repository;

import dev.lifeboat.repository.compress.Compression;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Stores chunks for one backup: dedups against the repository index and against chunks other workers are storing,
 * builds one pack per worker session, uploads finished packs on virtual threads (bounded), and writes an index file
 * every few packs so data survives a crash and later backups can dedup against it.
 */
public final class ChunkWriter implements AutoCloseable {
    private static final int PACKS_PER_INDEX_FILE = 32;

    private final Repository repo;
    private final Compression compression;
    private final Map<ChunkId, Boolean> known = new ConcurrentHashMap<>();
    private final ExecutorService uploads = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore inFlight;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final List<PackedChunk> unindexed = new ArrayList<>();
    private final Map<String, Long> unindexedSizes = new HashMap<>();
    private int unindexedPacks;
    private final AtomicLong newChunks = new AtomicLong();
    private final AtomicLong newBytes = new AtomicLong();
    private final AtomicLong storedBytes = new AtomicLong();
    private final AtomicLong totalChunks = new AtomicLong();
    /**
     * Pack buffers whose upload finished, for the next packs. A pack buffer (pack size + 1 MiB) is too large for the
     * young generation, so a new one per pack went to the old generation and stayed there as garbage until a full
     * collection: a scale-100 backup's heap grew to ~280 MB for ~100 MB of live buffers. At most one buffer per
     * session plus one per upload in flight ever exists.
     */
    private final Queue<byte[]> spareBuffers = new ConcurrentLinkedQueue<>();

    private final int bufferBytes;

    public ChunkWriter(Repository repo, ChunkIndex index, Compression compression, int maxUploadsInFlight) {
        this.repo = repo;
        this.compression = compression;
        this.inFlight = new Semaphore(Math.max(1, maxUploadsInFlight));
        this.bufferBytes = repo.config().packSize() + 1024 * 1024;
        for (ChunkId id : index.chunks().keySet()) {
            known.put(id, Boolean.TRUE);
        }
    }

    /** A per-worker writer; not thread-safe, one per thread. */
    public final class Session implements AutoCloseable {
        private PackWriter pack;

        /** Stores one chunk unless the repository already has it; returns its id. */
        public ChunkId store(byte[] data, int off, int len) {
            return store(data, off, len, idOf(data, off, len));
        }

        /** The keyed id of some plaintext (what {@link #store} would file it under). */
        public ChunkId idOf(byte[] data, int off, int len) {
            return ChunkId.of(repo.chunkIds().idOf(data, off, len));
        }

        /** True if the repository (or this backup so far) already holds the chunk. */
        public boolean isKnown(ChunkId id) {
            return known.containsKey(id);
        }

        /** Stores a chunk whose id the caller has already computed with {@link #idOf}. */
        public ChunkId store(byte[] data, int off, int len, ChunkId id) {
            return store(data, off, len, id, compression);
        }

        /** Stores a chunk with its own compression (e.g. small page deltas, where a higher level costs little). */
        public ChunkId store(byte[] data, int off, int len, ChunkId id, Compression chunkCompression) {
            throwIfFailed();
            totalChunks.incrementAndGet();
            if (known.putIfAbsent(id, Boolean.TRUE) != null) {
                return id;
            }
            if (pack == null) {
                byte[] spare = spareBuffers.poll();
                pack = new PackWriter(repo, spare != null ? spare : new byte[bufferBytes]);
            }
            pack.add(id, data, off, len, chunkCompression);
            newChunks.incrementAndGet();
            newBytes.addAndGet(len);
            if (pack.size() >= repo.config().packSize()) {
                submit(pack);
                pack = null;
            }
            return id;
        }

        @Override
        public void close() {
            if (pack != null && pack.chunkCount() > 0) {
                submit(pack);
            }
            pack = null;
        }
    }

    public Session session() {
        return new Session();
    }

    private void submit(PackWriter writer) {
        PackWriter.Finished p = writer.finish();
        try {
            inFlight.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting to upload a pack", e);
        }
        uploads.submit(() -> {
            try {
                repo.store().put(Pack.key(p.packId()), p.bytes(), 0, p.length());
                storedBytes.addAndGet(p.length());
                packDurable(p);
                // put has returned, so no store reads the bytes any more; a buffer a large chunk grew is let go
                if (p.bytes().length == bufferBytes) {
                    spareBuffers.offer(p.bytes());
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                inFlight.release();
            }
        });
    }

    private void packDurable(PackWriter.Finished p) throws IOException {
        List<PackedChunk> toIndex = null;
        Map<String, Long> sizes = null;
        synchronized (unindexed) {
            unindexed.addAll(p.entries());
            unindexedSizes.put(p.packId(), (long) p.length());
            if (++unindexedPacks >= PACKS_PER_INDEX_FILE) {
                toIndex = new ArrayList<>(unindexed);
                sizes = new HashMap<>(unindexedSizes);
                unindexed.clear();
                unindexedSizes.clear();
                unindexedPacks = 0;
            }
        }
        if (toIndex != null) {
            storedBytes.addAndGet(repo.writeIndex(toIndex, sizes).size());
        }
    }

    private void throwIfFailed() {
        Throwable t = failure.get();
        if (t != null) {
            throw new RepositoryException("writing to " + repo.uri() + " failed: " + t.getMessage(), t);
        }
    }

    /** Waits for every upload and writes the index for the remaining packs. Call after all sessions closed. */
    public void finish() throws IOException {
        uploads.shutdown();
        try {
            while (!uploads.awaitTermination(1, TimeUnit.SECONDS)) {
                // keep waiting: uploads are bounded by the store's own timeouts
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for uploads", e);
        }
        throwIfFailed();
        synchronized (unindexed) {
            if (!unindexed.isEmpty()) {
                storedBytes.addAndGet(repo.writeIndex(unindexed, unindexedSizes).size());
                unindexed.clear();
                unindexedSizes.clear();
            }
        }
    }

    public long newChunks() {
        return newChunks.get();
    }

    public long newBytes() {
        return newBytes.get();
    }

    public long storedBytes() {
        return storedBytes.get();
    }

    public long totalChunks() {
        return totalChunks.get();
    }

    @Override
    public void close() {
        uploads.shutdownNow();
    }
}
