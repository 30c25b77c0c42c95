package dev.lifeboat.storage;

import dev.lifeboat.common.Backoff;
import dev.lifeboat.storage.azure.AzureBlobStore;
import dev.lifeboat.storage.azure.AzureSettings;
import dev.lifeboat.storage.faults.CrashingBlobStore;
import dev.lifeboat.storage.gcs.GcsBlobStore;
import dev.lifeboat.storage.gcs.GcsSettings;
import dev.lifeboat.storage.limiter.RateLimitedBlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.storage.metrics.MeteredBlobStore;
import dev.lifeboat.storage.retry.RetryingBlobStore;
import dev.lifeboat.storage.s3.S3BlobStore;
import dev.lifeboat.storage.s3.S3Settings;
import io.micrometer.core.instrument.Metrics;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * Opens a store from a repository URI: the backend its scheme names, inside the layers every store gets. From the
 * inside out:
 * <ol>
 *   <li>the backend ({@code file}, {@code s3}, {@code azure}, {@code gs}); its client makes one attempt per
 *       request;</li>
 *   <li>{@code faults/}: the crash-matrix hook, inert unless a {@code LIFEBOAT_CRASH_*} variable is set; next to the
 *       backend, so a crash point falls between two requests that really reached the store;</li>
 *   <li>{@code metrics/}: inside the retry layer, so every attempt is counted (the errors a retry hid show up), and
 *       inside the limiter, so latency is the store's, not time spent waiting for the rate limit;</li>
 *   <li>{@code limiter/}: inside the retry layer, so a repeated attempt pays for its bytes and request again and
 *       retries can never push traffic over the limit;</li>
 *   <li>{@code retry/}: outermost, so one backoff governs the whole operation and its waits are neither metered as
 *       latency nor charged to the limiter.</li>
 * </ol>
 */
public final class BlobStores {
    private static final Duration FIRST_RETRY_DELAY = Duration.ofMillis(200);
    private static final Duration LONGEST_RETRY_DELAY = Duration.ofSeconds(20);

    private BlobStores() {}

    /** The store {@code uri} names, with this process's options ({@link StoreOptions#fromEnvironment}). */
    public static BlobStore open(String uri) {
        return open(uri, StoreOptions.fromEnvironment(System.getenv()));
    }

    public static BlobStore open(String uri, StoreOptions options) {
        return open(uri, options, null);
    }

    /**
     * With {@code config} (a replication region's own settings) in place of the environment's {@code LIFEBOAT_S3_*},
     * {@code AZURE_STORAGE_*}, {@code LIFEBOAT_GCS_*}; null: the environment's.
     */
    public static BlobStore open(String uri, StoreOptions options, StoreConfig config) {
        Backend backend = backend(uri, System.getenv(), config);
        return stack(backend.store(), options.withRetryAttempts(options.attemptsOr(backend.attempts())));
    }

    /**
     * {@code backend} inside the layers of the stack (see the class comment); {@code options} without retry attempts
     * leave retries off. For callers that build a backend themselves, e.g. with test settings.
     */
    public static BlobStore stack(BlobStore backend, StoreOptions options) {
        BlobStore store = CrashingBlobStore.wrapIfRequested(backend);
        store = new MeteredBlobStore(store, Metrics.globalRegistry, scheme(backend.uri()));
        store = RateLimitedBlobStore.wrap(store, options.limits(), options.stop());
        int attempts = options.attemptsOr(1);
        if (attempts > 1) {
            Backoff backoff = Backoff.exponential(FIRST_RETRY_DELAY, LONGEST_RETRY_DELAY)
                    .withMaxAttempts(attempts)
                    .withBudget(options.retryBudget());
            store = new RetryingBlobStore(store, backoff, options.stop());
        }
        return store;
    }

    private static String scheme(String uri) {
        int colon = uri.indexOf(':');
        return colon > 0 ? uri.substring(0, colon) : "unknown";
    }

    /** A backend and the attempts per operation its settings ask for. */
    private record Backend(BlobStore store, int attempts) {}

    private static Backend backend(String uri, Map<String, String> env, StoreConfig config) {
        if (uri == null || uri.isBlank()) {
            throw new IllegalArgumentException(
                    "no repository given: pass --repo file:///absolute/path (or set LIFEBOAT_REPO)");
        }
        URI parsed;
        try {
            parsed = new URI(uri);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("repository URI '" + uri + "' is not a valid URI: " + e.getMessage());
        }
        String scheme = parsed.getScheme();
        if (scheme == null) {
            throw new IllegalArgumentException("repository URI '" + uri + "' has no scheme; use file:///absolute/path");
        }
        return switch (scheme) {
            case "file" -> {
                if (config != null) {
                    config.allowOnly("local-disk", Set.of());
                    noLockMode(config, "a local-disk store");
                }
                yield new Backend(new LocalBlobStore(Path.of(localPath(parsed, uri))), 1);
            }
            case "s3" -> {
                requireContainer(parsed, uri, "s3://bucket/prefix");
                S3Settings s = config != null && config.hasSettings()
                        ? S3Settings.fromConfig(config)
                        : S3Settings.fromEnvironment(env);
                if (config != null && config.retention() != null) {
                    s = s.withObjectLock(config.retention());
                }
                yield new Backend(S3BlobStore.open(parsed, s), s.maxAttempts());
            }
            case "azure" -> {
                requireContainer(parsed, uri, "azure://container/prefix");
                noLockMode(config, "Azure (a container's immutability policy does the locking)");
                AzureSettings s = config != null && config.hasSettings()
                        ? AzureSettings.fromConfig(config)
                        : AzureSettings.fromEnvironment(env);
                yield new Backend(AzureBlobStore.open(parsed, s), s.maxTries());
            }
            case "gs" -> {
                requireContainer(parsed, uri, "gs://bucket/prefix");
                noLockMode(config, "GCS (a bucket's retention policy does the locking)");
                GcsSettings s = config != null && config.hasSettings()
                        ? GcsSettings.fromConfig(config)
                        : GcsSettings.fromEnvironment(env);
                if (config != null && config.retention() != null) {
                    s = s.withRetention(config.retention());
                }
                yield new Backend(GcsBlobStore.open(parsed, s), s.maxAttempts());
            }
            default ->
                throw new IllegalArgumentException("unsupported repository URI scheme '" + scheme + "' in '" + uri
                        + "'; supported: file://, s3://, azure://, gs://");
        };
    }

    /** A per-object lock mode is S3's; elsewhere a container or bucket policy locks, set up by its owner. */
    private static void noLockMode(StoreConfig config, String where) {
        if (config != null && config.retention() != null && config.retention().mode() != null) {
            throw new IllegalArgumentException(
                    config.owner() + ": an object lock mode is S3's; for " + where + " give the retention days only");
        }
    }

    private static String localPath(URI parsed, String uri) {
        String host = parsed.getAuthority();
        if (host != null && !host.isEmpty() && !host.equals("localhost")) {
            throw new IllegalArgumentException("file repository URI must be absolute: file:///absolute/path, got '"
                    + uri + "' (it names host '" + host + "')");
        }
        if (parsed.getPath() == null || !parsed.getPath().startsWith("/")) {
            throw new IllegalArgumentException(
                    "file repository URI must be absolute: file:///absolute/path, got '" + uri + "'");
        }
        return parsed.getPath();
    }

    private static void requireContainer(URI parsed, String uri, String form) {
        if (parsed.getAuthority() == null || parsed.getAuthority().isEmpty()) {
            throw new IllegalArgumentException(
                    "repository URI '" + uri + "' names no bucket or container; use " + form);
        }
    }
}
