package dev.lifeboat.repository;

import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.Aead;
import dev.lifeboat.repository.crypto.ChunkIds;
import dev.lifeboat.repository.crypto.KeyMaterial;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.repository.crypto.KeyWrapping;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * An opened repository: its config, master keys and the object layout on a {@link BlobStore}
 * ({@code config}, {@code data/}, {@code index/}, {@code snapshots/}, {@code locks/}; see docs/repository-format.md).
 */
public final class Repository {
    public static final String CONFIG_KEY = "config";
    public static final String SNAPSHOTS = "snapshots/";
    public static final String INDEX = "index/";
    public static final String DATA = "data/";
    public static final String LOCKS = "locks/";
    static final byte[] INDEX_AAD = "lifeboat-index".getBytes(StandardCharsets.US_ASCII);
    private static final int INDEX_MAGIC = 0x4c42_4958; // "LBIX"

    private final BlobStore store;
    private final RepositoryConfig config;
    private final Aead aead; // null when the repository is not encrypted
    private final ChunkIds chunkIds;

    private Repository(BlobStore store, RepositoryConfig config, KeyMaterial keys) {
        this.store = store;
        this.config = config;
        this.aead = config.encrypted() ? new Aead(keys.encryptionKey()) : null;
        this.chunkIds = new ChunkIds(keys.idKey());
    }

    /** Creates a new repository; refuses if the location already holds one. */
    public static RepositoryConfig init(BlobStore store, KeySource keySource, boolean noEncryption) throws IOException {
        if (!noEncryption && keySource == null) {
            throw new IllegalArgumentException("an encrypted repository needs a passphrase (env LIFEBOAT_PASSPHRASE) or --key-file; "
                    + "pass --no-encryption to create an unencrypted one");
        }
        if (store.stat(CONFIG_KEY).isPresent()) {
            throw new RepositoryException("a repository already exists at " + store.uri());
        }
        List<BlobInfo> existing = store.list("");
        if (!existing.isEmpty()) {
            throw new RepositoryException.Foreign("refusing to create a repository at " + store.uri() + ": the location is not empty ("
                    + existing.getFirst().key() + " …)");
        }
        SecureRandom rnd = new SecureRandom();
        byte[] idBytes = new byte[16];
        rnd.nextBytes(idBytes);
        String id = HexFormat.of().formatHex(idBytes);
        KeyMaterial keys = KeyMaterial.random();
        RepositoryConfig config;
        RepositoryConfig.Chunking chunking = RepositoryConfig.Chunking.defaults(rnd.nextLong());
        int packSize = 16 * 1024 * 1024;
        if (noEncryption) {
            config = new RepositoryConfig(RepositoryConfig.FORMAT, RepositoryConfig.VERSION, id, Instant.now(), chunking, packSize,
                    RepositoryConfig.NO_CIPHER, null, Base64.getEncoder().encodeToString(keys.toBytes()));
        } else {
            config = new RepositoryConfig(RepositoryConfig.FORMAT, RepositoryConfig.VERSION, id, Instant.now(), chunking, packSize,
                    RepositoryConfig.AES_256_GCM, List.of(KeyWrapping.wrap(keys, keySource, id)), null);
        }
        byte[] json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(config);
        if (!store.putIfAbsent(CONFIG_KEY, json)) {
            throw new RepositoryException("a repository was created concurrently at " + store.uri());
        }
        return config;
    }

