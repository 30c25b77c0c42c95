package dev.lifeboat.repository.crypto;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** Keyed chunk ids: HMAC-SHA-256(idKey, plaintext). Equal plaintext gives equal ids only inside one repository. */
public final class ChunkIds {
    private final ThreadLocal<Mac> macs;

    public ChunkIds(byte[] idKey) {
        SecretKeySpec spec = new SecretKeySpec(idKey, "HmacSHA256");
        this.macs = ThreadLocal.withInitial(() -> {
            try {
                Mac m = CryptoProvider.hmacSha256();
                m.init(spec);
                return m;
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("HmacSHA256 rejected the chunk id key", e);
            }
        });
    }

    public byte[] idOf(byte[] data, int off, int len) {
        Mac m = macs.get();
        m.update(data, off, len);
        return m.doFinal();
    }

    public boolean matches(byte[] id, byte[] data, int off, int len) {
        return MessageDigest.isEqual(id, idOf(data, off, len));
    }
}
