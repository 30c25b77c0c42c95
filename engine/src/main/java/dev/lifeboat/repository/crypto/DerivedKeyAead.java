package dev.lifeboat.repository.crypto;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Format 2 sealing: every object gets its own AES-256-GCM key,
 * {@code HKDF-SHA-256(ikm = master encryption key, salt = a fresh random 16-byte salt, info = INFO)}, and a random
 * 96-bit nonce. Layout: {@code salt(16) || nonce(12) || ciphertext || tag(16)}. Each derived key seals exactly one
 * message, so NIST SP 800-38D's bound of 2^32 random-nonce invocations per key is never approached, however many
 * objects the repository's life produces; and a blob stays openable wherever it is copied (repacking), since its salt
 * travels inside it.
 */
public final class DerivedKeyAead implements Sealer {
    public static final int SALT_BYTES = 16;
    public static final int NONCE_BYTES = 12;
    public static final int TAG_BYTES = 16;
    public static final int OVERHEAD = SALT_BYTES + NONCE_BYTES + TAG_BYTES;
    /** Plaintext bytes per cipher call when sealing (see {@link #encryptInSteps}). */
    static final int STEP_BYTES = 64 * 1024;
    /** The HKDF info: names the scheme, so these keys can never coincide with keys derived for another purpose. */
    public static final byte[] INFO =
            "lifeboat-repository-v2 object key: HKDF-SHA-256, AES-256-GCM".getBytes(StandardCharsets.US_ASCII);

    private static final ThreadLocal<Cipher> CIPHERS = ThreadLocal.withInitial(CryptoProvider::aesGcm);
    private static final ThreadLocal<Mac> MACS = ThreadLocal.withInitial(CryptoProvider::hmacSha256);
    private static final ThreadLocal<SecureRandom> RANDOM = ThreadLocal.withInitial(SecureRandom::new);

    private final byte[] master;

    public DerivedKeyAead(byte[] masterKey) {
        if (masterKey.length != 32) {
            throw new IllegalArgumentException("the master encryption key must be 32 bytes");
        }
        this.master = masterKey.clone();
    }

    @Override
    public int overhead() {
        return OVERHEAD;
    }

    /**
     * The object key for one salt (16 bytes at {@code saltOff}): HKDF-SHA-256 (RFC 5869) written out on a reused
     * per-thread HMAC, extract {@code PRK = HMAC(salt, master)} then, for 32 bytes, one expand block
     * {@code HMAC(PRK, INFO || 0x01)}. The same keys as the JDK's {@code KDF("HKDF-SHA256")} (a test compares them),
     * at a fraction of the cost in a short-lived JVM: a restore derives one per chunk, and the KDF API's extra code
     * kept the JIT busy long enough to slow every chunk until it was compiled.
     */
    SecretKey objectKey(byte[] salt, int saltOff) throws GeneralSecurityException {
        Mac m = MACS.get();
        m.init(new SecretKeySpec(salt, saltOff, SALT_BYTES, "HmacSHA256"));
        byte[] prk = m.doFinal(master);
        m.init(new SecretKeySpec(prk, "HmacSHA256"));
        m.update(INFO);
        m.update((byte) 1);
        return new SecretKeySpec(m.doFinal(), "AES");
    }

    @Override
    public int seal(byte[] plain, int off, int len, byte[] aad, byte[] out, int outOff) {
        byte[] saltAndNonce = new byte[SALT_BYTES + NONCE_BYTES];
        RANDOM.get().nextBytes(saltAndNonce);
        try {
            Cipher c = CIPHERS.get();
            c.init(
                    Cipher.ENCRYPT_MODE,
                    objectKey(saltAndNonce, 0),
                    new GCMParameterSpec(TAG_BYTES * 8, saltAndNonce, SALT_BYTES, NONCE_BYTES));
            if (aad != null) {
                c.updateAAD(aad);
            }
            System.arraycopy(saltAndNonce, 0, out, outOff, saltAndNonce.length);
            return saltAndNonce.length + encryptInSteps(c, plain, off, len, out, outOff + saltAndNonce.length);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    /**
     * Encrypts in {@link #STEP_BYTES} pieces. The JDK runs GCM on the AES and carry-less multiply instructions only
     * inside compiled callers; one call per 16 MiB WAL segment left those callers to the interpreter whenever a
     * deoptimization sent them back (measured: 5 ms per segment became 110 ms and stayed there), while many calls of
     * one size keep them compiled.
     */
    static int encryptInSteps(Cipher c, byte[] plain, int off, int len, byte[] out, int outOff)
            throws GeneralSecurityException {
        int o = outOff;
        int p = off;
        int end = off + len;
        while (end - p > STEP_BYTES) {
            o += c.update(plain, p, STEP_BYTES, out, o);
            p += STEP_BYTES;
        }
        o += c.doFinal(plain, p, end - p, out, o);
        return o - outOff;
    }

    @Override
    public byte[] seal(byte[] plain, byte[] aad) {
        byte[] out = new byte[plain.length + OVERHEAD];
        seal(plain, 0, plain.length, aad, out, 0);
        return out;
    }

    @Override
    public byte[] open(byte[] sealed, int off, int len, byte[] aad) throws Aead.AuthenticationFailedException {
        if (len < OVERHEAD) {
            throw new Aead.AuthenticationFailedException("encrypted object is truncated (" + len + " bytes)");
        }
        try {
            Cipher c = CIPHERS.get();
            c.init(
                    Cipher.DECRYPT_MODE,
                    objectKey(sealed, off),
                    new GCMParameterSpec(TAG_BYTES * 8, sealed, off + SALT_BYTES, NONCE_BYTES));
            if (aad != null) {
                c.updateAAD(aad);
            }
            return c.doFinal(sealed, off + SALT_BYTES + NONCE_BYTES, len - SALT_BYTES - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new Aead.AuthenticationFailedException("authentication tag mismatch");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM decryption failed", e);
        }
    }
}
