package dev.lifeboat.repository.crypto;

import java.util.Arrays;

/**
 * One way of sealing repository objects: authenticated encryption ({@link Aead}, {@link DerivedKeyAead}) or, in an
 * unencrypted repository of format 2, a checksum ({@link Checksum}). The associated data is never stored: the reader
 * supplies it (the chunk id, the object's name, …), so an object opens only in the role it was sealed for.
 */
public interface Sealer {
    /** A sealer that leaves the bytes as they are: metadata in an unencrypted repository of format 1. */
    Sealer NONE = new Sealer() {
        @Override
        public int overhead() {
            return 0;
        }

        @Override
        public int seal(byte[] plain, int off, int len, byte[] aad, byte[] out, int outOff) {
            System.arraycopy(plain, off, out, outOff, len);
            return len;
        }

        @Override
        public byte[] open(byte[] sealed, int off, int len, byte[] aad) {
            return off == 0 && len == sealed.length ? sealed : Arrays.copyOfRange(sealed, off, off + len);
        }
    };

    /** Bytes a sealed object has beyond its plaintext. */
    int overhead();

    /** Seals {@code plain[off, off+len)} into {@code out} at {@code outOff}; returns the bytes written (len +
     * overhead). */
    int seal(byte[] plain, int off, int len, byte[] aad, byte[] out, int outOff);

    /**
     * Checks and returns the plaintext of {@code sealed[off, off+len)}.
     *
     * @throws Aead.AuthenticationFailedException if the bytes or the associated data differ from what was sealed
     */
    byte[] open(byte[] sealed, int off, int len, byte[] aad) throws Aead.AuthenticationFailedException;

    default byte[] seal(byte[] plain, byte[] aad) {
        byte[] out = new byte[plain.length + overhead()];
        seal(plain, 0, plain.length, aad, out, 0);
        return out;
    }

    default byte[] open(byte[] sealed, byte[] aad) throws Aead.AuthenticationFailedException {
        return open(sealed, 0, sealed.length, aad);
    }
}
