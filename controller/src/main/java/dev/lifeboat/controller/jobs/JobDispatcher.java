package dev.lifeboat.controller.jobs;

import dev.lifeboat.controller.Auditor;
import dev.lifeboat.controller.agents.AgentRegistry;
import dev.lifeboat.controller.agents.JobEventNames;
import dev.lifeboat.controller.events.EventBus;
import dev.lifeboat.controller.policy.Inventory;
import dev.lifeboat.controller.policy.Inventory.ManagedDatabase;
import dev.lifeboat.proto.v1.CancelRequest;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobType;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/** Turns a request (API, CLI or schedule) into a job on the database's agent. The controller never touches the data. */
public final class JobDispatcher {
    private final Inventory inventory;
    private final AgentRegistry agents;
    private final JobStore jobs;
    private final EventBus events;
    private final Auditor audit;

    public JobDispatcher(Inventory inventory, AgentRegistry agents, JobStore jobs, EventBus events, Auditor audit) {
        this.inventory = inventory;
        this.agents = agents;
        this.jobs = jobs;
        this.events = events;
        this.audit = audit;
    }

    public static JobType parseType(String type) {
        String t = type.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        t = switch (t) {
            case "FULL", "BACKUP" -> "BACKUP_FULL";
            case "INCR", "INCREMENTAL" -> "BACKUP_INCREMENTAL";
            case "DIFF", "DIFFERENTIAL" -> "BACKUP_DIFFERENTIAL";
            case "PITR" -> "RESTORE_PITR";
            case "DRILL" -> "DR_DRILL";
            default -> t;
        };
        try {
            JobType jt = JobType.valueOf(t);
            if (jt == JobType.JOB_TYPE_UNSPECIFIED) {
                throw new IllegalArgumentException();
            }
            return jt;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown job type '" + type + "' (BACKUP_FULL, BACKUP_INCREMENTAL, BACKUP_DIFFERENTIAL, "
                            + "WAL_STREAM, RESTORE, RESTORE_PITR, VERIFY, REPLICATE, EXPIRE, DR_DRILL, CATALOG)");
        }
    }

    /** Restores write data; viewers may not start them and operators must name a target. */
    public static boolean writesData(JobType t) {
        return t == JobType.RESTORE || t == JobType.RESTORE_PITR;
    }

    public JobRecord submit(String database, JobType type, Map<String, String> params, String requestedBy) {
        return submit(null, database, type, params, requestedBy);
    }

    /** @param id the caller's job id (retries with the same id are answered with the existing job), or null for a new
     * one */
    public JobRecord submit(String id, String database, JobType type, Map<String, String> params, String requestedBy) {
        ManagedDatabase db = inventory.require(database);
        Map<String, String> p = new LinkedHashMap<>(params);
        if (type == JobType.EXPIRE) {
            // the policy's retention is the whole rule: no agent-side defaults for the other keep counts
            p.putIfAbsent("keep_full", Integer.toString(db.policy().keepFull()));
            p.putIfAbsent("keep_daily", "0");
            p.putIfAbsent("keep_weekly", "0");
            p.putIfAbsent("keep_monthly", "0");
            p.putIfAbsent("pitr_window", db.policy().pitrWindow().toHours() + "h");
        }
        if (type == JobType.DR_DRILL) {
            // the drill judges itself against the database's tier unless the caller names other objectives
            p.putIfAbsent("rto_target", db.policy().rto().toSeconds() + "s");
            p.putIfAbsent("rpo_target", db.policy().rpo().toSeconds() + "s");
            if (db.policy().drillSourceRegion() != null) {
                p.putIfAbsent("source_region", db.policy().drillSourceRegion());
            }
        }
        if (id == null) {
            id = UUID.randomUUID().toString();
        }
        jobs.create(id, type.name(), database, db.agent(), p, requestedBy);
        audit.record(
                requestedBy,
                "job.submitted",
                id,
                Map.of("type", type.name(), "database", database, "agent", db.agent(), "params", p));
        events.publish(
                JobEventNames.subject(type.name()) + ":queued",
                Map.of("job", id, "database", database, "agent", db.agent(), "requestedBy", requestedBy));
        JobRequest request = JobRequest.newBuilder()
                .setJobId(id)
                .setType(type)
                .setDatabase(database)
                .putAllParams(p)
                .setRequestedBy(requestedBy)
                .build();
        try {
            agents.send(
                    db.agent(), ControllerMessage.newBuilder().setStart(request).build());
        } catch (RuntimeException e) {
            String why = agents.isGone(db.agent())
                    ? "agent " + db.agent() + " is gone"
                    : "agent " + db.agent() + " is not connected";
            if (jobs.fail(id, "not started: " + why)) {
                events.publish(
                        JobEventNames.name(type.name(), "FAILED"),
                        Map.of("job", id, "database", database, "message", why));
                audit.record("controller", "job.not-started", id, Map.of("reason", why));
            }
        }
        return jobs.get(id).orElseThrow();
    }

    /** False when the job had ended already. */
    public boolean cancel(String jobId, String reason, String actor) {
        JobRecord j = jobs.get(jobId).orElseThrow(() -> new IllegalArgumentException("unknown job " + jobId));
        if (j.ended()) {
            return false;
        }
        try {
            agents.send(
                    j.agentId(),
                    ControllerMessage.newBuilder()
                            .setCancel(
                                    CancelRequest.newBuilder().setJobId(jobId).setReason(reason))
                            .build());
        } catch (RuntimeException e) {
            // the agent is away: when it returns it reports the job itself, or the controller fails it as lost
            throw new IllegalStateException(
                    "agent " + j.agentId() + " is not connected; the job cannot be cancelled now");
        }
        audit.record(actor, "job.cancel", jobId, Map.of("reason", reason)); // the outcome, not the intent
        return true;
    }
}
