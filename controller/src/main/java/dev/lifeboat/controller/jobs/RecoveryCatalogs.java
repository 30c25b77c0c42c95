package dev.lifeboat.controller.jobs;

import dev.lifeboat.proto.v1.JobType;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The controller's copy of each database's recovery catalog (backups, recoverable windows, WAL gaps), read by the
 * agent's CATALOG job. The controller reads it again whenever a job that changes it ends: a backup adds one, retention
 * removes backups and WAL. Between those, WAL coverage grows; the dashboard says how old its copy is.
 */
public final class RecoveryCatalogs {
    public static final String TYPE = JobType.CATALOG.name();
    private static final Set<String> CHANGES_IT =
            Set.of("BACKUP_FULL", "BACKUP_INCREMENTAL", "BACKUP_DIFFERENTIAL", "EXPIRE");

    private RecoveryCatalogs() {}

    /** The newest catalog read (every CATALOG job's result holds one, a plan's too). */
    public static Optional<JobRecord> newest(JobStore jobs, String database) {
        return jobs.latestCompleted(database, List.of(TYPE));
    }

    /** After a job that changed what the repository can recover, reads the catalog again. */
    public static void refreshAfter(JobRecord ended, JobDispatcher dispatcher) {
        if (ended.state().equals("COMPLETED") && CHANGES_IT.contains(ended.type())) {
            dispatcher.submit(ended.database(), JobType.CATALOG, Map.of(), "controller");
        }
    }
}
