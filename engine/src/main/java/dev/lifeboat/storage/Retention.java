package dev.lifeboat.storage;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/**
 * A write-once region: every object it stores is kept at least {@code days}, and none is rewritten in place.
 *
 * @param days how long each object is kept from when it was stored
 * @param mode S3 Object Lock's mode for each object ({@code GOVERNANCE} or {@code COMPLIANCE}); null where the bucket's
 *             default retention or a container or bucket policy (Azure immutability, GCS retention) does the locking
 */
public record Retention(int days, String mode) {
    public Retention {
        if (days < 1) {
            throw new IllegalArgumentException("a write-once region keeps objects at least 1 day, got " + days);
        }
        if (mode != null) {
            mode = mode.strip().toUpperCase(Locale.ROOT);
            if (!mode.equals("GOVERNANCE") && !mode.equals("COMPLIANCE")) {
                throw new IllegalArgumentException(
                        "object lock mode must be governance or compliance, got '" + mode + "'");
            }
        }
    }

    public Duration period() {
        return Duration.ofDays(days);
    }

    /** When an object stored at {@code stored} may be deleted. */
    public Instant releasedAt(Instant stored) {
        return stored.plus(period());
    }
}
