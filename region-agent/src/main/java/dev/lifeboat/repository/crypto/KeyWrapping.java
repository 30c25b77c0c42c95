package dev.lifeboat.repository.crypto;

import com.fasterxml.jackson.annotation.JsonInclude;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * Wraps the master keys with a key-encryption key (KEK). A passphrase KEK comes from Argon2id (memory-hard, so
 * guessing passphrases from a stolen config is expensive); a key-file KEK from HMAC-SHA-256, since the file already
 * holds 256 random bits.
 */
public final class KeyWrapping {
    /** Argon2id cost: 64 MiB, 3 passes, 1 lane (RFC 9106's second recommended option). */
    public static final int ARGON2_MEMORY_KIB = 64 * 1024;
    public static final int ARGON2_ITERATIONS = 3;
    public static final int ARGON2_PARALLELISM = 1;

    private KeyWrapping() {
    }

    /** One wrapped copy of the master keys as stored in the repository config. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record WrappedKey(String kind, String kdf, Integer memoryKiB, Integer iterations, Integer parallelism,
                             String salt, String wrapped) {
    }

    public static WrappedKey wrap(KeyMaterial master, KeySource source, String repositoryId) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        WrappedKey params = switch (source) {
            case KeySource.Passphrase p -> new WrappedKey(p.kind(), "argon2id", ARGON2_MEMORY_KIB, ARGON2_ITERATIONS,
                    ARGON2_PARALLELISM, b64(salt), null);
            case KeySource.KeyFile f -> new WrappedKey(f.kind(), "hmac-sha256", null, null, null, b64(salt), null);
        };
        byte[] kek = deriveKek(params, source);
        byte[] sealed = new Aead(kek).seal(master.toBytes(), aad(repositoryId));
        return new WrappedKey(params.kind(), params.kdf(), params.memoryKiB(), params.iterations(), params.parallelism(),
                params.salt(), b64(sealed));
    }

    /** Returns the master keys, or throws if the source's secret does not open this wrapped key. */
    public static KeyMaterial unwrap(WrappedKey wrapped, KeySource source, String repositoryId)
            throws Aead.AuthenticationFailedException {
        if (!wrapped.kind().equals(source.kind())) {
            throw new Aead.AuthenticationFailedException("key is protected by a " + wrapped.kind() + ", not a " + source.kind());
        }
        byte[] kek = deriveKek(wrapped, source);
        byte[] plain = new Aead(kek).open(Base64.getDecoder().decode(wrapped.wrapped()), aad(repositoryId));
        return KeyMaterial.fromBytes(plain);
    }

    private static byte[] deriveKek(WrappedKey params, KeySource source) {
        byte[] salt = Base64.getDecoder().decode(params.salt());
        byte[] secret = source.secret();
        return switch (params.kdf()) {
            case "argon2id" -> {
                Argon2BytesGenerator gen = new Argon2BytesGenerator();
                gen.init(new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                        .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                        .withMemoryAsKB(params.memoryKiB())
                        .withIterations(params.iterations())
                        .withParallelism(params.parallelism())
                        .withSalt(salt)
                        .build());
                byte[] out = new byte[32];
                gen.generateBytes(secret, out);
                yield out;
            }
            case "hmac-sha256" -> {
                try {
                    Mac mac = Mac.getInstance("HmacSHA256");
                    mac.init(new SecretKeySpec(salt, "HmacSHA256"));
                    yield mac.doFinal(secret);
                } catch (GeneralSecurityException e) {
                    throw new IllegalStateException(e);
                }
            }
            default -> throw new IllegalArgumentException("unknown key derivation '" + params.kdf() + "' in repository config");
        };
    }

    private static byte[] aad(String repositoryId) {
        return ("lifeboat-master-key:" + repositoryId).getBytes(StandardCharsets.UTF_8);
    }

    private static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }
}
