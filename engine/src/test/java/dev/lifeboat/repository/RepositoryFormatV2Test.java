package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.Aead;
import dev.lifeboat.repository.crypto.KeyMaterial;
import dev.lifeboat.repository.crypto.KeyWrapping;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Format 2: per-object keys, trailers bound to their pack, index files bound to their name, and checksums on every
 * object other than a chunk blob in unencrypted repositories. Real repositories on the local store.
 */
class RepositoryFormatV2Test {
    static final int PACK_SIZE = 16 * 1024;

    @TempDir
    Path dir;

    /** A repository holding one file's chunks in several packs, one index file and a manifest. */
    record Stored(Repository repo, byte[] data, List<String> ids, String backup) {
        BlobStore store() {
            return repo.store();
        }
    }

    Stored store(boolean encrypted) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve(encrypted ? "enc" : "plain"), encrypted, PACK_SIZE);
        // incompressible and without repeats, so that it spreads over several packs in any repository
        byte[] data = RepoFixture.random(80 * 1024, 3);
        List<String> ids;
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 2)) {
            ids = RepoFixture.storeChunks(w, data, RepoFixture.cuts(data, new FastCdcChunker(2048, 4096, 16384, 5)), 1);
            w.finish();
        }
        String backup = "20250115-100000F-0002";
        repo.saveSnapshot(RepoFixture.snapshot(backup, List.of(RepoFixture.fileEntry("base/1/1", data, ids))));
        assertThat(repo.listPacks()).as("several packs").hasSizeGreaterThanOrEqualTo(3);
        return new Stored(repo, data, ids, backup);
    }

    static byte[] readAll(Repository repo, List<String> ids) throws Exception {
        List<byte[]> parts = new ArrayList<>();
        new ChunkReader(repo, repo.loadIndex()).read(ids, parts::add);
        return RepoFixture.concat(parts);
    }

    static KeyMaterial masterKeys(Repository repo) throws Exception {
        return KeyWrapping.unwrap(
                repo.config().keys().getFirst(),
                RepoFixture.fastKey(),
                repo.config().id());
    }

    /** HKDF-SHA-256 (RFC 5869) written out with HMAC: extract with the salt, one expand block (32 bytes). */
    static byte[] hkdf(byte[] ikm, byte[] salt, byte[] info) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(salt, "HmacSHA256"));
        byte[] prk = mac.doFinal(ikm);
        mac.init(new SecretKeySpec(prk, "HmacSHA256"));
        mac.update(info);
        mac.update((byte) 1);
        return mac.doFinal();
    }

    /** Opens a format-2 sealed object exactly as docs/repository-format.md describes it, without Lifeboat's classes. */
    static byte[] openAsDocumented(byte[] masterKey, byte[] sealed, byte[] aad) throws Exception {
        byte[] salt = Arrays.copyOfRange(sealed, 0, 16);
        byte[] key = hkdf(
                masterKey,
                salt,
                "lifeboat-repository-v2 object key: HKDF-SHA-256, AES-256-GCM".getBytes(StandardCharsets.US_ASCII));
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, sealed, 16, 12));
        c.updateAAD(aad);
        return c.doFinal(sealed, 28, sealed.length - 28);
    }

    @Test
    void everyObjectIsSealedWithItsOwnDerivedKey() throws Exception {
        Stored s = store(true);
        byte[] master = masterKeys(s.repo()).encryptionKey();
        byte[] plain = "the same metadata twice".getBytes(StandardCharsets.UTF_8);
        byte[] a = s.repo().sealMetadata(plain, Repository.INDEX_AAD);
        byte[] b = s.repo().sealMetadata(plain, Repository.INDEX_AAD);
        assertThat(a).hasSize(plain.length + 16 + 12 + 16);
        assertThat(Arrays.copyOf(a, 16)).as("a fresh salt per object").isNotEqualTo(Arrays.copyOf(b, 16));
        assertThat(openAsDocumented(master, a, Repository.INDEX_AAD)).isEqualTo(plain);
        assertThat(openAsDocumented(master, b, Repository.INDEX_AAD)).isEqualTo(plain);
        // the master key itself (format 1's scheme) opens nothing: no object is sealed with it
        assertThatThrownBy(() -> new Aead(master).open(Arrays.copyOfRange(a, 16, a.length), Repository.INDEX_AAD))
                .isInstanceOf(Aead.AuthenticationFailedException.class);

        // chunk blobs too: each opens under HKDF(master, its own salt) with its id as associated data, and no two
        // blobs share a salt
        ChunkIndex index = s.repo().loadIndex();
        Set<String> salts = new HashSet<>();
        for (PackedChunk c : index.chunks().values()) {
            byte[] blob = s.store().getRange(Pack.key(c.packId()), c.offset(), c.length());
            salts.add(HexFormat.of().formatHex(blob, 0, 16));
            byte[] compressed = openAsDocumented(master, blob, c.id().bytes());
            assertThat(Compression.decompress(compressed, 0, compressed.length, c.rawLength()))
                    .hasSize(c.rawLength());
        }
        assertThat(salts).hasSize(index.size());
        // and the manifest, with its id as associated data
        byte[] manifest = s.store().get(Repository.SNAPSHOTS + s.backup());
        assertThat(Compression.unzstd(openAsDocumented(
                        master, manifest, ("lifeboat-snapshot:" + s.backup()).getBytes(StandardCharsets.UTF_8))))
                .isNotEmpty();
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void aTrailerMovedIntoAnotherPackIsRejected(boolean encrypted) throws Exception {
        Stored s = store(encrypted);
        List<BlobInfo> packs = s.repo().listPacks();
        byte[] a = s.store().get(packs.get(0).key());
        byte[] b = s.store().get(packs.get(1).key());
        // pack b with a's trailer (and a's trailer length) in place of its own: a well-formed pack
        int trailerA = ByteBuffer.wrap(a, a.length - Pack.FOOTER_BYTES, 4).getInt();
        int trailerB = ByteBuffer.wrap(b, b.length - Pack.FOOTER_BYTES, 4).getInt();
        byte[] forged = RepoFixture.concat(List.of(
                Arrays.copyOf(b, b.length - Pack.FOOTER_BYTES - trailerB),
                Arrays.copyOfRange(a, a.length - Pack.FOOTER_BYTES - trailerA, a.length)));
        String forgedId = RepoFixture.sha256Hex(forged);
        s.store().put(Pack.key(forgedId), forged);

        assertThatThrownBy(() -> s.repo().readPackTrailer(forgedId, forged.length))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("trailer of pack " + forgedId)
                .hasMessageContaining(encrypted ? "failed authentication" : "integrity check");
        // rebuild-index reads every trailer: it stops instead of indexing a's chunks at b's offsets
        assertThatThrownBy(() -> new GarbageCollector(s.repo()).rebuildIndex())
                .isInstanceOf(RepositoryException.Corrupt.class);
        // the genuine packs still read
        assertThat(s.repo().readPackTrailer(Repository.packIdOf(packs.get(1).key()), b.length))
                .isNotEmpty();
    }

    @Test
    void aPackWithoutTheFormat2HeaderIsRejected() throws Exception {
        Stored s = store(true);
        BlobInfo p = s.repo().listPacks().getFirst();
        byte[] bytes = s.store().get(p.key());
        System.arraycopy(Pack.MAGIC_V1, 0, bytes, 0, 8);
        s.store().put(p.key(), bytes);
        assertThatThrownBy(() -> s.repo().readPackTrailer(Repository.packIdOf(p.key()), p.size()))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("LBPACK02");
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void aRenamedIndexFileIsRejected(boolean encrypted) throws Exception {
        Stored s = store(encrypted);
        List<BlobInfo> files = s.store().list(Repository.INDEX);
        assertThat(files).hasSize(1);
        String key = files.getFirst().key();
        byte[] bytes = s.store().get(key);
        String renamed = Repository.INDEX + "00" + key.substring(Repository.INDEX.length() + 2);
        s.store().put(renamed, bytes);
        s.store().delete(key);
        assertThatThrownBy(() -> s.repo().loadIndex())
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(renamed)
                .hasMessageContaining("renamed")
                .hasMessageContaining("rebuild-index");
        // rebuild-index repairs it from the packs
        new GarbageCollector(s.repo()).rebuildIndex();
        assertThat(readAll(s.repo(), s.ids())).isEqualTo(s.data());
    }

    @Test
    void oneFlippedByteInAnUnencryptedManifestIsCorrupt() throws Exception {
        Stored s = store(false);
        String key = Repository.SNAPSHOTS + s.backup();
        byte[] bytes = s.store().get(key);
        for (int at : new int[] {0, bytes.length / 2, bytes.length - 1}) {
            byte[] damaged = bytes.clone();
            damaged[at] ^= 0x01;
            s.store().put(key, damaged);
            assertThatThrownBy(() -> s.repo().loadSnapshot(s.backup()))
                    .as("byte %d", at)
                    .isInstanceOf(RepositoryException.Corrupt.class)
                    .hasMessageContaining("manifest of backup " + s.backup());
        }
        // renamed to another id: the checksum covers the id (the associated data)
        s.store().put(key, bytes);
        s.store().put(Repository.SNAPSHOTS + "20250116-100000F-0003", bytes);
        assertThatThrownBy(() -> s.repo().loadSnapshot("20250116-100000F-0003"))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("integrity check");
        assertThat(s.repo().loadSnapshot(s.backup()).id()).isEqualTo(s.backup());
    }

    @Test
    void oneFlippedByteInAnUnencryptedIndexFileIsCorrupt() throws Exception {
        Stored s = store(false);
        String key = s.store().list(Repository.INDEX).getFirst().key();
        byte[] bytes = s.store().get(key);
        byte[] damaged = bytes.clone();
        damaged[damaged.length / 2] ^= 0x01;
        s.store().put(key, damaged);
        assertThatThrownBy(() -> s.repo().loadIndex())
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(key);
        // even under the name that matches its damaged bytes, the checksum still catches it
        s.store().delete(key);
        String matching = Repository.INDEX + RepoFixture.sha256Hex(damaged);
        s.store().put(matching, damaged);
        assertThatThrownBy(() -> s.repo().loadIndex())
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(matching)
                .hasMessageContaining("integrity check");
    }

    @Test
    void oneFlippedByteInAnUnencryptedWalObjectIsCorrupt() throws Exception {
        Stored s = store(false);
        WalArchive wal = new WalArchive(s.repo());
        String seg = "000000010000000000000007";
        byte[] content =
                RepoFixture.random(64 * 1024, 11); // incompressible: zstd stores it raw, damage would pass zstd
        wal.push(seg, content);
        assertThat(wal.read(seg)).hasValue(content);
        byte[] bytes = s.store().get(WalArchive.key(seg));
        for (int at : new int[] {bytes.length / 2, bytes.length - 40, bytes.length - 1}) {
            byte[] damaged = bytes.clone();
            damaged[at] ^= 0x01;
            s.store().put(WalArchive.key(seg), damaged);
            assertThatThrownBy(() -> wal.read(seg))
                    .as("byte %d", at)
                    .isInstanceOf(RepositoryException.Corrupt.class)
                    .hasMessageContaining("archived WAL file " + seg);
        }
        // passed off as another segment
        String other = "000000010000000000000008";
        s.store().put(WalArchive.key(other), bytes);
        assertThatThrownBy(() -> wal.read(other))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(other);
    }

    @Test
    void oneFlippedByteInAnUnencryptedPackTrailerIsCorrupt() throws Exception {
        Stored s = store(false);
        BlobInfo p = s.repo().listPacks().getFirst();
        byte[] bytes = s.store().get(p.key());
        int trailer =
                ByteBuffer.wrap(bytes, bytes.length - Pack.FOOTER_BYTES, 4).getInt();
        bytes[bytes.length - Pack.FOOTER_BYTES - trailer + 10] ^= 0x01; // an entry's chunk id
        s.store().put(p.key(), bytes);
        assertThatThrownBy(() -> s.repo().readPackTrailer(Repository.packIdOf(p.key()), p.size()))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("integrity check");
    }

    @Test
    void unencryptedChunksStayPlainAndMetadataCarriesItsChecksum() throws Exception {
        Stored s = store(false);
        assertThat(s.repo().blobOverhead()).isZero();
        byte[] manifest = s.store().get(Repository.SNAPSHOTS + s.backup());
        byte[] frame = Arrays.copyOf(manifest, manifest.length - 32);
        byte[] aad = ("lifeboat-snapshot:" + s.backup()).getBytes(StandardCharsets.UTF_8);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(ByteBuffer.allocate(4).putInt(aad.length).array());
        md.update(aad);
        md.update(frame);
        assertThat(Arrays.copyOfRange(manifest, manifest.length - 32, manifest.length))
                .as("as documented")
                .isEqualTo(md.digest());
        assertThat(Compression.unzstd(frame)).isNotEmpty();
        assertThat(readAll(s.repo(), s.ids())).isEqualTo(s.data());
    }
}
