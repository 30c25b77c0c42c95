package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.repository.crypto.KeyMaterial;
import dev.lifeboat.repository.crypto.KeyWrapping;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

/**
 * The repository's {@code config} object (plain JSON): format version, chunking parameters, cipher and the wrapped
 * master keys. Everything else in the repository is sealed (encrypted, or checksummed in an unencrypted repository of
 * format 2) as its {@code version} says.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record RepositoryConfig(
        String format,
        int version,
        String id,
        Instant created,
        Chunking chunking,
        int packSize,
        String cipher,
        List<KeyWrapping.WrappedKey> keys,
        String plainIdKey) {
    public static final String FORMAT = "lifeboat-repository";
    /** Format 1: every object sealed with the master key itself; unencrypted metadata unchecked. Read and written
     * still. */
    public static final int V1 = 1;
    /** Format 2 (what {@code repo-init} creates): per-object keys, pack-bound trailers, checked index names and
     * checksums. */
    public static final int V2 = 2;
    /** The newest version this Lifeboat reads and creates. */
    public static final int VERSION = V2;

    public static final String AES_256_GCM = "aes-256-gcm";
    public static final String NO_CIPHER = "none";
    /** Each key slot may cost an Argon2id run on open: a config cannot ask for more than this many. */
    public static final int MAX_KEY_SLOTS = 16;

    public static final int MIN_PACK_SIZE = 4 * 1024;
    public static final int MAX_PACK_SIZE = 1024 * 1024 * 1024;
    /** Largest chunk or relation block a config may ask for: each backup worker holds buffers of this size. */
    public static final int MAX_CHUNK_SIZE = 64 * 1024 * 1024;

    /**
     * @param relationBlockSize block size for PostgreSQL relation files (aligned fixed blocks, see FixedBlockChunker)
     */
    public record Chunking(String algorithm, int minSize, int avgSize, int maxSize, long seed, int relationBlockSize) {
        public static Chunking defaults(long seed) {
            return new Chunking("fastcdc", 256 * 1024, 1024 * 1024, 4 * 1024 * 1024, seed, 128 * 1024);
        }
    }

    public boolean encrypted() {
        return AES_256_GCM.equals(cipher);
    }

    /**
     * Checks everything {@code open} will use, before it derives a key or allocates a buffer from it: the format and
     * version, the cipher and its keys (each key slot's KDF parameters within bounds), the chunking and pack sizes.
     *
     * @throws RepositoryException.Foreign if this is not a repository config this Lifeboat reads
     * @throws RepositoryException.Corrupt if a value is out of range (a damaged or tampered config)
     */
    void check(String uri) {
        if (!FORMAT.equals(format)) {
            throw new RepositoryException.Foreign(uri + " is not a Lifeboat repository (format '" + format + "')");
        }
        if (version > VERSION) {
            throw new RepositoryException.Foreign("repository at " + uri + " uses format version " + version
                    + "; this Lifeboat reads up to version " + VERSION + ": upgrade Lifeboat");
        }
        if (version < V1) {
            throw new RepositoryException.Foreign("the config at " + uri + " has format version " + version
                    + "; Lifeboat repositories have version " + V1 + " to " + VERSION);
        }
        boolean plainOk = NO_CIPHER.equals(cipher) && plainIdKey != null;
        boolean encOk = encrypted() && keys != null && !keys.isEmpty();
        if (!plainOk && !encOk || chunking == null || id == null) {
            throw new RepositoryException.Foreign("the config at " + uri + " is incomplete or uses an unknown cipher ('"
                    + cipher + "'); this Lifeboat supports aes-256-gcm and none");
        }
        if (encOk) {
            if (keys.size() > MAX_KEY_SLOTS) {
                throw damaged(uri, "it lists " + keys.size() + " keys, more than " + MAX_KEY_SLOTS);
            }
            for (int i = 0; i < keys.size(); i++) {
                try {
                    KeyWrapping.checkParameters(keys.get(i));
                } catch (IllegalArgumentException e) {
                    throw damaged(uri, "key " + (i + 1) + " of " + keys.size() + ": " + e.getMessage());
                }
            }
        } else {
            byte[] material;
            try {
                material = Base64.getDecoder().decode(plainIdKey);
            } catch (IllegalArgumentException e) {
                material = new byte[0];
            }
            if (material.length != KeyMaterial.KEY_BYTES * 2) {
                throw damaged(uri, "plainIdKey is not Base64 of " + KeyMaterial.KEY_BYTES * 2 + " bytes");
            }
        }
        if (packSize < MIN_PACK_SIZE || packSize > MAX_PACK_SIZE) {
            throw damaged(uri, "packSize " + packSize + " is outside " + MIN_PACK_SIZE + ".." + MAX_PACK_SIZE);
        }
        Chunking c = chunking;
        if (!(0 < c.minSize()
                        && c.minSize() <= c.avgSize()
                        && c.avgSize() <= c.maxSize()
                        && c.maxSize() <= MAX_CHUNK_SIZE)
                || Integer.bitCount(c.avgSize()) != 1
                || c.relationBlockSize() <= 0
                || c.relationBlockSize() > MAX_CHUNK_SIZE) {
            throw damaged(
                    uri,
                    "chunking sizes " + c.minSize() + "/" + c.avgSize() + "/" + c.maxSize() + " (relation blocks "
                            + c.relationBlockSize() + ") are not 0 < min <= avg <= max <= " + MAX_CHUNK_SIZE
                            + " with avg a power of two");
        }
    }

    private static RepositoryException.Corrupt damaged(String uri, String what) {
        return new RepositoryException.Corrupt(
                "the config object at " + uri + " is damaged or was tampered with (" + what
                        + "), so it was not used; put back an intact copy of it (e.g. from another region's copy of "
                        + "the repository)");
    }
}
