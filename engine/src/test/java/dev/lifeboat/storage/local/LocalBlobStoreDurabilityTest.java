package dev.lifeboat.storage.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which directories a write fsyncs: every directory that gained an entry (a new subdirectory or the object's name)
 * must be synced, or a crash can lose objects whose write had returned. Observed through the store's fsync hook on
 * real files; the fsyncs themselves are real and must not fail.
 */
class LocalBlobStoreDurabilityTest {
    @TempDir
    Path dir;

    @Test
    void putIntoNewDirectoriesSyncsTheParentOfEveryCreatedDirectory() throws Exception {
        Path root = dir.resolve("repo");
        List<Path> synced = new ArrayList<>();
        LocalBlobStore store = new LocalBlobStore(root, synced::add);

        store.put("wal/00000002/000000020000000000000007", "x".getBytes(StandardCharsets.UTF_8));

        assertThat(root.resolve("wal/00000002")).isDirectory();
        // dir held the new "repo", repo the new "wal", wal the new "00000002"; 00000002 holds the object's name
        assertThat(synced).containsExactly(dir, root, root.resolve("wal"), root.resolve("wal/00000002"));

        synced.clear();
        store.put("wal/00000002/000000020000000000000008", "y".getBytes(StandardCharsets.UTF_8));
        assertThat(synced).as("nothing new above the object's directory").containsExactly(root.resolve("wal/00000002"));
    }

    @Test
    void putIfAbsentIntoNewDirectoriesSyncsThemTooAndOnlyWhenItCreates() throws Exception {
        Path root = dir.resolve("repo");
        Files.createDirectories(root);
        List<Path> synced = new ArrayList<>();
        LocalBlobStore store = new LocalBlobStore(root, synced::add);

        assertThat(store.putIfAbsent("locks/a/b/exclusive", "me".getBytes(StandardCharsets.UTF_8)))
                .isTrue();
        assertThat(synced)
                .containsExactly(root, root.resolve("locks"), root.resolve("locks/a"), root.resolve("locks/a/b"));

        synced.clear();
        assertThat(store.putIfAbsent("locks/a/b/exclusive", "you".getBytes(StandardCharsets.UTF_8)))
                .isFalse();
        assertThat(synced).as("a refused create adds no entry").isEmpty();
        assertThat(store.get("locks/a/b/exclusive")).isEqualTo("me".getBytes(StandardCharsets.UTF_8));
        try (var files = Files.list(root.resolve("locks/a/b"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("exclusive");
        }
    }
}