    /** Reads the config and unlocks the master keys. */
    public static Repository open(BlobStore store, KeySource keySource) throws IOException {
        byte[] raw;
        try {
            raw = store.get(CONFIG_KEY);
        } catch (BlobNotFoundException e) {
            throw new RepositoryException.NotFound("no Lifeboat repository at " + store.uri()
                    + " (no 'config' object); create one with `lifeboat repo-init --repo " + store.uri() + "`");
        }
        RepositoryConfig config;
        try {
            config = Json.MAPPER.readValue(raw, RepositoryConfig.class);
        } catch (JacksonException e) {
            throw new RepositoryException.Foreign("the 'config' object at " + store.uri() + " is not a Lifeboat repository config");
        }
        if (config == null) {
            throw new RepositoryException.Foreign("the 'config' object at " + store.uri() + " is not a Lifeboat repository config");
        }
        if (!RepositoryConfig.FORMAT.equals(config.format())) {
            throw new RepositoryException.Foreign(store.uri() + " is not a Lifeboat repository (format '" + config.format() + "')");
        }
        if (config.version() > RepositoryConfig.VERSION) {
            throw new RepositoryException.Foreign("repository at " + store.uri() + " uses format version " + config.version()
                    + "; this Lifeboat reads up to version " + RepositoryConfig.VERSION + ": upgrade Lifeboat");
        }
        boolean plainOk = RepositoryConfig.NO_CIPHER.equals(config.cipher()) && config.plainIdKey() != null;
        boolean encOk = config.encrypted() && config.keys() != null && !config.keys().isEmpty();
        if (!plainOk && !encOk || config.chunking() == null || config.id() == null || config.packSize() <= 0) {
            throw new RepositoryException.Foreign("the config at " + store.uri() + " is incomplete or uses an unknown cipher ('"
                    + config.cipher() + "'); this Lifeboat supports aes-256-gcm and none");
        }
        if (!config.encrypted()) {
            return new Repository(store, config, KeyMaterial.fromBytes(Base64.getDecoder().decode(config.plainIdKey())));
        }
        if (keySource == null) {
            throw new RepositoryException.WrongKey("repository at " + store.uri()
                    + " is encrypted: set LIFEBOAT_PASSPHRASE or pass --key-file FILE");
        }
        for (KeyWrapping.WrappedKey wk : config.keys()) {
            if (!wk.kind().equals(keySource.kind())) {
                continue;
            }
            try {
                return new Repository(store, config, KeyWrapping.unwrap(wk, keySource, config.id()));
            } catch (Aead.AuthenticationFailedException wrong) {
                // try the next key slot
            }
        }
        throw new RepositoryException.WrongKey("wrong " + (keySource instanceof KeySource.Passphrase ? "passphrase" : "key file")
                + " for the repository at " + store.uri() + ": it does not unlock any of its keys");
    }

    public BlobStore store() {
        return store;
    }

    public RepositoryConfig config() {
        return config;
    }

    public String uri() {
        return store.uri();
    }

    public ChunkIds chunkIds() {
        return chunkIds;
    }

    // ---- sealing -------------------------------------------------------------------------------------------

    int blobOverhead() {
        return aead == null ? 0 : Aead.OVERHEAD;
    }

    /** Seals a compressed chunk into {@code out}; the chunk id is the associated data, binding blob to id. */
    int sealChunk(ChunkId id, byte[] compressed, int len, byte[] out, int outOff) {
        if (aead == null) {
            System.arraycopy(compressed, 0, out, outOff, len);
            return len;
        }
        return aead.seal(compressed, 0, len, id.bytes(), out, outOff);
    }

    /**
     * Opens, decompresses and checks one chunk blob: authenticated by its GCM tag (chunk id as associated data), or,
     * in an unencrypted repository, by recomputing its keyed id.
     *
     * @throws RepositoryException.Corrupt naming the chunk and pack when any check fails
     */
    public byte[] openChunk(PackedChunk c, byte[] blob, int off) {
        byte[] compressed;
        int clen;
        if (aead == null) {
            compressed = blob;
            clen = c.length();
        } else {
            try {
                compressed = aead.open(blob, off, c.length(), c.id().bytes());
                off = 0;
                clen = compressed.length;
            } catch (Aead.AuthenticationFailedException e) {
                throw new RepositoryException.Corrupt("chunk " + c.id() + " in pack " + c.packId() + " failed authentication (" + e.getMessage() + ")");
            }
        }
        byte[] plain;
        try {
            plain = Compression.decompress(compressed, off, clen, c.rawLength());
        } catch (RuntimeException e) {
            throw new RepositoryException.Corrupt("chunk " + c.id() + " in pack " + c.packId() + " does not decompress: " + e.getMessage());
        }
        // with encryption the GCM tag over (id as AAD, ciphertext) already proves the blob was sealed for this id:
        // re-hashing every restored byte would be a second SHA-256 pass for nothing
        if (aead == null && !chunkIds.matches(c.id().bytes(), plain, 0, plain.length)) {
            throw new RepositoryException.Corrupt("chunk " + c.id() + " in pack " + c.packId() + " does not match its id");
        }
        return plain;
    }

