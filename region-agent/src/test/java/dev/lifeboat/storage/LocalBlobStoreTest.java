package dev.lifeboat.storage;

import dev.lifeboat.storage.local.LocalBlobStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LocalBlobStoreTest {
    @TempDir
    Path dir;
    LocalBlobStore store;

    @BeforeEach
    void setUp() {
        store = new LocalBlobStore(dir.resolve("repo"));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private List<String> keys(String prefix) throws IOException {
        return store.list(prefix).stream().map(BlobInfo::key).toList();
    }

    @Test
    void putThenGetRoundTrips() throws IOException {
        byte[] data = random(100_000, 1);
        store.put("data/ab/abcdef", data);
        assertThat(store.get("data/ab/abcdef")).isEqualTo(data);
        assertThat(Files.readAllBytes(dir.resolve("repo/data/ab/abcdef"))).isEqualTo(data);
        try (InputStream in = store.open("data/ab/abcdef")) {
            assertThat(in.readAllBytes()).isEqualTo(data);
        }
    }

    @Test
    void putWithOffsetAndLengthStoresOnlyThatSlice() throws IOException {
        byte[] data = bytes("0123456789");
        store.put("slice", data, 3, 4);
        assertThat(store.get("slice")).isEqualTo(bytes("3456"));
    }

    @Test
    void emptyObjectRoundTrips() throws IOException {
        store.put("empty", new byte[0]);
        assertThat(store.get("empty")).isEmpty();
        assertThat(store.stat("empty")).get().extracting(BlobInfo::size).isEqualTo(0L);
    }

    @Test
    void putOverwritesExistingObject() throws IOException {
        store.put("k", bytes("first version, longer"));
        store.put("k", bytes("second"));
        assertThat(store.get("k")).isEqualTo(bytes("second"));
        assertThat(keys("")).containsExactly("k");
    }

    @Test
    void getRangeReturnsTheRequestedBytes() throws IOException {
        byte[] data = random(10_000, 2);
        store.put("r", data);
        assertThat(store.getRange("r", 0, 10)).isEqualTo(Arrays.copyOfRange(data, 0, 10));
        assertThat(store.getRange("r", 1234, 4000)).isEqualTo(Arrays.copyOfRange(data, 1234, 5234));
        assertThat(store.getRange("r", 9_990, 10)).isEqualTo(Arrays.copyOfRange(data, 9_990, 10_000));
        assertThat(store.getRange("r", 500, 0)).isEmpty();
    }

    @Test
    void getRangePastTheEndFails() throws IOException {
        store.put("r", random(100, 3));
        assertThatThrownBy(() -> store.getRange("r", 90, 11)).isInstanceOf(EOFException.class).hasMessageContaining("r");
        assertThatThrownBy(() -> store.getRange("r", 200, 1)).isInstanceOf(EOFException.class);
    }

    @Test
    void getRangeOfMissingObjectThrowsBlobNotFound() {
        assertThatThrownBy(() -> store.getRange("nope", 0, 1)).isInstanceOf(BlobNotFoundException.class)
                .hasMessageContaining("nope");
    }

    @Test
    void statReportsSizeAndEmptyForMissingOrDirectory() throws IOException {
        store.put("a/b/c", random(777, 4));
        Optional<BlobInfo> info = store.stat("a/b/c");
        assertThat(info).isPresent();
        assertThat(info.get().key()).isEqualTo("a/b/c");
        assertThat(info.get().size()).isEqualTo(777);
        assertThat(info.get().lastModified()).isNotNull();
        assertThat(store.stat("a/b/missing")).isEmpty();
        assertThat(store.stat("a/b")).as("a directory is not an object").isEmpty();
    }

    @Test
    void listIsSortedRecursiveAndFilteredByPrefix() throws IOException {
        for (String k : List.of("snapshots/b", "data/ff/ff01", "data/00/0002", "data/00/0001", "index/i1", "config",
                "data/0a/0a99", "snapshots/a")) {
            store.put(k, bytes(k));
        }
        assertThat(keys("")).containsExactly("config", "data/00/0001", "data/00/0002", "data/0a/0a99", "data/ff/ff01",
                "index/i1", "snapshots/a", "snapshots/b");
        assertThat(keys("data/")).containsExactly("data/00/0001", "data/00/0002", "data/0a/0a99", "data/ff/ff01");
        assertThat(keys("data/00/")).containsExactly("data/00/0001", "data/00/0002");
        // a prefix that ends inside a directory name or a file name
        assertThat(keys("data/0")).containsExactly("data/00/0001", "data/00/0002", "data/0a/0a99");
        assertThat(keys("data/00/000")).containsExactly("data/00/0001", "data/00/0002");
        assertThat(keys("data/00/0002")).containsExactly("data/00/0002");
        assertThat(keys("snap")).containsExactly("snapshots/a", "snapshots/b");
        assertThat(keys("con")).containsExactly("config");
        assertThat(keys("missing/")).isEmpty();
        assertThat(keys("data/zz/")).isEmpty();
        assertThat(store.list("data/ff/").getFirst().size()).isEqualTo("data/ff/ff01".length());
    }

    @Test
    void listOfAStoreWhoseRootDoesNotExistIsEmpty() throws IOException {
        assertThat(Files.exists(dir.resolve("repo"))).isFalse();
        assertThat(keys("")).isEmpty();
        assertThat(keys("data/")).isEmpty();
    }

    @Test
    void deleteRemovesAndIsIdempotent() throws IOException {
        store.put("x/y", bytes("1"));
        store.delete("x/y");
        assertThat(store.stat("x/y")).isEmpty();
        assertThat(keys("")).isEmpty();
        store.delete("x/y");
        store.delete("never/existed");
    }

    @Test
    void putIfAbsentCreatesOnceAndKeepsTheFirstContent() throws IOException {
        assertThat(store.putIfAbsent("locks/exclusive", bytes("first"))).isTrue();
        assertThat(store.putIfAbsent("locks/exclusive", bytes("second"))).isFalse();
        assertThat(store.get("locks/exclusive")).isEqualTo(bytes("first"));
        assertThat(keys("")).containsExactly("locks/exclusive");
        assertThat(tempFiles()).isEmpty();
        store.delete("locks/exclusive");
        assertThat(store.putIfAbsent("locks/exclusive", bytes("third"))).isTrue();
        assertThat(store.get("locks/exclusive")).isEqualTo(bytes("third"));
    }

    @Test
    void concurrentPutIfAbsentHasExactlyOneWinner() throws Exception {
        int threads = 8;
        for (int round = 0; round < 20; round++) {
            String key = "locks/race-" + round;
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> results = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
                for (int t = 0; t < threads; t++) {
                    byte[] content = bytes("writer-" + t);
                    Callable<Boolean> c = () -> {
                        start.await();
                        return store.putIfAbsent(key, content);
                    };
                    results.add(pool.submit(c));
                }
                start.countDown();
                int winners = 0;
                int winner = -1;
                for (int t = 0; t < threads; t++) {
                    if (results.get(t).get()) {
                        winners++;
                        winner = t;
                    }
                }
                assertThat(winners).as("round %d", round).isEqualTo(1);
                assertThat(store.get(key)).isEqualTo(bytes("writer-" + winner));
            }
        }
        assertThat(keys("locks/")).hasSize(20).allMatch(k -> k.startsWith("locks/race-"));
        assertThat(tempFiles()).as("putIfAbsent must clean up its temporary files").isEmpty();
    }

    @Test
    void concurrentPutsToTheSameKeyLeaveOneCompleteObject() throws Exception {
        List<byte[]> versions = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            versions.add(random(200_000, 100 + t));
        }
        CountDownLatch start = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> fs = new ArrayList<>();
            for (byte[] v : versions) {
                fs.add(pool.submit(() -> {
                    start.await();
                    store.put("same", v);
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : fs) {
                f.get();
            }
        }
        byte[] got = store.get("same");
        assertThat(versions).anySatisfy(v -> assertThat(got).isEqualTo(v));
        assertThat(keys("")).containsExactly("same");
        assertThat(tempFiles()).isEmpty();
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
        assertThat(store.removeStaleTemporaryFiles(java.time.Duration.ofHours(1))).as("too young to remove").isZero();
        Files.setLastModifiedTime(leftover, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 7_200_000));
        assertThat(store.removeStaleTemporaryFiles(java.time.Duration.ofHours(1))).isEqualTo(1);
        assertThat(Files.exists(leftover)).isFalse();
        assertThat(store.get("data/ab/abc")).isEqualTo(bytes("x"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs", "a/../b", "..", "a\\b", ""})
    void invalidKeysAreRejected(String key) throws IOException {
        assertThatThrownBy(() -> store.put(key, bytes("x"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.putIfAbsent(key, bytes("x"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.get(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.stat(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.delete(key)).isInstanceOf(IllegalArgumentException.class);
        assertThat(Files.exists(dir.resolve("x"))).isFalse();
        assertThat(Files.exists(Path.of("/abs"))).isFalse();
    }

    @Test
    void listWithAnEscapingPrefixIsRejected() {
        assertThatThrownBy(() -> store.list("../")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void missingObjectThrowsBlobNotFound() {
        assertThatThrownBy(() -> store.get("data/00/missing")).isInstanceOf(BlobNotFoundException.class)
                .hasMessageContaining("data/00/missing").hasMessageContaining(store.uri());
        assertThatThrownBy(() -> store.open("missing")).isInstanceOf(BlobNotFoundException.class);
    }

    @Test
    void uriNamesTheRoot() {
        assertThat(store.uri()).isEqualTo("file://" + dir.resolve("repo").toAbsolutePath().normalize());
        assertThat(BlobStores.open(store.uri()).uri()).isEqualTo(store.uri());
    }

    private List<Path> tempFiles() throws IOException {
        if (!Files.exists(store.root())) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(store.root())) {
            return s.filter(p -> p.getFileName().toString().endsWith(".lifeboat-tmp")).toList();
        }
    }
}
