package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Chunk references: plain ids, deltas with their content id, and deltas of manifests written before it. */
class ChunkRefsTest {
    private static final ChunkId A = ChunkId.parse("a".repeat(64));
    private static final ChunkId B = ChunkId.parse("b".repeat(64));
    private static final ChunkId C = ChunkId.parse("c".repeat(64));

    @Test
    void aPlainReferenceIsItsOwnBaseAndContent() {
        String ref = A.hex();
        assertThat(ChunkRefs.isDelta(ref)).isFalse();
        assertThat(ChunkRefs.ids(ref)).containsExactly(A);
        assertThat(ChunkRefs.base(ref)).isEqualTo(A);
        assertThat(ChunkRefs.contentId(ref)).isEqualTo(A);
    }

    @Test
    void aDeltaNamesItsChunksAndTheContentOfTheBlock() {
        String ref = ChunkRefs.delta(A, B, C);
        assertThat(ref).isEqualTo(A.hex() + "+" + B.hex() + "=" + C.hex());
        assertThat(ChunkRefs.isDelta(ref)).isTrue();
        assertThat(ChunkRefs.ids(ref)).isEqualTo(List.of(A, B));
        assertThat(ChunkRefs.base(ref)).isEqualTo(B);
        assertThat(ChunkRefs.contentId(ref)).isEqualTo(C);
    }

    @Test
    void aDeltaOfAnOlderManifestHasNoContentId() {
        String ref = A.hex() + "+" + B.hex();
        assertThat(ChunkRefs.ids(ref)).isEqualTo(List.of(A, B));
        assertThat(ChunkRefs.base(ref)).isEqualTo(B);
        assertThat(ChunkRefs.contentId(ref)).isNull();
    }

    @Test
    void aDeltaRebuildsTheBlockItWasEncodedFrom() {
        int page = 8192;
        byte[] base = new byte[4 * page];
        new Random(7).nextBytes(base);
        byte[] block = new byte[5 + 4 * page]; // at an offset, as blocks sit in a read buffer
        System.arraycopy(base, 0, block, 5, base.length);
        block[5 + 2 * page + 100] ^= 0x40;
        block[5 + 2 * page + 8191] = 1;
        byte[] delta = ChunkRefs.encodeDelta(B, base, block, 5, 4 * page, page);
        assertThat(delta).hasSize(1 + 32 + 12 + 4 + page); // one page changed
        assertThat(ChunkRefs.applyDelta(base, delta, B)).isEqualTo(Arrays.copyOfRange(block, 5, 5 + 4 * page));
    }
}
