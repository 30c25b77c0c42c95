package dev.lifeboat.repository;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Pack file layout: {@code "LBPACK01" || chunk blobs… || sealed trailer || trailer length (4, BE) || "LBPKEND1"}.
 * The sealed trailer lists every chunk (id, offset, length, plaintext length), which is what makes the index
 * rebuildable from packs alone. The pack's name is the SHA-256 of its bytes.
 */
public final class Pack {
    public static final byte[] HEADER = "LBPACK01".getBytes(StandardCharsets.US_ASCII);
    public static final byte[] FOOTER_MAGIC = "LBPKEND1".getBytes(StandardCharsets.US_ASCII);
    public static final int FOOTER_BYTES = 4 + FOOTER_MAGIC.length;
    public static final int ENTRY_BYTES = ChunkId.BYTES + 8 + 4 + 4;
    static final byte[] TRAILER_AAD = "lifeboat-pack-trailer".getBytes(StandardCharsets.US_ASCII);

    private Pack() {
    }

    public static String key(String packId) {
        return "data/" + packId.substring(0, 2) + "/" + packId;
    }

    static byte[] encodeEntries(List<PackedChunk> entries) {
        ByteBuffer buf = ByteBuffer.allocate(4 + entries.size() * ENTRY_BYTES);
        buf.putInt(entries.size());
        for (PackedChunk e : entries) {
            e.id().write(buf);
            buf.putLong(e.offset()).putInt(e.length()).putInt(e.rawLength());
        }
        return buf.array();
    }

    static List<PackedChunk> decodeEntries(String packId, byte[] plain) {
        if (plain.length < 4) {
            throw new RepositoryException.Corrupt("pack " + packId + " has a malformed trailer");
        }
        ByteBuffer buf = ByteBuffer.wrap(plain);
        int n = buf.getInt();
        if (n < 0 || n * (long) ENTRY_BYTES != buf.remaining()) {
            throw new RepositoryException.Corrupt("pack " + packId + " has a malformed trailer");
        }
        List<PackedChunk> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ChunkId id = ChunkId.read(buf);
            out.add(new PackedChunk(id, packId, buf.getLong(), buf.getInt(), buf.getInt()));
        }
        return out;
    }
}
