package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.repository.crypto.KeyWrapping;

import java.time.Instant;
import java.util.List;

/**
 * The repository's {@code config} object (plain JSON): format version, chunking parameters, cipher and the wrapped
 * master keys. Everything else in the repository is encrypted with the master keys.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record RepositoryConfig(String format, int version, String id, Instant created, Chunking chunking,
                               int packSize, String cipher, List<KeyWrapping.WrappedKey> keys, String plainIdKey) {
    public static final String FORMAT = "lifeboat-repository";
    public static final int VERSION = 1;
    public static final String AES_256_GCM = "aes-256-gcm";
    public static final String NO_CIPHER = "none";

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
}
