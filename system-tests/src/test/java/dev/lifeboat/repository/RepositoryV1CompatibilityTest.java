package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgBackup;
import dev.lifeboat.engine.postgres.PgBackupOptions;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.Aead;
import dev.lifeboat.repository.crypto.KeyMaterial;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.repository.crypto.KeyWrapping;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Format 1 keeps working as it did: repositories written by the format-1 code (the fixture under
 * {@code src/test/resources/repository-v1}, made by that code with {@link RepoFixture#fastKey()}) open, read, verify
 * and take new writes sealed the format-1 way, so an archive_command pointed at one never changes behaviour.
 */
class RepositoryV1CompatibilityTest {
    /** What the fixture holds: one backup of this file, and two WAL objects. */
    static final byte[] FILE = RepoFixture.mixedData(6, 8 * 1024, 7);

    static final String BACKUP = "20250115-100000F-0001";
    static final String SEGMENT = "000000010000000000000001";
    static final String PARTIAL = "000000010000000000000002.partial";

    @TempDir
    Path tmp;

    /** A writable copy of the fixture. */
    Repository openCopy(boolean encrypted) throws Exception {
        String name = encrypted ? "encrypted" : "unencrypted";
        Path source = Path.of(getClass()
                        .getResource("/repository-v1/" + name + "/config")
                        .toURI())
                .getParent();
        Path target = tmp.resolve(name);
        try (Stream<Path> files = Files.walk(source)) {
            for (Path p : files.toList()) {
                Path to = target.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to);
                }
            }
        }
        return Repository.open(new LocalBlobStore(target), encrypted ? RepoFixture.fastKey() : null);
    }

    static byte[] readFile(Repository repo, String backup, String path) throws Exception {
        Snapshot.FileEntry f = repo.loadSnapshot(backup).files().stream()
                .filter(e -> e.path().equals(path))
                .findFirst()
                .orElseThrow();
        List<byte[]> parts = new ArrayList<>();
        new ChunkReader(repo, repo.loadIndex()).read(f.chunks(), parts::add);
        byte[] content = RepoFixture.concat(parts);
        assertThat(ContentDigest.of(f.chunks().stream().map(ChunkId::parse).toList()))
                .isEqualTo(f.digest());
        return content;
    }

    static Set<String> keys(Repository repo, String prefix) throws Exception {
        return new HashSet<>(RepoFixture.keys(repo.store(), prefix));
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void aFormat1RepositoryOpensReadsAndVerifies(boolean encrypted) throws Exception {
        Repository repo = openCopy(encrypted);
        assertThat(repo.version()).isEqualTo(RepositoryConfig.V1);
        assertThat(repo.config().encrypted()).isEqualTo(encrypted);
        assertThat(repo.listSnapshotIds()).containsExactly(BACKUP);
        assertThat(readFile(repo, BACKUP, "base/1/1")).isEqualTo(FILE);

        WalArchive wal = new WalArchive(repo);
        assertThat(wal.read(SEGMENT)).hasValue(RepoFixture.random(4096, 9));
        assertThat(wal.read(PARTIAL)).hasValue(RepoFixture.random(2048, 10));
        assertThat(wal.partialLength(repo.store(), PARTIAL)).isEqualTo(2048);

        // the fixture's WAL objects are random bytes (verify's WAL check rightly rejects them): verify the backup
        Verifier.Report report = new Verifier(repo).verify(BACKUP, true, 1, ProgressListener.NONE, Cancellation.none());
        assertThat(report.problems()).isEmpty();
        assertThat(report.packs()).isPositive();

        // the format-1 trailers (associated data without a pack nonce) still rebuild the index
        Map<ChunkId, PackedChunk> before = Map.copyOf(repo.loadIndex().chunks());
        new GarbageCollector(repo).rebuildIndex();
        assertThat(repo.loadIndex().chunks()).isEqualTo(before);
        assertThat(readFile(repo, BACKUP, "base/1/1")).isEqualTo(FILE);
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void aFormat1RepositoryTakesNewWritesSealedTheFormat1Way(boolean encrypted) throws Exception {
        Repository repo = openCopy(encrypted);
        byte[] config = repo.store().get(Repository.CONFIG_KEY);
        Set<String> oldPacks = keys(repo, Repository.DATA);
        Set<String> oldIndex = keys(repo, Repository.INDEX);

        byte[] data = RepoFixture.mixedData(6, 8 * 1024, 8);
        List<String> ids;
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 1)) {
            ids = RepoFixture.storeChunks(
                    w,
                    data,
                    RepoFixture.cuts(
                            data,
                            new FastCdcChunker(
                                    2048, 4096, 16384, repo.config().chunking().seed())),
                    1);
            w.finish();
        }
        String backup = "20250116-100000F-0002";
        repo.saveSnapshot(RepoFixture.snapshot(backup, List.of(RepoFixture.fileEntry("base/1/2", data, ids))));
        byte[] walContent = RepoFixture.random(4096, 12);
        String segment = "000000010000000000000003";
        assertThat(new WalArchive(repo).push(segment, walContent)).isEqualTo(WalArchive.PushResult.STORED);

        // what was written is format 1, byte for byte as the format-1 code seals it
        KeyMaterial master = encrypted
                ? KeyWrapping.unwrap(
                        repo.config().keys().getFirst(),
                        RepoFixture.fastKey(),
                        repo.config().id())
                : null;
        byte[] walObject = repo.store().get(WalArchive.key(segment));
        byte[] walAad = ("lifeboat-wal:" + segment).getBytes(StandardCharsets.US_ASCII);
        byte[] frame = encrypted ? new Aead(master.encryptionKey()).open(walObject, walAad) : walObject;
        assertThat(Compression.unzstd(frame)).isEqualTo(walContent);
        Set<String> newIndex = keys(repo, Repository.INDEX);
        newIndex.removeAll(oldIndex);
        assertThat(newIndex).hasSize(1);
        byte[] index = repo.store().get(newIndex.iterator().next());
        assertThat(Compression.unzstd(
                        encrypted ? new Aead(master.encryptionKey()).open(index, Repository.INDEX_AAD) : index))
                .isNotEmpty();
        Set<String> newPacks = keys(repo, Repository.DATA);
        newPacks.removeAll(oldPacks);
        assertThat(newPacks).isNotEmpty();
        for (String key : newPacks) {
            byte[] pack = repo.store().get(key);
            assertThat(Arrays.copyOf(pack, 8)).isEqualTo(Pack.MAGIC_V1);
            for (PackedChunk c : repo.readPackTrailer(Repository.packIdOf(key), pack.length)) {
                if (encrypted) {
                    assertThat(c.offset()).isGreaterThanOrEqualTo(8);
                    new Aead(master.encryptionKey()).open(pack, (int) c.offset(), c.length(), c.id().bytes());
                }
            }
        }
        assertThat(repo.store().get(Repository.CONFIG_KEY))
                .as("the config is left as it is")
                .isEqualTo(config);

        // a fresh open reads old and new; expiring the old backup repacks format-1 packs into format-1 packs
        Repository again = Repository.open(repo.store(), encrypted ? RepoFixture.fastKey() : null);
        assertThat(readFile(again, BACKUP, "base/1/1")).isEqualTo(FILE);
        assertThat(readFile(again, backup, "base/1/2")).isEqualTo(data);
        assertThat(new WalArchive(again).read(SEGMENT)).hasValue(RepoFixture.random(4096, 9));
        again.store().delete(Repository.SNAPSHOTS + BACKUP);
        GarbageCollector gc = new GarbageCollector(again);
        GarbageCollector.Outcome o;
        try (RepositoryLock lock = RepositoryLock.acquire(again, RepositoryLock.Mode.EXCLUSIVE, "gc", "test")) {
            o = gc.apply(gc.plan(again.loadSnapshots(), true), false, lock);
        }
        assertThat(o.packsDeleted() + o.packsRepacked()).isPositive();
        for (BlobInfo b : again.listPacks()) {
            assertThat(Arrays.copyOf(again.store().get(b.key()), 8)).isEqualTo(Pack.MAGIC_V1);
        }
        assertThat(readFile(again, backup, "base/1/2")).isEqualTo(data);
        assertThat(new Verifier(again)
                        .verify(backup, true, 1, ProgressListener.NONE, Cancellation.none())
                        .problems())
                .isEmpty();
    }

    /** A real PostgreSQL backup into a format-1 repository restores and starts. */
    @Test
    void postgresBacksUpIntoAFormat1RepositoryAndRestores() throws Exception {
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("src"), List.of())) {
            pg.start();
            PgTestSupport.exec(
                    pg,
                    "create table t (id int primary key, payload text)",
                    "insert into t select g, md5(g::text) from generate_series(1, 20000) g");
            LocalBlobStore store = new LocalBlobStore(tmp.resolve("repo"));
            KeySource key = RepoFixture.fastKey();
            Repository.init(store, key, false, RepositoryConfig.V1);
            Repository repo = Repository.open(store, key);
            assertThat(repo.version()).isEqualTo(RepositoryConfig.V1);
            Snapshot snap = new PgBackup(
                            repo,
                            new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                            ProgressListener.NONE,
                            new Cancellation())
                    .run();
            for (BlobInfo b : repo.listPacks()) {
                assertThat(Arrays.copyOf(store.get(b.key()), 8)).isEqualTo(Pack.MAGIC_V1);
            }
            Path restoredBase = tmp.resolve("restored");
            new PgRestore(
                            repo,
                            new PgRestore.Options(snap.id(), restoredBase.resolve("data"), 2, Map.of(), null),
                            null,
                            new Cancellation())
                    .run();
            try (LocalCluster restored = LocalCluster.attach(restoredBase)) {
                restored.start();
                assertThat(PgTestSupport.count(restored, "select count(*) from t"))
                        .isEqualTo(20000);
            }
        }
    }
}
