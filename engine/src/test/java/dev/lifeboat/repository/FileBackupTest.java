package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.OperationCancelledException;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.chunking.Chunker;
import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.chunking.FixedBlockChunker;
import dev.lifeboat.repository.compress.Compression;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileBackupTest {
    @TempDir
    Path dir;

    Snapshot.FileEntry backup(
            Repository repo, Path file, Chunker chunker, Cancellation cancel, ProgressTracker progress)
            throws Exception {
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 2)) {
            Snapshot.FileEntry e;
            try (ChunkWriter.Session s = w.session()) {
                e = new FileBackup(chunker.maxSize())
                        .backup(
                                file,
                                "base/1/" + file.getFileName(),
                                FileBackup.attributes(file),
                                chunker,
                                s,
                                progress,
                                cancel);
            }
            w.finish();
            return e;
        }
    }

    byte[] restore(Repository repo, Snapshot.FileEntry e) throws Exception {
        List<byte[]> parts = new ArrayList<>();
        new ChunkReader(repo, repo.loadIndex()).read(e.chunks(), parts::add);
        return RepoFixture.concat(parts);
    }

    @Test
    void fileLargerThanTheReadBufferIsChunkedHashedAndRestorable() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("repo"), true, 1 << 20);
        byte[] content =
                RepoFixture.concat(List.of(RepoFixture.mixedData(90, 100 * 1024, 4), RepoFixture.random(123, 5)));
        Path file = dir.resolve("16384");
        Files.write(file, content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
        ProgressTracker progress = new ProgressTracker("backup", "files", content.length, 1, ProgressListener.NONE);
        FastCdcChunker chunker =
                new FastCdcChunker(2048, 8192, 32768, repo.config().chunking().seed());

        Snapshot.FileEntry e = backup(repo, file, chunker, Cancellation.none(), progress);
        assertThat(e.path()).isEqualTo("base/1/16384");
        assertThat(e.kind()).isEqualTo(Snapshot.Kind.FILE);
        assertThat(e.size()).isEqualTo(content.length);
        assertThat(e.mode()).isEqualTo(0640);
        assertThat(e.mtimeMillis()).isEqualTo(Files.getLastModifiedTime(file).toMillis());
        assertThat(progress.bytesDone()).isEqualTo(content.length);
        // the same cuts as chunking the bytes in memory
        List<int[]> cuts = RepoFixture.cuts(content, chunker);
        assertThat(e.chunks()).hasSize(cuts.size());
        List<ChunkId> ids = new ArrayList<>();
        for (int i = 0; i < cuts.size(); i++) {
            byte[] id = repo.chunkIds().idOf(content, cuts.get(i)[0], cuts.get(i)[1]);
            assertThat(e.chunks().get(i)).isEqualTo(ChunkId.of(id).hex());
            ids.add(ChunkId.of(id));
        }
        // the digest is the SHA-256 of the chunk ids in order, and re-digesting the file from disk gives it again
        assertThat(e.digest()).isEqualTo(ContentDigest.of(ids)).isNotEqualTo(ContentDigest.of(ids.reversed()));
        FileBackup reader = new FileBackup(32768);
        ProgressTracker none = new ProgressTracker("v", "f", 0, 0, null);
        assertThat(reader.digest(file, chunker, repo.chunkIds(), none, Cancellation.none()))
                .isEqualTo(new FileBackup.Digested(content.length, e.digest()));
        content[content.length / 2] ^= 1;
        Files.write(file, content);
        assertThat(reader.digest(file, chunker, repo.chunkIds(), none, Cancellation.none())
                        .digest())
                .isNotEqualTo(e.digest());
        content[content.length / 2] ^= 1;
        assertThat(restore(repo, e)).isEqualTo(content);
    }

    @Test
    void fixedBlocksAndEmptyFiles() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("repo"), false, 1 << 20);
        byte[] content = RepoFixture.random(8192 * 5 + 10, 6);
        Path file = dir.resolve("1259");
        Files.write(file, content);
        Snapshot.FileEntry e = backup(
                repo,
                file,
                new FixedBlockChunker(8192),
                Cancellation.none(),
                new ProgressTracker("b", "f", 0, 0, null));
        assertThat(e.chunks()).hasSize(6);
        assertThat(restore(repo, e)).isEqualTo(content);

        Path empty = dir.resolve("empty");
        Files.write(empty, new byte[0]);
        Snapshot.FileEntry none = backup(
                repo,
                empty,
                new FixedBlockChunker(8192),
                Cancellation.none(),
                new ProgressTracker("b", "f", 0, 0, null));
        assertThat(none.chunks()).isEmpty();
        assertThat(none.size()).isZero();
        assertThat(none.digest()).isEqualTo(RepoFixture.sha256Hex(new byte[0]));
    }

    @Test
    void cancellationStopsTheBackup() throws Exception {
        Repository repo = RepoFixture.create(dir.resolve("repo"), false, 1 << 20);
        Path file = dir.resolve("f");
        Files.write(file, RepoFixture.random(100_000, 7));
        Cancellation cancel = new Cancellation();
        cancel.cancel("user pressed ctrl-c");
        assertThatThrownBy(() -> backup(
                        repo, file, new FixedBlockChunker(8192), cancel, new ProgressTracker("b", "f", 0, 0, null)))
                .isInstanceOf(OperationCancelledException.class)
                .hasMessageContaining("ctrl-c");
    }

    @Test
    void modeAndPermissionsRoundTrip() {
        for (int mode : new int[] {0, 0600, 0640, 0700, 0755, 0777, 0444}) {
            Set<PosixFilePermission> perms = FileBackup.permissions(mode);
            assertThat(FileBackup.mode(perms)).isEqualTo(mode);
        }
        assertThat(FileBackup.mode(PosixFilePermissions.fromString("rw-------")))
                .isEqualTo(384);
        assertThat(FileBackup.permissions(0751)).isEqualTo(PosixFilePermissions.fromString("rwxr-x--x"));
        assertThat(FileBackup.mode(EnumSet.noneOf(PosixFilePermission.class))).isZero();
    }
}
