package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GarbageCollectorTest {
    static final int PACK_SIZE = 64 * 1024;

    @TempDir
    Path dir;

    /** Stores data as one backup would (without the manifest) and returns its chunk ids in order. */
    static List<String> store(Repository repo, byte[] data) throws Exception {
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 4)) {
            List<String> ids = RepoFixture.storeChunks(
                    w,
                    data,
                    RepoFixture.cuts(
                            data,
                            new FastCdcChunker(
                                    4096, 16384, 65536, repo.config().chunking().seed())),
                    2);
            w.finish();
            return ids;
        }
    }

    static Set<String> packIds(Repository repo) throws IOException {
        Set<String> out = new HashSet<>();
        for (BlobInfo b : repo.listPacks()) {
            out.add(Repository.packIdOf(b.key()));
        }
        return out;
    }

    static byte[] read(Repository repo, List<String> ids) throws IOException {
        List<byte[]> parts = new ArrayList<>();
        new ChunkReader(repo, repo.loadIndex()).read(ids, parts::add);
        return RepoFixture.concat(parts);
    }

    static long size(Repository repo, Set<String> packs) throws IOException {
        long n = 0;
        for (BlobInfo b : repo.listPacks()) {
            if (packs.contains(Repository.packIdOf(b.key()))) {
                n += b.size();
            }
        }
        return n;
    }

    static void saveBackup(Repository repo, String id, String path, byte[] data, List<String> ids) throws Exception {
        repo.saveSnapshot(RepoFixture.snapshot(id, List.of(RepoFixture.fileEntry(path, data, ids))));
    }

    /** A saved backup A, then a crashed backup B (indexed, no manifest) and a crashed C (packs only, no index). */
    final class Scenario {
        final Repository repo;
        /** Mixed data plus a unique random tail, so some of A's packs hold nothing B shares. */
        final byte[] dataA =
                RepoFixture.concat(List.of(RepoFixture.mixedData(16, 64 * 1024, 1), RepoFixture.random(300_000, 11)));

        final byte[] dataB;
        final byte[] dataC = RepoFixture.random(500_000, 3);
        final List<String> idsA;
        final List<String> idsB;
        final Set<String> packsA;
        final Set<String> packsB;
        final Set<String> packsC;

        Scenario(boolean encrypted) throws Exception {
            repo = RepoFixture.create(dir.resolve("repo"), encrypted, PACK_SIZE);
            idsA = store(repo, dataA);
            saveBackup(repo, "20250115-100000F-aaaa", "base/1/1", dataA, idsA);
            packsA = packIds(repo);

            // B shares its first half with A, so part of it dedups against A's packs
            dataB = RepoFixture.concat(List.of(Arrays.copyOf(dataA, dataA.length / 2), RepoFixture.random(600_000, 2)));
            idsB = store(repo, dataB);
            packsB = new HashSet<>(packIds(repo));
            packsB.removeAll(packsA);

            List<BlobInfo> indexBefore = repo.store().list(Repository.INDEX);
            store(repo, dataC);
            packsC = new HashSet<>(packIds(repo));
            packsC.removeAll(packsA);
            packsC.removeAll(packsB);
            for (BlobInfo b : repo.store().list(Repository.INDEX)) {
                if (!indexBefore.contains(b)) {
                    repo.store().delete(b.key()); // C crashed before writing its index file
                }
            }
            assertThat(packsA).isNotEmpty();
            assertThat(packsB).isNotEmpty();
            assertThat(packsC).isNotEmpty();
        }
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void packsOfBackupsThatNeverSavedAManifestAreDeleted(boolean encrypted) throws Exception {
        Scenario s = new Scenario(encrypted);
        long garbage = size(s.repo, s.packsB) + size(s.repo, s.packsC);
        int indexFiles = s.repo.store().list(Repository.INDEX).size();

        GarbageCollector.Result r = new GarbageCollector(s.repo).collect(false);
        assertThat(r.dryRun()).isFalse();
        assertThat(r.packsDeleted()).isEqualTo(s.packsB.size() + s.packsC.size());
        assertThat(r.bytesFreed()).isEqualTo(garbage);
        assertThat(r.packsKept()).isEqualTo(s.packsA.size());
        assertThat(r.indexFilesRewritten()).isEqualTo(indexFiles);
        assertThat(packIds(s.repo)).isEqualTo(s.packsA);
        assertThat(s.repo.store().list(Repository.LOCKS)).isEmpty();

        // the saved backup is intact and its chunks are all still indexed
        ChunkIndex index = s.repo.loadIndex();
        assertThat(index.packSizes().keySet()).isEqualTo(s.packsA);
        assertThat(index.size()).isEqualTo(new HashSet<>(s.idsA).size());
        assertThat(read(s.repo, s.idsA)).isEqualTo(s.dataA);
        assertThat(s.repo.store().list(Repository.INDEX)).hasSize(1);

        // B's own chunks are gone from the index, so a new backup stores them again
        Set<String> onlyB = new HashSet<>(s.idsB);
        onlyB.removeAll(s.idsA);
        assertThat(onlyB)
                .isNotEmpty()
                .allSatisfy(id -> assertThat(index.contains(ChunkId.parse(id))).isFalse());

        // a second run has nothing to do
        GarbageCollector.Result again = new GarbageCollector(s.repo).collect(false);
        assertThat(again.packsDeleted()).isZero();
        assertThat(again.indexFilesRewritten()).isZero();
        assertThat(again.packsKept()).isEqualTo(s.packsA.size());
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void dryRunReportsButDeletesNothing(boolean encrypted) throws Exception {
        Scenario s = new Scenario(encrypted);
        List<BlobInfo> before = s.repo.store().list("");
        GarbageCollector.Result dry = new GarbageCollector(s.repo).collect(true);
        assertThat(dry.dryRun()).isTrue();
        assertThat(dry.packsDeleted()).isEqualTo(s.packsB.size() + s.packsC.size());
        assertThat(dry.packsKept()).isEqualTo(s.packsA.size());
        assertThat(dry.indexFilesRewritten()).isZero();
        assertThat(s.repo.store().list("")).isEqualTo(before);

        GarbageCollector.Result real = new GarbageCollector(s.repo).collect(false);
        assertThat(real.packsDeleted()).isEqualTo(dry.packsDeleted());
        assertThat(real.bytesFreed()).isEqualTo(dry.bytesFreed());
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void deletingABackupFreesOnlyThePacksNoOtherBackupUses(boolean encrypted) throws Exception {
        Scenario s = new Scenario(encrypted);
        saveBackup(s.repo, "20250116-100000F-bbbb", "base/1/2", s.dataB, s.idsB);
        new GarbageCollector(s.repo).collect(false);
        assertThat(packIds(s.repo)).isEqualTo(union(s.packsA, s.packsB));

        s.repo.store().delete(Repository.SNAPSHOTS + "20250115-100000F-aaaa");
        int before = packIds(s.repo).size();
        GarbageCollector.Result r = new GarbageCollector(s.repo).collect(false);
        assertThat(r.packsDeleted()).isPositive().isEqualTo(before - r.packsKept());
        // B still reads, including the half it shares with A
        assertThat(read(s.repo, s.idsB)).isEqualTo(s.dataB);
        Set<String> live = new HashSet<>();
        ChunkIndex index = s.repo.loadIndex();
        s.idsB.forEach(id -> live.add(index.get(ChunkId.parse(id)).packId()));
        assertThat(packIds(s.repo)).isEqualTo(live);
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void emptyRepositoryHasNothingToCollect(boolean encrypted) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("empty"), encrypted, PACK_SIZE);
        GarbageCollector.Result r = new GarbageCollector(repo).collect(false);
        assertThat(r).isEqualTo(new GarbageCollector.Result(0, 0, 0, 0, false));
        assertThat(RepoFixture.keys(repo.store(), "")).containsExactly(Repository.CONFIG_KEY);
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {false})
    void oldTemporaryFilesAreRemovedAndFreshOnesKept(boolean encrypted) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("tmp"), encrypted, PACK_SIZE);
        Path root = ((LocalBlobStore) repo.store()).root();
        Path old = root.resolve("data/ab/.abcd.1111.lifeboat-tmp");
        Path fresh = root.resolve("data/ab/.abce.2222.lifeboat-tmp");
        Files.createDirectories(old.getParent());
        Files.write(old, new byte[10]);
        Files.write(fresh, new byte[10]);
        Files.setLastModifiedTime(old, FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
        new GarbageCollector(repo).collect(true);
        assertThat(old).as("dry run").exists();
        new GarbageCollector(repo).collect(false);
        assertThat(old).doesNotExist();
        assertThat(fresh).exists();
    }

    /**
     * A pack is only known to be in use through the index. If index files are lost (what rebuild-index repairs),
     * gc must not take the unindexed packs of a saved backup for garbage.
     */
    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void collectRefusesWhenChunksOfASavedBackupAreNotIndexed(boolean encrypted) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("noindex"), encrypted, PACK_SIZE);
        byte[] data = RepoFixture.random(400_000, 9);
        List<String> ids = store(repo, data);
        saveBackup(repo, "20250115-100000F-aaaa", "base/1/1", data, ids);
        Set<String> packs = packIds(repo);
        for (BlobInfo b : repo.store().list(Repository.INDEX)) {
            repo.store().delete(b.key());
        }
        List<BlobInfo> before = repo.store().list("");
        assertThatThrownBy(() -> new GarbageCollector(repo).collect(false))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("rebuild-index");
        assertThat(repo.store().list("")).as("nothing deleted, lock released").isEqualTo(before);
        assertThat(packIds(repo)).isEqualTo(packs);

        new GarbageCollector(repo).rebuildIndex();
        GarbageCollector.Result r = new GarbageCollector(repo).collect(false);
        assertThat(r.packsDeleted()).isZero();
        assertThat(r.packsKept()).isEqualTo(packs.size());
        assertThat(read(repo, ids)).isEqualTo(data);
    }

    static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> out = new HashSet<>(a);
        out.addAll(b);
        return out;
    }

    /**
     * While gc plans, an operator runs `unlock` and a backup takes the lock (a lock broken under a live gc): gc must
     * notice before its first deletion and delete no pack, since the backup may deduplicate against any of them.
     */
    @Test
    void gcThatLostItsLockDeletesNoPack() throws Exception {
        Scenario s = new Scenario(false);
        Set<String> before = packIds(s.repo);
        List<RepositoryLock> backup = new ArrayList<>();
        System.setProperty(RepositoryLock.TTL_PROPERTY, "2s"); // assertHeld reads the lock every TTL/10 = 200 ms
        try {
            RepositoryLockTest.InterleavingStore store =
                    new RepositoryLockTest.InterleavingStore(s.repo.store(), "", null) {
                        @Override
                        public List<BlobInfo> list(String prefix) throws IOException {
                            if (prefix.equals(Repository.DATA) && backup.isEmpty()) {
                                RepositoryLock.breakAll(s.repo);
                                backup.add(RepositoryLock.acquire(s.repo, RepositoryLock.Mode.APPEND, "backup", "B"));
                                try {
                                    Thread.sleep(300);
                                } catch (InterruptedException e) {
                                    throw new IOException(e);
                                }
                            }
                            return super.list(prefix);
                        }
                    };
            Repository gcView = Repository.open(store, null);
            assertThatThrownBy(() -> new GarbageCollector(gcView).collect(false))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("lost the exclusive lock")
                    .hasMessageContaining("backup B");
            assertThat(backup).hasSize(1);
            assertThat(packIds(s.repo)).as("no pack deleted").isEqualTo(before);
            assertThat(RepositoryLock.read(s.repo.store(), RepositoryLock.EXCLUSIVE)
                            .orElseThrow()
                            .token())
                    .as("the backup's lock survives gc's release")
                    .isEqualTo(backup.getFirst().token());
            backup.getFirst().close();
        } finally {
            System.clearProperty(RepositoryLock.TTL_PROPERTY);
        }
        // with the lock its own again, gc collects as usual
        assertThat(new GarbageCollector(s.repo).collect(false).packsDeleted())
                .isEqualTo(s.packsB.size() + s.packsC.size());
    }
}
