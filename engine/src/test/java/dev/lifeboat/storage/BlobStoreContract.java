package dev.lifeboat.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What every {@link BlobStore} backend must do. A backend's test extends this class and opens a fresh, empty store for
 * each test; backends with a multipart (or block) threshold configure it below {@link #LARGE_OBJECT_SIZE} so the large
 * object test goes through the multipart path.
 */
public abstract class BlobStoreContract {
    /** Larger than the multipart threshold backend tests configure (5 MiB parts): three parts, the last one short. */
    protected static final int LARGE_OBJECT_SIZE = (11 << 20) + 12_345;
    /** More than one page of an S3 listing (1,000 keys) or an Azure listing page of the same size. */
    protected static final int MANY_KEYS = 1_100;

    protected BlobStore store;

    /** A store nobody else writes to, empty at the start of each test. */
    protected abstract BlobStore openStore() throws Exception;

    /** Rounds of the conditional-create race; remote stores use fewer to keep the test short. */
    protected int raceRounds() {
        return 20;
    }

    /**
     * Whether the server behind the store decides a conditional create atomically. Real S3, Azure and file systems do;
     * a test server that checks the condition and then stores without a lock may let two racing writers both win, and
     * then the race test only checks that every writer got an answer and the object is one winner's.
     */
    protected boolean conditionalCreateIsAtomic() {
        return true;
    }

    /**
     * Whether the server behind the store evaluates the precondition of a conditional create at all. Every real store
     * does; a test server that ignores preconditions creates or overwrites unconditionally, and then the tests of
     * {@link BlobStore#putIfAbsent} are skipped (the backend's test must cover the conditional path another way).
     */
    protected boolean serverEvaluatesConditionalCreate() {
        return true;
    }

    /**
     * Whether the server answers a read whose range starts at or past the end of the object with 416 (Range Not
     * Satisfiable), as S3, Azure and GCS do. A test server that answers 200 with the whole object instead makes such a
     * read indistinguishable from a good one for a client that cannot see the status, and then those cases are skipped.
     */
    protected boolean serverAnswersRangesStartingPastTheEnd416() {
        return true;
    }

    @BeforeEach
    void openTheStore() throws Exception {
        store = openStore();
    }

    @AfterEach
    void closeTheStore() throws IOException {
        if (store != null) {
            store.close();
        }
    }

    protected static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    protected static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    protected List<String> keys(String prefix) throws IOException {
        return store.list(prefix).stream().map(BlobInfo::key).toList();
    }

    @Test
    void putThenGetRoundTrips() throws IOException {
        byte[] data = random(100_000, 1);
        store.put("data/ab/abcdef", data);
        assertThat(store.get("data/ab/abcdef")).isEqualTo(data);
        try (InputStream in = store.open("data/ab/abcdef")) {
            assertThat(in.readAllBytes()).isEqualTo(data);
        }
    }

    @Test
    void putWithOffsetAndLengthStoresOnlyThatSlice() throws IOException {
        store.put("slice", bytes("0123456789"), 3, 4);
        assertThat(store.get("slice")).isEqualTo(bytes("3456"));
    }

    @Test
    void emptyObjectRoundTrips() throws IOException {
        store.put("empty", new byte[0]);
        assertThat(store.get("empty")).isEmpty();
        assertThat(store.stat("empty")).get().extracting(BlobInfo::size).isEqualTo(0L);
        assertThat(store.list("")).singleElement().extracting(BlobInfo::size).isEqualTo(0L);
    }

    @Test
    void putOverwritesExistingObject() throws IOException {
        store.put("k", bytes("first version, longer"));
        store.put("k", bytes("second"));
        assertThat(store.get("k")).isEqualTo(bytes("second"));
        assertThat(keys("")).containsExactly("k");
        assertThat(store.stat("k")).get().extracting(BlobInfo::size).isEqualTo(6L);
    }

    @Test
    void largeObjectRoundTripsThroughTheMultipartPath() throws IOException {
        byte[] data = random(LARGE_OBJECT_SIZE, 5);
        store.put("big", data);
        assertThat(store.stat("big")).get().extracting(BlobInfo::size).isEqualTo((long) LARGE_OBJECT_SIZE);
        assertThat(store.get("big")).isEqualTo(data);
        try (InputStream in = store.open("big")) {
            assertThat(in.readAllBytes()).isEqualTo(data);
        }
        // a range across the first part boundary (5 MiB), and the tail of the last part
        int boundary = 5 << 20;
        assertThat(store.getRange("big", boundary - 1000, 3000))
                .isEqualTo(Arrays.copyOfRange(data, boundary - 1000, boundary + 2000));
        assertThat(store.getRange("big", LARGE_OBJECT_SIZE - 10, 10))
                .isEqualTo(Arrays.copyOfRange(data, LARGE_OBJECT_SIZE - 10, LARGE_OBJECT_SIZE));

        // a slice of a larger array, overwriting the first version
        store.put("big", data, 7, LARGE_OBJECT_SIZE - 7);
        assertThat(store.get("big")).isEqualTo(Arrays.copyOfRange(data, 7, LARGE_OBJECT_SIZE));
        assertThat(keys("")).containsExactly("big");
    }

    @Test
    void getRangeReturnsTheRequestedBytes() throws IOException {
        byte[] data = random(10_000, 2);
        store.put("r", data);
        assertThat(store.getRange("r", 0, 10)).isEqualTo(Arrays.copyOfRange(data, 0, 10));
        assertThat(store.getRange("r", 1234, 4000)).isEqualTo(Arrays.copyOfRange(data, 1234, 5234));
        assertThat(store.getRange("r", 9_990, 10)).isEqualTo(Arrays.copyOfRange(data, 9_990, 10_000));
        assertThat(store.getRange("r", 0, 10_000)).isEqualTo(data);
        assertThat(store.getRange("r", 500, 0)).isEmpty();
    }

    @Test
    void getRangePastTheEndFails() throws IOException {
        store.put("r", random(100, 3));
        assertThatThrownBy(() -> store.getRange("r", 90, 11))
                .isInstanceOf(EOFException.class)
                .hasMessageContaining("r");
        if (!serverAnswersRangesStartingPastTheEnd416()) {
            return;
        }
        assertThatThrownBy(() -> store.getRange("r", 100, 1)).isInstanceOf(EOFException.class);
        assertThatThrownBy(() -> store.getRange("r", 200, 1)).isInstanceOf(EOFException.class);
        store.put("empty", new byte[0]);
        assertThatThrownBy(() -> store.getRange("empty", 0, 1)).isInstanceOf(EOFException.class);
    }

    @Test
    void getRangeOfMissingObjectThrowsBlobNotFound() {
        assertThatThrownBy(() -> store.getRange("nope", 0, 1))
                .isInstanceOf(BlobNotFoundException.class)
                .hasMessageContaining("nope");
        assertThatThrownBy(() -> store.getRange("nope", 0, 0)).isInstanceOf(BlobNotFoundException.class);
    }

    @Test
    void missingObjectThrowsBlobNotFound() {
        assertThatThrownBy(() -> store.get("data/00/missing"))
                .isInstanceOf(BlobNotFoundException.class)
                .hasMessageContaining("data/00/missing")
                .hasMessageContaining(store.uri());
        assertThatThrownBy(() -> store.open("missing")).isInstanceOf(BlobNotFoundException.class);
    }

    @Test
    void statReportsSizeAndTimeOrEmptyForMissing() throws IOException {
        store.put("a/b/c", random(777, 4));
        Optional<BlobInfo> info = store.stat("a/b/c");
        assertThat(info).isPresent();
        assertThat(info.get().key()).isEqualTo("a/b/c");
        assertThat(info.get().size()).isEqualTo(777);
        assertThat(info.get().lastModified()).isNotNull();
        assertThat(store.stat("a/b/missing")).isEmpty();
        assertThat(store.stat("a/b")).as("a key prefix is not an object").isEmpty();
    }

    @Test
    void listIsSortedRecursiveAndFilteredByPrefix() throws IOException {
        for (String k : List.of(
                "snapshots/b",
                "data/ff/ff01",
                "data/00/0002",
                "data/00/0001",
                "index/i1",
                "config",
                "data/0a/0a99",
                "snapshots/a")) {
            store.put(k, bytes(k));
        }
        assertThat(keys(""))
                .containsExactly(
                        "config",
                        "data/00/0001",
                        "data/00/0002",
                        "data/0a/0a99",
                        "data/ff/ff01",
                        "index/i1",
                        "snapshots/a",
                        "snapshots/b");
        assertThat(keys("data/")).containsExactly("data/00/0001", "data/00/0002", "data/0a/0a99", "data/ff/ff01");
        assertThat(keys("data/00/")).containsExactly("data/00/0001", "data/00/0002");
        // a prefix that ends inside a "directory" name or a key
        assertThat(keys("data/0")).containsExactly("data/00/0001", "data/00/0002", "data/0a/0a99");
        assertThat(keys("data/00/000")).containsExactly("data/00/0001", "data/00/0002");
        assertThat(keys("data/00/0002")).containsExactly("data/00/0002");
        assertThat(keys("snap")).containsExactly("snapshots/a", "snapshots/b");
        assertThat(keys("con")).containsExactly("config");
        assertThat(keys("missing/")).isEmpty();
        assertThat(keys("data/zz/")).isEmpty();
        for (BlobInfo i : store.list("")) {
            assertThat(i.size()).as(i.key()).isEqualTo(i.key().length());
            assertThat(i.lastModified()).as(i.key()).isNotNull();
        }
    }

    @Test
    void listOfAnEmptyStoreIsEmpty() throws IOException {
        assertThat(keys("")).isEmpty();
        assertThat(keys("data/")).isEmpty();
    }

    @Test
    void listReturnsManyKeysInOrder() throws Exception {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < MANY_KEYS; i++) {
            expected.add(String.format("many/%02x/%05d", i % 256, i));
        }
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> fs = new ArrayList<>();
            for (String k : expected) {
                fs.add(pool.submit(() -> {
                    store.put(k, bytes(k.substring(k.lastIndexOf('/') + 1)));
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        }
        store.put("other", bytes("x"));
        List<BlobInfo> listed = store.list("many/");
        assertThat(listed)
                .extracting(BlobInfo::key)
                .containsExactlyElementsOf(expected.stream().sorted().toList());
        assertThat(listed).allSatisfy(i -> assertThat(i.size()).isEqualTo(5));
        assertThat(keys("")).hasSize(MANY_KEYS + 1);
        assertThat(keys("many/0a/")).hasSize((int)
                expected.stream().filter(k -> k.startsWith("many/0a/")).count());
    }

    @Test
    void deleteRemovesAndIsIdempotent() throws IOException {
        store.put("x/y", bytes("1"));
        store.put("x/z", bytes("2"));
        store.delete("x/y");
        assertThat(store.stat("x/y")).isEmpty();
        assertThatThrownBy(() -> store.get("x/y")).isInstanceOf(BlobNotFoundException.class);
        assertThat(keys("")).containsExactly("x/z");
        store.delete("x/y");
        store.delete("never/existed");
        assertThat(store.get("x/z")).isEqualTo(bytes("2"));
    }

    @Test
    void putIfAbsentCreatesOnceAndKeepsTheFirstContent() throws IOException {
        Assumptions.assumeTrue(serverEvaluatesConditionalCreate(), "the test server ignores preconditions");
        assertThat(store.putIfAbsent("locks/exclusive", bytes("first"))).isTrue();
        assertThat(store.putIfAbsent("locks/exclusive", bytes("second"))).isFalse();
        assertThat(store.get("locks/exclusive")).isEqualTo(bytes("first"));
        assertThat(keys("")).containsExactly("locks/exclusive");
        store.delete("locks/exclusive");
        assertThat(store.putIfAbsent("locks/exclusive", bytes("third"))).isTrue();
        assertThat(store.get("locks/exclusive")).isEqualTo(bytes("third"));
        store.put("locks/plain", bytes("put"));
        assertThat(store.putIfAbsent("locks/plain", bytes("again")))
                .as("an object written by put counts too")
                .isFalse();
        assertThat(store.get("locks/plain")).isEqualTo(bytes("put"));
    }

    @Test
    void holdsExactlyTellsOwnBytesFromAnyOther() throws IOException {
        // what a refused conditional create checks to recognise its own retried, already successful request
        store.put("locks/mine", bytes("owner 42"));
        assertThat(store.holdsExactly("locks/mine", bytes("owner 42"))).isTrue();
        assertThat(store.holdsExactly("locks/mine", bytes("owner 43"))).isFalse();
        assertThat(store.holdsExactly("locks/none", bytes("owner 42"))).isFalse();
    }

    @Test
    void concurrentPutIfAbsentHasExactlyOneWinner() throws Exception {
        Assumptions.assumeTrue(serverEvaluatesConditionalCreate(), "the test server ignores preconditions");
        int threads = 8;
        int rounds = raceRounds();
        for (int round = 0; round < rounds; round++) {
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
                List<byte[]> winners = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    if (results.get(t).get()) {
                        winners.add(bytes("writer-" + t));
                    }
                }
                byte[] stored = store.get(key);
                if (conditionalCreateIsAtomic()) {
                    assertThat(winners).as("round %d", round).hasSize(1);
                }
                assertThat(winners)
                        .as("round %d", round)
                        .isNotEmpty()
                        .anySatisfy(w -> assertThat(stored).isEqualTo(w));
            }
        }
        assertThat(keys("locks/")).hasSize(rounds).allMatch(k -> k.startsWith("locks/race-"));
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
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs", "a/../b", "..", "a\\b", ""})
    void invalidKeysAreRejected(String key) {
        assertThatThrownBy(() -> store.put(key, bytes("x"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.putIfAbsent(key, bytes("x"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.get(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.stat(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.delete(key)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void listWithAnEscapingPrefixIsRejected() {
        assertThatThrownBy(() -> store.list("../")).isInstanceOf(IllegalArgumentException.class);
    }
}
