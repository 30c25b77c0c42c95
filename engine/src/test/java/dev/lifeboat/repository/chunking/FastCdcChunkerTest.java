package dev.lifeboat.repository.chunking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.repository.RepositoryConfig;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FastCdcChunkerTest {
    static final int MIN = 2 * 1024;
    static final int AVG = 8 * 1024;
    static final int MAX = 32 * 1024;

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i += 8) {
            long v = r.nextLong();
            for (int k = 0; k < 8 && i + k < n; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }

    /**
     * Drives a chunker the way FileBackup does: the whole remaining buffer is in view and eof is only set once
     * fewer than max bytes remain (the contract: when eof is false, len >= maxSize()).
     */
    static List<Integer> chunkLengths(Chunker c, byte[] data) {
        List<Integer> out = new ArrayList<>();
        int off = 0;
        while (off < data.length) {
            int len = data.length - off;
            boolean eof = len < c.maxSize();
            int view = eof ? len : c.maxSize(); // expose exactly max bytes when not at eof: a stricter caller
            int cut = c.nextCut(data, off, view, eof);
            assertThat(cut).as("cut at offset %d", off).isPositive().isLessThanOrEqualTo(view);
            out.add(cut);
            off += cut;
        }
        return out;
    }

    static List<Integer> cutPositions(List<Integer> lengths) {
        List<Integer> pos = new ArrayList<>();
        int p = 0;
        for (int l : lengths) {
            p += l;
            pos.add(p);
        }
        return pos;
    }

    static Set<ByteBuffer> chunkContents(byte[] data, List<Integer> lengths) {
        Set<ByteBuffer> out = new HashSet<>();
        int off = 0;
        for (int l : lengths) {
            out.add(ByteBuffer.wrap(data, off, l).slice());
            off += l;
        }
        return out;
    }

    static void assertWithinBounds(List<Integer> lengths, int min, int max, int total) {
        assertThat(lengths.stream().mapToLong(Integer::longValue).sum()).isEqualTo(total);
        for (int i = 0; i < lengths.size() - 1; i++) {
            assertThat(lengths.get(i)).as("chunk %d of %d", i, lengths.size()).isBetween(min, max);
        }
        assertThat(lengths.getLast()).isBetween(1, max);
    }

    @Test
    void cutsLieWithinMinAndMaxExceptTheLast() {
        FastCdcChunker c = new FastCdcChunker(MIN, AVG, MAX, 42);
        byte[] data = random(4 * 1024 * 1024 + 123, 1);
        List<Integer> lengths = chunkLengths(c, data);
        assertWithinBounds(lengths, MIN, MAX, data.length);
        assertThat(lengths).hasSizeGreaterThan(100);
    }

    @Test
    void constantDataIsCutAtMax() {
        // a zero-filled region never matches a mask (the hash is constant): every chunk is max sized
        FastCdcChunker c = new FastCdcChunker(MIN, AVG, MAX, 42);
        byte[] data = new byte[10 * MAX + 5];
        List<Integer> lengths = chunkLengths(c, data);
        assertWithinBounds(lengths, MIN, MAX, data.length);
        assertThat(lengths.subList(0, lengths.size() - 1)).allMatch(l -> l == MAX);
    }

    @Test
    void shortInputIsOneChunk() {
        FastCdcChunker c = new FastCdcChunker(MIN, AVG, MAX, 42);
        byte[] data = random(MIN, 3);
        assertThat(c.nextCut(data, 0, MIN, true)).isEqualTo(MIN);
        assertThat(c.nextCut(data, 0, 1, true)).isEqualTo(1);
        assertThat(c.nextCut(data, 5, 100, true)).isEqualTo(100);
    }

    @Test
    void cutDependsOnlyOnTheBytesFromTheChunkStart() {
        FastCdcChunker c = new FastCdcChunker(MIN, AVG, MAX, 7);
        byte[] data = random(MAX * 3, 5);
        byte[] shifted = new byte[data.length + 1000];
        System.arraycopy(data, 0, shifted, 1000, data.length);
        assertThat(c.nextCut(shifted, 1000, MAX, false)).isEqualTo(c.nextCut(data, 0, MAX, false));
        // more bytes in view than max never produce a longer chunk
        assertThat(c.nextCut(data, 0, data.length, false)).isEqualTo(c.nextCut(data, 0, MAX, false));
    }

    @Test
    void deterministicForASeed() {
        byte[] data = random(2 * 1024 * 1024, 9);
        List<Integer> a = chunkLengths(new FastCdcChunker(MIN, AVG, MAX, 1234), data);
        List<Integer> b = chunkLengths(new FastCdcChunker(MIN, AVG, MAX, 1234), data);
        assertThat(a).isEqualTo(b);
    }

    @Test
    void differentSeedsGiveDifferentCutPoints() {
        byte[] data = random(2 * 1024 * 1024, 9);
        List<Integer> a = cutPositions(chunkLengths(new FastCdcChunker(MIN, AVG, MAX, 1), data));
        List<Integer> b = cutPositions(chunkLengths(new FastCdcChunker(MIN, AVG, MAX, 2), data));
        assertThat(a).isNotEqualTo(b);
        // not just a different tail: most cut points differ
        Set<Integer> common = new HashSet<>(a);
        common.retainAll(new HashSet<>(b));
        assertThat(common.size()).as("shared cut points").isLessThan(Math.min(a.size(), b.size()) / 2);
    }

    @Test
    void insertingBytesNearTheStartLeavesMostChunksUnchanged() {
        FastCdcChunker c = new FastCdcChunker(MIN, AVG, MAX, 77);
        byte[] original = random(32 * 1024 * 1024, 11);
        byte[] edited = new byte[original.length + 7];
        int at = 5_000;
        System.arraycopy(original, 0, edited, 0, at);
        System.arraycopy(new byte[] {1, 2, 3, 4, 5, 6, 7}, 0, edited, at, 7);
        System.arraycopy(original, at, edited, at + 7, original.length - at);

        List<Integer> before = chunkLengths(c, original);
        List<Integer> after = chunkLengths(c, edited);
        Set<ByteBuffer> a = chunkContents(original, before);
        Set<ByteBuffer> b = chunkContents(edited, after);
        long shared = b.stream().filter(a::contains).count();
        assertThat(shared)
                .as("chunks of the edited buffer found unchanged in the original (of %d)", after.size())
                .isGreaterThan((long) (after.size() * 0.8));
        // the edit is near the start, so only the first few chunks may differ
        assertThat(after.size() - shared).isLessThanOrEqualTo(3);
    }

    @Test
    void averageChunkSizeIsNearTheTarget() {
        FastCdcChunker c = new FastCdcChunker(MIN, AVG, MAX, 5);
        byte[] data = random(8 * 1024 * 1024, 13);
        List<Integer> lengths = chunkLengths(c, data);
        double mean = (double) data.length / lengths.size();
        assertThat(mean).isBetween(AVG / 2.0, AVG * 2.0);
        // normalized chunking: few chunks are forced at max
        long atMax = lengths.stream().filter(l -> l == MAX).count();
        assertThat(atMax).isLessThan(lengths.size() / 20 + 1);
    }

    @Test
    void repositoryDefaultsCutWithinBoundsAndNearTheAverage() {
        RepositoryConfig.Chunking d = RepositoryConfig.Chunking.defaults(987654321L);
        assertThat(d.algorithm()).isEqualTo("fastcdc");
        assertThat(d.minSize()).isLessThanOrEqualTo(d.avgSize());
        assertThat(d.avgSize()).isLessThanOrEqualTo(d.maxSize());
        FastCdcChunker c = new FastCdcChunker(d.minSize(), d.avgSize(), d.maxSize(), d.seed());
        assertThat(c.maxSize()).isEqualTo(d.maxSize());
        byte[] data = random(48 * 1024 * 1024, 17);
        List<Integer> lengths = chunkLengths(c, data);
        assertWithinBounds(lengths, d.minSize(), d.maxSize(), data.length);
        double mean = (double) data.length / lengths.size();
        assertThat(mean).isBetween(d.avgSize() / 2.0, d.avgSize() * 2.0);
    }

    @Test
    void rejectsInvalidParameters() {
        assertThatThrownBy(() -> new FastCdcChunker(0, 8192, 32768, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new FastCdcChunker(4096, 2048, 32768, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new FastCdcChunker(2048, 8192, 4096, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new FastCdcChunker(2048, 6000, 32768, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void fixedBlockChunkerCutsAtExactlyTheBlockSize() {
        FixedBlockChunker c = new FixedBlockChunker(8192);
        assertThat(c.maxSize()).isEqualTo(8192);
        byte[] data = random(8192 * 10 + 100, 21);
        List<Integer> lengths = chunkLengths(c, data);
        assertThat(lengths).hasSize(11);
        assertThat(lengths.subList(0, 10)).allMatch(l -> l == 8192);
        assertThat(lengths.getLast()).isEqualTo(100);
        // aligned: content never moves cut points
        assertThat(chunkLengths(c, new byte[8192 * 3])).containsExactly(8192, 8192, 8192);
        assertThat(c.nextCut(data, 17, 50_000, false)).isEqualTo(8192);
        assertThat(c.nextCut(data, 17, 10, true)).isEqualTo(10);
        assertThatThrownBy(() -> new FixedBlockChunker(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
