package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lifeboat.repository.crypto.ChunkIds;
import dev.lifeboat.repository.crypto.KeyMaterial;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.repository.crypto.KeyWrapping;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RepositoryTest {
    static final byte[] SAMPLE = "some chunk of table data".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    LocalBlobStore store;

    @BeforeEach
    void setUp() {
        store = new LocalBlobStore(dir.resolve("repo"));
    }

    static KeySource.Passphrase pass(String s) {
        return new KeySource.Passphrase(s.toCharArray());
    }

    @Test
    void initThenOpenWithPassphrase() throws Exception {
        RepositoryConfig created = Repository.init(store, pass("s3cret passphrase"), false);
        assertThat(created.format()).isEqualTo(RepositoryConfig.FORMAT);
        assertThat(created.version()).isEqualTo(RepositoryConfig.VERSION);
        assertThat(created.id()).matches("[0-9a-f]{32}");
        assertThat(created.cipher()).isEqualTo(RepositoryConfig.AES_256_GCM);
        assertThat(created.encrypted()).isTrue();
        assertThat(created.plainIdKey()).isNull();
        assertThat(created.keys()).hasSize(1);
        assertThat(created.keys().getFirst().kind()).isEqualTo("passphrase");
        assertThat(created.packSize()).isEqualTo(16 * 1024 * 1024);
        RepositoryConfig.Chunking expected =
                RepositoryConfig.Chunking.defaults(created.chunking().seed());
        assertThat(created.chunking()).isEqualTo(expected);
        assertThat(RepoFixture.keys(store, "")).containsExactly(Repository.CONFIG_KEY);

        Repository repo = Repository.open(store, pass("s3cret passphrase"));
        assertThat(repo.config()).isEqualTo(created);
        assertThat(repo.uri()).isEqualTo(store.uri());
        assertThat(repo.store()).isSameAs(store);
        assertThat(repo.version()).isEqualTo(RepositoryConfig.V2);
        assertThat(repo.blobOverhead()).as("salt, nonce, tag").isEqualTo(16 + 12 + 16);

        // the master keys, recovered from the config the only legitimate way, are the ones the repository uses
        KeyMaterial master = KeyWrapping.unwrap(created.keys().getFirst(), pass("s3cret passphrase"), created.id());
        assertThat(repo.chunkIds().idOf(SAMPLE, 0, SAMPLE.length))
                .isEqualTo(new ChunkIds(master.idKey()).idOf(SAMPLE, 0, SAMPLE.length));

        // ... and none of them appears in the plain config object
        String config = new String(store.get(Repository.CONFIG_KEY), StandardCharsets.UTF_8);
        assertThat(config).doesNotContain("plainIdKey");
        for (byte[] k : new byte[][] {master.encryptionKey(), master.idKey(), master.toBytes()}) {
            assertThat(config)
                    .doesNotContain(Base64.getEncoder().encodeToString(k))
                    .doesNotContain(Base64.getUrlEncoder().withoutPadding().encodeToString(k))
                    .doesNotContain(HexFormat.of().formatHex(k));
        }
        JsonNode json = Json.MAPPER.readTree(config);
        assertThat(json.get("format").asText()).isEqualTo("lifeboat-repository");
        assertThat(json.get("keys").get(0).get("kdf").asText()).isEqualTo("argon2id");

        // metadata is sealed and bound to its associated data
        byte[] sealed = repo.sealMetadata(SAMPLE, Repository.INDEX_AAD);
        assertThat(sealed).isNotEqualTo(SAMPLE).hasSize(SAMPLE.length + 44);
        assertThat(repo.openMetadata(sealed, Repository.INDEX_AAD, "x")).isEqualTo(SAMPLE);
        assertThatThrownBy(() -> repo.openMetadata(sealed, Pack.TRAILER_AAD, "the thing"))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("the thing");
    }

    @Test
    void wrongPassphraseIsWrongKeyAndWritesNothing() throws Exception {
        Repository.init(store, pass("right"), false);
        List<BlobInfo> before = store.list("");
        assertThatThrownBy(() -> Repository.open(store, pass("wrong")))
                .isInstanceOf(RepositoryException.WrongKey.class)
                .hasMessageContaining("wrong passphrase")
                .hasMessageContaining(store.uri());
        assertThat(store.list("")).isEqualTo(before);
    }

    @Test
    void encryptedRepositoryWithoutAKeyIsWrongKey() throws Exception {
        Repository.init(store, RepoFixture.fastKey(), false);
        List<BlobInfo> before = store.list("");
        assertThatThrownBy(() -> Repository.open(store, null))
                .isInstanceOf(RepositoryException.WrongKey.class)
                .hasMessageContaining("encrypted");
        // a key of the other kind matches no key slot
        assertThatThrownBy(() -> Repository.open(store, pass("anything")))
                .isInstanceOf(RepositoryException.WrongKey.class);
        KeySource otherFile = new KeySource.KeyFile(
                dir.resolve("k"), "another-key-file-with-enough-bytes-0123456789".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Repository.open(store, otherFile))
                .isInstanceOf(RepositoryException.WrongKey.class)
                .hasMessageContaining("wrong key file");
        assertThat(store.list("")).isEqualTo(before);
        assertThat(Repository.open(store, RepoFixture.fastKey()).config().encrypted())
                .isTrue();
    }

    @Test
    void keyFileRepositoryOpensWithTheFileFromDisk() throws Exception {
        KeySource.KeyFile created = KeySource.KeyFile.create(dir.resolve("repo.key"));
        RepositoryConfig c = Repository.init(store, created, false);
        assertThat(c.keys().getFirst().kind()).isEqualTo("keyfile");
        Repository repo = Repository.open(store, KeySource.KeyFile.read(dir.resolve("repo.key")));
        assertThat(repo.config().id()).isEqualTo(c.id());
    }

    @Test
    void missingRepositoryIsNotFound() {
        assertThatThrownBy(() -> Repository.open(store, pass("x")))
                .isInstanceOf(RepositoryException.NotFound.class)
                .hasMessageContaining(store.uri())
                .hasMessageContaining("repo-init");
    }

    @Test
    void foreignConfigObjectIsForeign() throws Exception {
        store.put(
                Repository.CONFIG_KEY,
                "{\"hello\": \"world\", \"format\": 3, \"nested\": {\"a\": [1, 2]}}".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Repository.open(store, pass("x")))
                .isInstanceOf(RepositoryException.Foreign.class)
                .hasMessageContaining(store.uri());
        store.put(Repository.CONFIG_KEY, "{\"format\": \"restic\", \"version\": 1}".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Repository.open(store, null))
                .isInstanceOf(RepositoryException.Foreign.class)
                .hasMessageContaining("restic");
    }

    @Test
    void configThatIsNotJsonIsForeign() throws Exception {
        store.put(Repository.CONFIG_KEY, new byte[] {0, 1, 2, (byte) 0xff, '{'});
        assertThatThrownBy(() -> Repository.open(store, null)).isInstanceOf(RepositoryException.Foreign.class);
        store.put(Repository.CONFIG_KEY, "[1, 2, 3]".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Repository.open(store, null)).isInstanceOf(RepositoryException.Foreign.class);
        store.put(Repository.CONFIG_KEY, new byte[0]);
        assertThatThrownBy(() -> Repository.open(store, null)).isInstanceOf(RepositoryException.Foreign.class);
    }

    /** {@code readValue} returns null for the JSON literal null, and open() dereferences it. */
    @Test
    void configHoldingJsonNullIsForeign() throws Exception {
        store.put(Repository.CONFIG_KEY, "null".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Repository.open(store, null)).isInstanceOf(RepositoryException.Foreign.class);
    }

    /**
     * encrypted() is "cipher equals aes-256-gcm", so any other cipher name is treated as "no encryption" and open()
     * decodes a plainIdKey that is not there.
     */
    @Test
    void unknownCipherIsForeign() throws Exception {
        RepositoryConfig c = Repository.init(store, RepoFixture.fastKey(), false);
        RepositoryConfig future = new RepositoryConfig(
                c.format(),
                c.version(),
                c.id(),
                c.created(),
                c.chunking(),
                c.packSize(),
                "xchacha20-poly1305",
                c.keys(),
                null);
        store.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(future));
        assertThatThrownBy(() -> Repository.open(store, RepoFixture.fastKey()))
                .isInstanceOf(RepositoryException.Foreign.class)
                .hasMessageContaining("xchacha20-poly1305");
    }

    @Test
    void newerFormatVersionIsRefused() throws Exception {
        RepositoryConfig c = Repository.init(store, null, true);
        RepositoryConfig newer = new RepositoryConfig(
                c.format(),
                RepositoryConfig.VERSION + 1,
                c.id(),
                c.created(),
                c.chunking(),
                c.packSize(),
                c.cipher(),
                c.keys(),
                c.plainIdKey());
        store.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(newer));
        assertThatThrownBy(() -> Repository.open(store, null))
                .isInstanceOf(RepositoryException.Foreign.class)
                .hasMessageContaining("upgrade");
    }

    @Test
    void unknownConfigFieldsAreIgnored() throws Exception {
        RepositoryConfig c = Repository.init(store, null, true);
        ObjectNode json = (ObjectNode) Json.MAPPER.readTree(store.get(Repository.CONFIG_KEY));
        json.put("addedByANewerMinorVersion", true);
        store.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(json));
        assertThat(Repository.open(store, null).config()).isEqualTo(c);
    }

    @Test
    void initIntoANonEmptyLocationIsRefused() throws Exception {
        store.put("some/unrelated/file", "data".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Repository.init(store, null, true))
                .isInstanceOf(RepositoryException.Foreign.class)
                .hasMessageContaining("not empty")
                .hasMessageContaining("some/unrelated/file");
        assertThat(store.stat(Repository.CONFIG_KEY)).isEmpty();
        assertThat(RepoFixture.keys(store, "")).containsExactly("some/unrelated/file");
    }

    @Test
    void initOverAnExistingRepositoryIsRefusedAndKeepsIt() throws Exception {
        RepositoryConfig first = Repository.init(store, null, true);
        byte[] config = store.get(Repository.CONFIG_KEY);
        assertThatThrownBy(() -> Repository.init(store, RepoFixture.fastKey(), false))
                .isInstanceOf(RepositoryException.class)
                .hasMessageContaining("already exists");
        assertThat(store.get(Repository.CONFIG_KEY)).isEqualTo(config);
        assertThat(Repository.open(store, null).config()).isEqualTo(first);
    }

    @Test
    void encryptedInitNeedsAKey() {
        assertThatThrownBy(() -> Repository.init(store, null, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--no-encryption");
        assertThat(store.root()).doesNotExist();
    }

    @Test
    void unencryptedRepositoryWorksWithoutAKey() throws Exception {
        RepositoryConfig c = Repository.init(store, null, true);
        assertThat(c.encrypted()).isFalse();
        assertThat(c.cipher()).isEqualTo(RepositoryConfig.NO_CIPHER);
        assertThat(c.keys()).isNull();
        assertThat(Base64.getDecoder().decode(c.plainIdKey())).hasSize(64);
        Repository repo = Repository.open(store, null);
        assertThat(repo.blobOverhead()).isZero();
        // metadata is checksummed together with its associated data
        byte[] sealed = repo.sealMetadata(SAMPLE, Repository.INDEX_AAD);
        assertThat(Arrays.copyOf(sealed, SAMPLE.length)).isEqualTo(SAMPLE);
        assertThat(sealed).hasSize(SAMPLE.length + 32);
        assertThat(repo.openMetadata(sealed, Repository.INDEX_AAD, "x")).isEqualTo(SAMPLE);
        assertThatThrownBy(() -> repo.openMetadata(sealed, Pack.TRAILER_AAD, "the thing"))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("the thing")
                .hasMessageContaining("integrity check");
        // a key, if given anyway, is not needed and does not matter
        Repository again = Repository.open(store, pass("ignored"));
        assertThat(again.chunkIds().idOf(SAMPLE, 0, SAMPLE.length))
                .isEqualTo(repo.chunkIds().idOf(SAMPLE, 0, SAMPLE.length));
        KeyMaterial keys = KeyMaterial.fromBytes(Base64.getDecoder().decode(c.plainIdKey()));
        assertThat(repo.chunkIds().idOf(SAMPLE, 0, SAMPLE.length))
                .isEqualTo(new ChunkIds(keys.idKey()).idOf(SAMPLE, 0, SAMPLE.length));
    }

    @Test
    void chunkIdsAreKeyedPerRepository() throws Exception {
        Repository a = RepoFixture.create(dir.resolve("a"), false, 1 << 20);
        Repository b = RepoFixture.create(dir.resolve("b"), false, 1 << 20);
        assertThat(a.config().id()).isNotEqualTo(b.config().id());
        assertThat(a.config().chunking().seed())
                .isNotEqualTo(b.config().chunking().seed());
        assertThat(a.chunkIds().idOf(SAMPLE, 0, SAMPLE.length))
                .isNotEqualTo(b.chunkIds().idOf(SAMPLE, 0, SAMPLE.length));
    }

    @Test
    void snapshotsRoundTripAndResolve() throws Exception {
        for (boolean encrypted : new boolean[] {true, false}) {
            Repository repo = RepoFixture.create(dir.resolve("snap-" + encrypted), encrypted, 1 << 20);
            assertThatThrownBy(() -> repo.resolveSnapshotId("latest"))
                    .isInstanceOf(RepositoryException.class)
                    .hasMessageContaining("no backups");
            Snapshot s1 = RepoFixture.snapshot(
                    "20250115-100000F-aaaa",
                    List.of(RepoFixture.fileEntry("base/1/1", SAMPLE, List.of("00".repeat(32)))));
            Snapshot s2 = RepoFixture.snapshot("20250116-100000F-bbbb", List.of());
            Snapshot s3 = RepoFixture.snapshot("20250116-110000F-cccc", List.of());
            repo.saveSnapshot(s2);
            repo.saveSnapshot(s1);
            repo.saveSnapshot(s3);
            assertThat(repo.listSnapshotIds()).containsExactly(s1.id(), s2.id(), s3.id());
            assertThat(repo.loadSnapshot(s1.id())).isEqualTo(s1);
            assertThat(repo.loadSnapshots()).containsExactly(s1, s2, s3);
            assertThat(repo.resolveSnapshotId("latest")).isEqualTo(s3.id());
            assertThat(repo.resolveSnapshotId(null)).isEqualTo(s3.id());
            assertThat(repo.resolveSnapshotId("20250115")).isEqualTo(s1.id());
            assertThatThrownBy(() -> repo.resolveSnapshotId("20250116"))
                    .isInstanceOf(RepositoryException.class)
                    .hasMessageContaining("ambiguous");
            assertThatThrownBy(() -> repo.resolveSnapshotId("2024"))
                    .isInstanceOf(RepositoryException.class)
                    .hasMessageContaining("no backup '2024'");
            assertThatThrownBy(() -> repo.loadSnapshot("20990101-000000F-0000"))
                    .isInstanceOf(RepositoryException.class)
                    .hasMessageContaining("no backup");
            byte[] stored = repo.store().get(Repository.SNAPSHOTS + s1.id());
            assertThat(new String(stored, StandardCharsets.ISO_8859_1)).doesNotContain("base/1/1");
        }
    }

    @Test
    void encryptedManifestsAreAuthenticatedAndBoundToTheirId() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), true, 1 << 20);
        Snapshot s = RepoFixture.snapshot("20250115-100000F-aaaa", List.of());
        repo.saveSnapshot(s);
        byte[] sealed = repo.store().get(Repository.SNAPSHOTS + s.id());
        // renamed: the AAD names the id
        repo.store().put(Repository.SNAPSHOTS + "20250115-100000F-zzzz", sealed);
        assertThatThrownBy(() -> repo.loadSnapshot("20250115-100000F-zzzz"))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("20250115-100000F-zzzz");
        // altered
        sealed[sealed.length / 2] ^= 1;
        repo.store().put(Repository.SNAPSHOTS + s.id(), sealed);
        assertThatThrownBy(() -> repo.loadSnapshot(s.id()))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("failed authentication");
    }
}
