package dev.lifeboat.storage.gcs;

import static dev.lifeboat.storage.CloudSettings.blankToNull;

import com.google.auth.Credentials;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.cloud.NoCredentials;
import dev.lifeboat.storage.CloudSettings;
import dev.lifeboat.storage.Retention;
import dev.lifeboat.storage.StoreConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How to reach Google Cloud Storage (or a server speaking its JSON API).
 *
 * @param endpoint           custom host such as {@code http://127.0.0.1:9199} (a test server); null: Google's endpoint
 * @param projectId          the project (only used when the client needs one); null: the client's own lookup
 *                           ({@code GOOGLE_CLOUD_PROJECT}, the credentials file, the metadata server)
 * @param credentials        explicit credentials; null: Google's Application Default Credentials chain
 *                           ({@code GOOGLE_APPLICATION_CREDENTIALS}, gcloud's user credentials, workload identity, the
 * metadata server), except with a custom endpoint and no {@code GOOGLE_APPLICATION_CREDENTIALS},
 *                           where no credentials are sent (see {@link #fromEnvironment})
 * @param resumableThreshold objects larger than this are sent as a resumable upload, in {@code chunkSize} pieces;
 *                           smaller ones as one multipart request (0: every object as a resumable upload)
 * @param chunkSize          bytes per request of a resumable upload (a multiple of 256 KiB)
 * @param maxAttempts        attempts per operation, the first included, made by the store stack's retry layer
 *                           (the client itself makes one attempt per request)
 * @param timeout            connect and read timeout of one HTTP request
 * @param retention          a write-once store's retention: a bucket this store creates gets a retention policy of
 *                           that many days (lock it yourself); null: none
 */
public record GcsSettings(
        String endpoint,
        String projectId,
        Credentials credentials,
        long resumableThreshold,
        int chunkSize,
        int maxAttempts,
        Duration timeout,
        Retention retention) {

    public static final long DEFAULT_RESUMABLE_THRESHOLD = 16L << 20;
    public static final int DEFAULT_CHUNK_SIZE = 16 << 20;
    public static final int CHUNK_GRANULARITY = 256 << 10;
    public static final int DEFAULT_MAX_ATTEMPTS = CloudSettings.DEFAULT_MAX_ATTEMPTS;
    public static final Duration DEFAULT_TIMEOUT = CloudSettings.DEFAULT_REQUEST_TIMEOUT;

    public GcsSettings {
        endpoint = blankToNull(endpoint);
        projectId = blankToNull(projectId);
        if (endpoint != null && !endpoint.startsWith("http://") && !endpoint.startsWith("https://")) {
            throw new IllegalArgumentException(
                    "the GCS endpoint must be an http:// or https:// URL, got '" + endpoint + "'");
        }
        if (chunkSize < CHUNK_GRANULARITY || chunkSize % CHUNK_GRANULARITY != 0) {
            throw new IllegalArgumentException(
                    "the GCS resumable chunk size must be a positive multiple of 256 KiB, got " + chunkSize);
        }
        if (resumableThreshold < 0 || maxAttempts < 1 || !CloudSettings.isPositive(timeout)) {
            throw new IllegalArgumentException(
                    "GCS attempts and timeout must be positive, the resumable threshold not negative");
        }
    }

    /** Google's endpoint, Application Default Credentials, default sizes. */
    public static GcsSettings defaults() {
        return new GcsSettings(
                null,
                null,
                null,
                DEFAULT_RESUMABLE_THRESHOLD,
                DEFAULT_CHUNK_SIZE,
                DEFAULT_MAX_ATTEMPTS,
                DEFAULT_TIMEOUT,
                null);
    }

    /**
     * Reads {@code LIFEBOAT_GCS_ENDPOINT} and {@code LIFEBOAT_GCS_PROJECT}. Credentials are Google's standard chain,
     * which reads {@code GOOGLE_APPLICATION_CREDENTIALS} itself; when an endpoint is set and
     * {@code GOOGLE_APPLICATION_CREDENTIALS} is not, requests go without credentials (a local test server).
     */
    public static GcsSettings fromEnvironment(Map<String, String> env) {
        String endpoint = blankToNull(env.get("LIFEBOAT_GCS_ENDPOINT"));
        Credentials credentials = endpoint != null && blankToNull(env.get("GOOGLE_APPLICATION_CREDENTIALS")) == null
                ? NoCredentials.getInstance()
                : null;
        return defaults()
                .withEndpoint(endpoint, env.get("LIFEBOAT_GCS_PROJECT"))
                .withCredentials(credentials);
    }

    /** The settings a {@link StoreConfig} may name for GCS. */
    public static final Set<String> CONFIG_KEYS = Set.of("endpoint", "project", "credentialsFile");

    /**
     * A store's own settings (a replication region's): nothing comes from this process's {@code LIFEBOAT_GCS_*} or
     * {@code GOOGLE_APPLICATION_CREDENTIALS}. {@code credentialsFile}: a service account key of its own; without it,
     * Application Default Credentials (workload identity, the metadata server), or none with a custom endpoint.
     */
    public static GcsSettings fromConfig(StoreConfig c) {
        c.allowOnly("GCS", CONFIG_KEYS);
        String endpoint = c.get("endpoint");
        String file = c.get("credentialsFile");
        Credentials credentials;
        if (file != null) {
            try (InputStream in = Files.newInputStream(Path.of(file))) {
                credentials = GoogleCredentials.fromStream(in)
                        .createScoped(List.of("https://www.googleapis.com/auth/devstorage.read_write"));
            } catch (IOException e) {
                throw new IllegalArgumentException(
                        c.owner() + ": cannot read GCS credentials file " + file + ": " + e.getMessage());
            }
        } else {
            credentials = endpoint != null ? NoCredentials.getInstance() : null;
        }
        return defaults().withEndpoint(endpoint, c.get("project")).withCredentials(credentials);
    }

    public GcsSettings withRetention(Retention retention) {
        return new GcsSettings(
                endpoint, projectId, credentials, resumableThreshold, chunkSize, maxAttempts, timeout, retention);
    }

    public GcsSettings withEndpoint(String endpoint, String projectId) {
        return new GcsSettings(
                endpoint, projectId, credentials, resumableThreshold, chunkSize, maxAttempts, timeout, retention);
    }

    public GcsSettings withCredentials(Credentials credentials) {
        return new GcsSettings(
                endpoint, projectId, credentials, resumableThreshold, chunkSize, maxAttempts, timeout, retention);
    }

    public GcsSettings withUploads(long resumableThreshold, int chunkSize) {
        return new GcsSettings(
                endpoint, projectId, credentials, resumableThreshold, chunkSize, maxAttempts, timeout, retention);
    }

    /** Fewer attempts and a shorter request timeout (tests against a local server). */
    public GcsSettings withRetries(int maxAttempts, Duration timeout) {
        return new GcsSettings(
                endpoint, projectId, credentials, resumableThreshold, chunkSize, maxAttempts, timeout, retention);
    }

    @Override
    public String toString() {
        // credentials may hold a private key or a token: name only their kind
        return "GcsSettings[endpoint=" + endpoint + ", project=" + projectId + ", credentials="
                + (credentials == null
                        ? "default chain"
                        : credentials.getClass().getSimpleName()) + ", resumableThreshold="
                + resumableThreshold + ", chunkSize=" + chunkSize + ", maxAttempts=" + maxAttempts + ", timeout="
                + timeout + "]";
    }
}
