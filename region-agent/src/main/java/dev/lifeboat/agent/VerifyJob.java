package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Verifier;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * VERIFY: {@code lifeboat verify}. Params: {@code backup_id} (default: all), {@code read_data} (read and authenticate
 * every stored byte), {@code parallel}. Result: {@code verify --json}'s report; problems end the job FAILED with the
 * report as its result.
 */
final class VerifyJob implements JobExecutor {
    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        JobParams p = new JobParams("VERIFY", request.getParamsMap(), Set.of("backup_id", "read_data", "parallel"));
        String backup = p.string("backup_id", null);
        boolean readData = p.bool("read_data", false);
        int parallel = p.integer("parallel", db.parallel(), 1, 256);
        return ctx -> {
            Repository r = ctx.openRepository();
            Verifier.Report rep =
                    new Verifier(r).verify(backup, readData, parallel, ctx.progress(), ctx.cancellation());
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("ok", rep.ok());
            out.put("report", rep);
            if (!rep.ok()) {
                throw JobOutcomeException.failed(rep.problems().size() + " problem(s) found in " + r.uri(), out);
            }
            return out;
        };
    }
}
