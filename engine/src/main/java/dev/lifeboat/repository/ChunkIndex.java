package dev.lifeboat.repository;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The in-memory view of all index files: chunk → location, plus which index file lists which pack. */
public final class ChunkIndex {
    private final Map<ChunkId, PackedChunk> chunks = new ConcurrentHashMap<>();
    private final Map<String, Long> packSizes = new HashMap<>();
    private final Map<String, Set<String>> packsByIndexFile = new HashMap<>();

    synchronized void addPack(String indexKey, String packId, long size) {
        packSizes.put(packId, size);
        packsByIndexFile.computeIfAbsent(indexKey, k -> new HashSet<>()).add(packId);
    }

    void add(PackedChunk c) {
        chunks.putIfAbsent(c.id(), c);
    }

    public PackedChunk get(ChunkId id) {
        return chunks.get(id);
    }

    public boolean contains(ChunkId id) {
        return chunks.containsKey(id);
    }

    public int size() {
        return chunks.size();
    }

    public Map<ChunkId, PackedChunk> chunks() {
        return chunks;
    }

    public Map<String, Long> packSizes() {
        return packSizes;
    }

    public Map<String, Set<String>> packsByIndexFile() {
        return packsByIndexFile;
    }

    /** Builds an index from pack trailers (for the rebuild command and tests). */
    public static ChunkIndex fromTrailers(Map<String, Long> packSizes, Map<String, List<PackedChunk>> trailers) {
        ChunkIndex idx = new ChunkIndex();
        for (var e : trailers.entrySet()) {
            idx.addPack("(rebuilt)", e.getKey(), packSizes.getOrDefault(e.getKey(), -1L));
            e.getValue().forEach(idx::add);
        }
        return idx;
    }
}
