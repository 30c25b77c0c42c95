package dev.lifeboat.repository.crypto;

import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The repository's master keys: one encrypts (AES-256-GCM), the other keys chunk ids (HMAC-SHA-256) so equal data
 * dedups without the store ever seeing a plain hash of it. Both are random and never leave the repository config
 * except wrapped by a key-encryption key.
 */
public record KeyMaterial(byte[] encryptionKey, byte[] idKey) {
    public static final int KEY_BYTES = 32;

    public KeyMaterial {
        if (encryptionKey.length != KEY_BYTES || idKey.length != KEY_BYTES) {
            throw new IllegalArgumentException("master keys must be 32 bytes each");
        }
    }

    public static KeyMaterial random() {
        SecureRandom rnd = new SecureRandom();
        byte[] enc = new byte[KEY_BYTES];
        byte[] id = new byte[KEY_BYTES];
        rnd.nextBytes(enc);
        rnd.nextBytes(id);
        return new KeyMaterial(enc, id);
    }

    public byte[] toBytes() {
        byte[] out = Arrays.copyOf(encryptionKey, KEY_BYTES * 2);
        System.arraycopy(idKey, 0, out, KEY_BYTES, KEY_BYTES);
        return out;
    }

    public static KeyMaterial fromBytes(byte[] b) {
        if (b.length != KEY_BYTES * 2) {
            throw new IllegalArgumentException("master key blob has wrong length " + b.length);
        }
        return new KeyMaterial(Arrays.copyOfRange(b, 0, KEY_BYTES), Arrays.copyOfRange(b, KEY_BYTES, KEY_BYTES * 2));
    }
}
