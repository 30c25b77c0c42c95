package dev.lifeboat.repository.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Unencrypted format-2 metadata: {@code plain || SHA-256(u32 len(aad) || aad || plain)}. */
class ChecksumTest {
    static final byte[] AAD = "lifeboat-wal:000000010000000000000003".getBytes(StandardCharsets.US_ASCII);

    @Test
    void appendsTheDocumentedDigestAndOpensToThePlaintext() throws Exception {
        byte[] plain = AeadTest.data(1000);
        byte[] sealed = Checksum.INSTANCE.seal(plain, AAD);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(ByteBuffer.allocate(4).putInt(AAD.length).array());
        md.update(AAD);
        md.update(plain);
        assertThat(sealed).isEqualTo(concat(plain, md.digest()));
        assertThat(Checksum.INSTANCE.open(sealed, AAD)).isEqualTo(plain);
        byte[] out = new byte[3 + sealed.length];
        assertThat(Checksum.INSTANCE.seal(plain, 0, plain.length, AAD, out, 3)).isEqualTo(sealed.length);
        assertThat(Checksum.INSTANCE.open(out, 3, sealed.length, AAD)).isEqualTo(plain);
        assertThat(Checksum.INSTANCE.open(Checksum.INSTANCE.seal(new byte[0], AAD), AAD))
                .isEmpty();
    }

    @Test
    void anyFlippedByteOtherAadOrTruncationFails() {
        byte[] sealed = Checksum.INSTANCE.seal(AeadTest.data(500), AAD);
        for (int at : new int[] {0, 250, 499, 500, sealed.length - 1}) {
            byte[] damaged = sealed.clone();
            damaged[at] ^= 1;
            assertThatThrownBy(() -> Checksum.INSTANCE.open(damaged, AAD))
                    .as("byte %d", at)
                    .isInstanceOf(Aead.AuthenticationFailedException.class)
                    .hasMessageContaining("checksum");
        }
        byte[] other = "lifeboat-wal:000000010000000000000004".getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> Checksum.INSTANCE.open(sealed, other))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
        // the length prefix keeps aad/plaintext boundaries apart: ("ab", "c…") differs from ("a", "bc…")
        byte[] x = Checksum.INSTANCE.seal(
                "cdef".getBytes(StandardCharsets.US_ASCII), "ab".getBytes(StandardCharsets.US_ASCII));
        byte[] y = Checksum.INSTANCE.seal(
                "bcdef".getBytes(StandardCharsets.US_ASCII), "a".getBytes(StandardCharsets.US_ASCII));
        assertThat(Arrays.copyOfRange(x, 4, 36)).isNotEqualTo(Arrays.copyOfRange(y, 5, 37));
        assertThatThrownBy(() -> Checksum.INSTANCE.open(new byte[31], AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class)
                .hasMessageContaining("truncated");
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
