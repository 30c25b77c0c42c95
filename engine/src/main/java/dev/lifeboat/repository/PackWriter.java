package dev.lifeboat.repository;

import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.CryptoProvider;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/** Builds one pack in memory: chunks are compressed and sealed straight into the pack buffer (one copy). */
final class PackWriter {
    private final Repository repo;
    private byte[] buf;
    private int pos;
    private byte[] scratch = new byte[0];
    private final List<PendingEntry> entries = new ArrayList<>();
    private static final ThreadLocal<SecureRandom> RANDOM = ThreadLocal.withInitial(SecureRandom::new);

    private record PendingEntry(ChunkId id, long offset, int length, int rawLength) {}

    /** A finished pack ready to upload. */
    record Finished(String packId, byte[] bytes, int length, List<PackedChunk> entries) {}

    PackWriter(Repository repo, int initialCapacity) {
        this(repo, new byte[Math.max(initialCapacity, 1024)]);
    }

    /** Builds the pack in {@code buffer} (from a pool: its old contents are overwritten, never read). */
    PackWriter(Repository repo, byte[] buffer) {
        this.repo = repo;
        this.buf = buffer;
        byte[] magic = Pack.magic(repo.version());
        System.arraycopy(magic, 0, buf, 0, magic.length);
        this.pos = Pack.headerLength(repo.version());
        if (pos > magic.length) { // format 2: the pack nonce that the trailer's associated data binds to
            byte[] nonce = new byte[Pack.NONCE_BYTES];
            RANDOM.get().nextBytes(nonce);
            System.arraycopy(nonce, 0, buf, magic.length, Pack.NONCE_BYTES);
        }
    }

    int size() {
        return pos;
    }

    int chunkCount() {
        return entries.size();
    }

    void add(ChunkId id, byte[] data, int off, int len, Compression compression) {
        int bound = compression.maxCompressedLength(len);
        if (scratch.length < bound) {
            scratch = new byte[bound];
        }
        int clen = compression.compress(data, off, len, scratch, 0);
        ensure(clen + repo.blobOverhead());
        int written = repo.sealChunk(id, scratch, clen, buf, pos);
        entries.add(new PendingEntry(id, pos, written, len));
        pos += written;
    }

    /**
     * Appends a blob that is already compressed and sealed for {@code id} (copied from another pack as it is: the
     * seal's associated data is the chunk id, not the pack, and in format 2 the blob carries the salt its key is
     * derived from, so the blob stays valid in a new pack).
     */
    void addSealed(ChunkId id, byte[] blob, int off, int len, int rawLength) {
        ensure(len);
        System.arraycopy(blob, off, buf, pos, len);
        entries.add(new PendingEntry(id, pos, len, rawLength));
        pos += len;
    }

    private void ensure(int extra) {
        if (pos + extra > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + extra));
        }
    }

    Finished finish() {
        List<PackedChunk> plainEntries = new ArrayList<>(entries.size());
        for (PendingEntry e : entries) {
            plainEntries.add(new PackedChunk(e.id(), null, e.offset(), e.length(), e.rawLength()));
        }
        byte[] trailer = repo.sealMetadata(Pack.encodeEntries(plainEntries), Pack.trailerAad(repo.version(), buf));
        ensure(trailer.length + Pack.FOOTER_BYTES);
        System.arraycopy(trailer, 0, buf, pos, trailer.length);
        pos += trailer.length;
        ByteBuffer.wrap(buf, pos, 4).putInt(trailer.length);
        pos += 4;
        System.arraycopy(Pack.FOOTER_MAGIC, 0, buf, pos, Pack.FOOTER_MAGIC.length);
        pos += Pack.FOOTER_MAGIC.length;
        String packId = sha256Hex(buf, 0, pos);
        List<PackedChunk> located = new ArrayList<>(entries.size());
        for (PendingEntry e : entries) {
            located.add(new PackedChunk(e.id(), packId, e.offset(), e.length(), e.rawLength()));
        }
        return new Finished(packId, buf, pos, located);
    }

    static String sha256Hex(byte[] b, int off, int len) {
        MessageDigest md = CryptoProvider.sha256();
        md.update(b, off, len);
        return HexFormat.of().formatHex(md.digest());
    }
}
