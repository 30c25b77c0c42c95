package dev.lifeboat.repository.chunking;

/** Decides where chunks end inside a buffer of file data. */
public interface Chunker {
    /**
     * Returns the length of the next chunk starting at {@code off}. {@code len} bytes are available; when
     * {@code eof} is false the caller guarantees {@code len >= maxSize()} so a cut is always found in view.
     */
    int nextCut(byte[] buf, int off, int len, boolean eof);

    int maxSize();
}
