package dev.lifeboat.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.FaultInjectingProxy.DropMidResponse;
import dev.lifeboat.storage.FaultInjectingProxy.Hang;
import dev.lifeboat.storage.FaultInjectingProxy.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How a remote store behaves when the network or the server misbehaves, with a {@link FaultInjectingProxy} between the
 * store's client and a real test server. Transient faults (a few 500/503 answers, a slow answer, a connection dropped
 * in
 * the middle of a response, a request left unanswered past the client's timeout) must be survived by the retries of the
 * store stack (the client makes one attempt per request, as {@link BlobStores#open} builds it) with the data intact;
 * persistent ones must end in an {@link IOException} that names the key and the store,
 * and never in a corrupt or partly written object.
 *
 * <p>A backend's test opens the store through the proxy with few attempts and a short request timeout
 * ({@link #REQUEST_TIMEOUT}), and names the requests to hit: rules match a request target that contains the object's
 * key, so each test uses its own key names.
 */
public abstract class FaultInjectionContract {
    /** The per-request timeout backends configure, so an unanswered request fails an attempt quickly. */
    protected static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(2);
    /** Attempts per request backends configure (the first included). */
    protected static final int ATTEMPTS = 4;
    /** Larger than the multipart (block) threshold backends configure: three 5 MiB parts, the last one short. */
    protected static final int LARGE_OBJECT_SIZE = (11 << 20) + 12_345;

    protected FaultInjectingProxy proxy;
    protected BlobStore store;

    /** The test server's endpoint, {@code http://host:port}. */
    protected abstract String serverEndpoint() throws Exception;

    /**
     * A store with a fresh prefix whose client talks to {@code endpoint}, with {@link #ATTEMPTS} and
     * {@link #REQUEST_TIMEOUT}, opened the production way: the backend inside {@link BlobStores#stack}.
     */
    protected abstract BlobStore openStore(String endpoint) throws Exception;

    /**
     * Method and a part of the request target of the single-request upload of {@code key} (a small object). S3 and
     * Azure
     * name the key in the target; a backend whose upload request does not (GCS names it in the body) matches every
     * upload.
     */
    protected String[] smallPutRequest(String key) {
        return new String[] {"PUT", key};
    }

    /** Whether large objects go through a multipart (block) upload that the test server implements fully. */
    protected boolean multipartUploadsCanBeTested() {
        return true;
    }

    /** Method and a part of the request target of a listing. */
    protected abstract String[] listRequest();

    /** Method and a part of the request target of the upload of one part (block) of a large object. */
    protected abstract String[] partRequest();

    /** Method and a part of the request target that commits a large object's parts (blocks). */
    protected abstract String[] commitRequest();

    @BeforeEach
    void startProxy() throws Exception {
        proxy = new FaultInjectingProxy(serverEndpoint());
        store = openStore(proxy.endpoint());
    }

    @AfterEach
    void stopProxy() throws IOException {
        if (store != null) {
            store.close();
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    private void injectOnPut(String key, FaultInjectingProxy.Fault fault, int times) {
        String[] r = smallPutRequest(key);
        proxy.inject(r[0], r[1], fault, times);
    }

    protected static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void transientErrorAnswersToAPutAreRetried() throws IOException {
        byte[] data = random(50_000, 1);
        injectOnPut("put-retried", new Status(503), 1);
        injectOnPut("put-retried", new Status(500), 1);
        store.put("put-retried", data);
        assertThat(proxy.injected()).isEqualTo(2);
        assertThat(store.get("put-retried")).isEqualTo(data);
    }

    @Test
    void aPutWhoseAnswerIsLostIsRetried() throws IOException {
        byte[] data = random(50_000, 2);
        // the server stores the object, the client never hears so and sends it again
        injectOnPut("put-answer-lost", new DropMidResponse(), 1);
        store.put("put-answer-lost", data);
        assertThat(proxy.injected()).isEqualTo(1);
        assertThat(store.get("put-answer-lost")).isEqualTo(data);
    }

    @Test
    void transientFaultsOnReadsAreRetriedAndTheBytesAreIntact() throws IOException {
        byte[] data = random(300_000, 3);
        store.put("read-retried", data);
        proxy.inject("GET", "read-retried", new Status(503), 1)
                .inject("GET", "read-retried", new DropMidResponse(), 1)
                .inject("GET", "read-retried", new Hang(), 1)
                .inject("GET", "read-retried", new FaultInjectingProxy.Delay(REQUEST_TIMEOUT.dividedBy(4)), 1);
        assertThat(store.get("read-retried")).isEqualTo(data);
        assertThat(proxy.injected())
                .as("a 503, a dropped response, a slow one and an unanswered one")
                .isEqualTo(4);

        proxy.inject("GET", "read-retried", new Status(500), 1).inject("GET", "read-retried", new DropMidResponse(), 1);
        assertThat(store.getRange("read-retried", 1_234, 100_000)).isEqualTo(Arrays.copyOfRange(data, 1_234, 101_234));
        assertThat(proxy.injected()).isEqualTo(6);
    }

    @Test
    void transientFaultsOnListingsAreRetried() throws IOException {
        for (String k : List.of("listed/a", "listed/b", "listed/c")) {
            store.put(k, k.getBytes());
        }
        String[] list = listRequest();
        proxy.inject(list[0], list[1], new Status(503), 1)
                .inject(list[0], list[1], new FaultInjectingProxy.Delay(REQUEST_TIMEOUT.dividedBy(4)), 1)
                .inject(list[0], list[1], new DropMidResponse(), 1);
        assertThat(store.list("listed/")).extracting(BlobInfo::key).containsExactly("listed/a", "listed/b", "listed/c");
        assertThat(store.list("listed/")).extracting(BlobInfo::size).containsOnly(8L);
        assertThat(proxy.injected()).isEqualTo(3);
    }

    @Test
    void transientFaultsDuringAMultipartUploadAreRetried() throws IOException {
        Assumptions.assumeTrue(multipartUploadsCanBeTested(), "the test server's multipart uploads are incomplete");
        byte[] data = random(LARGE_OBJECT_SIZE, 4);
        String[] part = partRequest();
        String[] commit = commitRequest();
        proxy.inject(part[0], part[1], new Status(503), 1)
                .inject(part[0], part[1], new DropMidResponse(), 1)
                .inject(commit[0], commit[1], new Status(500), 1);
        store.put("large-retried", data);
        assertThat(proxy.injected()).isEqualTo(3);
        assertThat(store.get("large-retried")).isEqualTo(data);
    }

    @Test
    void aPersistentlyFailingPutFailsClearlyAndKeepsThePreviousObject() throws IOException {
        byte[] first = random(40_000, 5);
        store.put("put-fails", first);
        injectOnPut("put-fails", new Status(503), Integer.MAX_VALUE);
        assertThatThrownBy(() -> store.put("put-fails", random(40_000, 6)))
                .isInstanceOf(IOException.class)
                .isNotInstanceOf(BlobNotFoundException.class)
                .hasMessageContaining("put-fails")
                .hasMessageContaining(store.uri());
        injectOnPut("never-stored", new Status(500), Integer.MAX_VALUE);
        assertThatThrownBy(() -> store.put("never-stored", random(100, 7)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("never-stored")
                .hasMessageContaining(store.uri());
        proxy.clear();
        assertThat(store.get("put-fails")).isEqualTo(first);
        assertThatThrownBy(() -> store.get("never-stored")).isInstanceOf(BlobNotFoundException.class);
        assertThat(store.list("")).extracting(BlobInfo::key).containsExactly("put-fails");
    }

    @Test
    void aPutWhoseAnswersAreAlwaysLostLeavesOneWholeVersion() throws IOException {
        byte[] first = random(40_000, 8);
        byte[] second = random(40_000, 9);
        store.put("answers-lost", first);
        injectOnPut("answers-lost", new DropMidResponse(), Integer.MAX_VALUE);
        try {
            store.put("answers-lost", second);
        } catch (IOException e) {
            assertThat(e).hasMessageContaining("answers-lost").hasMessageContaining(store.uri());
        }
        proxy.clear();
        byte[] stored = store.get("answers-lost");
        assertThat(stored)
                .satisfiesAnyOf(
                        s -> assertThat(s).isEqualTo(first), s -> assertThat(s).isEqualTo(second));
    }

    @Test
    void aPersistentlyFailingReadFailsClearly() throws IOException {
        store.put("read-fails", random(100_000, 10));
        proxy.always("GET", "read-fails", new Hang());
        assertThatThrownBy(() -> store.get("read-fails"))
                .isInstanceOf(IOException.class)
                .isNotInstanceOf(BlobNotFoundException.class)
                .hasMessageContaining("read-fails")
                .hasMessageContaining(store.uri());
        proxy.clear();
        proxy.always("GET", "read-fails", new DropMidResponse());
        // (every attempt of the store stack's retry layer is cut off; the last failure is thrown)
        assertThatThrownBy(() -> store.get("read-fails"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("read-fails")
                .hasMessageContaining(store.uri());
    }

    @Test
    void aPersistentlyFailingListingFailsClearly() throws IOException {
        store.put("listed-fails/a", new byte[1]);
        String[] list = listRequest();
        proxy.always(list[0], list[1], new Status(503));
        assertThatThrownBy(() -> store.list("listed-fails/"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("listed-fails/")
                .hasMessageContaining(store.uri());
    }

    @Test
    void aFailedMultipartUploadLeavesNothingVisible() throws IOException {
        Assumptions.assumeTrue(multipartUploadsCanBeTested(), "the test server's multipart uploads are incomplete");
        byte[] small = random(1_000, 11);
        store.put("large-fails", small);
        String[] part = partRequest();
        proxy.always(part[0], part[1], new Status(503));
        assertThatThrownBy(() -> store.put("large-fails", random(LARGE_OBJECT_SIZE, 12)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("large-fails")
                .hasMessageContaining(store.uri());

        assertThatThrownBy(() -> store.put("large-new", random(LARGE_OBJECT_SIZE, 13)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("large-new");
        proxy.clear();
        String[] commit = commitRequest();
        proxy.always(commit[0], commit[1], new Status(503));
        assertThatThrownBy(() -> store.put("large-uncommitted", random(LARGE_OBJECT_SIZE, 14)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("large-uncommitted")
                .hasMessageContaining(store.uri());
        proxy.clear();
        assertThat(store.stat("large-new")).isEmpty();
        assertThat(store.stat("large-uncommitted")).isEmpty();
        if (serverKeepsTheObjectWhenAnUploadIsAborted()) {
            assertThat(store.get("large-fails"))
                    .as("the previous version, whole")
                    .isEqualTo(small);
            assertThat(store.list("")).extracting(BlobInfo::key).containsExactly("large-fails");
        } else {
            // never the new, partly uploaded content: the previous version whole, or nothing
            try {
                assertThat(store.get("large-fails")).isEqualTo(small);
            } catch (BlobNotFoundException gone) {
                assertThat(store.list("")).isEmpty();
            }
        }
    }

    /**
     * Whether aborting a multipart upload leaves an existing object with the same key alone, as S3 and Azure (whose
     * uncommitted blocks never touch the committed blob) do. A test server that deletes the object on abort is only
     * checked for never showing the new, partial content.
     */
    protected boolean serverKeepsTheObjectWhenAnUploadIsAborted() {
        return true;
    }
}
