package dev.lifeboat.controller.agents;

import java.util.Locale;

/**
 * Maps a job type and event kind to the controller's event names: {@code backup:started}, {@code restore:completed},
 * {@code health-check:failed} (a DR drill is the health check: restore, start, check) …
 */
public final class JobEventNames {
    private JobEventNames() {}

    public static String subject(String jobType) {
        return switch (jobType) {
            case "BACKUP_FULL", "BACKUP_INCREMENTAL", "BACKUP_DIFFERENTIAL" -> "backup";
            case "RESTORE", "RESTORE_PITR" -> "restore";
            case "WAL_STREAM" -> "wal-stream";
            case "VERIFY" -> "verify";
            case "REPLICATE" -> "replication";
            case "EXPIRE" -> "retention";
            case "DR_DRILL" -> "health-check";
            case "CATALOG" -> "catalog";
            default -> "job";
        };
    }

    public static String name(String jobType, String kind) {
        return subject(jobType) + ":" + kind.toLowerCase(Locale.ROOT);
    }
}
