package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** ChunkWriter → packs and index → ChunkReader, dedup, trailers, index rebuild, damage detection and Verifier. */
class ChunkPipelineTest {
    /** Small packs so a few MB of data spread over more than 32 packs (one index file per 32 packs plus the rest). */
    static final int PACK_SIZE = 64 * 1024;

    static final int SEGMENTS = 90;
    static final int SEGMENT_SIZE = 100 * 1024;

    record Setup(boolean encrypted, Compression compression, int version) {
        Setup(boolean encrypted, Compression compression) {
            this(encrypted, compression, RepositoryConfig.VERSION);
        }

        @Override
        public String toString() {
            return (encrypted ? "encrypted" : "unencrypted") + "/" + compression.label() + "/v" + version;
        }
    }

    /** The current format in every combination, and format 1 (still read and written for old repositories). */
    static Stream<Setup> setups() {
        return Stream.of(
                new Setup(true, Compression.LOW),
                new Setup(false, Compression.LOW),
                new Setup(true, Compression.LZ4),
                new Setup(false, Compression.LZ4),
                new Setup(false, Compression.NONE),
                new Setup(true, Compression.LOW, RepositoryConfig.V1),
                new Setup(false, Compression.NONE, RepositoryConfig.V1));
    }

    @TempDir
    Path dir;

    /** One repository with one stored data set. */
    final class Stored {
        final Repository repo;
        final byte[] data;
        final List<int[]> cuts;
        final List<String> ids;
        final ChunkWriter writer;

