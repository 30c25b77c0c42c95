package dev.lifeboat.controller.policy;

import dev.lifeboat.common.Durations;
import dev.lifeboat.controller.ControllerConfig.PolicySpec;
import java.text.ParseException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import org.quartz.CronExpression;

/** A tier preset with the overrides of one named policy; what the scheduler, RPO/RTO status and alerts go by. */
public record Policy(
        String name,
        Tier tier,
        Duration rto,
        Duration rpo,
        String fullCron,
        String incrementalCron,
        String drillCron,
        String drillSourceRegion,
        Tier.WalMode walMode,
        Tier.ReplicationMode replicationMode,
        int keepFull,
        Duration pitrWindow,
        String expireCron) {

    public static Policy of(Tier tier) {
        return new Policy(
                tier.name(),
                tier,
                tier.rto,
                tier.rpo,
                tier.fullCron,
                tier.incrementalCron,
                tier.drillCron,
                null,
                tier.walMode,
                tier.replicationMode,
                tier.keepFull,
                tier.pitrWindow,
                tier.expireCron);
    }

    public static Policy of(String name, PolicySpec s) {
        Tier t = Tier.parse(s.tier);
        Policy p = new Policy(
                name,
                t,
                s.rto != null ? Durations.parse(s.rto) : t.rto,
                s.rpo != null ? Durations.parse(s.rpo) : t.rpo,
                cron(name, "full-schedule", s.fullSchedule, t.fullCron),
                cron(name, "incremental-schedule", s.incrementalSchedule, t.incrementalCron),
                cron(name, "drill-schedule", s.drillSchedule, t.drillCron),
                s.drillSourceRegion == null || s.drillSourceRegion.isBlank() ? null : s.drillSourceRegion.strip(),
                s.walMode != null ? choice(name, "wal-mode", Tier.WalMode.class, s.walMode) : t.walMode,
                s.replicationMode != null
                        ? choice(name, "replication-mode", Tier.ReplicationMode.class, s.replicationMode)
                        : t.replicationMode,
                s.keepFull != null ? s.keepFull : t.keepFull,
                s.pitrWindow != null ? Durations.parse(s.pitrWindow) : t.pitrWindow,
                cron(name, "expire-schedule", s.expireSchedule, t.expireCron));
        return p;
    }

    private static <E extends Enum<E>> E choice(String policy, String key, Class<E> type, String value) {
        try {
            return Enum.valueOf(type, value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("policy " + policy + ": " + key + " '" + value + "' is not one of "
                    + Arrays.toString(type.getEnumConstants()).toLowerCase(Locale.ROOT));
        }
    }

    /** "off" disables a schedule. */
    private static String cron(String policy, String key, String given, String preset) {
        String c = given != null ? given.trim() : preset;
        if (c.equalsIgnoreCase("off")) {
            return null;
        }
        try {
            CronExpression.validateExpression(c);
        } catch (ParseException e) {
            throw new IllegalArgumentException(
                    "policy " + policy + ": " + key + " '" + c + "' is not a cron expression (" + e.getMessage()
                            + "); use Quartz syntax with seconds first, e.g. '0 0 1 * * ?'");
        }
        return c;
    }
}
