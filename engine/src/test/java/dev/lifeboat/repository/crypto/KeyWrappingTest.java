package dev.lifeboat.repository.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyWrappingTest {
    static final String REPO_ID = "0123456789abcdef0123456789abcdef";

    @TempDir
    Path dir;

    static void assertSameKeys(KeyMaterial a, KeyMaterial b) {
        assertThat(a.encryptionKey()).isEqualTo(b.encryptionKey());
        assertThat(a.idKey()).isEqualTo(b.idKey());
    }

    @Test
    void passphraseWrapUnwrapAndWrongPassphrase() throws Exception {
        KeyMaterial master = KeyMaterial.random();
        KeyWrapping.WrappedKey wk =
                KeyWrapping.wrap(master, new KeySource.Passphrase("correct horse".toCharArray()), REPO_ID);
        assertThat(wk.kind()).isEqualTo("passphrase");
        assertThat(wk.kdf()).isEqualTo("argon2id");
        assertThat(wk.memoryKiB()).isEqualTo(KeyWrapping.ARGON2_MEMORY_KIB);
        assertThat(wk.iterations()).isEqualTo(KeyWrapping.ARGON2_ITERATIONS);
        assertThat(wk.parallelism()).isEqualTo(KeyWrapping.ARGON2_PARALLELISM);
        assertThat(Base64.getDecoder().decode(wk.salt())).hasSize(16);
        assertThat(Base64.getDecoder().decode(wk.wrapped())).hasSize(64 + Aead.OVERHEAD);
        assertNoPlainKeys(wk, master);

        // survives the JSON round trip it takes through the repository config
        KeyWrapping.WrappedKey reread =
                Json.MAPPER.readValue(Json.MAPPER.writeValueAsBytes(wk), KeyWrapping.WrappedKey.class);
        assertSameKeys(
                KeyWrapping.unwrap(reread, new KeySource.Passphrase("correct horse".toCharArray()), REPO_ID), master);

        assertThatThrownBy(
                        () -> KeyWrapping.unwrap(wk, new KeySource.Passphrase("correct horsf".toCharArray()), REPO_ID))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
    }

    @Test
    void keyFileCreateThenReadUnwraps() throws Exception {
        Path file = dir.resolve("keys/repo.key");
        KeySource.KeyFile created = KeySource.KeyFile.create(file);
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(created.secret().length).isGreaterThanOrEqualTo(KeySource.KeyFile.MIN_BYTES);

        KeySource.KeyFile read = KeySource.KeyFile.read(file);
        assertThat(read.secret()).isEqualTo(created.secret());
        assertThat(read.kind()).isEqualTo("keyfile");

        KeyMaterial master = KeyMaterial.random();
        KeyWrapping.WrappedKey wk = KeyWrapping.wrap(master, created, REPO_ID);
        assertThat(wk.kdf()).isEqualTo("hmac-sha256");
        assertThat(wk.memoryKiB()).isNull();
        assertNoPlainKeys(wk, master);
        assertSameKeys(KeyWrapping.unwrap(wk, read, REPO_ID), master);

        // a different key file does not open it
        KeySource.KeyFile other = KeySource.KeyFile.create(dir.resolve("other.key"));
        assertThat(other.secret()).isNotEqualTo(created.secret());
        assertThatThrownBy(() -> KeyWrapping.unwrap(wk, other, REPO_ID))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
    }

    @Test
    void keyFileCreateRefusesToOverwrite() throws IOException {
        Path file = dir.resolve("repo.key");
        KeySource.KeyFile first = KeySource.KeyFile.create(file);
        assertThatThrownBy(() -> KeySource.KeyFile.create(file)).isInstanceOf(FileAlreadyExistsException.class);
        assertThat(KeySource.KeyFile.read(file).secret()).isEqualTo(first.secret());
    }

    @Test
    void keyFileWithTooFewBytesIsRejected() throws IOException {
        Path shortFile = dir.resolve("short.key");
        Files.writeString(shortFile, "only-twenty-chars...\n");
        assertThatThrownBy(() -> KeySource.KeyFile.read(shortFile))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("at least 32");
        Path empty = dir.resolve("empty.key");
        Files.write(empty, new byte[0]);
        assertThatThrownBy(() -> KeySource.KeyFile.read(empty)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> KeySource.KeyFile.read(dir.resolve("missing.key")))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("does not exist");
        assertThatThrownBy(() -> KeySource.KeyFile.read(dir)).isInstanceOf(IOException.class);
    }

    @Test
    void keyFileTextIsStrippedOfItsNewline() throws IOException {
        String text = "0123456789abcdef0123456789abcdef0123";
        Path a = dir.resolve("a.key");
        Path b = dir.resolve("b.key");
        Files.writeString(a, text);
        Files.writeString(b, text + "\n");
        assertThat(KeySource.KeyFile.read(a).secret())
                .isEqualTo(KeySource.KeyFile.read(b).secret())
                .isEqualTo(text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * KeyFile.read decodes the file as UTF-8 and re-encodes it, so every invalid byte of a binary key file (e.g. one
     * made with {@code head -c 32 /dev/urandom}) becomes U+FFFD: distinct binary key files collapse to the same
     * secret and the same KEK, and one opens a repository created with the other.
     */
    @Test
    void distinctBinaryKeyFilesGiveDistinctSecrets() throws Exception {
        byte[] x = new byte[32];
        byte[] y = new byte[32];
        Arrays.fill(x, (byte) 0x80);
        Arrays.fill(y, (byte) 0xbf);
        Path a = dir.resolve("a.bin");
        Path b = dir.resolve("b.bin");
        Files.write(a, x);
        Files.write(b, y);
        KeySource.KeyFile ka = KeySource.KeyFile.read(a);
        KeySource.KeyFile kb = KeySource.KeyFile.read(b);
        assertThat(ka.secret()).isNotEqualTo(kb.secret());
        KeyWrapping.WrappedKey wk = KeyWrapping.wrap(KeyMaterial.random(), ka, REPO_ID);
        assertThatThrownBy(() -> KeyWrapping.unwrap(wk, kb, REPO_ID))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
    }

    /** The length check passes when either the raw bytes or the stripped text is long enough; padding defeats it. */
    @Test
    void whitespacePaddedShortKeyFileIsRejected() throws IOException {
        Path padded = dir.resolve("padded.key");
        Files.writeString(padded, "abc" + " ".repeat(40) + "\n");
        assertThatThrownBy(() -> KeySource.KeyFile.read(padded)).isInstanceOf(IOException.class);
    }

    @Test
    void keyOfTheWrongKindIsRefusedWithoutDerivation() throws Exception {
        KeyMaterial master = KeyMaterial.random();
        KeySource.KeyFile file = KeySource.KeyFile.create(dir.resolve("k"));
        KeyWrapping.WrappedKey wk = KeyWrapping.wrap(master, file, REPO_ID);
        assertThatThrownBy(() -> KeyWrapping.unwrap(wk, new KeySource.Passphrase("whatever".toCharArray()), REPO_ID))
                .isInstanceOf(Aead.AuthenticationFailedException.class)
                .hasMessageContaining("keyfile");
    }

    @Test
    void wrappedKeyIsBoundToTheRepositoryId() throws Exception {
        KeySource.KeyFile file = KeySource.KeyFile.create(dir.resolve("k"));
        KeyWrapping.WrappedKey wk = KeyWrapping.wrap(KeyMaterial.random(), file, REPO_ID);
        assertThatThrownBy(() -> KeyWrapping.unwrap(wk, file, "ffffffffffffffffffffffffffffffff"))
                .isInstanceOf(Aead.AuthenticationFailedException.class);
    }

    @Test
    void eachWrapUsesAFreshSalt() {
        KeySource.KeyFile file =
                new KeySource.KeyFile(dir.resolve("unused"), "x".repeat(44).getBytes(StandardCharsets.UTF_8));
        KeyMaterial master = KeyMaterial.random();
        KeyWrapping.WrappedKey a = KeyWrapping.wrap(master, file, REPO_ID);
        KeyWrapping.WrappedKey b = KeyWrapping.wrap(master, file, REPO_ID);
        assertThat(a.salt()).isNotEqualTo(b.salt());
        assertThat(a.wrapped()).isNotEqualTo(b.wrapped());
    }

    @Test
    void unknownKdfIsRejected() {
        KeySource.KeyFile file =
                new KeySource.KeyFile(dir.resolve("unused"), "x".repeat(44).getBytes(StandardCharsets.UTF_8));
        KeyWrapping.WrappedKey wk = KeyWrapping.wrap(KeyMaterial.random(), file, REPO_ID);
        KeyWrapping.WrappedKey bad =
                new KeyWrapping.WrappedKey(wk.kind(), "scrypt", null, null, null, wk.salt(), wk.wrapped());
        assertThatThrownBy(() -> KeyWrapping.unwrap(bad, file, REPO_ID))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("scrypt");
    }

    @Test
    void emptyPassphraseIsRejected() {
        assertThatThrownBy(() -> new KeySource.Passphrase(new char[0])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new KeySource.Passphrase(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void keyMaterialSerialisesBothKeys() {
        KeyMaterial m = KeyMaterial.random();
        assertThat(m.encryptionKey()).isNotEqualTo(m.idKey());
        byte[] b = m.toBytes();
        assertThat(b).hasSize(64);
        assertSameKeys(KeyMaterial.fromBytes(b), m);
        assertThatThrownBy(() -> KeyMaterial.fromBytes(new byte[63])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new KeyMaterial(new byte[31], new byte[32]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    static void assertNoPlainKeys(KeyWrapping.WrappedKey wk, KeyMaterial master) throws IOException {
        String json = Json.MAPPER.writeValueAsString(wk);
        Base64.Encoder b64 = Base64.getEncoder();
        HexFormat hex = HexFormat.of();
        for (byte[] k : new byte[][] {master.encryptionKey(), master.idKey(), master.toBytes()}) {
            assertThat(json).doesNotContain(b64.encodeToString(k)).doesNotContain(hex.formatHex(k));
        }
    }
}
