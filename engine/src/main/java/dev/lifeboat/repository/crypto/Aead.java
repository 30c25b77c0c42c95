package dev.lifeboat.repository.crypto;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM with a fresh random 96-bit nonce per message. Output layout: {@code nonce(12) || ciphertext || tag(16)}.
 * Format 1 seals every object with the master key this way; format 2 uses {@link DerivedKeyAead} instead (one key per
 * object). Key wrapping keeps using it: each wrap has its own KEK (fresh salt), so that key seals one message.
 * Runs on {@link CryptoProvider}'s cipher. Encryption goes in 64 KiB steps ({@link DerivedKeyAead#encryptInSteps}:
 * the JDK's fallback stays compiled that way), decryption through one {@code doFinal} (both providers hold decrypted
 * bytes back until the tag is checked, and small {@code update} slices were several times slower).
 */
public final class Aead implements Sealer {
    public static final int NONCE_BYTES = 12;
    public static final int TAG_BYTES = 16;
    public static final int OVERHEAD = NONCE_BYTES + TAG_BYTES;

    private static final ThreadLocal<Cipher> CIPHERS = ThreadLocal.withInitial(CryptoProvider::aesGcm);
    private static final ThreadLocal<SecureRandom> RANDOM = ThreadLocal.withInitial(SecureRandom::new);

    private final SecretKeySpec key;

    public Aead(byte[] key) {
        if (key.length != 32) {
            throw new IllegalArgumentException("AES-256 needs a 32-byte key");
        }
        this.key = new SecretKeySpec(key, "AES");
    }

    @Override
    public int overhead() {
        return OVERHEAD;
    }

    /** Encrypts {@code plain[off, off+len)} into {@code out} at {@code outOff}; returns bytes written (len + OVERHEAD).
     * */
    @Override
    public int seal(byte[] plain, int off, int len, byte[] aad, byte[] out, int outOff) {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.get().nextBytes(nonce);
        try {
            Cipher c = CIPHERS.get();
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BYTES * 8, nonce));
            if (aad != null) {
                c.updateAAD(aad);
            }
            System.arraycopy(nonce, 0, out, outOff, NONCE_BYTES);
            int n = DerivedKeyAead.encryptInSteps(c, plain, off, len, out, outOff + NONCE_BYTES);
            return NONCE_BYTES + n;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    @Override
    public byte[] seal(byte[] plain, byte[] aad) {
        byte[] out = new byte[plain.length + OVERHEAD];
        seal(plain, 0, plain.length, aad, out, 0);
        return out;
    }

    /**
     * Decrypts and authenticates; throws {@link AuthenticationFailedException} if the data, nonce, tag or associated
     * data were altered or the key is wrong.
     */
    @Override
    public byte[] open(byte[] sealed, int off, int len, byte[] aad) throws AuthenticationFailedException {
        if (len < OVERHEAD) {
            throw new AuthenticationFailedException("encrypted object is truncated (" + len + " bytes)");
        }
        try {
            Cipher c = CIPHERS.get();
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BYTES * 8, sealed, off, NONCE_BYTES));
            if (aad != null) {
                c.updateAAD(aad);
            }
            return c.doFinal(sealed, off + NONCE_BYTES, len - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new AuthenticationFailedException("authentication tag mismatch");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM decryption failed", e);
        }
    }

    @Override
    public byte[] open(byte[] sealed, byte[] aad) throws AuthenticationFailedException {
        return open(sealed, 0, sealed.length, aad);
    }

    public static final class AuthenticationFailedException extends Exception {
        public AuthenticationFailedException(String message) {
            super(message);
        }
    }
}
