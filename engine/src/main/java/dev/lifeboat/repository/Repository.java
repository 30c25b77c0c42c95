package dev.lifeboat.repository;

import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.Aead;
import dev.lifeboat.repository.crypto.Checksum;
import dev.lifeboat.repository.crypto.ChunkIds;
import dev.lifeboat.repository.crypto.CipherWarmup;
import dev.lifeboat.repository.crypto.DerivedKeyAead;
import dev.lifeboat.repository.crypto.KeyMaterial;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.repository.crypto.KeyWrapping;
import dev.lifeboat.repository.crypto.Sealer;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

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
    /** seals chunk blobs; null when the repository is not encrypted (a chunk is checked against its keyed id) */
    private final Sealer chunkSealer;
    /** seals everything else: encrypts, checksums (unencrypted format 2) or nothing (unencrypted format 1) */
    private final Sealer metadataSealer;

    private final ChunkIds chunkIds;

    private Repository(BlobStore store, RepositoryConfig config, KeyMaterial keys) {
        this.store = store;
        this.config = config;
        boolean v1 = config.version() < RepositoryConfig.V2;
        if (config.encrypted()) {
            // format 1 keeps sealing with the master key itself, so its archive_command never changes behaviour
            this.chunkSealer = v1 ? new Aead(keys.encryptionKey()) : new DerivedKeyAead(keys.encryptionKey());
            this.metadataSealer = chunkSealer;
            CipherWarmup.startOnce();
        } else {
            this.chunkSealer = null;
            this.metadataSealer = v1 ? Sealer.NONE : Checksum.INSTANCE;
        }
        this.chunkIds = new ChunkIds(keys.idKey());
    }

    /** Creates a new repository of the current format ({@link RepositoryConfig#VERSION}); refuses if the location
     * already holds one. */
    public static RepositoryConfig init(BlobStore store, KeySource keySource, boolean noEncryption) throws IOException {
        return init(store, keySource, noEncryption, RepositoryConfig.VERSION);
    }

    /** Creates a repository of the given format version; older versions only for tests of compatibility. */
    static RepositoryConfig init(BlobStore store, KeySource keySource, boolean noEncryption, int version)
            throws IOException {
        if (version < RepositoryConfig.V1 || version > RepositoryConfig.VERSION) {
            throw new IllegalArgumentException("no repository format version " + version);
        }
        if (!noEncryption && keySource == null) {
            throw new IllegalArgumentException(
                    "an encrypted repository needs a passphrase (env LIFEBOAT_PASSPHRASE) or --key-file; "
                            + "pass --no-encryption to create an unencrypted one");
        }
        if (store.stat(CONFIG_KEY).isPresent()) {
            throw new RepositoryException("a repository already exists at " + store.uri());
        }
        List<BlobInfo> existing = store.list("");
        if (!existing.isEmpty()) {
            throw new RepositoryException.Foreign("refusing to create a repository at " + store.uri()
                    + ": the location is not empty (" + existing.getFirst().key() + " …)");
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
            config = new RepositoryConfig(
                    RepositoryConfig.FORMAT,
                    version,
                    id,
                    Instant.now(),
                    chunking,
                    packSize,
                    RepositoryConfig.NO_CIPHER,
                    null,
                    Base64.getEncoder().encodeToString(keys.toBytes()));
        } else {
            config = new RepositoryConfig(
                    RepositoryConfig.FORMAT,
                    version,
                    id,
                    Instant.now(),
                    chunking,
                    packSize,
                    RepositoryConfig.AES_256_GCM,
                    List.of(KeyWrapping.wrap(keys, keySource, id)),
                    null);
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
            throw new RepositoryException.Foreign(
                    "the 'config' object at " + store.uri() + " is not a Lifeboat repository config");
        }
        if (config == null) {
            throw new RepositoryException.Foreign(
                    "the 'config' object at " + store.uri() + " is not a Lifeboat repository config");
        }
        // every value is bounded before a key is derived or a buffer sized from it
        config.check(store.uri());
        if (!config.encrypted()) {
            return new Repository(
                    store, config, KeyMaterial.fromBytes(Base64.getDecoder().decode(config.plainIdKey())));
        }
        if (keySource == null) {
            throw new RepositoryException.WrongKey(
                    "repository at " + store.uri() + " is encrypted: set LIFEBOAT_PASSPHRASE or pass --key-file FILE");
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
        throw new RepositoryException.WrongKey(
                "wrong " + (keySource instanceof KeySource.Passphrase ? "passphrase" : "key file")
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

    /** The format version ({@code config.version}), which decides how objects are sealed. */
    public int version() {
        return config.version();
    }

    // ---- sealing -------------------------------------------------------------------------------------------

    /** Bytes a stored chunk blob has beyond its compressed chunk. */
    int blobOverhead() {
        return chunkSealer == null ? 0 : chunkSealer.overhead();
    }

    /** Bytes {@link #sealMetadata} adds. */
    int metadataOverhead() {
        return metadataSealer.overhead();
    }

    /** Seals a compressed chunk into {@code out}; the chunk id is the associated data, binding blob to id. */
    int sealChunk(ChunkId id, byte[] compressed, int len, byte[] out, int outOff) {
        if (chunkSealer == null) {
            System.arraycopy(compressed, 0, out, outOff, len);
            return len;
        }
        return chunkSealer.seal(compressed, 0, len, id.bytes(), out, outOff);
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
        if (chunkSealer == null) {
            compressed = blob;
            clen = c.length();
        } else {
            try {
                compressed = chunkSealer.open(blob, off, c.length(), c.id().bytes());
                off = 0;
                clen = compressed.length;
            } catch (Aead.AuthenticationFailedException e) {
                throw new RepositoryException.Corrupt("chunk " + c.id() + " in pack " + c.packId()
                        + " failed authentication (" + e.getMessage() + ")");
            }
        }
        byte[] plain;
        try {
            plain = Compression.decompress(compressed, off, clen, c.rawLength());
        } catch (RuntimeException e) {
            throw new RepositoryException.Corrupt(
                    "chunk " + c.id() + " in pack " + c.packId() + " does not decompress: " + e.getMessage());
        }
        // with encryption the GCM tag over (id as AAD, ciphertext) already proves the blob was sealed for this id:
        // re-hashing every restored byte would be a second SHA-256 pass for nothing
        if (chunkSealer == null && !chunkIds.matches(c.id().bytes(), plain, 0, plain.length)) {
            throw new RepositoryException.Corrupt(
                    "chunk " + c.id() + " in pack " + c.packId() + " does not match its id");
        }
        return plain;
    }

    /**
     * Seals an object other than a chunk blob (manifest, index file, pack trailer, archived WAL file) with its
     * associated data: encrypted; in an unencrypted repository of format 2 followed by a SHA-256 checksum over the
     * associated data and the bytes; in one of format 1 left as it is.
     */
    public byte[] sealMetadata(byte[] plain, byte[] aad) {
        return metadataSealer.seal(plain, aad);
    }

    /**
     * Checks and unseals what {@link #sealMetadata} wrote with the same associated data.
     *
     * @param what names the object in the error, e.g. "manifest of backup X"
     * @throws RepositoryException.Corrupt if it fails authentication or its checksum
     */
    public byte[] openMetadata(byte[] sealed, byte[] aad, String what) {
        try {
            return metadataSealer.open(sealed, aad);
        } catch (Aead.AuthenticationFailedException e) {
            throw new RepositoryException.Corrupt(what
                    + (chunkSealer != null
                            ? " failed authentication"
                            : " failed its integrity check (" + e.getMessage() + ")")
                    + ": it was altered or damaged");
        }
    }

    // ---- packs ---------------------------------------------------------------------------------------------

    /** Reads a pack's own trailer: the list of chunks inside it (used to rebuild the index). */
    public List<PackedChunk> readPackTrailer(String packId, long packSize) throws IOException {
        int headerLength = Pack.headerLength(version());
        if (packSize < headerLength + Pack.FOOTER_BYTES) {
            throw new RepositoryException.Corrupt("pack " + packId + " is truncated (" + packSize + " bytes)");
        }
        byte[] header = null;
        if (version() >= RepositoryConfig.V2) { // the header's pack nonce is part of the trailer's associated data
            header = store.getRange(Pack.key(packId), 0, headerLength);
            if (!Arrays.equals(header, 0, Pack.MAGIC_V2.length, Pack.MAGIC_V2, 0, Pack.MAGIC_V2.length)) {
                throw new RepositoryException.Corrupt(
                        "pack " + packId + " does not start with the format-" + version() + " header 'LBPACK02'");
            }
        }
        byte[] footer = store.getRange(Pack.key(packId), packSize - Pack.FOOTER_BYTES, Pack.FOOTER_BYTES);
        if (!Arrays.equals(footer, 4, Pack.FOOTER_BYTES, Pack.FOOTER_MAGIC, 0, Pack.FOOTER_MAGIC.length)) {
            throw new RepositoryException.Corrupt("pack " + packId + " has no valid footer");
        }
        int trailerLen = ByteBuffer.wrap(footer, 0, 4).getInt();
        if (trailerLen <= 0 || trailerLen > packSize - headerLength - Pack.FOOTER_BYTES) {
            throw new RepositoryException.Corrupt("pack " + packId + " has an invalid trailer length");
        }
        byte[] sealed = store.getRange(Pack.key(packId), packSize - Pack.FOOTER_BYTES - trailerLen, trailerLen);
        return Pack.decodeEntries(
                packId, openMetadata(sealed, Pack.trailerAad(version(), header), "trailer of pack " + packId));
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
    public record IndexFile(String key, long size) {}

    /** Writes one index file describing the given packs. */
    public IndexFile writeIndex(List<PackedChunk> entries, Map<String, Long> packSizes) throws IOException {
        Map<String, List<PackedChunk>> byPack = new TreeMap<>();
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

    /**
     * Loads every index file into memory. In format 2 an index file's name must be the SHA-256 of its bytes (it is
     * written so), which binds the file to its name whether the repository is encrypted or not.
     *
     * @throws RepositoryException.Corrupt naming the index file if one is damaged, renamed or does not decode
     */
    public ChunkIndex loadIndex() throws IOException {
        ChunkIndex index = new ChunkIndex();
        for (BlobInfo b : store.list(INDEX)) {
            byte[] stored;
            try {
                stored = store.get(b.key());
            } catch (BlobNotFoundException gone) {
                continue; // removed by a concurrent index rewrite
            }
            if (version() >= RepositoryConfig.V2
                    && !PackWriter.sha256Hex(stored, 0, stored.length)
                            .equals(b.key().substring(INDEX.length()))) {
                throw new RepositoryException.Corrupt(
                        "index file " + b.key() + " is damaged or was renamed: the SHA-256 of its "
                                + "bytes is not its name; " + REBUILD_INDEX);
            }
            byte[] opened;
            try {
                opened = openMetadata(stored, INDEX_AAD, "index file " + b.key());
            } catch (RepositoryException.Corrupt e) {
                throw new RepositoryException.Corrupt(e.getMessage() + "; " + REBUILD_INDEX, e);
            }
            byte[] plain;
            try {
                plain = Compression.unzstd(opened);
            } catch (IllegalArgumentException e) {
                throw new RepositoryException.Corrupt(
                        "index file " + b.key() + " is damaged: " + e.getMessage() + "; " + REBUILD_INDEX);
            }
            decodeIndex(b.key(), plain, index);
        }
        return index;
    }

    private static final String REBUILD_INDEX = "run `lifeboat rebuild-index` to rebuild the index from the packs";

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
        } catch (BufferUnderflowException e) {
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
            throw new RepositoryException(
                    "no backup '" + id + "' in " + uri() + "; `lifeboat list --repo " + uri() + "` shows the backups");
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
            throw new RepositoryException(
                    "repository " + uri() + " holds no backups yet; take one with `lifeboat backup`");
        }
        if (idOrLatest == null || idOrLatest.equals("latest")) {
            return ids.getLast();
        }
        List<String> matches =
                ids.stream().filter(i -> i.startsWith(idOrLatest)).toList();
        if (matches.size() == 1) {
            return matches.getFirst();
        }
        if (matches.contains(idOrLatest)) {
            return idOrLatest;
        }
        throw new RepositoryException((matches.isEmpty() ? "no backup '" : "ambiguous backup id '") + idOrLatest
                + "' in " + uri() + "; `lifeboat list --repo " + uri() + "` shows the backups");
    }
}
