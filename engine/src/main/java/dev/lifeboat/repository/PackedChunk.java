package dev.lifeboat.repository;

/** Where a chunk lives: its pack, byte range inside the pack and its plaintext length. */
public record PackedChunk(ChunkId id, String packId, long offset, int length, int rawLength) {}
