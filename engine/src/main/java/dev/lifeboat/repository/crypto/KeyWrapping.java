package dev.lifeboat.repository.crypto;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

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
    /**
     * What a config may ask for, checked before deriving anything: a tampered config must not make {@code open}
     * allocate terabytes or spin for hours. The range holds RFC 9106's options and any sane hardening of them.
     */
    public static final int MIN_MEMORY_KIB = 8 * 1024;

    public static final int MAX_MEMORY_KIB = 4 * 1024 * 1024;
    public static final int MAX_ITERATIONS = 64;
    public static final int MAX_PARALLELISM = 64;
    public static final int SALT_BYTES = 16;
    /** The sealed master keys: 64 bytes plus AES-GCM's nonce and tag. */
    public static final int WRAPPED_BYTES = KeyMaterial.KEY_BYTES * 2 + Aead.OVERHEAD;

    private KeyWrapping() {}

    /** One wrapped copy of the master keys as stored in the repository config. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record WrappedKey(
            String kind,
            String kdf,
            Integer memoryKiB,
            Integer iterations,
            Integer parallelism,
            String salt,
            String wrapped) {}

    public static WrappedKey wrap(KeyMaterial master, KeySource source, String repositoryId) {
        byte[] salt = new byte[SALT_BYTES];
        new SecureRandom().nextBytes(salt);
        WrappedKey params = switch (source) {
            case KeySource.Passphrase p ->
                new WrappedKey(
                        p.kind(),
                        "argon2id",
                        ARGON2_MEMORY_KIB,
                        ARGON2_ITERATIONS,
                        ARGON2_PARALLELISM,
                        b64(salt),
                        null);
            case KeySource.KeyFile f -> new WrappedKey(f.kind(), "hmac-sha256", null, null, null, b64(salt), null);
        };
        byte[] kek = deriveKek(params, source);
        byte[] sealed = new Aead(kek).seal(master.toBytes(), aad(repositoryId));
        return new WrappedKey(
                params.kind(),
                params.kdf(),
                params.memoryKiB(),
                params.iterations(),
                params.parallelism(),
                params.salt(),
                b64(sealed));
    }

    /** Returns the master keys, or throws if the source's secret does not open this wrapped key. */
    public static KeyMaterial unwrap(WrappedKey wrapped, KeySource source, String repositoryId)
            throws Aead.AuthenticationFailedException {
        checkParameters(wrapped);
        if (!wrapped.kind().equals(source.kind())) {
            throw new Aead.AuthenticationFailedException(
                    "key is protected by a " + wrapped.kind() + ", not a " + source.kind());
        }
        byte[] kek = deriveKek(wrapped, source);
        byte[] plain = new Aead(kek).open(Base64.getDecoder().decode(wrapped.wrapped()), aad(repositoryId));
        return KeyMaterial.fromBytes(plain);
    }

    /**
     * Checks a wrapped key as read from a repository config, before anything is derived from it: a known kind with its
     * KDF, Argon2id cost within {@value #MIN_MEMORY_KIB}..{@value #MAX_MEMORY_KIB} KiB, 1..{@value #MAX_ITERATIONS}
     * passes and 1..{@value #MAX_PARALLELISM} lanes, a {@value #SALT_BYTES}-byte salt and a wrapped key of exactly
     * {@value #WRAPPED_BYTES} bytes.
     *
     * @throws IllegalArgumentException naming the field that is out of range
     */
    public static void checkParameters(WrappedKey wk) {
        if (wk == null || wk.kind() == null || wk.kdf() == null) {
            throw new IllegalArgumentException("a key entry lacks its kind or kdf");
        }
        String expectedKdf = switch (wk.kind()) {
            case "passphrase" -> "argon2id";
            case "keyfile" -> "hmac-sha256";
            default -> throw new IllegalArgumentException("unknown key kind '" + wk.kind() + "'");
        };
        if (!wk.kdf().equals(expectedKdf)) {
            throw new IllegalArgumentException(
                    (wk.kdf().equals("argon2id") || wk.kdf().equals("hmac-sha256")
                                    ? "key derivation '"
                                    : "unknown key derivation '")
                            + wk.kdf() + "' for a " + wk.kind() + " key; expected " + expectedKdf);
        }
        if (expectedKdf.equals("argon2id")) {
            inRange("Argon2id memoryKiB", wk.memoryKiB(), MIN_MEMORY_KIB, MAX_MEMORY_KIB);
            inRange("Argon2id iterations", wk.iterations(), 1, MAX_ITERATIONS);
            inRange("Argon2id parallelism", wk.parallelism(), 1, MAX_PARALLELISM);
        } else if (wk.memoryKiB() != null || wk.iterations() != null || wk.parallelism() != null) {
            throw new IllegalArgumentException("a hmac-sha256 key has no memoryKiB, iterations or parallelism");
        }
        exactLength("salt", wk.salt(), SALT_BYTES);
        exactLength("wrapped key", wk.wrapped(), WRAPPED_BYTES);
    }

    private static void inRange(String what, Integer value, int min, int max) {
        if (value == null || value < min || value > max) {
            throw new IllegalArgumentException(what + " is " + value + ", outside " + min + ".." + max);
        }
    }

    private static void exactLength(String what, String base64, int bytes) {
        // a Base64 string of n bytes has 4 * ceil(n / 3) characters: check before decoding a huge one
        if (base64 == null || base64.length() != 4 * ((bytes + 2) / 3)) {
            throw new IllegalArgumentException(what + " is not Base64 of " + bytes + " bytes");
        }
        int decoded;
        try {
            decoded = Base64.getDecoder().decode(base64).length;
        } catch (IllegalArgumentException e) {
            decoded = -1;
        }
        if (decoded != bytes) {
            throw new IllegalArgumentException(what + " is not Base64 of " + bytes + " bytes");
        }
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
            default ->
                throw new IllegalArgumentException(
                        "unknown key derivation '" + params.kdf() + "' in repository config");
        };
    }

    private static byte[] aad(String repositoryId) {
        return ("lifeboat-master-key:" + repositoryId).getBytes(StandardCharsets.UTF_8);
    }

    private static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }
}
