package dev.lifeboat.repository.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AeadTest {
    static final byte[] AAD = "chunk-id-0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    static byte[] key(long seed) {
        byte[] k = new byte[32];
        new Random(seed).nextBytes(k);
        return k;
    }

    static byte[] data(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    @Test
    void sealThenOpenRoundTrips() throws Exception {
        Aead aead = new Aead(key(1));
        for (int n : new int[] {0, 1, 15, 16, 17, 1000, 100_000}) {
            byte[] plain = data(n);
            byte[] sealed = aead.seal(plain, AAD);
            assertThat(sealed).hasSize(n + Aead.OVERHEAD);
            assertThat(aead.open(sealed, AAD)).isEqualTo(plain);
            // a second instance with the same key opens it too
            assertThat(new Aead(key(1)).open(sealed, AAD)).isEqualTo(plain);
        }
    }

    @Test
    void nullAadRoundTripsAndDiffersFromAnyAad() throws Exception {
        Aead aead = new Aead(key(1));
        byte[] plain = data(100);
        byte[] sealed = aead.seal(plain, null);
        assertThat(aead.open(sealed, null)).isEqualTo(plain);
        assertThatThrownBy(() -> aead.open(sealed, AAD)).isInstanceOf(Aead.AuthenticationFailedException.class);
    }

    @Test
    void offsetVariantsSealIntoAndOpenFromTheMiddleOfBuffers() throws Exception {
        Aead aead = new Aead(key(2));
        byte[] src = data(5000);
        byte[] out = new byte[10 + 3000 + Aead.OVERHEAD + 10];
        int n = aead.seal(src, 100, 3000, AAD, out, 10);
        assertThat(n).isEqualTo(3000 + Aead.OVERHEAD);
        assertThat(aead.open(out, 10, n, AAD)).isEqualTo(Arrays.copyOfRange(src, 100, 3100));
        assertThat(Arrays.copyOfRange(out, 0, 10)).containsOnly(0);
        assertThat(Arrays.copyOfRange(out, 10 + n, out.length)).containsOnly(0);
    }

    @Test
    void ciphertextDoesNotContainThePlaintext() {
        byte[] plain = "a very recognisable plaintext, repeated: a very recognisable plaintext"
                .getBytes(StandardCharsets.US_ASCII);
        byte[] sealed = new Aead(key(3)).seal(plain, AAD);
        assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("recognisable");
    }

    @Test
    void anySingleFlippedBitIsDetected() {
        Aead aead = new Aead(key(4));
        byte[] plain = data(40);
        byte[] sealed = aead.seal(plain, AAD);
        // every bit of nonce (0..11), ciphertext (12..51) and tag (52..67)
        for (int bit = 0; bit < sealed.length * 8; bit++) {
            byte[] damaged = sealed.clone();
            damaged[bit / 8] ^= (byte) (1 << (bit % 8));
            int b = bit;
            assertThatThrownBy(() -> aead.open(damaged, AAD))
                    .as("flipped bit %d", b)
                    .isInstanceOf(Aead.AuthenticationFailedException.class);
        }
    }

    @Test
    void wrongAadWrongKeyAndTruncationFail() {
        Aead aead = new Aead(key(5));
        byte[] sealed = aead.seal(data(64), AAD);
        byte[] otherAad = AAD.clone();
        otherAad[otherAad.length - 1] ^= 1;
        assertThatThrownBy(() -> aead.open(sealed, otherAad)).isInstanceOf(Aead.AuthenticationFailedException.class);
        assertThatThrownBy(() -> aead.open(sealed, new byte[0])).isInstanceOf(Aead.AuthenticationFailedException.class);
        assertThatThrownBy(() -> new Aead(key(6)).open(sealed, AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
        assertThatThrownBy(() -> aead.open(Arrays.copyOf(sealed, sealed.length - 1), AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
        assertThatThrownBy(() -> aead.open(Arrays.copyOf(sealed, Aead.OVERHEAD - 1), AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class)
                .hasMessageContaining("truncated");
        byte[] extended = Arrays.copyOf(sealed, sealed.length + 1);
        assertThatThrownBy(() -> aead.open(extended, AAD)).isInstanceOf(Aead.AuthenticationFailedException.class);
    }

    @Test
    void openingStillWorksAfterAFailure() throws Exception {
        // the cipher is cached per thread: a failed open must not poison the next one
        Aead aead = new Aead(key(7));
        byte[] plain = data(500);
        byte[] sealed = aead.seal(plain, AAD);
        byte[] damaged = sealed.clone();
        damaged[20] ^= 1;
        assertThatThrownBy(() -> aead.open(damaged, AAD)).isInstanceOf(Aead.AuthenticationFailedException.class);
        assertThat(aead.open(sealed, AAD)).isEqualTo(plain);
        assertThat(aead.open(aead.seal(plain, AAD), AAD)).isEqualTo(plain);
    }

    @Test
    void twoSealsOfTheSamePlaintextDiffer() {
        Aead aead = new Aead(key(8));
        byte[] plain = data(256);
        byte[] a = aead.seal(plain, AAD);
        byte[] b = aead.seal(plain, AAD);
        assertThat(a).isNotEqualTo(b);
        assertThat(Arrays.copyOf(a, Aead.NONCE_BYTES)).as("nonce").isNotEqualTo(Arrays.copyOf(b, Aead.NONCE_BYTES));
        assertThat(Arrays.copyOfRange(a, Aead.NONCE_BYTES, a.length))
                .isNotEqualTo(Arrays.copyOfRange(b, Aead.NONCE_BYTES, b.length));
    }

    @Test
    void keyMustBe32Bytes() {
        assertThatThrownBy(() -> new Aead(new byte[16])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Aead(new byte[33])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void keyedChunkIdsDependOnTheKey() {
        ChunkIds a = new ChunkIds(key(9));
        ChunkIds b = new ChunkIds(key(10));
        byte[] d = data(1000);
        assertThat(a.idOf(d, 0, d.length)).hasSize(32).isEqualTo(a.idOf(d.clone(), 0, d.length));
        assertThat(a.idOf(d, 0, d.length)).isNotEqualTo(b.idOf(d, 0, d.length));
        assertThat(a.matches(a.idOf(d, 10, 90), d, 10, 90)).isTrue();
        assertThat(a.matches(a.idOf(d, 10, 90), d, 11, 90)).isFalse();
    }
}
