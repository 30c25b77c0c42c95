package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.compress.Compression;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * verify --read-data proves the bytes a restore would write: every chunk re-hashes to its id (with encryption too),
 * every delta block rebuilds, and every file's manifest digest is the one those bytes give.
 */
class VerifierTest {
    static final int BLOCK = 4 * 8192;
    static final int PAGE = 8192;

    @TempDir
    Path dir;

    Verifier.Report verify(Repository repo, boolean readData) throws Exception {
        return new Verifier(repo).verify(null, readData, 2, ProgressListener.NONE, Cancellation.none());
    }

    /** Four fixed blocks: a base file, and an incremental whose block 1 is a page delta against it. */
    record Files(Snapshot.FileEntry base, Snapshot.FileEntry incremental, byte[] changedBlock) {}

    static Files storeWithDelta(Repository repo) throws Exception {
        byte[][] blocks = new byte[4][];
        for (int i = 0; i < 4; i++) {
            blocks[i] = RepoFixture.random(BLOCK, 100 + i);
        }
        byte[] changed = blocks[1].clone();
        changed[PAGE + 17] ^= 0x5a; // one page differs
        List<String> baseRefs = new ArrayList<>();
        List<String> incRefs = new ArrayList<>();
        List<ChunkId> incContent = new ArrayList<>();
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 2)) {
            try (ChunkWriter.Session s = w.session()) {
                for (byte[] b : blocks) {
                    baseRefs.add(s.store(b, 0, b.length).hex());
                }
                ChunkId baseId = ChunkId.parse(baseRefs.get(1));
                byte[] delta = ChunkRefs.encodeDelta(baseId, blocks[1], changed, 0, changed.length, PAGE);
                ChunkId deltaId = s.store(delta, 0, delta.length);
                for (int i = 0; i < 4; i++) {
                    incRefs.add(
                            i == 1
                                    ? ChunkRefs.delta(deltaId, baseId, s.idOf(changed, 0, changed.length))
                                    : baseRefs.get(i));
                    incContent.add(i == 1 ? s.idOf(changed, 0, changed.length) : ChunkId.parse(baseRefs.get(i)));
                }
            }
            w.finish();
        }
        Snapshot.FileEntry base = RepoFixture.fileEntry("base/5/16384", new byte[4 * BLOCK], baseRefs);
        Snapshot.FileEntry inc = new Snapshot.FileEntry(
                "base/5/16384",
                Snapshot.Kind.FILE,
                0600,
                "postgres",
                "postgres",
                0,
                4L * BLOCK,
                ContentDigest.of(incContent),
                incRefs,
                null);
        return new Files(base, inc, changed);
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void aManifestDigestThatIsNotTheDigestOfTheRestoredBytesIsReported(boolean encrypted) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), encrypted, 1 << 20);
        Files f = storeWithDelta(repo);
        repo.saveSnapshot(RepoFixture.snapshot("20250115-100000F-aaaa", List.of(f.base())));
        repo.saveSnapshot(RepoFixture.snapshot("20250116-100000I-bbbb", List.of(f.incremental())));

        Verifier.Report clean = verify(repo, true);
        assertThat(clean.problems()).isEmpty();
        assertThat(clean.filesDigested()).isEqualTo(2);
        assertThat(clean.deltaBlocks()).isEqualTo(1);

        // the incremental's manifest claims the digest of its parent's content: the delta block was not counted
        Snapshot.FileEntry wrong = new Snapshot.FileEntry(
                f.incremental().path(),
                Snapshot.Kind.FILE,
                0600,
                "postgres",
                "postgres",
                0,
                f.incremental().size(),
                f.base().digest(),
                f.incremental().chunks(),
                null);
        repo.saveSnapshot(RepoFixture.snapshot("20250116-100000I-bbbb", List.of(wrong)));
        assertThat(verify(repo, false).problems())
                .as("the structure alone is fine")
                .isEmpty();
        Verifier.Report r = verify(repo, true);
        assertThat(r.problems()).singleElement().satisfies(p -> {
            assertThat(p.backup()).isEqualTo("20250116-100000I-bbbb");
            assertThat(p.file()).isEqualTo("base/5/16384");
            assertThat(p.detail())
                    .contains("digest " + f.base().digest())
                    .contains("does not describe the data a restore writes");
        });

        // and a size that the chunks do not add up to
        Snapshot.FileEntry longer = new Snapshot.FileEntry(
                f.base().path(),
                Snapshot.Kind.FILE,
                0600,
                "postgres",
                "postgres",
                0,
                f.base().size() + 1,
                f.base().digest(),
                f.base().chunks(),
                null);
        repo.saveSnapshot(RepoFixture.snapshot("20250115-100000F-aaaa", List.of(longer)));
        assertThat(verify(repo, true).problems())
                .anySatisfy(p -> assertThat(p.backup()).isEqualTo("20250115-100000F-aaaa"));
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void aChunkSealedUnderAnIdThatIsNotTheHashOfItsBytesIsReported(boolean encrypted) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), encrypted, 1 << 20);
        byte[] right = RepoFixture.random(50_000, 1);
        byte[] wrong = RepoFixture.random(50_000, 2);
        ChunkId id;
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 1)) {
            try (ChunkWriter.Session s = w.session()) {
                // a writer bug: the id of one plaintext, the bytes of another; GCM seals them together happily
                id = s.store(wrong, 0, wrong.length, s.idOf(right, 0, right.length));
            }
            w.finish();
        }
        repo.saveSnapshot(RepoFixture.snapshot(
                "20250115-100000F-aaaa", List.of(RepoFixture.fileEntry("base/5/1259", right, List.of(id.hex())))));
        assertThat(verify(repo, false).problems()).isEmpty();
        Verifier.Report r = verify(repo, true);
        assertThat(r.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo("base/5/1259");
            assertThat(p.detail()).contains(id.toString()).contains("does not match its id");
        });
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void aDeltaChunkThatNamesAnotherBaseIsReportedForTheFilesUsingIt(boolean encrypted) throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("r"), encrypted, 1 << 20);
        Files f = storeWithDelta(repo);
        // a reference pairing the delta with a base it was not made from
        List<String> refs = new ArrayList<>(f.incremental().chunks());
        String delta = refs.get(1).substring(0, refs.get(1).indexOf('+'));
        refs.set(1, delta + "+" + f.base().chunks().get(2));
        Snapshot.FileEntry bad = new Snapshot.FileEntry(
                f.incremental().path(),
                Snapshot.Kind.FILE,
                0600,
                "postgres",
                "postgres",
                0,
                f.incremental().size(),
                f.incremental().digest(),
                refs,
                null);
        repo.saveSnapshot(RepoFixture.snapshot("20250116-100000I-bbbb", List.of(bad)));
        Verifier.Report r = verify(repo, true);
        assertThat(r.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo("base/5/16384");
            assertThat(p.detail()).contains("cannot be rebuilt").contains("names base");
        });
    }
}
