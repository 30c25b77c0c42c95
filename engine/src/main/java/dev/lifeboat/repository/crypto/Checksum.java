package dev.lifeboat.repository.crypto;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * Integrity for metadata in unencrypted repositories of format 2: {@code plain || SHA-256(u32 len(aad) || aad ||
 * plain)}.
 * The digest covers the associated data like a GCM tag does, so an object still opens only in its own role (a
 * manifest under its own id, a WAL file under its own name, a trailer in its own pack). It is not keyed: it detects
 * damage and mix-ups, not a deliberate forgery by someone who can write the store (only encryption does that).
 */
public final class Checksum implements Sealer {
    public static final int BYTES = 32;
    public static final Checksum INSTANCE = new Checksum();

    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(CryptoProvider::sha256);

    private Checksum() {}

    @Override
    public int overhead() {
        return BYTES;
    }

    private static byte[] digest(byte[] data, int off, int len, byte[] aad) {
        MessageDigest md = SHA256.get();
        byte[] a = aad == null ? new byte[0] : aad;
        md.update(ByteBuffer.allocate(4).putInt(a.length).array());
        md.update(a);
        md.update(data, off, len);
        return md.digest();
    }

    @Override
    public int seal(byte[] plain, int off, int len, byte[] aad, byte[] out, int outOff) {
        byte[] sum = digest(plain, off, len, aad);
        System.arraycopy(plain, off, out, outOff, len);
        System.arraycopy(sum, 0, out, outOff + len, BYTES);
        return len + BYTES;
    }

    @Override
    public byte[] open(byte[] sealed, int off, int len, byte[] aad) throws Aead.AuthenticationFailedException {
        if (len < BYTES) {
            throw new Aead.AuthenticationFailedException("object is truncated (" + len + " bytes)");
        }
        int plainLen = len - BYTES;
        byte[] expected = digest(sealed, off, plainLen, aad);
        if (!MessageDigest.isEqual(expected, Arrays.copyOfRange(sealed, off + plainLen, off + len))) {
            throw new Aead.AuthenticationFailedException("SHA-256 checksum mismatch");
        }
        return Arrays.copyOfRange(sealed, off, off + plainLen);
    }
}