    public byte[] sealMetadata(byte[] plain, byte[] aad) {
        return aead == null ? plain.clone() : aead.seal(plain, aad);
    }

    public byte[] openMetadata(byte[] sealed, byte[] aad, String what) {
        if (aead == null) {
            return sealed;
        }
        try {
            return aead.open(sealed, aad);
        } catch (Aead.AuthenticationFailedException e) {
            throw new RepositoryException.Corrupt(what + " failed authentication: it was altered or damaged");
        }
    }

    // ---- packs ---------------------------------------------------------------------------------------------

    /** Reads a pack's own trailer: the list of chunks inside it (used to rebuild the index). */
    public List<PackedChunk> readPackTrailer(String packId, long packSize) throws IOException {
        if (packSize < Pack.HEADER.length + Pack.FOOTER_BYTES) {
            throw new RepositoryException.Corrupt("pack " + packId + " is truncated (" + packSize + " bytes)");
        }
        byte[] footer = store.getRange(Pack.key(packId), packSize - Pack.FOOTER_BYTES, Pack.FOOTER_BYTES);
        if (!Arrays.equals(footer, 4, Pack.FOOTER_BYTES, Pack.FOOTER_MAGIC, 0, Pack.FOOTER_MAGIC.length)) {
            throw new RepositoryException.Corrupt("pack " + packId + " has no valid footer");
        }
        int trailerLen = ByteBuffer.wrap(footer, 0, 4).getInt();
        if (trailerLen <= 0 || trailerLen > packSize - Pack.HEADER.length - Pack.FOOTER_BYTES) {
            throw new RepositoryException.Corrupt("pack " + packId + " has an invalid trailer length");
        }
        byte[] sealed = store.getRange(Pack.key(packId), packSize - Pack.FOOTER_BYTES - trailerLen, trailerLen);
        return Pack.decodeEntries(packId, openMetadata(sealed, Pack.TRAILER_AAD, "trailer of pack " + packId));
    }

    /** Lists every pack in the store with its size. */
    public List<BlobInfo> listPacks() throws IOException {
        List<BlobInfo> out = new ArrayList<>();
        for (BlobInfo b : store.list(DATA)) {
            String name = b.key().substring(b.key().lastIndexOf('/') + 1);
            if (name.length() == 64) {
                out.add(b);
            }
        }
        return out;
    }

    public static String packIdOf(String key) {
        return key.substring(key.lastIndexOf('/') + 1);
    }

    // ---- index ---------------------------------------------------------------------------------------------

    /** A written index file. */
    public record IndexFile(String key, long size) {
    }

    /** Writes one index file describing the given packs. */
    public IndexFile writeIndex(List<PackedChunk> entries, java.util.Map<String, Long> packSizes) throws IOException {
        java.util.Map<String, List<PackedChunk>> byPack = new java.util.TreeMap<>();
        for (PackedChunk e : entries) {
            byPack.computeIfAbsent(e.packId(), k -> new ArrayList<>()).add(e);
        }
        ByteBuffer buf = ByteBuffer.allocate(12 + byPack.size() * (32 + 8 + 4) + entries.size() * Pack.ENTRY_BYTES);
        buf.putInt(INDEX_MAGIC).putInt(1).putInt(byPack.size());
        HexFormat hex = HexFormat.of();
        for (var e : byPack.entrySet()) {
            buf.put(hex.parseHex(e.getKey()));
            buf.putLong(packSizes.getOrDefault(e.getKey(), -1L));
            buf.putInt(e.getValue().size());
            for (PackedChunk c : e.getValue()) {
                c.id().write(buf);
                buf.putLong(c.offset()).putInt(c.length()).putInt(c.rawLength());
            }
        }
        byte[] sealed = sealMetadata(Compression.zstd(buf.array(), 3), INDEX_AAD);
        String key = INDEX + PackWriter.sha256Hex(sealed, 0, sealed.length);
        store.put(key, sealed);
        return new IndexFile(key, sealed.length);
    }

