package dev.lifeboat.repository.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import javax.crypto.Cipher;
import javax.crypto.KDF;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.HKDFParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** Format 2 sealing: per-object key from the salt at the front, then AES-256-GCM; every part of the object is checked.
 * */
class DerivedKeyAeadTest {
    static final byte[] AAD = AeadTest.AAD;

    @Test
    void sealThenOpenRoundTripsAtEveryOffset() throws Exception {
        DerivedKeyAead s = new DerivedKeyAead(AeadTest.key(1));
        assertThat(s.overhead()).isEqualTo(44);
        for (int n : new int[] {0, 1, 16, 17, 1000, 1 << 20}) {
            byte[] plain = AeadTest.data(n);
            byte[] sealed = s.seal(plain, AAD);
            assertThat(sealed).hasSize(n + 44);
            assertThat(new DerivedKeyAead(AeadTest.key(1)).open(sealed, AAD)).isEqualTo(plain);
            // into and out of the middle of larger buffers, as into a pack and out of a ranged read
            byte[] out = new byte[7 + n + 44 + 5];
            assertThat(s.seal(plain, 0, n, AAD, out, 7)).isEqualTo(n + 44);
            assertThat(s.open(out, 7, n + 44, AAD)).isEqualTo(plain);
        }
    }

    /** Sealing in steps is only a way to call the cipher: the bytes are those of one whole-message call. */
    @Test
    void steppedEncryptionIsOneWholeMessageCall() throws Exception {
        int step = DerivedKeyAead.STEP_BYTES;
        for (int n : new int[] {0, step - 1, step, step + 1, 3 * step, 3 * step + 17}) {
            byte[] plain = AeadTest.data(n);
            byte[] nonce = new byte[12];
            nonce[0] = (byte) n;
            SecretKeySpec key = new SecretKeySpec(AeadTest.key(4), "AES");
            Cipher whole = Cipher.getInstance("AES/GCM/NoPadding");
            whole.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
            whole.updateAAD(AAD);
            byte[] expected = whole.doFinal(plain);
            Cipher stepped = Cipher.getInstance("AES/GCM/NoPadding");
            stepped.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce.clone()));
            stepped.updateAAD(AAD);
            byte[] out = new byte[n + 16 + 3];
            assertThat(DerivedKeyAead.encryptInSteps(stepped, plain, 0, n, out, 3))
                    .isEqualTo(n + 16);
            assertThat(Arrays.copyOfRange(out, 3, out.length)).as("%d bytes", n).isEqualTo(expected);
        }
        // and a long object opens again under both formats
        byte[] plain = AeadTest.data(5 * step + 3);
        assertThat(new DerivedKeyAead(AeadTest.key(5)).open(new DerivedKeyAead(AeadTest.key(5)).seal(plain, AAD), AAD))
                .isEqualTo(plain);
        assertThat(new Aead(AeadTest.key(5)).open(new Aead(AeadTest.key(5)).seal(plain, AAD), AAD))
                .isEqualTo(plain);
    }

    @Test
    void warmupRunsThroughBothFormatsWithoutFailing() {
        CipherWarmup.run(); // it swallows failures (only speed is at stake): a broken seal/open would throw here first
        byte[] plain = AeadTest.data(CipherWarmup.LARGE_MESSAGE_BYTES);
        assertThat(new DerivedKeyAead(AeadTest.key(6)).seal(plain, AAD)).hasSize(plain.length + 44);
    }

    @Test
    void anyAlteredByteWrongAadWrongKeyOrTruncationFails() throws Exception {
        DerivedKeyAead s = new DerivedKeyAead(AeadTest.key(2));
        byte[] sealed = s.seal(AeadTest.data(300), AAD);
        // salt (0..15), nonce (16..27), ciphertext, tag (last 16)
        for (int at : new int[] {0, 15, 16, 27, 28, 150, sealed.length - 16, sealed.length - 1}) {
            byte[] damaged = sealed.clone();
            damaged[at] ^= 1;
            assertThatThrownBy(() -> s.open(damaged, AAD))
                    .as("byte %d", at)
                    .isInstanceOf(Aead.AuthenticationFailedException.class);
        }
        assertThatThrownBy(() -> s.open(sealed, new byte[0])).isInstanceOf(Aead.AuthenticationFailedException.class);
        assertThatThrownBy(() -> new DerivedKeyAead(AeadTest.key(3)).open(sealed, AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
        assertThatThrownBy(() -> s.open(Arrays.copyOf(sealed, 43), AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class)
                .hasMessageContaining("truncated");
        // format 1's scheme under the same master key does not open it, nor format 2 a format-1 object
        assertThatThrownBy(() -> new Aead(AeadTest.key(2)).open(Arrays.copyOfRange(sealed, 16, sealed.length), AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
        byte[] v1 = new Aead(AeadTest.key(2)).seal(AeadTest.data(300), AAD);
        assertThatThrownBy(() -> s.open(v1, AAD)).isInstanceOf(Aead.AuthenticationFailedException.class);
    }

    @Test
    void everySealHasAFreshSaltAndNonce() {
        DerivedKeyAead s = new DerivedKeyAead(AeadTest.key(4));
        byte[] plain = AeadTest.data(64);
        byte[] a = s.seal(plain, AAD);
        byte[] b = s.seal(plain, AAD);
        assertThat(Arrays.copyOfRange(a, 0, 16)).isNotEqualTo(Arrays.copyOfRange(b, 0, 16));
        assertThat(Arrays.copyOfRange(a, 16, 28)).isNotEqualTo(Arrays.copyOfRange(b, 16, 28));
        assertThat(Arrays.copyOfRange(a, 28, a.length)).isNotEqualTo(Arrays.copyOfRange(b, 28, b.length));
    }

    @Test
    void objectKeysAreTheJdkHkdfSha256() throws Exception {
        // the hand-written HKDF must derive exactly the keys every format-2 repository was sealed with (the JDK KDF)
        Random r = new Random(42);
        KDF kdf = KDF.getInstance("HKDF-SHA256");
        for (int i = 0; i < 200; i++) {
            byte[] master = new byte[32];
            byte[] salts = new byte[40];
            r.nextBytes(master);
            r.nextBytes(salts);
            int off = r.nextInt(salts.length - DerivedKeyAead.SALT_BYTES + 1);
            SecretKey expected = kdf.deriveKey(
                    "AES",
                    HKDFParameterSpec.ofExtract()
                            .addIKM(new SecretKeySpec(master, "HKDF-IKM"))
                            .addSalt(Arrays.copyOfRange(salts, off, off + DerivedKeyAead.SALT_BYTES))
                            .thenExpand(DerivedKeyAead.INFO, 32));
            assertThat(new DerivedKeyAead(master).objectKey(salts, off).getEncoded())
                    .isEqualTo(expected.getEncoded());
        }
    }

    @Test
    void masterKeyMustBe32Bytes() {
        assertThatThrownBy(() -> new DerivedKeyAead(new byte[16])).isInstanceOf(IllegalArgumentException.class);
    }
}
