package dev.lifeboat.storage.gcs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.cloud.NoCredentials;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStoreContract;
import dev.lifeboat.storage.BlobStores;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
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
}
