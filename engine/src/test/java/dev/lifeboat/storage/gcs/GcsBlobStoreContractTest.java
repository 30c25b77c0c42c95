package dev.lifeboat.storage.gcs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.cloud.NoCredentials;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStoreContract;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.storage.Retention;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/**
 * The store contract against a server speaking the GCS JSON API over HTTP: the Cloud Storage emulator of
 * {@code firebase-tools}, in its own process (see {@link GcsEmulatorFixture}). Each test gets its own prefix.
 *
 * <p>The emulator's gaps, and how they are handled:
 * <ul>
 * <li>It ignores preconditions ({@code ifGenerationMatch}), so {@link #serverEvaluatesConditionalCreate()} is false and
 * the contract's putIfAbsent tests are skipped here; {@code GcsConditionalCreateTest} covers that path (the request
 *       carries {@code ifGenerationMatch=0}, and a 412 answer means "taken").</li>
 *   <li>It finalizes a resumable upload on its first data request, so the fixture sends the 11 MiB test object as a
 *       resumable upload in one 16 MiB chunk: the resumable protocol (session, PUT, finalize) is exercised, a
 *       multi-chunk session is not. (Its parser of multipart uploads, which rejected the client's valid requests, is
 *       replaced in {@code gcs-emulator.cjs}.)</li>
 *   <li>It answers a range starting past the end of an object with the whole object, not 416: that case of the range
 *       test is skipped.</li>
 * </ul>
 */
class GcsBlobStoreContractTest extends BlobStoreContract {

    @Override
    protected BlobStore openStore() throws Exception {
        return new GcsBlobStore(
                GcsEmulatorFixture.BUCKET,
                "t-" + UUID.randomUUID() + "/repo",
                GcsEmulatorFixture.get().settings());
    }

    @Override
    protected boolean serverEvaluatesConditionalCreate() {
        return false;
    }

    /**
     * The emulator answers a range that starts at or past the end of an object with 200 and the whole object (GCS
     * answers
     * 416), and the client's read channel does not show the status.
     */
    @Override
    protected boolean serverAnswersRangesStartingPastTheEnd416() {
        return false;
    }

    @Test
    void uriNamesBucketAndPrefix() throws Exception {
        assertThat(store.uri())
                .startsWith("gs://" + GcsEmulatorFixture.BUCKET + "/t-")
                .endsWith("/repo");
        try (GcsBlobStore whole = new GcsBlobStore(
                GcsEmulatorFixture.BUCKET, "/", GcsEmulatorFixture.get().settings())) {
            assertThat(whole.uri()).isEqualTo("gs://" + GcsEmulatorFixture.BUCKET);
        }
    }

    @Test
    void objectsLiveUnderThePrefix() throws Exception {
        store.put("data/x", bytes("x"));
        String prefix = store.uri().substring(("gs://" + GcsEmulatorFixture.BUCKET + "/").length());
        try (GcsBlobStore whole = new GcsBlobStore(
                GcsEmulatorFixture.BUCKET, "", GcsEmulatorFixture.get().settings())) {
            assertThat(whole.get(prefix + "/data/x")).isEqualTo(bytes("x"));
            assertThat(whole.list(prefix + "/")).extracting(i -> i.key()).containsExactly(prefix + "/data/x");
        }
    }

