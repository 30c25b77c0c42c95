package dev.lifeboat.controller.policy;

import java.time.Duration;
import java.util.Locale;

/**
 * The SLA tiers: recovery time and point objectives with the schedule, WAL mode, replication mode and retention
 * that meet them. Cron expressions are Quartz's (seconds first).
 */
public enum Tier {
    CRITICAL(
            Duration.ofMinutes(15),
            Duration.ofMinutes(1),
            "0 0 1 * * ?",
            "0 0/15 * * * ?",
            "0 0 4 ? * SUN",
            WalMode.STREAM,
            ReplicationMode.SYNC,
            14,
            Duration.ofDays(14)),
    HIGH(
            Duration.ofHours(1),
            Duration.ofMinutes(5),
            "0 0 1 * * ?",
            "0 0 * * * ?",
            "0 0 4 ? * SUN",
            WalMode.STREAM,
            ReplicationMode.ASYNC,
            7,
            Duration.ofDays(7)),
    STANDARD(
            Duration.ofHours(2),
            Duration.ofMinutes(15),
            "0 0 1 ? * SUN",
            "0 0 1 ? * MON-SAT",
            "0 0 4 1 * ?",
            WalMode.ARCHIVE,
            ReplicationMode.ASYNC,
            4,
            Duration.ofDays(7)),
    LOWER(
            Duration.ofHours(24),
            Duration.ofHours(1),
            "0 0 1 ? * SUN",
            "0 0 1 ? * MON-SAT",
            "0 0 4 1 * ?",
            WalMode.ARCHIVE,
            ReplicationMode.NONE,
            2,
            Duration.ofDays(3));

    public enum WalMode {
        STREAM,
        ARCHIVE
    }

    public enum ReplicationMode {
        SYNC,
        ASYNC,
        NONE
    }

    public final Duration rto;
    public final Duration rpo;
    public final String fullCron;
    public final String incrementalCron;
    public final String drillCron;
    public final WalMode walMode;
    public final ReplicationMode replicationMode;
    public final int keepFull;
    /** Retention runs daily: expired backups and the WAL only they needed go (keep-full and the PITR window decide). */
    public final String expireCron = "0 30 2 * * ?";

    public final Duration pitrWindow;

    Tier(
            Duration rto,
            Duration rpo,
            String fullCron,
            String incrementalCron,
            String drillCron,
            WalMode walMode,
            ReplicationMode replicationMode,
            int keepFull,
            Duration pitrWindow) {
        this.rto = rto;
        this.rpo = rpo;
        this.fullCron = fullCron;
        this.incrementalCron = incrementalCron;
        this.drillCron = drillCron;
        this.walMode = walMode;
        this.replicationMode = replicationMode;
        this.keepFull = keepFull;
        this.pitrWindow = pitrWindow;
    }

    public static Tier parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("unknown tier '" + name + "' (CRITICAL, HIGH, STANDARD, LOWER)");
        }
    }
}
