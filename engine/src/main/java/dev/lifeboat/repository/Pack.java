package dev.lifeboat.repository;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Pack file layout: {@code header || chunk blobs… || sealed trailer || trailer length (4, BE) || "LBPKEND1"}. The
 * header is {@code "LBPACK01"} in format 1 and {@code "LBPACK02" || pack nonce (16 random bytes)} in format 2, where
 * the trailer's associated data includes the pack nonce, so a trailer copied into another pack does not open. The
 * sealed trailer lists every chunk (id, offset, length, plaintext length), which is what makes the index rebuildable
 * from packs alone. The pack's name is the SHA-256 of its bytes.
 */
public final class Pack {
    public static final byte[] MAGIC_V1 = "LBPACK01".getBytes(StandardCharsets.US_ASCII);
    public static final byte[] MAGIC_V2 = "LBPACK02".getBytes(StandardCharsets.US_ASCII);
    public static final int NONCE_BYTES = 16;
    public static final byte[] FOOTER_MAGIC = "LBPKEND1".getBytes(StandardCharsets.US_ASCII);
    public static final int FOOTER_BYTES = 4 + FOOTER_MAGIC.length;
    public static final int ENTRY_BYTES = ChunkId.BYTES + 8 + 4 + 4;
    static final byte[] TRAILER_AAD = "lifeboat-pack-trailer".getBytes(StandardCharsets.US_ASCII);

    private Pack() {}

    public static String key(String packId) {
        return "data/" + packId.substring(0, 2) + "/" + packId;
    }

    /** The header's length in a repository of this format version: where the first chunk blob starts. */
    public static int headerLength(int version) {
        return version >= RepositoryConfig.V2 ? MAGIC_V2.length + NONCE_BYTES : MAGIC_V1.length;
    }

    static byte[] magic(int version) {
        return version >= RepositoryConfig.V2 ? MAGIC_V2 : MAGIC_V1;
    }

    /**
     * The trailer's associated data: {@code "lifeboat-pack-trailer"} in format 1; in format 2 followed by the pack
     * nonce from the header, which binds the trailer to its pack (the pack id cannot serve: it hashes the trailer).
     */
    static byte[] trailerAad(int version, byte[] header) {
        if (version < RepositoryConfig.V2) {
            return TRAILER_AAD;
        }
        byte[] aad = Arrays.copyOf(TRAILER_AAD, TRAILER_AAD.length + NONCE_BYTES);
        System.arraycopy(header, MAGIC_V2.length, aad, TRAILER_AAD.length, NONCE_BYTES);
        return aad;
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