    @Test
    void settingsComeFromTheEnvironment() {
        GcsSettings s = GcsSettings.fromEnvironment(
                Map.of("LIFEBOAT_GCS_ENDPOINT", "http://127.0.0.1:9199", "LIFEBOAT_GCS_PROJECT", "backups"));
        assertThat(s.endpoint()).isEqualTo("http://127.0.0.1:9199");
        assertThat(s.projectId()).isEqualTo("backups");
        assertThat(s.credentials()).as("no credentials for a custom endpoint").isSameAs(NoCredentials.getInstance());
        GcsSettings withKey = GcsSettings.fromEnvironment(Map.of(
                "LIFEBOAT_GCS_ENDPOINT", "https://gcs.internal", "GOOGLE_APPLICATION_CREDENTIALS", "/etc/key.json"));
        assertThat(withKey.credentials())
                .as("the standard chain reads GOOGLE_APPLICATION_CREDENTIALS")
                .isNull();
        GcsSettings google = GcsSettings.fromEnvironment(Map.of());
        assertThat(google.endpoint()).isNull();
        assertThat(google.credentials()).as("Application Default Credentials").isNull();
        assertThatThrownBy(() -> GcsSettings.fromEnvironment(Map.of("LIFEBOAT_GCS_ENDPOINT", "127.0.0.1:9199")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GcsSettings.defaults().withUploads(1, 1000))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(GcsSettings.defaults().withRetries(2, Duration.ofSeconds(5)).maxAttempts())
                .isEqualTo(2);
    }

    @Test
    void blobStoresOpensGsUris() {
        assertThatThrownBy(() -> BlobStores.open("gs:///prefix"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gs://bucket/prefix");
    }

    /**
     * The emulator answers bucket calls with 501, so this checks the JSON API calls the SDK sends against a recording
     * server: a GET of the bucket, and on 404 a POST that creates it in the configured project; an existing bucket
     * is left alone.
     */
    @Test
    void createContainerAgainstARecordingServerBecauseTheEmulatorHasNoBucketCalls() throws Exception {
        List<String> calls = new CopyOnWriteArrayList<>();
        Set<String> buckets = ConcurrentHashMap.newKeySet();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        // the server drops the connection of a handler that throws: keep the cause for the assertion at the end
        List<Throwable> handlerErrors = new CopyOnWriteArrayList<>();
        server.createContext("/", ex -> {
            try {
                answer(ex, calls, buckets);
            } catch (RuntimeException | IOException e) {
                handlerErrors.add(e);
                throw e;
            }
        });
        server.start();
        try (GcsBlobStore fresh = new GcsBlobStore(
                "made-here",
                "pg/main",
                GcsSettings.defaults()
                        .withEndpoint("http://127.0.0.1:" + server.getAddress().getPort(), "acme-dr")
                        .withCredentials(NoCredentials.getInstance()))) {
            assertThat(fresh.createContainer()).as("created").isTrue();
            assertThat(calls).hasSize(2);
            assertThat(calls.get(0)).startsWith("GET /storage/v1/b/made-here");
            assertThat(calls.get(1)).startsWith("POST /storage/v1/b?").contains("project=acme-dr");
            assertThat(Json.MAPPER
                            .readTree(calls.get(1).substring(calls.get(1).indexOf(' ', 5) + 1))
                            .get("name")
                            .asText())
                    .isEqualTo("made-here");
            assertThat(Json.MAPPER
                            .readTree(body(calls, 1))
                            .path("retentionPolicy")
                            .path("retentionPeriod")
                            .isMissingNode())
                    .as("no retention for a store that is not write-once: " + calls.get(1))
                    .isTrue();
            calls.clear();
            assertThat(fresh.createContainer()).as("already there").isFalse();
            assertThat(calls).hasSize(1).allMatch(c -> c.startsWith("GET "));
        }
        // a write-once store's bucket gets a retention policy of its days
        calls.clear();
        try (GcsBlobStore vault = new GcsBlobStore(
                "vault-here",
                "pg/main",
                GcsSettings.defaults()
                        .withEndpoint("http://127.0.0.1:" + server.getAddress().getPort(), "acme-dr")
                        .withCredentials(NoCredentials.getInstance())
                        .withRetention(new Retention(35, null)))) {
            assertThat(vault.createContainer()).isTrue();
            assertThat(Json.MAPPER
                            .readTree(body(calls, 1))
                            .path("retentionPolicy")
                            .path("retentionPeriod")
                            .asText())
                    .isEqualTo(String.valueOf(35L * 24 * 3600));
        } finally {
            server.stop(0);
        }
        assertThat(handlerErrors).as("the recording server's own failures").isEmpty();
    }

    private static void answer(HttpExchange ex, List<String> calls, Set<String> buckets) throws IOException {
        // the SDK gzips JSON request bodies
        boolean gzip = "gzip".equalsIgnoreCase(ex.getRequestHeaders().getFirst("Content-Encoding"));
        String body = new String(
                (gzip ? new GZIPInputStream(ex.getRequestBody()) : ex.getRequestBody()).readAllBytes(),
                StandardCharsets.UTF_8);
        String path = ex.getRequestURI().getPath();
        calls.add(ex.getRequestMethod() + " " + path
                + (ex.getRequestURI().getQuery() == null
                        ? ""
                        : "?" + ex.getRequestURI().getQuery()) + (body.isEmpty() ? "" : " " + body));
        String answer;
        int status;
        if (ex.getRequestMethod().equals("GET") && path.startsWith("/storage/v1/b/")) {
            String name = path.substring("/storage/v1/b/".length());
            status = buckets.contains(name) ? 200 : 404;
            answer = status == 200
                    ? "{\"kind\":\"storage#bucket\",\"name\":\"" + name + "\"}"
                    : "{\"error\":{\"code\":404,\"message\":\"The specified bucket does not exist.\"}}";
        } else if (ex.getRequestMethod().equals("POST") && path.equals("/storage/v1/b")) {
            String name = Json.MAPPER.readTree(body).get("name").asText();
            buckets.add(name);
            status = 200;
            answer = "{\"kind\":\"storage#bucket\",\"name\":\"" + name + "\"}";
        } else {
            status = 501;
            answer = "{}";
        }
        byte[] out = answer.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, out.length);
        ex.getResponseBody().write(out);
        ex.close();
    }

    /** The JSON body of the {@code i}th recorded call ("METHOD path?query body"). */
    private static String body(List<String> calls, int i) {
        String c = calls.get(i);
        int space = c.indexOf(' ', c.indexOf(' ') + 1);
        return space < 0 ? "{}" : c.substring(space + 1);
    }
}
