package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.repository.Expirer;
import dev.lifeboat.repository.RetentionPolicy;
import java.util.Set;

/**
 * EXPIRE: {@code lifeboat expire}. Params (defaults as the command's): {@code keep_full} 5, {@code keep_daily} 7,
 * {@code keep_weekly} 4, {@code keep_monthly} 12, {@code pitr_window} 72h, {@code dry_run}. Result: {@code expire
 * --json}.
 */
final class ExpireJob implements JobExecutor {
    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        JobParams p = new JobParams(
                "EXPIRE",
                request.getParamsMap(),
                Set.of("keep_full", "keep_daily", "keep_weekly", "keep_monthly", "pitr_window", "dry_run"));
        RetentionPolicy d = RetentionPolicy.defaults();
        RetentionPolicy policy = new RetentionPolicy(
                p.integer("keep_full", d.keepFull(), 0, 100_000),
                p.integer("keep_daily", d.keepDaily(), 0, 100_000),
                p.integer("keep_weekly", d.keepWeekly(), 0, 100_000),
                p.integer("keep_monthly", d.keepMonthly(), 0, 100_000),
                p.retentionDuration("pitr_window", d.pitrWindow()));
        boolean dryRun = p.bool("dry_run", false);
        return ctx -> {
            ctx.message("expire", "applying " + policy.describe() + (dryRun ? " (dry run)" : ""));
            ctx.cancellation().throwIfCancelled();
            return new Expirer(ctx.openRepository()).expire(policy, dryRun);
        };
    }
}
