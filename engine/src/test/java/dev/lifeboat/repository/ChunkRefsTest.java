package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
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
}
