package dev.lifeboat.repository;

import dev.lifeboat.repository.crypto.CryptoProvider;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * A file's digest in the manifest: SHA-256 over the keyed ids of its content chunks, in file order (a hash list).
 * The ids are computed anyway to dedup, and each covers every byte of its chunk, so the digest binds the whole
 * content without a second hash pass over the data; and ranges of one file can be processed in any order.
 */
public final class ContentDigest {
    private final MessageDigest sha;
    private final ByteBuffer idBuf = ByteBuffer.allocate(ChunkId.BYTES);

    public ContentDigest() {
        this.sha = CryptoProvider.sha256();
    }

    public ContentDigest add(ChunkId id) {
        idBuf.clear();
        id.write(idBuf);
        sha.update(idBuf.array());
        return this;
    }

    /** The hex digest; the instance starts over afterwards. */
    public String finish() {
        return HexFormat.of().formatHex(sha.digest());
    }

    public static String of(List<ChunkId> contentIds) {
        ContentDigest d = new ContentDigest();
        contentIds.forEach(d::add);
        return d.finish();
    }
}
