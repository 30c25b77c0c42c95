package dev.lifeboat.agent;

import dev.lifeboat.engine.Engine;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.engine.postgres.RecoveryTarget;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.repository.Repository;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * RESTORE and RESTORE_PITR: {@code lifeboat restore}. Params: {@code target} (required: an absolute directory that is
 * empty or absent), {@code backup_id} (default latest), {@code parallel}, {@code validate} (start PostgreSQL on the
 * copy and check it), {@code owner}; RESTORE_PITR also exactly one of {@code target_time}, {@code target_lsn},
 * {@code target_xid}, {@code target_name}, {@code target_latest=true}, plus {@code exclusive} and {@code timeline}.
 * Result: {@code restore --json}; a failed validation ends the job FAILED with that result.
 */
final class RestoreJob implements JobExecutor {
    static final List<String> TARGETS =
            List.of("target_time", "target_lsn", "target_xid", "target_name", "target_latest");
    private final boolean pitr;

    RestoreJob(boolean pitr) {
        this.pitr = pitr;
    }

    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        String job = pitr ? "RESTORE_PITR" : "RESTORE";
        Set<String> allowed =
                new HashSet<>(Set.of("target", "backup_id", "parallel", "validate", "owner", "archive_mode"));
        if (pitr) {
            allowed.addAll(TARGETS);
            allowed.addAll(Set.of("exclusive", "timeline"));
        }
        JobParams p = new JobParams(job, request.getParamsMap(), allowed);
        Path target = p.absolutePath("target");
        if (target == null) {
            throw p.error(
                    "target", "is required: the directory to restore into (empty or absent), as an absolute path");
        }
        requireEmpty(p, target);
        String backup = p.string("backup_id", "latest");
        int parallel = p.integer("parallel", db.parallel(), 1, 256);
        boolean validate = p.bool("validate", false);
        String owner = p.string("owner", null);
        PgRestore.ArchiveMode archiveMode = switch (p.string("archive_mode", "off")) {
            case "off" -> PgRestore.ArchiveMode.OFF;
            case "preserve" -> PgRestore.ArchiveMode.PRESERVE;
            default -> throw p.error("archive_mode", "must be off (the copy does not archive WAL) or preserve");
        };
        RecoveryTarget rt = pitr ? recoveryTarget(job, p) : null;
        return ctx -> {
            Repository r = ctx.openRepository();
            Engine engine = Engines.postgresql();
            PgRestore.Result result = engine.restore(
                    r,
                    new PgRestore.Options(backup, target, parallel, null, owner, rt, ctx.walGetArgs(), archiveMode),
                    ctx.progress(),
                    ctx.cancellation());
            PgValidator.Report report = null;
            if (validate) {
                report = engine.validate(r, result, parallel, ctx.progress(), ctx.cancellation());
            }
            Map<String, Object> out = new LinkedHashMap<>();
            // the throughput the controller's RTO estimate uses, as a drill reports it
            out.put("restore_bytes", result.bytes());
            out.put("restore_seconds", result.seconds());
            out.put("restore", result);
            if (report != null) {
                out.put("validation", report);
                out.put("ok", report.ok());
                if (!report.ok()) {
                    throw JobOutcomeException.failed(
                            "validation of " + target + " failed: " + String.join("; ", report.problems()), out);
                }
            }
            return out;
        };
    }

    /** Exactly one of {@link #TARGETS} in {@code p}, as {@code job} (RESTORE_PITR, DR_DRILL) takes it. */
    static RecoveryTarget recoveryTarget(String job, JobParams p) {
        List<String> given = new ArrayList<>();
        for (String k : TARGETS) {
            if (p.has(k)) {
                given.add(k);
            }
        }
        if (given.size() != 1) {
            throw new IllegalArgumentException(job + ": give exactly one of " + String.join(", ", TARGETS)
                    + (given.isEmpty() ? "" : "; got " + String.join(", ", given))
                    + (job.equals("RESTORE_PITR") ? " (for a restore without recovery use RESTORE)" : ""));
        }
        String key = given.getFirst();
        boolean exclusive = p.bool("exclusive", false);
        String timeline = p.string("timeline", null);
        try {
            if (key.equals("target_latest")) {
                if (!p.bool("target_latest", false)) {
                    throw p.error("target_latest", "must be true when given");
                }
                if (exclusive) {
                    throw p.error("exclusive", "does not apply to target_latest");
                }
                return RecoveryTarget.latest(timeline);
            }
            RecoveryTarget.Kind kind = switch (key) {
                case "target_time" -> RecoveryTarget.Kind.TIME;
                case "target_lsn" -> RecoveryTarget.Kind.LSN;
                case "target_xid" -> RecoveryTarget.Kind.XID;
                default -> RecoveryTarget.Kind.NAME;
            };
            return new RecoveryTarget(kind, p.string(key, ""), exclusive, timeline);
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(job + ":")) {
                throw e;
            }
            throw p.error(key, "is not valid: " + e.getMessage());
        }
    }

    /** Refused at submit, so a restore that could never start is not accepted. */
    static void requireEmpty(JobParams p, Path target) {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw p.error("target", target + " exists and is not a directory");
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(target)) {
            if (ds.iterator().hasNext()) {
                throw p.error("target", target + " is not empty; restore into an empty or new directory");
            }
        } catch (IOException e) {
            throw p.error("target", target + " cannot be read: " + e.getMessage());
        }
    }
}
