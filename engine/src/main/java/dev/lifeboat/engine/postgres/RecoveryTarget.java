package dev.lifeboat.engine.postgres;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;

/**
 * Where a point-in-time restore stops. {@code exclusive} stops just before the target instead of just after it;
 * {@code timeline} is a number, "latest" (PostgreSQL's default) or "current".
 */
public record RecoveryTarget(Kind kind, String value, boolean exclusive, String timeline) {
    /**
     * LATEST: no target, replay every archived WAL record (the newest .partial included), then promote.
     * IMMEDIATE: the backup as it was when it ended (recovery stops as soon as it is consistent), then promote.
     */
    public enum Kind { TIME, LSN, XID, NAME, LATEST, IMMEDIATE }

    /** Recovery to the end of the archived WAL on {@code timeline} (null: the latest). */
    public static RecoveryTarget latest(String timeline) {
        return new RecoveryTarget(Kind.LATEST, "latest", false, timeline);
    }

    /**
     * The end of the backup ({@code recovery_target = 'immediate'}) on {@code timeline}: what a restore without a
     * target recovers, so that the copy still ends on a timeline of its own.
     */
    public static RecoveryTarget immediate(int timeline) {
        return new RecoveryTarget(Kind.IMMEDIATE, "immediate", false, Integer.toString(timeline));
    }

    /** PostgreSQL's timestamptz input: microsecond precision, explicit UTC offset. */
    private static final java.time.format.DateTimeFormatter PG_TIME =
            java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS'+00'").withZone(java.time.ZoneOffset.UTC);

    public RecoveryTarget {
        switch (kind) {
            case TIME -> parseTime(value);
            case LSN -> Lsn.parse(value);
            case XID -> {
                if (!value.matches("\\d+")) {
                    throw new IllegalArgumentException("--to-xid needs a transaction id (a number), got '" + value + "'");
                }
            }
            case NAME -> {
                if (value.isBlank()) {
                    throw new IllegalArgumentException("--to-name needs a restore point name");
                }
            }
            case LATEST, IMMEDIATE -> {
            }
        }
        if (timeline != null && !timeline.matches("\\d+|latest|current")) {
            throw new IllegalArgumentException("--timeline must be a number, latest or current, got '" + timeline + "'");
        }
    }

    /** ISO-8601 with an offset, or a local date-time taken in this machine's zone. */
    public static Instant parseTime(String s) {
        try {
            return OffsetDateTime.parse(s.trim().replace(' ', 'T')).toInstant();
        } catch (DateTimeParseException e) {
            try {
                return java.time.LocalDateTime.parse(s.trim().replace(' ', 'T')).atZone(ZoneId.systemDefault()).toInstant();
            } catch (DateTimeParseException e2) {
                throw new IllegalArgumentException("--to-time needs an ISO-8601 time such as 2026-11-24T14:03:27Z or "
                        + "2026-11-24 14:03:27+01:00, got '" + s + "'");
            }
        }
    }

    public Instant time() {
        return parseTime(value);
    }

    /** The recovery settings PostgreSQL reads from postgresql.auto.conf. */
    public String settings() {
        if (kind == Kind.LATEST) {
            return "recovery_target_timeline = '" + (timeline == null ? "latest" : timeline) + "'\n";
        }
        if (kind == Kind.IMMEDIATE) {
            return "recovery_target = 'immediate'\nrecovery_target_timeline = '" + (timeline == null ? "current" : timeline)
                    + "'\nrecovery_target_action = 'promote'\n";
        }
        String setting = switch (kind) {
            case TIME -> "recovery_target_time = '" + PG_TIME.format(time()) + "'";
            case LSN -> "recovery_target_lsn = '" + value + "'";
            case XID -> "recovery_target_xid = '" + value + "'";
            case NAME -> "recovery_target_name = '" + value.replace("'", "''") + "'";
            case LATEST, IMMEDIATE -> throw new IllegalStateException();
        };
        return setting + "\nrecovery_target_inclusive = " + (exclusive ? "off" : "on")
                + "\nrecovery_target_timeline = '" + (timeline == null ? "latest" : timeline) + "'"
                + "\nrecovery_target_action = 'promote'\n";
    }

    public String describe() {
        if (kind == Kind.LATEST) {
            return "the end of the archived WAL";
        }
        if (kind == Kind.IMMEDIATE) {
            return "the end of the backup";
        }
        return kind.name().toLowerCase() + " " + value + (exclusive ? " (exclusive)" : "");
    }
}