        Stored(Setup setup) throws Exception {
            repo = RepoFixture.create(dir.resolve("repo"), setup.encrypted(), PACK_SIZE, setup.version());
            data = RepoFixture.mixedData(SEGMENTS, SEGMENT_SIZE, 42);
            cuts = RepoFixture.cuts(
                    data,
                    new FastCdcChunker(
                            8 * 1024,
                            32 * 1024,
                            128 * 1024,
                            repo.config().chunking().seed()));
            try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), setup.compression(), 4)) {
                ids = RepoFixture.storeChunks(w, data, cuts, 2);
                w.finish();
                writer = w;
            }
        }

        byte[] readAll(ChunkIndex index) throws IOException {
            List<byte[]> parts = new ArrayList<>();
            new ChunkReader(repo, index).read(ids, parts::add);
            return RepoFixture.concat(parts);
        }

        BlobStore store() {
            return repo.store();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void storedChunksAreIndexedAndReadBackInOrder(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        Set<String> distinct = new HashSet<>(s.ids);
        assertThat(distinct.size()).as("the data repeats itself").isLessThan(s.ids.size());
        assertThat(s.writer.totalChunks()).isEqualTo(s.ids.size());
        assertThat(s.writer.newChunks())
                .as("each distinct chunk stored once across both sessions")
                .isEqualTo(distinct.size());
        long distinctBytes = 0;
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < s.ids.size(); i++) {
            if (seen.add(s.ids.get(i))) {
                distinctBytes += s.cuts.get(i)[1];
            }
        }
        assertThat(s.writer.newBytes()).isEqualTo(distinctBytes);

        List<BlobInfo> packs = s.repo.listPacks();
        assertThat(packs.size()).as("packs").isGreaterThan(32);
        assertThat(s.writer.storedBytes())
                .isEqualTo(packs.stream().mapToLong(BlobInfo::size).sum()
                        + s.store().list(Repository.INDEX).stream()
                                .mapToLong(BlobInfo::size)
                                .sum());
        assertThat(s.store().list(Repository.INDEX))
                .as("one index file per 32 packs, plus the rest")
                .hasSizeGreaterThanOrEqualTo(2);

        ChunkIndex index = s.repo.loadIndex();
        assertThat(index.size()).isEqualTo(distinct.size());
        for (String id : s.ids) {
            assertThat(index.contains(ChunkId.parse(id)))
                    .as("chunk %s indexed", id)
                    .isTrue();
        }
        assertThat(index.packSizes().keySet()).isEqualTo(packIds(packs));
        for (BlobInfo p : packs) {
            assertThat(index.packSizes().get(Repository.packIdOf(p.key()))).isEqualTo(p.size());
        }
        for (int i = 0; i < s.ids.size(); i++) {
            assertThat(index.get(ChunkId.parse(s.ids.get(i))).rawLength()).isEqualTo(s.cuts.get(i)[1]);
        }

        assertThat(s.readAll(index)).isEqualTo(s.data);
        // a freshly opened repository (keys from the config again) reads the same
        Repository reopened = RepoFixture.reopen(s.repo);
        List<byte[]> parts = new ArrayList<>();
        new ChunkReader(reopened, reopened.loadIndex()).read(s.ids, parts::add);
        assertThat(RepoFixture.concat(parts)).isEqualTo(s.data);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void storingTheSameDataAgainAddsNothing(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        List<BlobInfo> before = s.store().list("");
        Repository reopened = RepoFixture.reopen(s.repo);
        try (ChunkWriter again = new ChunkWriter(reopened, reopened.loadIndex(), setup.compression(), 4)) {
            List<String> ids = RepoFixture.storeChunks(again, s.data, s.cuts, 2);
            again.finish();
            assertThat(ids).isEqualTo(s.ids);
            assertThat(again.newChunks()).isZero();
            assertThat(again.newBytes()).isZero();
            assertThat(again.storedBytes()).isZero();
            assertThat(again.totalChunks()).isEqualTo(s.ids.size());
        }
        assertThat(s.store().list("")).isEqualTo(before);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void packsAreNamedByTheirSha256AndFollowTheLayout(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        byte[] marker = Arrays.copyOfRange(s.data, 0, 64);
        for (BlobInfo p : s.repo.listPacks()) {
            byte[] bytes = s.store().get(p.key());
            String packId = Repository.packIdOf(p.key());
            assertThat(RepoFixture.sha256Hex(bytes)).isEqualTo(packId);
            assertThat(p.key()).isEqualTo(Pack.key(packId)).isEqualTo("data/" + packId.substring(0, 2) + "/" + packId);
            assertThat(bytes.length).isEqualTo(p.size());
            assertThat(Arrays.copyOf(bytes, 8))
                    .isEqualTo(setup.version() == RepositoryConfig.V1 ? Pack.MAGIC_V1 : Pack.MAGIC_V2);
            assertThat(Arrays.copyOfRange(bytes, bytes.length - 8, bytes.length))
                    .isEqualTo(Pack.FOOTER_MAGIC);
            if (setup.encrypted()) {
                assertThat(indexOf(bytes, marker))
                        .as("plaintext visible in an encrypted pack")
                        .isEqualTo(-1);
            }
        }
        if (setup.compression() == Compression.NONE) {
            // sanity check of the check above: unencrypted stored chunks hold the plaintext
            assertThat(s.repo.listPacks())
                    .anySatisfy(p ->
                            assertThat(indexOf(s.store().get(p.key()), marker)).isNotNegative());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void packTrailersListTheSameEntriesAsTheIndex(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        ChunkIndex index = s.repo.loadIndex();
        Map<String, Set<PackedChunk>> indexed = new HashMap<>();
        for (PackedChunk c : index.chunks().values()) {
            indexed.computeIfAbsent(c.packId(), k -> new HashSet<>()).add(c);
        }
        int total = 0;
        for (BlobInfo p : s.repo.listPacks()) {
            String packId = Repository.packIdOf(p.key());
            List<PackedChunk> trailer = s.repo.readPackTrailer(packId, p.size());
            assertThat(trailer).isNotEmpty().doesNotHaveDuplicates();
            assertThat(new HashSet<>(trailer)).isEqualTo(indexed.get(packId));
            // blobs are back to back from the header on
            long expectedOffset = setup.version() == RepositoryConfig.V1 ? 8 : 8 + Pack.NONCE_BYTES;
            for (PackedChunk c : trailer) {
                assertThat(c.offset()).isEqualTo(expectedOffset);
                expectedOffset += c.length();
            }
            total += trailer.size();
        }
        assertThat(total).isEqualTo(index.size());
        assertThat(ChunkIndex.fromTrailers(index.packSizes(), readAllTrailers(s.repo))
                        .chunks())
                .isEqualTo(index.chunks());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void rebuildIndexRestoresTheSameMapping(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        ChunkIndex original = s.repo.loadIndex();
        for (BlobInfo b : s.store().list(Repository.INDEX)) {
            s.store().delete(b.key());
        }
        assertThat(s.repo.loadIndex().size()).isZero();
        assertThatThrownBy(() -> s.readAll(s.repo.loadIndex()))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("missing from the repository index");

        int packs = new GarbageCollector(s.repo).rebuildIndex();
        assertThat(packs).isEqualTo(s.repo.listPacks().size());
        assertThat(s.store().list(Repository.INDEX)).hasSize(1);
        assertThat(s.store().list(Repository.LOCKS)).as("lock released").isEmpty();
        ChunkIndex rebuilt = s.repo.loadIndex();
        assertThat(rebuilt.chunks()).isEqualTo(original.chunks());
        assertThat(rebuilt.packSizes()).isEqualTo(original.packSizes());
        assertThat(s.readAll(rebuilt)).isEqualTo(s.data);

        // rebuilding again replaces the index file rather than adding one
        new GarbageCollector(s.repo).rebuildIndex();
        assertThat(s.store().list(Repository.INDEX)).hasSize(1);
        assertThat(s.repo.loadIndex().chunks()).isEqualTo(original.chunks());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void aFlippedByteInsideAChunkIsDetectedOnRead(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        ChunkIndex index = s.repo.loadIndex();
        // damage three different chunks at their first, middle and last byte
        int[] which = {0, s.ids.size() / 2, s.ids.size() - 1};
        for (int w = 0; w < which.length; w++) {
            String id = s.ids.get(which[w]);
            PackedChunk c = index.get(ChunkId.parse(id));
            long at = c.offset() + (w == 0 ? 0 : w == 1 ? c.length() / 2 : c.length() - 1);
            flipByte(s.store(), Pack.key(c.packId()), at);
            assertThatThrownBy(() -> new ChunkReader(s.repo, index).read(List.of(id), b -> {}))
                    .isInstanceOf(RepositoryException.Corrupt.class)
                    .hasMessageContaining(ChunkId.parse(id).toString())
                    .hasMessageContaining(c.packId());
            assertThatThrownBy(() -> s.readAll(index)).isInstanceOf(RepositoryException.Corrupt.class);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void verifierWithReadDataNamesTheBackupAndFileOfADamagedChunk(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        Snapshot.FileEntry file = RepoFixture.fileEntry("base/16384/2619", s.data, s.ids);
        Snapshot.FileEntry other = RepoFixture.fileEntry("global/pg_control", new byte[0], List.of());
        String backup = "20250115-100000F-abcd";
        s.repo.saveSnapshot(RepoFixture.snapshot(backup, List.of(file, other)));

        Verifier.Report clean = new Verifier(s.repo).verify(null, true, 2, ProgressListener.NONE, Cancellation.none());
        assertThat(clean.problems()).isEmpty();
        assertThat(clean.ok()).isTrue();
        assertThat(clean.backups()).containsExactly(backup);
        assertThat(clean.files()).isEqualTo(2);
        assertThat(clean.chunks()).isEqualTo(new HashSet<>(s.ids).size());
        assertThat(clean.packs()).isEqualTo(s.repo.listPacks().size());
        assertThat(clean.bytesRead())
                .isEqualTo(s.repo.listPacks().stream().mapToLong(BlobInfo::size).sum());

        PackedChunk victim = s.repo.loadIndex().get(ChunkId.parse(s.ids.get(s.ids.size() / 3)));
        flipByte(s.store(), Pack.key(victim.packId()), victim.offset() + victim.length() / 2);

        // sizes are unchanged: only reading the data finds the damage
        assertThat(new Verifier(s.repo)
                        .verify("latest", false, 2, ProgressListener.NONE, Cancellation.none())
                        .ok())
                .isTrue();
        Verifier.Report damaged =
                new Verifier(s.repo).verify(backup, true, 2, ProgressListener.NONE, Cancellation.none());
        assertThat(damaged.ok()).isFalse();
        assertThat(damaged.problems()).allSatisfy(p -> {
            assertThat(p.backup()).isEqualTo(backup);
            assertThat(p.file()).isEqualTo("base/16384/2619");
        });
        assertThat(damaged.problems())
                .anySatisfy(p -> assertThat(p.detail()).contains(victim.id().toString()));
        assertThat(damaged.problems())
                .anySatisfy(
                        p -> assertThat(p.detail()).contains(victim.packId()).contains("SHA-256"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void verifierWithoutReadDataFindsMissingPacksAndChunks(Setup setup) throws Exception {
        Stored s = new Stored(setup);
        String backup = "20250115-100000F-abcd";
        Snapshot.FileEntry file = RepoFixture.fileEntry("base/1/1259", s.data, s.ids);
        Snapshot.FileEntry ghost = RepoFixture.fileEntry("base/1/9999", new byte[10], List.of("ab".repeat(32)));
        s.repo.saveSnapshot(RepoFixture.snapshot(backup, List.of(file, ghost)));
        PackedChunk victim = s.repo.loadIndex().get(ChunkId.parse(s.ids.get(1)));
        s.store().delete(Pack.key(victim.packId()));

        Verifier.Report r = new Verifier(s.repo).verify(null, false, 1, ProgressListener.NONE, Cancellation.none());
        assertThat(r.ok()).isFalse();
        assertThat(r.bytesRead()).isZero();
        assertThat(r.problems()).anySatisfy(p -> {
            assertThat(p.file()).isEqualTo("base/1/1259");
            assertThat(p.detail()).contains(victim.packId()).contains("missing");
        });
        assertThat(r.problems()).anySatisfy(p -> {
            assertThat(p.file()).isEqualTo("base/1/9999");
            assertThat(p.detail()).contains("missing from the repository");
        });
        assertThat(r.problems()).allSatisfy(p -> assertThat(p.backup()).isEqualTo(backup));
    }

    @Test
    void chunksOfDifferentSessionsAndEmptySessions() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), true, PACK_SIZE);
        byte[] a = "first chunk".getBytes(StandardCharsets.UTF_8);
        byte[] b = "second chunk".getBytes(StandardCharsets.UTF_8);
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 1)) {
            try (ChunkWriter.Session empty = w.session()) {
                assertThat(empty).isNotNull();
            }
            ChunkId ia;
            ChunkId ib;
            try (ChunkWriter.Session s1 = w.session();
                    ChunkWriter.Session s2 = w.session()) {
                ia = s1.store(a, 0, a.length);
                ib = s2.store(b, 0, b.length);
                assertThat(s2.store(a, 0, a.length)).isEqualTo(ia);
            }
            w.finish();
            assertThat(w.newChunks()).isEqualTo(2);
            assertThat(repo.listPacks())
                    .as("one pack per session that stored something")
                    .hasSize(2);
            List<byte[]> out = new ArrayList<>();
            new ChunkReader(repo, repo.loadIndex()).read(List.of(ib.hex(), ia.hex(), ib.hex()), out::add);
            assertThat(out).containsExactly(b, a, b);
        }
    }

    @Test
    void encryptedIndexFileThatWasAlteredOrTruncatedIsCorrupt() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), true, PACK_SIZE);
        storeSomething(repo);
        String key = repo.store().list(Repository.INDEX).getFirst().key();
        byte[] bytes = repo.store().get(key);
        repo.store().put(key, Arrays.copyOf(bytes, bytes.length - 10));
        assertThatThrownBy(repo::loadIndex)
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(key);
        bytes[bytes.length / 2] ^= 1;
        repo.store().put(key, bytes);
        assertThatThrownBy(repo::loadIndex)
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(key);
    }

    /**
     * Unencrypted format-1 metadata is not authenticated, so damage reaches Compression.unzstd, whose ZstdException is
     * not the IllegalArgumentException loadIndex/loadSnapshot catch: the raw ZstdException escapes instead of Corrupt.
     */
    @Test
    void unencryptedV1IndexFileThatWasTruncatedIsCorrupt() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), false, PACK_SIZE, RepositoryConfig.V1);
        storeSomething(repo);
        String key = repo.store().list(Repository.INDEX).getFirst().key();
        byte[] bytes = repo.store().get(key);
        repo.store().put(key, Arrays.copyOf(bytes, bytes.length - 10));
        assertThatThrownBy(repo::loadIndex)
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining(key);
    }

    @ParameterizedTest(name = "format {0}")
    @ValueSource(ints = {RepositoryConfig.V1, RepositoryConfig.V2})
    void verifierReportsADamagedUnencryptedManifest(int version) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), false, PACK_SIZE, version);
        String backup = "20250115-100000F-abcd";
        repo.saveSnapshot(RepoFixture.snapshot(backup, List.of()));
        byte[] bytes = repo.store().get(Repository.SNAPSHOTS + backup);
        repo.store().put(Repository.SNAPSHOTS + backup, Arrays.copyOf(bytes, bytes.length - 5));
        Verifier.Report r = new Verifier(repo).verify(null, false, 1, ProgressListener.NONE, Cancellation.none());
        assertThat(r.problems())
                .singleElement()
                .satisfies(p -> assertThat(p.backup()).isEqualTo(backup));
    }

    @Test
    void truncatedPackTrailerIsCorrupt() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), true, PACK_SIZE);
        storeSomething(repo);
        BlobInfo p = repo.listPacks().getFirst();
        String packId = Repository.packIdOf(p.key());
        byte[] bytes = repo.store().get(p.key());
        repo.store().put(p.key(), Arrays.copyOf(bytes, bytes.length - 1));
        assertThatThrownBy(() -> repo.readPackTrailer(packId, p.size() - 1))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("footer");
        assertThatThrownBy(() -> repo.readPackTrailer(packId, 10))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("truncated");
        byte[] badLength = bytes.clone();
        ByteBuffer.wrap(badLength, badLength.length - Pack.FOOTER_BYTES, 4).putInt(Integer.MAX_VALUE);
        repo.store().put(p.key(), badLength);
        assertThatThrownBy(() -> repo.readPackTrailer(packId, p.size()))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("trailer length");
    }

    /** readPackTrailer accepts a trailer length of 1..3, and Pack.decodeEntries reads a count from fewer than 4 bytes.
     * */
    @ParameterizedTest(name = "format {0}")
    @ValueSource(ints = {RepositoryConfig.V1, RepositoryConfig.V2})
    void tinyTrailerLengthInAnUnencryptedPackIsCorrupt(int version) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), false, PACK_SIZE, version);
        storeSomething(repo);
        BlobInfo p = repo.listPacks().getFirst();
        byte[] bytes = repo.store().get(p.key());
        ByteBuffer.wrap(bytes, bytes.length - Pack.FOOTER_BYTES, 4).putInt(2);
        repo.store().put(p.key(), bytes);
        assertThatThrownBy(() -> repo.readPackTrailer(Repository.packIdOf(p.key()), p.size()))
                .isInstanceOf(RepositoryException.Corrupt.class);
        assertThatThrownBy(() -> new GarbageCollector(repo).rebuildIndex())
                .isInstanceOf(RepositoryException.Corrupt.class);
    }

    private static void storeSomething(Repository repo) throws Exception {
        byte[] data = RepoFixture.random(300_000, 5);
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 2)) {
            RepoFixture.storeChunks(w, data, RepoFixture.cuts(data, new FastCdcChunker(8192, 32768, 131072, 1)), 1);
            w.finish();
        }
    }

    static Map<String, List<PackedChunk>> readAllTrailers(Repository repo) throws IOException {
        Map<String, List<PackedChunk>> out = new HashMap<>();
        for (BlobInfo p : repo.listPacks()) {
            out.put(Repository.packIdOf(p.key()), repo.readPackTrailer(Repository.packIdOf(p.key()), p.size()));
        }
        return out;
    }

    static Set<String> packIds(List<BlobInfo> packs) {
        Set<String> out = new HashSet<>();
        packs.forEach(p -> out.add(Repository.packIdOf(p.key())));
        return out;
    }

    static void flipByte(BlobStore store, String key, long at) throws IOException {
        byte[] bytes = store.get(key);
        bytes[(int) at] ^= 0x10;
        store.put(key, bytes);
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
