package dev.lifeboat.repository;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * A file's chunk list in a manifest holds references: either a chunk id ({@code <hex>}), or a block delta
 * ({@code <deltaHex>+<baseHex>=<contentHex>}): the block equals the base chunk with the pages listed in the delta
 * chunk replaced, and its bytes have the content id {@code <contentHex>} (what a plain chunk of them would be called;
 * the file's digest is built from it). Manifests written before the content id was recorded have
 * {@code <deltaHex>+<baseHex>}. Deltas keep an incremental of a relation file close to the pages that changed; their
 * base is always a plain chunk, so reading a block never takes more than two chunks.
 */
public final class ChunkRefs {
    static final byte DELTA_MAGIC = (byte) 0xD1;

    private ChunkRefs() {}

    public static boolean isDelta(String ref) {
        return ref.indexOf('+') > 0;
    }

    /** Every chunk a reference needs (one, or the delta and its base). */
    public static List<ChunkId> ids(String ref) {
        int plus = ref.indexOf('+');
        if (plus < 0) {
            return List.of(ChunkId.parse(ref));
        }
        return List.of(ChunkId.parse(ref.substring(0, plus)), base(ref));
    }

    public static String delta(ChunkId delta, ChunkId base, ChunkId content) {
        return delta.hex() + "+" + base.hex() + "=" + content.hex();
    }

    /** The plain chunk a reference is built on: the base of a delta, or the chunk itself. */
    public static ChunkId base(String ref) {
        int plus = ref.indexOf('+');
        if (plus < 0) {
            return ChunkId.parse(ref);
        }
        int eq = ref.indexOf('=', plus);
        return ChunkId.parse(eq < 0 ? ref.substring(plus + 1) : ref.substring(plus + 1, eq));
    }

    /** The content id of the bytes a reference reads back to, or null for a delta written without one. */
    public static ChunkId contentId(String ref) {
        if (!isDelta(ref)) {
            return ChunkId.parse(ref);
        }
        int eq = ref.indexOf('=');
        return eq < 0 ? null : ChunkId.parse(ref.substring(eq + 1));
    }

    /**
     * Encodes the pages of {@code block} that differ from {@code base} (each XORed with its base page), or returns null
     * when more than half differ
     * (then the whole block is cheaper to store).
     */
    public static byte[] encodeDelta(ChunkId baseId, byte[] base, byte[] block, int off, int len, int pageSize) {
        if (base.length != len || len % pageSize != 0) {
            return null;
        }
        int pages = len / pageSize;
        int[] changed = new int[pages];
        int n = 0;
        for (int p = 0; p < pages; p++) {
            if (!Arrays.equals(
                    base, p * pageSize, (p + 1) * pageSize, block, off + p * pageSize, off + (p + 1) * pageSize)) {
                changed[n++] = p;
            }
        }
        if (n * 2 > pages) {
            return null;
        }
        ByteBuffer out = ByteBuffer.allocate(1 + ChunkId.BYTES + 4 + 4 + 4 + n * (4 + pageSize));
        out.put(DELTA_MAGIC);
        baseId.write(out);
        out.putInt(len).putInt(pageSize).putInt(n);
        byte[] a = out.array();
        for (int i = 0; i < n; i++) {
            int p = changed[i];
            out.putInt(p);
            // XOR with the base page: a changed page differs in a few tuples, so this is mostly zeros and compresses
            // far better than the page itself (written into the array directly: a put per byte cost more than the
            // page comparisons)
            int at = out.position();
            int from = off + p * pageSize;
            int baseFrom = p * pageSize;
            for (int b = 0; b < pageSize; b++) {
                a[at + b] = (byte) (block[from + b] ^ base[baseFrom + b]);
            }
            out.position(at + pageSize);
        }
        return a;
    }

    /** Rebuilds a block from its base and a delta chunk's plaintext. */
    public static byte[] applyDelta(byte[] base, byte[] delta, ChunkId expectedBase) {
        ByteBuffer in = ByteBuffer.wrap(delta);
        if (in.get() != DELTA_MAGIC) {
            throw new RepositoryException.Corrupt("delta chunk has no delta header");
        }
        ChunkId baseId = ChunkId.read(in);
        if (!baseId.equals(expectedBase)) {
            throw new RepositoryException.Corrupt(
                    "delta chunk names base " + baseId + ", the manifest " + expectedBase);
        }
        int len = in.getInt();
        int pageSize = in.getInt();
        int n = in.getInt();
        if (len != base.length || pageSize <= 0 || n < 0 || in.remaining() != (long) n * (4 + pageSize)) {
            throw new RepositoryException.Corrupt("delta chunk is malformed");
        }
        byte[] out = base.clone();
        for (int i = 0; i < n; i++) {
            int p = in.getInt();
            if (p < 0 || (long) (p + 1) * pageSize > len) {
                throw new RepositoryException.Corrupt("delta chunk page " + p + " is outside its block");
            }
            int from = in.position();
            for (int b = 0, at = p * pageSize; b < pageSize; b++) {
                out[at + b] ^= delta[from + b];
            }
            in.position(from + pageSize);
        }
        return out;
    }
}
