package dev.lifeboat.bench;

import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.Aead;

/**
 * The data set cut into 128 KiB relation blocks and compressed at one level ({@code codec byte || payload}, as
 * PackWriter hands them to the cipher), packed back to back; optionally sealed too.
 */
final class Blocks {
    final byte[] bytes;
    final int[] offsets;
    final int[] lengths;

    private Blocks(byte[] bytes, int[] offsets, int[] lengths) {
        this.bytes = bytes;
        this.offsets = offsets;
        this.lengths = lengths;
    }

    /** Compresses every block; if {@code sealWith} is not null, also seals each one (AAD {@code aad}). */
    static Blocks of(byte[] data, Compression level, Aead sealWith, byte[] aad) {
        int n = data.length / Sizes.BLOCK;
        int[] offsets = new int[n];
        int[] lengths = new int[n];
        byte[] scratch = new byte[level.maxCompressedLength(Sizes.BLOCK)];
        int extra = sealWith == null ? 0 : Aead.OVERHEAD;
        long bound = (long) n * (scratch.length + extra);
        if (bound > Integer.MAX_VALUE - 64L) {
            throw new IllegalArgumentException(
                    "the data set is too large to hold compressed in one array; use a smaller "
                            + "lifeboat.bench.bytes (at most about 1.9 GiB)");
        }
        byte[] out = new byte[(int) bound];
        int pos = 0;
        for (int i = 0; i < n; i++) {
            int clen = level.compress(data, i * Sizes.BLOCK, Sizes.BLOCK, scratch, 0);
            offsets[i] = pos;
            if (sealWith == null) {
                System.arraycopy(scratch, 0, out, pos, clen);
                lengths[i] = clen;
            } else {
                lengths[i] = sealWith.seal(scratch, 0, clen, aad, out, pos);
            }
            pos += lengths[i];
        }
        return new Blocks(out, offsets, lengths);
    }

    /** A buffer large enough for any one slice's blocks. */
    byte[] sliceBuffer() {
        int max = 0;
        for (int first = 0; first < lengths.length; first += Sizes.BLOCKS_PER_SLICE) {
            int last = first + Sizes.BLOCKS_PER_SLICE - 1;
            max = Math.max(max, offsets[last] + lengths[last] - offsets[first]);
        }
        return new byte[max];
    }

    /**
     * Copies the blocks of slice {@code slice} to the start of {@code hot} (so they are in the CPU cache, as the blocks
     * a backup worker has just compressed are) and their offsets there into {@code hotOffsets}.
     */
    void copySlice(int slice, byte[] hot, int[] hotOffsets, int[] hotLengths) {
        int first = slice * Sizes.BLOCKS_PER_SLICE;
        int last = first + Sizes.BLOCKS_PER_SLICE - 1;
        int base = offsets[first];
        System.arraycopy(bytes, base, hot, 0, offsets[last] + lengths[last] - base);
        for (int i = 0; i < Sizes.BLOCKS_PER_SLICE; i++) {
            hotOffsets[i] = offsets[first + i] - base;
            hotLengths[i] = lengths[first + i];
        }
    }

    long totalLength() {
        long t = 0;
        for (int l : lengths) {
            t += l;
        }
        return t;
    }
}
