package dev.lifeboat.controller.alerts;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * An alert the controller raised (and later resolved).
 *
 * @param id         stable for the life of the alert: webhooks use it to pair "resolved" with "raised" (PagerDuty's
 *                   {@code dedup_key}), so raise the same condition again under the same id while it is open
 * @param kind       e.g. {@code rto-warning}, {@code rpo-critical}, {@code backup-failure-rate}, {@code
 * replication-lag},
 *                   {@code storage-nearly-full}, {@code health-check-failed}, {@code agent-gone}
 * @param severity   {@code warning} or {@code critical}
 * @param database   the database it concerns, or null (e.g. an agent gone)
 * @param region     the region it concerns, or null
 * @param summary    one line a person on call can act on
 * @param raisedAt   when the condition was first seen
 * @param resolvedAt when it cleared; null while open
 * @param details    measured values and thresholds (JSON-friendly values)
 * @param acknowledgedAt when someone on call took it (it stays open until its condition clears); null if nobody has
 * @param acknowledgedBy the token that acknowledged it
 * @param acknowledgedNote what they wrote, if anything
 */
public record Alert(
        String id,
        String kind,
        String severity,
        String database,
        String region,
        String summary,
        Instant raisedAt,
        Instant resolvedAt,
        Map<String, Object> details,
        Instant acknowledgedAt,
        String acknowledgedBy,
        String acknowledgedNote) {
    public static final Set<String> SEVERITIES = Set.of("warning", "critical");

    public Alert {
        if (id == null || id.isBlank() || id.length() > 255) {
            throw new IllegalArgumentException("an alert needs an id of 1 to 255 characters");
        }
        if (kind == null || kind.isBlank()) {
            throw new IllegalArgumentException("alert " + id + " needs a kind");
        }
        if (!SEVERITIES.contains(severity)) {
            throw new IllegalArgumentException(
                    "alert " + id + " has severity '" + severity + "'; use warning or critical");
        }
        if (summary == null || summary.isBlank()) {
            throw new IllegalArgumentException("alert " + id + " needs a summary");
        }
        if (raisedAt == null) {
            throw new IllegalArgumentException("alert " + id + " needs raisedAt");
        }
        details = details == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }

    /** An alert nobody has acknowledged. */
    public Alert(
            String id,
            String kind,
            String severity,
            String database,
            String region,
            String summary,
            Instant raisedAt,
            Instant resolvedAt,
            Map<String, Object> details) {
        this(id, kind, severity, database, region, summary, raisedAt, resolvedAt, details, null, null, null);
    }

    /** This alert, resolved at {@code at}. */
    public Alert resolve(Instant at) {
        return new Alert(
                id,
                kind,
                severity,
                database,
                region,
                summary,
                raisedAt,
                at,
                details,
                acknowledgedAt,
                acknowledgedBy,
                acknowledgedNote);
    }
}
