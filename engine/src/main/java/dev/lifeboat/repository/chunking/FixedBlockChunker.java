package dev.lifeboat.repository.chunking;

/**
 * Fixed, offset-aligned blocks. PostgreSQL relation files change in place page by page and never shift, so aligned
 * blocks dedup unchanged regions exactly, and a small block keeps an incremental close to the pages that changed.
 */
public final class FixedBlockChunker implements Chunker {
    private final int size;

    public FixedBlockChunker(int size) {
        if (size <= 0) {
            throw new IllegalArgumentException("block size must be positive");
        }
        this.size = size;
    }

    @Override
    public int nextCut(byte[] buf, int off, int len, boolean eof) {
        return Math.min(len, size);
    }

    @Override
    public int maxSize() {
        return size;
    }
}
