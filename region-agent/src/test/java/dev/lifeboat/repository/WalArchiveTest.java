package dev.lifeboat.repository;

import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The WAL archive's push/get contract, also through the CLI commands archive_command and restore_command call. */
class WalArchiveTest {
    @TempDir
    Path tmp;

    private static final String SEG = "000000010000000000000003";

    private Repository repo() throws Exception {
        LocalBlobStore store = new LocalBlobStore(tmp.resolve("repo"));
        KeySource key = KeySource.KeyFile.create(tmp.resolve("key"));
        Repository.init(store, key, false);
        return Repository.open(store, key);
    }

    private static byte[] segment(long seed) {
        byte[] b = new byte[1 << 20];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void identicalRepushSucceedsAndDifferentContentIsRefused() throws Exception {
        WalArchive archive = new WalArchive(repo());
        assertThat(archive.push(SEG, segment(1))).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(archive.push(SEG, segment(1))).isEqualTo(WalArchive.PushResult.ALREADY_ARCHIVED);
        assertThatThrownBy(() -> archive.push(SEG, segment(2))).isInstanceOf(RepositoryException.class)
                .hasMessageContaining("different content").hasMessageContaining(SEG);
        assertThat(archive.read(SEG)).hasValueSatisfying(b -> assertThat(b).isEqualTo(segment(1)));
        assertThat(archive.read("000000010000000000000004")).isEmpty();
        assertThatThrownBy(() -> archive.push("not-a-wal-name", new byte[1])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anObjectCannotPassForAnotherSegmentOrBeAltered() throws Exception {
        WalArchive archive = new WalArchive(repo());
        archive.push(SEG, segment(1));
        Path stored = tmp.resolve("repo").resolve(WalArchive.key(SEG));
        Path other = tmp.resolve("repo").resolve(WalArchive.key("000000010000000000000004"));
        Files.copy(stored, other);
        assertThatThrownBy(() -> archive.read("000000010000000000000004")).isInstanceOf(RepositoryException.Corrupt.class);
        byte[] b = Files.readAllBytes(stored);
        b[b.length / 2] ^= 1;
        Files.write(stored, b);
        assertThatThrownBy(() -> archive.read(SEG)).isInstanceOf(RepositoryException.Corrupt.class);
    }

    @Test
    void walPushAndWalGetThroughTheCli() throws Exception {
        repo();
        String uri = "file://" + tmp.resolve("repo");
        String key = tmp.resolve("key").toString();
        Path wal = Files.createDirectories(tmp.resolve("pg_wal")).resolve(SEG);
        Files.write(wal, segment(7));
        assertThat(PgTestSupport.cli("wal-push", "--repo", uri, "--key-file", key, wal.toString()).exitCode()).isZero();
        assertThat(PgTestSupport.cli("wal-push", "--repo", uri, "--key-file", key, wal.toString()).exitCode()).isZero();
        Files.write(wal, segment(8));
        PgTestSupport.CliResult conflict = PgTestSupport.cli("wal-push", "--repo", uri, "--key-file", key, wal.toString());
        assertThat(conflict.exitCode()).isNotZero();
        assertThat(conflict.err()).contains("different content");

        Path dest = tmp.resolve("RECOVERYXLOG");
        assertThat(PgTestSupport.cli("wal-get", "--repo", uri, "--key-file", key, SEG, dest.toString()).exitCode()).isZero();
        assertThat(Files.readAllBytes(dest)).isEqualTo(segment(7));
        assertThat(PgTestSupport.cli("wal-get", "--repo", uri, "--key-file", key, "000000010000000000000009", dest.toString())
                .exitCode()).as("a segment not in the archive is exit 1, as restore_command expects").isEqualTo(1);
    }
}
