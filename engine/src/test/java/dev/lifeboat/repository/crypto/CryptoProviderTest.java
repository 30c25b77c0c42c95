package dev.lifeboat.repository.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Random;
import javax.crypto.Cipher;
import javax.crypto.KDF;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.HKDFParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/**
 * The native provider and the JDK's write and read the same bytes: objects sealed by one open through the other,
 * in both formats, at sizes around the 64 KiB sealing step; and HMAC/SHA-256 agree. The JDK side is named explicitly
 * (SunJCE, SUN), so this compares two implementations, not one with itself.
 */
class CryptoProviderTest {
    static final byte[] AAD = AeadTest.AAD;
    static final int STEP = DerivedKeyAead.STEP_BYTES;
    static final int[] SIZES = {0, 1, 15, 16, 17, 1000, STEP - 1, STEP, STEP + 1, 3 * STEP + 5, 1 << 20};

    @Test
    void theNativeProviderServesThisPlatform() {
        // the build machines are Linux x86-64, where the provider ships a native library; elsewhere the JDK serves
        assumeTrue(System.getProperty("os.name").equals("Linux")
                && System.getProperty("os.arch").equals("amd64"));
        assumeTrue(!CryptoProvider.turnedOff());
        assertThat(CryptoProvider.isNative()).as(CryptoProvider.describe()).isTrue();
        assertThat(CryptoProvider.aesGcm().getProvider().getName()).isNotEqualTo("SunJCE");
        assertThat(CryptoProvider.hmacSha256().getProvider().getName()).isNotEqualTo("SunJCE");
        assertThat(CryptoProvider.sha256().getProvider().getName()).isNotEqualTo("SUN");
    }

    @Test
    void turningItOffKeepsToTheJdk() {
        String before = System.getProperty("lifeboat.crypto");
        System.setProperty("lifeboat.crypto", "JDK ");
        try {
            assertThat(CryptoProvider.turnedOff()).isTrue();
            assertThat(CryptoProvider.load()).isNull();
        } finally {
            if (before == null) {
                System.clearProperty("lifeboat.crypto");
            } else {
                System.setProperty("lifeboat.crypto", before);
            }
        }
    }

    @Test
    void formatTwoObjectsCrossBetweenProviders() throws Exception {
        byte[] master = AeadTest.key(21);
        DerivedKeyAead sealer = new DerivedKeyAead(master);
        for (int n : SIZES) {
            byte[] plain = AeadTest.data(n);
            // sealed here, opened by the JDK alone: HKDF through its KDF, GCM through SunJCE
            byte[] sealed = sealer.seal(plain, AAD);
            byte[] salt = Arrays.copyOfRange(sealed, 0, DerivedKeyAead.SALT_BYTES);
            SecretKey key = jdkObjectKey(master, salt);
            Cipher jdk = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            jdk.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, sealed, DerivedKeyAead.SALT_BYTES, 12));
            jdk.updateAAD(AAD);
            assertThat(jdk.doFinal(sealed, 28, sealed.length - 28))
                    .as("%d bytes", n)
                    .isEqualTo(plain);
            // sealed by the JDK alone, opened here
            byte[] salt2 = Arrays.copyOf(salt, salt.length);
            salt2[0] ^= 1;
            byte[] nonce = new byte[12];
            nonce[3] = (byte) n;
            Cipher enc = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            enc.init(Cipher.ENCRYPT_MODE, jdkObjectKey(master, salt2), new GCMParameterSpec(128, nonce));
            enc.updateAAD(AAD);
            byte[] byJdk = concat(salt2, nonce, enc.doFinal(plain));
            assertThat(sealer.open(byJdk, AAD)).as("%d bytes", n).isEqualTo(plain);
        }
    }

    @Test
    void formatOneObjectsCrossBetweenProviders() throws Exception {
        byte[] master = AeadTest.key(22);
        SecretKeySpec key = new SecretKeySpec(master, "AES");
        Aead sealer = new Aead(master);
        for (int n : SIZES) {
            byte[] plain = AeadTest.data(n);
            byte[] sealed = sealer.seal(plain, AAD);
            Cipher jdk = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            jdk.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, sealed, 0, 12));
            jdk.updateAAD(AAD);
            assertThat(jdk.doFinal(sealed, 12, sealed.length - 12))
                    .as("%d bytes", n)
                    .isEqualTo(plain);
            byte[] nonce = new byte[12];
            nonce[5] = (byte) n;
            Cipher enc = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            enc.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
            enc.updateAAD(AAD);
            assertThat(sealer.open(concat(nonce, enc.doFinal(plain)), AAD))
                    .as("%d bytes", n)
                    .isEqualTo(plain);
        }
    }

    @Test
    void hmacAndDigestsMatchTheJdk() throws Exception {
        Random r = new Random(7);
        byte[] idKey = new byte[32];
        r.nextBytes(idKey);
        ChunkIds ids = new ChunkIds(idKey);
        Mac jdkMac = Mac.getInstance("HmacSHA256", "SunJCE");
        jdkMac.init(new SecretKeySpec(idKey, "HmacSHA256"));
        MessageDigest jdkSha = MessageDigest.getInstance("SHA-256", "SUN");
        for (int n : SIZES) {
            byte[] data = new byte[n];
            r.nextBytes(data);
            assertThat(ids.idOf(data, 0, n)).as("%d bytes", n).isEqualTo(jdkMac.doFinal(data));
            assertThat(CryptoProvider.sha256().digest(data)).isEqualTo(jdkSha.digest(data));
        }
    }

    private static SecretKey jdkObjectKey(byte[] master, byte[] salt) throws Exception {
        return KDF.getInstance("HKDF-SHA256")
                .deriveKey(
                        "AES",
                        HKDFParameterSpec.ofExtract()
                                .addIKM(new SecretKeySpec(master, "HKDF-IKM"))
                                .addSalt(salt)
                                .thenExpand(DerivedKeyAead.INFO, 32));
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }
}
