package dev.lifeboat.agent;

import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.PgBackupOptions;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.SnapshotSummary;
import dev.lifeboat.repository.compress.Compression;
import java.util.Map;
import java.util.Set;

/**
 * BACKUP_FULL, BACKUP_INCREMENTAL, BACKUP_DIFFERENTIAL: {@code lifeboat backup --type full|incr|diff}. Params:
 * {@code compression} (none, low, medium, high, lz4; default: the database's), {@code parallel} (default: the
 * database's). Result: the backup as {@code backup --json} prints it.
 */
final class BackupJob implements JobExecutor {
    private final String type;

    private BackupJob(String type) {
        this.type = type;
    }

    static void register(Map<JobType, JobExecutor> executors) {
        executors.put(JobType.BACKUP_FULL, new BackupJob("full"));
        executors.put(JobType.BACKUP_INCREMENTAL, new BackupJob("incr"));
        executors.put(JobType.BACKUP_DIFFERENTIAL, new BackupJob("diff"));
    }

    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        JobParams p =
                new JobParams(request.getType().name(), request.getParamsMap(), Set.of("compression", "parallel"));
        Compression compression;
        try {
            compression = Compression.parse(p.string("compression", db.compression()));
        } catch (IllegalArgumentException e) {
            throw p.error("compression", e.getMessage());
        }
        int parallel = p.integer("parallel", db.parallel(), 1, 256);
        if (db.pgdata() == null) {
            throw new IllegalArgumentException(
                    request.getType() + ": database " + db.name() + " has no pgdata in the agent "
                            + "config; backups read the data directory, so they run on the agent of the database host");
        }
        PgBackupOptions opts =
                new PgBackupOptions(db.pgdata(), db.pghost(), db.pgport(), db.pguser(), type, compression, parallel);
        return ctx -> {
            Repository repo = ctx.openRepository();
            Snapshot s = Engines.postgresql().backup(repo, opts, ctx.progress(), ctx.cancellation());
            return SnapshotSummary.of(s);
        };
    }
}
