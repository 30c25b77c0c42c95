package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.repository.crypto.KeyWrapping;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A damaged or tampered {@code config} is refused before anything is derived or allocated from it: Argon2id cost,
 * salt and wrapped-key lengths, key-slot count, pack and chunk sizes. Each refusal must come back fast (a tampered
 * memoryKiB of 2 TiB or a billion passes would otherwise exhaust memory or spin for hours).
 */
class RepositoryConfigBoundsTest {
    static final KeySource.Passphrase PASS = new KeySource.Passphrase("correct horse".toCharArray());
    /** Generous for a check that does no derivation; an Argon2id run at the maximum allowed cost alone takes longer. */
    static final Duration QUICK = Duration.ofMillis(500);

    @TempDir
    Path dir;

    LocalBlobStore store;
    ObjectNode original;

    @BeforeEach
    void setUp() throws Exception {
        store = new LocalBlobStore(dir.resolve("repo"));
        Repository.init(store, PASS, false);
        original = (ObjectNode) Json.MAPPER.readTree(store.get(Repository.CONFIG_KEY));
    }

    /** Writes the config with one change applied to a copy, and expects open to refuse it quickly with the message. */
    void refused(Consumer<ObjectNode> change, String... messageParts) throws Exception {
        ObjectNode c = original.deepCopy();
        change.accept(c);
        store.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(c));
        long t0 = System.nanoTime();
        Throwable thrown = null;
        try {
            Repository.open(store, PASS);
        } catch (Throwable t) {
            thrown = t;
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertThat(thrown)
                .as("refused: %s", c)
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(store.uri())
                .hasMessageContaining("tampered");
        for (String part : messageParts) {
            assertThat(thrown).hasMessageContaining(part);
        }
        assertThat(took).as("refused before deriving anything").isLessThan(QUICK);
    }

    static ObjectNode slot(ObjectNode config) {
        return (ObjectNode) config.get("keys").get(0);
    }

    @Test
    void argon2CostOutsideItsBoundsIsRefusedQuickly() throws Exception {
        refused(
                c -> slot(c).put("memoryKiB", Integer.MAX_VALUE),
                "memoryKiB",
                String.valueOf(Integer.MAX_VALUE),
                "8192..4194304");
        refused(c -> slot(c).put("memoryKiB", 1024), "memoryKiB");
        refused(c -> slot(c).put("memoryKiB", -1), "memoryKiB");
        refused(c -> slot(c).remove("memoryKiB"), "memoryKiB");
        refused(c -> slot(c).put("iterations", 1_000_000_000), "iterations", "1..64");
        refused(c -> slot(c).put("iterations", 0), "iterations");
        refused(c -> slot(c).put("parallelism", 65), "parallelism", "1..64");
        refused(c -> slot(c).put("parallelism", 0), "parallelism");
    }

    @Test
    void saltAndWrappedKeyMustHaveTheirExactLengths() throws Exception {
        refused(c -> slot(c).put("salt", Base64.getEncoder().encodeToString(new byte[15])), "salt", "16 bytes");
        refused(c -> slot(c).put("salt", Base64.getEncoder().encodeToString(new byte[1 << 20])), "salt");
        refused(c -> slot(c).put("salt", "not base64 at all!!!!!!!"), "salt");
        refused(c -> slot(c).remove("salt"), "salt");
        refused(
                c -> slot(c).put("wrapped", Base64.getEncoder().encodeToString(new byte[91])),
                "wrapped key",
                "92 bytes");
        refused(c -> slot(c).put("wrapped", Base64.getEncoder().encodeToString(new byte[93])), "wrapped key");
    }

    @Test
    void kindAndKdfMustMatch() throws Exception {
        refused(c -> slot(c).put("kdf", "hmac-sha256"), "hmac-sha256", "argon2id");
        refused(c -> slot(c).put("kind", "keyfile"), "hmac-sha256");
        refused(c -> slot(c).put("kind", "hsm"), "hsm");
        refused(c -> slot(c).put("kdf", "scrypt"), "scrypt");
    }

    @Test
    void tooManyKeySlotsAreRefused() throws Exception {
        refused(
                c -> {
                    ArrayNode keys = (ArrayNode) c.get("keys");
                    for (int i = 0; i < RepositoryConfig.MAX_KEY_SLOTS; i++) {
                        keys.add(keys.get(0).deepCopy());
                    }
                },
                "17 keys");
    }

    @Test
    void packAndChunkSizesOutsideTheirBoundsAreRefused() throws Exception {
        refused(c -> c.put("packSize", Integer.MAX_VALUE), "packSize");
        refused(c -> c.put("packSize", 0), "packSize");
        refused(c -> ((ObjectNode) c.get("chunking")).put("maxSize", Integer.MAX_VALUE), "chunking");
        refused(c -> ((ObjectNode) c.get("chunking")).put("avgSize", 1000 * 1000), "chunking");
        refused(c -> ((ObjectNode) c.get("chunking")).put("relationBlockSize", 0), "chunking");
    }

    @Test
    void anUnencryptedConfigsIdKeyMustBe64Bytes() throws Exception {
        LocalBlobStore plain = new LocalBlobStore(dir.resolve("plain"));
        Repository.init(plain, null, true);
        ObjectNode c = (ObjectNode) Json.MAPPER.readTree(plain.get(Repository.CONFIG_KEY));
        c.put("plainIdKey", Base64.getEncoder().encodeToString(new byte[10]));
        plain.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(c));
        assertThatThrownBy(() -> Repository.open(plain, null))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("plainIdKey");
        c.put("plainIdKey", "%%%");
        plain.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(c));
        assertThatThrownBy(() -> Repository.open(plain, null))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("plainIdKey");
    }

    @Test
    void aFormatVersionBelowOneIsForeign() throws Exception {
        ObjectNode c = original.deepCopy();
        c.put("version", 0);
        store.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(c));
        assertThatThrownBy(() -> Repository.open(store, PASS))
                .isInstanceOf(RepositoryException.Foreign.class)
                .hasMessageContaining("version 0");
    }

    @Test
    void theUntamperedConfigStillOpensAndUnwrapChecksToo() throws Exception {
        store.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(original));
        assertThat(Repository.open(store, PASS).version()).isEqualTo(RepositoryConfig.VERSION);
        // KeyWrapping.unwrap checks on its own, for any caller that did not go through open
        KeyWrapping.WrappedKey wk = Json.MAPPER.treeToValue(slot(original), KeyWrapping.WrappedKey.class);
        KeyWrapping.WrappedKey huge = new KeyWrapping.WrappedKey(
                wk.kind(), wk.kdf(), Integer.MAX_VALUE, wk.iterations(), wk.parallelism(), wk.salt(), wk.wrapped());
        long t0 = System.nanoTime();
        assertThatThrownBy(
                        () -> KeyWrapping.unwrap(huge, PASS, original.get("id").asText()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("memoryKiB");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(QUICK);
    }
}
