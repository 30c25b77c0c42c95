package dev.lifeboat.engine.postgres;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;

/**
 * Where a point-in-time restore stops. {@code exclusive} stops just before the target instead of just after it;
 * {@code timeline} is a number, "latest" (PostgreSQL's default) or "current".
 */
public record RecoveryTarget(Kind kind, String value, boolean exclusive, String timeline) {
    /**
     * LATEST: no target, replay every archived WAL record (the newest .partial included), then promote.
     * IMMEDIATE: the backup as it was when it ended (recovery stops as soon as it is consistent), then promote.
     */
    public enum Kind {
        TIME,
        LSN,
        XID,
        NAME,
        LATEST,
        IMMEDIATE
    }

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
    private static final DateTimeFormatter PG_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS'+00'").withZone(ZoneOffset.UTC);

    public RecoveryTarget {
        switch (kind) {
            case TIME -> parseTime(value);
            case LSN -> Lsn.parse(value);
            case XID -> {
                if (!value.matches("\\d+")) {
                    throw new IllegalArgumentException(
                            "--to-xid needs a transaction id (a number), got '" + value + "'");
                }
            }
            case NAME -> {
                if (value.isBlank()) {
                    throw new IllegalArgumentException("--to-name needs a restore point name");
                }
            }
            case LATEST, IMMEDIATE -> {}
        }
        if (timeline != null && !timeline.matches("\\d+|latest|current")) {
            throw new IllegalArgumentException(
                    "--timeline must be a number, latest or current, got '" + timeline + "'");
        }
    }

    /** ISO-8601 with an offset, or a local date-time taken in this machine's zone. */
    public static Instant parseTime(String s) {
        try {
            return OffsetDateTime.parse(s.trim().replace(' ', 'T')).toInstant();
        } catch (DateTimeParseException e) {
            try {
                return LocalDateTime.parse(s.trim().replace(' ', 'T'))
                        .atZone(ZoneId.systemDefault())
                        .toInstant();
            } catch (DateTimeParseException e2) {
                throw new IllegalArgumentException("--to-time needs an ISO-8601 time such as 2026-11-24T14:03:27Z or "
                        + "2026-11-24 14:03:27+01:00, got '" + s + "'");
            }
        }
    }

    public Instant time() {
        return parseTime(value);
    }

    /** PostgreSQL's recovery target settings, of which at most one may be set. */
    private static final List<String> TARGET_SETTINGS = List.of(
            "recovery_target",
            "recovery_target_name",
            "recovery_target_time",
            "recovery_target_xid",
            "recovery_target_lsn");

    /**
     * The recovery settings PostgreSQL reads from postgresql.auto.conf: every recovery_target* setting, so none
     * left in postgresql.conf (e.g. {@code recovery_target = 'immediate'} from the recipe that made the source out
     * of a base backup) applies to this restore. PostgreSQL applies only the last occurrence of a setting, and
     * postgresql.auto.conf is read last. The unused targets come first, as empty strings: an empty target assigned
     * after the one in use would count as a second target ({@code assign_recovery_target_*} in guc.c).
     */
    public String settings() {
        String used = targetSetting();
        StringBuilder out = new StringBuilder();
        for (String name : TARGET_SETTINGS) {
            if (used == null || !used.startsWith(name + " ")) {
                out.append(name).append(" = ''\n");
            }
        }
        if (used != null) {
            out.append(used).append('\n');
        }
        String defaultTimeline = kind == Kind.IMMEDIATE ? "current" : "latest";
        return out.append("recovery_target_inclusive = ")
                .append(exclusive ? "off" : "on")
                .append('\n')
                .append("recovery_target_timeline = '")
                .append(timeline == null ? defaultTimeline : timeline)
                .append("'\n")
                .append("recovery_target_action = 'promote'\n")
                .toString();
    }

    /** The one target setting in use ({@code name = 'value'}), null for LATEST. */
    private String targetSetting() {
        return switch (kind) {
            case LATEST -> null;
            case IMMEDIATE -> "recovery_target = 'immediate'";
            case TIME -> "recovery_target_time = '" + PG_TIME.format(time()) + "'";
            case LSN -> "recovery_target_lsn = '" + value + "'";
            case XID -> "recovery_target_xid = '" + value + "'";
            case NAME -> "recovery_target_name = '" + value.replace("'", "''") + "'";
        };
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
