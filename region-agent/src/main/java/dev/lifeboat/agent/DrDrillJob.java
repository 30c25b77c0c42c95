package dev.lifeboat.agent;

import dev.lifeboat.engine.Engine;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.engine.postgres.RecoveryTarget;
import dev.lifeboat.engine.postgres.TimelineHistory;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DR_DRILL: proves the database can be recovered, and measures how fast. Restores the newest backup (or
 * {@code backup_id}) into a scratch directory under {@code state-dir/drills/}, with recovery to the end of the
 * archived WAL, starts PostgreSQL on it and validates it as {@code restore --validate} does, then deletes it.
 *
 * <p>The result holds what the controller's RTO estimate is computed from, all measured: {@code restore_bytes} and
 * {@code restore_seconds} (writing the backup's files), {@code wal_replay_bytes} (from the backup's end to where
 * recovery ended, read from the history file of the timeline the copy was promoted to), {@code wal_replay_segments},
 * {@code replay_seconds} (server start, WAL replay and promotion) and {@code validated}. A copy that does not
 * validate ends the job FAILED with the same result.
 */
final class DrDrillJob implements JobExecutor {
    private static final Logger log = LoggerFactory.getLogger(DrDrillJob.class);

    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        JobParams p = new JobParams("DR_DRILL", request.getParamsMap(), Set.of("backup_id", "parallel"));
        String backup = p.string("backup_id", "latest");
        int parallel = p.integer("parallel", db.parallel(), 1, 256);
        return ctx -> {
            long t0 = System.nanoTime();
            Repository r = ctx.openRepository();
            Path work = ctx.workDir("drills");
            Path target = work.resolve("data");
            try {
                Files.createDirectories(work);
                requireReachable(work);
                Engine engine = Engines.postgresql();
                PgRestore.Result restored = engine.restore(
                        r,
                        new PgRestore.Options(
                                backup, target, parallel, null, null, RecoveryTarget.latest(null), ctx.walGetArgs()),
                        ctx.progress(),
                        ctx.cancellation());
                Snapshot snap = r.loadSnapshot(restored.backupId());
                ctx.message(
                        "drill",
                        "restored " + restored.bytes() + " bytes in " + String.format("%.1f", restored.seconds())
                                + " s; starting PostgreSQL on the copy to replay archived WAL and validate it");
                PgValidator.Report report = engine.validate(r, restored, parallel, ctx.progress(), ctx.cancellation());
                long stopLsn = snap.engineInfo().stopLsn();
                long segSize = snap.engineInfo().walSegmentSize() > 0
                        ? snap.engineInfo().walSegmentSize()
                        : 16L << 20;
                Long endLsn = recoveryEnd(target);

                Map<String, Object> out = new LinkedHashMap<>();
                out.put("backup_id", restored.backupId());
                out.put("backup_stop_lsn", Lsn.format(stopLsn));
                out.put("restore_bytes", restored.bytes());
                out.put("restore_files", restored.files());
                out.put("restore_seconds", restored.seconds());
                out.put("restore_bytes_per_second", restored.bytesPerSecond());
                out.put("recovered_to_lsn", endLsn == null ? null : Lsn.format(endLsn));
                out.put("recoverable_until", restored.recoverableUntil());
                long replayBytes = endLsn == null ? -1 : Math.max(0, endLsn - stopLsn);
                out.put("wal_replay_bytes", replayBytes);
                out.put(
                        "wal_replay_segments",
                        endLsn == null
                                ? -1
                                : Math.max(
                                        0,
                                        Lsn.segmentOf(Math.max(endLsn, stopLsn), segSize)
                                                - Lsn.segmentOf(stopLsn, segSize)));
                out.put("replay_seconds", report.startSeconds());
                out.put(
                        "replay_bytes_per_second",
                        replayBytes > 0 && report.startSeconds() > 0 ? replayBytes / report.startSeconds() : 0);
                out.put("validated", report.ok());
                out.put("total_seconds", (System.nanoTime() - t0) / 1e9);
                out.put("validation", report);
                if (!report.ok()) {
                    throw JobOutcomeException.failed(
                            "the drill's copy of backup " + restored.backupId() + " did not validate: "
                                    + String.join("; ", report.problems()),
                            out);
                }
                return out;
            } finally {
                try {
                    JobJournal.deleteTree(work);
                } catch (IOException e) {
                    log.warn("could not delete the drill's copy at {}: {}", work, e.getMessage());
                }
            }
        };
    }

    /**
     * Where recovery ended: the switch point recorded in the history file of the timeline the copy was promoted to
     * (the newest one in its pg_wal); null when the copy never got that far.
     */
    static Long recoveryEnd(Path pgdata) throws IOException {
        Path wal = pgdata.resolve("pg_wal");
        if (!Files.isDirectory(wal)) {
            return null;
        }
        Path newest = null;
        int newestTli = 0;
        try (var files = Files.list(wal)) {
            for (Path h : files.toList()) {
                String n = h.getFileName().toString();
                if (n.matches("[0-9A-F]{8}\\.history")) {
                    int tli = Integer.parseInt(n.substring(0, 8), 16);
                    if (tli > newestTli) {
                        newestTli = tli;
                        newest = h;
                    }
                }
            }
        }
        if (newest == null) {
            return null;
        }
        TimelineHistory h = TimelineHistory.parse(newestTli, Files.readString(newest));
        return h.entries().isEmpty() ? null : h.entries().getLast().switchLsn();
    }

    /**
     * PostgreSQL runs the copy as the database's OS user, who must be able to enter the scratch directory: when we are
     * root, say which directory blocks it instead of failing later with a server that cannot start.
     */
    private static void requireReachable(Path dir) throws IOException {
        if (!Processes.isRoot()) {
            return;
        }
        for (Path p = dir.toAbsolutePath(); p != null && p.getParent() != null; p = p.getParent()) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
            if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                throw new IllegalStateException("the drill restores under " + dir + ", but " + p + " (mode "
                        + PosixFilePermissions.toString(perms) + ") cannot be entered by the database's OS user; "
                        + "make it traversable (chmod o+x " + p + ") or choose another state-dir");
            }
        }
    }
}