    /** Loads every index file into memory. */
    public ChunkIndex loadIndex() throws IOException {
        ChunkIndex index = new ChunkIndex();
        for (BlobInfo b : store.list(INDEX)) {
            byte[] plain;
            try {
                plain = Compression.unzstd(openMetadata(store.get(b.key()), INDEX_AAD, "index file " + b.key()));
            } catch (BlobNotFoundException gone) {
                continue; // removed by a concurrent index rewrite
            } catch (IllegalArgumentException e) {
                throw new RepositoryException.Corrupt("index file " + b.key() + " is damaged: " + e.getMessage());
            }
            decodeIndex(b.key(), plain, index);
        }
        return index;
    }

    private static void decodeIndex(String key, byte[] plain, ChunkIndex index) {
        try {
            ByteBuffer buf = ByteBuffer.wrap(plain);
            if (buf.getInt() != INDEX_MAGIC || buf.getInt() != 1) {
                throw new RepositoryException.Corrupt("index file " + key + " has an unknown format");
            }
            int packs = buf.getInt();
            HexFormat hex = HexFormat.of();
            byte[] pid = new byte[32];
            for (int p = 0; p < packs; p++) {
                buf.get(pid);
                String packId = hex.formatHex(pid);
                long size = buf.getLong();
                int n = buf.getInt();
                index.addPack(key, packId, size);
                for (int i = 0; i < n; i++) {
                    ChunkId id = ChunkId.read(buf);
                    index.add(new PackedChunk(id, packId, buf.getLong(), buf.getInt(), buf.getInt()));
                }
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new RepositoryException.Corrupt("index file " + key + " is truncated");
        }
    }

    // ---- snapshots -----------------------------------------------------------------------------------------

    private static byte[] snapshotAad(String id) {
        return ("lifeboat-snapshot:" + id).getBytes(StandardCharsets.UTF_8);
    }

    public long saveSnapshot(Snapshot s) throws IOException {
        byte[] json = Json.MAPPER.writeValueAsBytes(s);
        byte[] sealed = sealMetadata(Compression.zstd(json, 3), snapshotAad(s.id()));
        store.put(SNAPSHOTS + s.id(), sealed);
        return sealed.length;
    }

    /** Ids of all completed backups, oldest first (ids sort by start time). */
    public List<String> listSnapshotIds() throws IOException {
        List<String> ids = new ArrayList<>();
        for (BlobInfo b : store.list(SNAPSHOTS)) {
            ids.add(b.key().substring(SNAPSHOTS.length()));
        }
        ids.sort(null);
        return ids;
    }

    public Snapshot loadSnapshot(String id) throws IOException {
        byte[] sealed;
        try {
            sealed = store.get(SNAPSHOTS + id);
        } catch (BlobNotFoundException e) {
            throw new RepositoryException("no backup '" + id + "' in " + uri() + "; `lifeboat list --repo " + uri() + "` shows the backups");
        }
        byte[] plain = openMetadata(sealed, snapshotAad(id), "manifest of backup " + id);
        try {
            Snapshot s = Json.MAPPER.readValue(Compression.unzstd(plain), Snapshot.class);
            if (s == null || s.files() == null || s.engineInfo() == null) {
                throw new IllegalArgumentException("incomplete manifest");
            }
            return s;
        } catch (IOException | IllegalArgumentException e) {
            throw new RepositoryException.Corrupt("manifest of backup " + id + " is damaged: " + e.getMessage());
        }
    }

    public List<Snapshot> loadSnapshots() throws IOException {
        List<Snapshot> out = new ArrayList<>();
        for (String id : listSnapshotIds()) {
            out.add(loadSnapshot(id));
        }
        return out;
    }

    /** Resolves "latest" or an id (or a unique id prefix) to a backup id. */
    public String resolveSnapshotId(String idOrLatest) throws IOException {
        List<String> ids = listSnapshotIds();
        if (ids.isEmpty()) {
            throw new RepositoryException("repository " + uri() + " holds no backups yet; take one with `lifeboat backup`");
        }
        if (idOrLatest == null || idOrLatest.equals("latest")) {
            return ids.getLast();
        }
        List<String> matches = ids.stream().filter(i -> i.startsWith(idOrLatest)).toList();
        if (matches.size() == 1) {
            return matches.getFirst();
        }
        if (matches.contains(idOrLatest)) {
            return idOrLatest;
        }
        throw new RepositoryException((matches.isEmpty() ? "no backup '" : "ambiguous backup id '") + idOrLatest + "' in " + uri()
                + "; `lifeboat list --repo " + uri() + "` shows the backups");
    }
}
