package dev.lifeboat.repository.chunking;

import java.util.SplittableRandom;

/**
 * Content-defined chunking after FastCDC (Xia et al., 2016/2020): a gear rolling hash, cut points skipped below
 * the minimum size, and normalized chunking — a stricter mask before the average size and a looser one after —
 * which narrows the size distribution around the average. The gear table comes from a per-repository seed, so
 * cut points (and with them chunk sizes) do not reveal file contents across repositories.
 */
public final class FastCdcChunker implements Chunker {
    private final int min;
    private final int avg;
    private final int max;
    private final long maskS;
    private final long maskL;
    private final long[] gear = new long[256];

    public FastCdcChunker(int min, int avg, int max, long seed) {
        if (!(0 < min && min <= avg && avg <= max) || Integer.bitCount(avg) != 1) {
            throw new IllegalArgumentException("chunk sizes must satisfy 0 < min <= avg <= max, avg a power of two");
        }
        this.min = min;
        this.avg = avg;
        this.max = max;
        int bits = Integer.numberOfTrailingZeros(avg);
        // the gear hash shifts left, so its top bits mix the most recent 64 bytes: test those
        this.maskS = topBits(bits + 2);
        this.maskL = topBits(bits - 2);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < 256; i++) {
            gear[i] = rnd.nextLong();
        }
    }

    private static long topBits(int n) {
        return n <= 0 ? 0 : -1L << (64 - n);
    }

    @Override
    public int maxSize() {
        return max;
    }

    @Override
    public int nextCut(byte[] buf, int off, int len, boolean eof) {
        if (len <= min) {
            return len;
        }
        int n = Math.min(len, max);
        int normal = Math.min(n, avg);
        long h = 0;
        int i = min;
        // warm the hash over the bytes just before the minimum so the first candidate already sees a full window
        for (int j = Math.max(0, min - 64); j < min; j++) {
            h = (h << 1) + gear[buf[off + j] & 0xff];
        }
        for (; i < normal; i++) {
            h = (h << 1) + gear[buf[off + i] & 0xff];
            if ((h & maskS) == 0) {
                return i + 1;
            }
        }
        for (; i < n; i++) {
            h = (h << 1) + gear[buf[off + i] & 0xff];
            if ((h & maskL) == 0) {
                return i + 1;
            }
        }
        return n;
    }
}
