package dev.lifeboat.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The shared contract, plus what only a file system store does: files on disk, temporary files, a root that may not
 * exist. */
class LocalBlobStoreTest extends BlobStoreContract {
    @TempDir
    Path dir;

    @Override
    protected BlobStore openStore() {
        return new LocalBlobStore(dir.resolve("repo"));
    }

    private LocalBlobStore local() {
        return (LocalBlobStore) store;
    }

    @AfterEach
    void noTemporaryFileIsLeftBehind() throws IOException {
        assertThat(tempFiles()).as("writes must clean up their temporary files").isEmpty();
    }

    @Test
    void objectsAreFilesUnderTheRoot() throws IOException {
        byte[] data = random(100_000, 1);
        store.put("data/ab/abcdef", data);
        assertThat(Files.readAllBytes(dir.resolve("repo/data/ab/abcdef"))).isEqualTo(data);
    }

    @Test
    void listOfAStoreWhoseRootDoesNotExistIsEmpty() throws IOException {
        assertThat(Files.exists(dir.resolve("repo"))).isFalse();
        assertThat(keys("")).isEmpty();
        assertThat(keys("data/")).isEmpty();
    }

    @Test
    void temporaryFilesAreNeverListed() throws IOException {
        store.put("data/ab/abc", bytes("x"));
        // a writer that crashed between writing its temporary file and renaming it
        Path leftover = dir.resolve("repo/data/ab/.abd.0000-1111.lifeboat-tmp");
        Files.write(leftover, bytes("partial"));
        assertThat(keys("")).containsExactly("data/ab/abc");
        assertThat(keys("data/ab/")).containsExactly("data/ab/abc");
        assertThat(keys("data/ab/.")).isEmpty();
        assertThat(local().removeStaleTemporaryFiles(Duration.ofHours(1)))
                .as("too young to remove")
                .isZero();
        Files.setLastModifiedTime(leftover, FileTime.fromMillis(System.currentTimeMillis() - 7_200_000));
        assertThat(local().removeStaleTemporaryFiles(Duration.ofHours(1))).isEqualTo(1);
        assertThat(Files.exists(leftover)).isFalse();
        assertThat(store.get("data/ab/abc")).isEqualTo(bytes("x"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs"})
    void invalidKeysNeverTouchTheFileSystem(String key) {
        assertThatThrownBy(() -> store.put(key, bytes("x"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.putIfAbsent(key, bytes("x"))).isInstanceOf(IllegalArgumentException.class);
        assertThat(Files.exists(dir.resolve("x"))).isFalse();
        assertThat(Files.exists(Path.of("/abs"))).isFalse();
    }

    @Test
    void uriNamesTheRoot() {
        assertThat(store.uri())
                .isEqualTo("file://" + dir.resolve("repo").toAbsolutePath().normalize());
        assertThat(BlobStores.open(store.uri()).uri()).isEqualTo(store.uri());
    }

    private List<Path> tempFiles() throws IOException {
        if (!Files.exists(local().root())) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(local().root())) {
            return s.filter(p -> p.getFileName().toString().endsWith(".lifeboat-tmp"))
                    .toList();
        }
    }

    @Test
    void createContainerMakesTheRootDirectoryOnce() throws Exception {
        LocalBlobStore fresh = new LocalBlobStore(dir.resolve("new/repo"));
        assertThat(fresh.createContainer()).isTrue();
        assertThat(dir.resolve("new/repo")).isDirectory();
        assertThat(fresh.createContainer()).isFalse();
    }
}
