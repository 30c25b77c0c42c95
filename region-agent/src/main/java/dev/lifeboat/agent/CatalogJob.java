package dev.lifeboat.agent;

import dev.lifeboat.engine.postgres.RecoveryCatalog;
import dev.lifeboat.engine.postgres.RecoveryTarget;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.repository.Repository;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * CATALOG: what the repository can recover, as {@code lifeboat list --json} reads it (backups, the recoverable window
 * and WAL gaps per timeline). With a target (one of RESTORE_PITR's {@code target_*} keys, plus {@code exclusive},
 * {@code timeline}, {@code backup_id}) also the restore's plan, as {@code lifeboat restore --plan} says it: which
 * backup, and which WAL it would replay. Reads only; a target the repository cannot reach fails the job
 * with the reason.
 */
final class CatalogJob implements JobExecutor {
    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        Set<String> allowed = new HashSet<>(RestoreJob.TARGETS);
        allowed.addAll(Set.of("exclusive", "timeline", "backup_id"));
        JobParams p = new JobParams("CATALOG", request.getParamsMap(), allowed);
        boolean planned = RestoreJob.TARGETS.stream().anyMatch(p::has);
        RecoveryTarget target = planned ? RestoreJob.recoveryTarget("CATALOG", p) : null;
        String backup = p.string("backup_id", "latest");
        return ctx -> {
            Repository r = ctx.openRepository();
            ctx.message("catalog", "reading " + r.uri());
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("catalog", RecoveryCatalog.read(r));
            ctx.cancellation().throwIfCancelled();
            if (planned) {
                ctx.message(
                        "catalog",
                        "planning a restore to " + target.kind().name().toLowerCase(Locale.ROOT) + " "
                                + target.value());
                out.put("plan", RecoveryCatalog.plan(r, target, backup));
            }
            return out;
        };
    }
}
