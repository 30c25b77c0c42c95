package dev.lifeboat.storage;

import java.time.Duration;

/**
 * What the settings of the object-store backends ({@code S3Settings}, {@code AzureSettings}, {@code GcsSettings})
 * share: the defaults for attempts and for one request's timeout, and the rules their values are read by. How each
 * SDK applies the timeout stays with its backend.
 */
public final class CloudSettings {
    /**
     * Attempts per operation, the first included, made by the store stack's retry layer ({@code BlobStores}); the SDK
     * clients themselves make one attempt per request.
     */
    public static final int DEFAULT_MAX_ATTEMPTS = 8;

    /**
     * How long one request may wait for its answer, to start and between the bytes of it, before the attempt counts as
     * failed (a stalled connection) and the retry layer may make another.
     */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(120);

    private CloudSettings() {}

    /** A setting given as text: null when unset or blank, else trimmed. */
    public static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    /** Whether {@code timeout} is set and longer than zero. */
    public static boolean isPositive(Duration timeout) {
        return timeout != null && !timeout.isNegative() && !timeout.isZero();
    }
}
