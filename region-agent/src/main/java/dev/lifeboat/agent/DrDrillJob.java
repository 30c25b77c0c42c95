package dev.lifeboat.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.Engine;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.LeftoverServer;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.engine.postgres.RecoveryTarget;
import dev.lifeboat.engine.postgres.TimelineHistory;
import dev.lifeboat.engine.postgres.UserAssertion;
import dev.lifeboat.engine.postgres.walsummary.CommitScan;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RetentionPolicy;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.util.Json;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DR_DRILL: proves the database can be recovered, and measures how fast and how much would be lost. Restores the
 * newest backup (or {@code backup_id}) into a scratch directory under {@code state-dir/drills/}, from the primary
 * repository or, with {@code source_region}, from that replication region's own copy (backups and WAL: the primary is
 * not touched, as on the day it is gone); recovers to the end of the archived WAL or to a PITR target
 * ({@code target_time}, {@code target_lsn}, {@code target_xid}, {@code target_name}, with {@code exclusive} and
 * {@code timeline} as RESTORE_PITR takes them); starts PostgreSQL on it, validates it as {@code restore --validate}
 * does plus the operator's {@code assertions} (a JSON array of {@code {"name", "database", "sql", "expect"}}, see
 * {@link UserAssertion}); then stops and deletes it, and says so.
 *
 * <p>The result holds what the controller's RTO estimate is computed from, all measured: {@code restore_bytes} and
 * {@code restore_seconds} (writing the backup's files), {@code wal_replay_bytes} (from the backup's end to where
 * recovery ended, read from the history file of the timeline the copy was promoted to), {@code wal_replay_segments},
 * {@code replay_seconds} (server start, WAL replay and promotion) and {@code validated}; {@code rto} splits the
 * drill's time into fetch, WAL replay and validation; {@code rpo} is the data the copy lacks, measured against the
 * source (see {@link #measureRpo}); {@code objectives} judges both against {@code rto_target} and {@code rpo_target}
 * (see {@link #objectives}). A copy that does not validate, an assertion that fails, or a missed objective ends the
 * job FAILED with the same result ({@code outcome} PASSED or FAILED).
 */
final class DrDrillJob implements JobExecutor {
    private static final Logger log = LoggerFactory.getLogger(DrDrillJob.class);
    private static final Set<String> PARAMS = Set.of(
            "backup_id",
            "parallel",
            "source_region",
            "assertions",
            "target_time",
            "target_lsn",
            "target_xid",
            "target_name",
            "target_latest",
            "exclusive",
            "timeline",
            "rto_target",
            "rpo_target");

    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        JobParams p = new JobParams("DR_DRILL", request.getParamsMap(), PARAMS);
        String backup = p.string("backup_id", "latest");
        int parallel = p.integer("parallel", db.parallel(), 1, 256);
        ReplicationConfig.Region region = sourceRegion(p, db);
        RecoveryTarget target = RestoreJob.TARGETS.stream().anyMatch(p::has)
                ? RestoreJob.recoveryTarget("DR_DRILL", p)
                : RecoveryTarget.latest(p.string("timeline", null));
        List<UserAssertion> assertions = assertions(p);
        Duration rtoTarget = positive(p, "rto_target");
        Duration rpoTarget = positive(p, "rpo_target");
        return ctx -> {
            long t0 = System.nanoTime();
            Path work = ctx.workDir("drills");
            Path pgdata = work.resolve("data");
            Map<String, Object> out = new LinkedHashMap<>();
            boolean tornDown = false;
            try {
                Repository r = region == null
                        ? ctx.openRepository()
                        : DatabaseAccess.openRegionRepository(db, region, ctx.cancellation()::isCancelled);
                Map<String, Object> source = new LinkedHashMap<>();
                source.put("region", region == null ? "primary" : region.name());
                source.put("repository", region == null ? db.repo() : region.uri());
                out.put("source", source);
                out.put("recovery_target", target.describe());
                Files.createDirectories(work);
                requireReachable(work);
                Engine engine = Engines.postgresql();
                // where the source is now, just before the restore plans where recovery ends: what the copy lacks of
                // it is the drill's data loss (reading it later would count the drill's own duration as loss)
                SourcePosition before = target.kind() == RecoveryTarget.Kind.LATEST ? SourcePosition.read(ctx) : null;
                List<String> walGet = region == null ? ctx.walGetArgs() : ctx.walGetArgsFromRegion(region.name());
                PgRestore.Result restored = engine.restore(
                        r,
                        // the copy is the database as of the drill's start: recovery must not chase a live archive
                        new PgRestore.Options(backup, pgdata, parallel, null, null, target, walGet).endingAtPlan(),
                        ctx.progress(),
                        ctx.cancellation());
                Snapshot snap = r.loadSnapshot(restored.backupId());
                ctx.message(
                        "drill",
                        "restored " + restored.bytes() + " bytes in " + String.format("%.1f", restored.seconds())
                                + " s from " + source.get("region")
                                + "; starting PostgreSQL on the copy to replay archived WAL and validate it");
                PgValidator.Report report =
                        engine.validate(r, restored, parallel, assertions, ctx.progress(), ctx.cancellation());
                long stopLsn = snap.engineInfo().stopLsn();
                long segSize = snap.engineInfo().walSegmentSize() > 0
                        ? snap.engineInfo().walSegmentSize()
                        : 16L << 20;
                TimelineHistory.Entry end = recoverySwitch(pgdata);
                Long endLsn = end == null ? null : end.switchLsn();

                out.put("backup_id", restored.backupId());
                out.put("backup_stop_lsn", Lsn.format(stopLsn));
                out.put("restore_bytes", restored.bytes());
                out.put("restore_files", restored.files());
                out.put("restore_seconds", restored.seconds());
                out.put("restore_bytes_per_second", restored.bytesPerSecond());
                out.put("recovered_to_lsn", endLsn == null ? null : Lsn.format(endLsn));
                out.put("recovered_last_commit", report.lastReplayedCommit());
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
                out.put("assertions", report.assertions());
                Map<String, Object> rto = new LinkedHashMap<>();
                rto.put("fetch_seconds", restored.seconds());
                rto.put("wal_replay_seconds", Math.max(0, report.startSeconds()));
                rto.put("validation_seconds", Math.max(0, report.seconds() - Math.max(0, report.startSeconds())));
                rto.put("seconds", (System.nanoTime() - t0) / 1e9);
                out.put("rto", rto);
                out.put(
                        "rpo",
                        target.kind() == RecoveryTarget.Kind.LATEST
                                ? measureRpo(db, before, end, report.lastReplayedCommit(), segSize)
                                : Map.of(
                                        "measured",
                                        false,
                                        "reason",
                                        "the drill recovered to a chosen target, not to the newest WAL"));
                out.put("validation", report);
                out.put("teardown", tearDown(work));
                tornDown = true;
                out.put("total_seconds", (System.nanoTime() - t0) / 1e9);
                @SuppressWarnings("unchecked")
                Map<String, Object> rpo = (Map<String, Object>) out.get("rpo");
                List<String> missed = new ArrayList<>();
                out.put("objectives", objectives(rtoTarget, (double) rto.get("seconds"), rpoTarget, rpo, missed));
                out.put("outcome", report.ok() && missed.isEmpty() ? "PASSED" : "FAILED");
                log.info(
                        "drill of {} from {}: {}; RTO {} s (fetch {} s, WAL replay {} s, validation {} s); RPO {}",
                        db.name(),
                        source.get("region"),
                        out.get("outcome"),
                        String.format("%.1f", (double) rto.get("seconds")),
                        String.format("%.1f", restored.seconds()),
                        String.format("%.1f", (double) rto.get("wal_replay_seconds")),
                        String.format("%.1f", (double) rto.get("validation_seconds")),
                        out.get("rpo"));
                if (!report.ok()) {
                    throw JobOutcomeException.failed(
                            "the drill's copy of backup " + restored.backupId() + " did not validate: "
                                    + String.join("; ", report.problems()),
                            out);
                }
                if (!missed.isEmpty()) {
                    throw JobOutcomeException.failed(
                            "the drill's copy of backup " + restored.backupId() + " validated but missed its "
                                    + "objectives: " + String.join("; ", missed),
                            out);
                }
                return out;
            } finally {
                if (!tornDown) {
                    tearDown(work);
                }
            }
        };
    }

    private static Duration positive(JobParams p, String key) {
        Duration d = p.retentionDuration(key, null);
        if (d != null && d.isZero()) {
            throw p.error(key, "must be longer than 0 (e.g. 15m, 1h); leave it out to judge nothing");
        }
        return d;
    }

    /**
     * The drill's measurements against the database's objectives ({@code rto_target}, {@code rpo_target}; the
     * controller passes its tier's). The RTO judged is the drill's whole time to a checked copy (fetch, WAL replay,
     * validation and assertions): a copy nobody has checked is not yet a recovery. An RPO the drill could not measure
     * (a PITR target, an unreadable source) is reported unjudged rather than passed. Misses go to {@code missed}.
     */
    static Map<String, Object> objectives(
            Duration rtoTarget, double rtoSeconds, Duration rpoTarget, Map<String, Object> rpo, List<String> missed) {
        Map<String, Object> o = new LinkedHashMap<>();
        Map<String, Object> rtoVerdict = new LinkedHashMap<>();
        rtoVerdict.put("target_seconds", rtoTarget == null ? null : rtoTarget.toSeconds());
        rtoVerdict.put("measured_seconds", rtoSeconds);
        if (rtoTarget == null) {
            rtoVerdict.put("met", null);
            rtoVerdict.put("reason", "no rto_target given");
        } else {
            boolean met = rtoSeconds <= rtoTarget.toSeconds();
            rtoVerdict.put("met", met);
            if (!met) {
                missed.add(String.format("RTO %.1f s exceeds the target %d s", rtoSeconds, rtoTarget.toSeconds()));
            }
        }
        o.put("rto", rtoVerdict);
        Map<String, Object> rpoVerdict = new LinkedHashMap<>();
        rpoVerdict.put("target_seconds", rpoTarget == null ? null : rpoTarget.toSeconds());
        boolean measured = Boolean.TRUE.equals(rpo.get("measured"));
        rpoVerdict.put("measured_seconds", measured ? rpo.get("seconds") : null);
        if (rpoTarget == null) {
            rpoVerdict.put("met", null);
            rpoVerdict.put("reason", "no rpo_target given");
        } else if (!measured) {
            rpoVerdict.put("met", null);
            rpoVerdict.put("reason", "not measured: " + rpo.get("reason"));
        } else {
            double seconds = ((Number) rpo.get("seconds")).doubleValue();
            boolean met = seconds <= rpoTarget.toSeconds();
            rpoVerdict.put("met", met);
            if (!met) {
                missed.add(String.format(
                        "RPO %.1f s (%s commits lost) exceeds the target %d s",
                        seconds, rpo.get("lost_commits"), rpoTarget.toSeconds()));
            }
        }
        o.put("rpo", rpoVerdict);
        return o;
    }

    /** The replication region named by {@code source_region}, or null for the primary repository ("primary"). */
    private static ReplicationConfig.Region sourceRegion(JobParams p, AgentConfig.Database db) {
        if (!p.has("source_region") || p.string("source_region", "").strip().equals("primary")) {
            return null;
        }
        if (db.replication() == null) {
            throw p.error(
                    "source_region",
                    "names a replication region, but database " + db.name()
                            + " has no replication config (replication: FILE in the agent config)");
        }
        try {
            return ReplicationConfig.load(db.replication())
                    .region(p.string("source_region", "").strip());
        } catch (IOException e) {
            throw p.error(
                    "source_region", "cannot read replication config " + db.replication() + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw p.error("source_region", e.getMessage());
        }
    }

    /**
     * {@code assertions}: a JSON array of objects with {@code sql}, {@code expect} and optional name, database and
     * timeout (e.g. {@code 30s}; {@link UserAssertion#DEFAULT_TIMEOUT} when not given).
     */
    static List<UserAssertion> assertions(JobParams p) {
        if (!p.has("assertions")) {
            return List.of();
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(p.string("assertions", "[]"));
        } catch (JsonProcessingException e) {
            throw p.error("assertions", "is not JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isArray()) {
            throw p.error(
                    "assertions", "must be a JSON array of {\"name\", \"database\", \"sql\", \"expect\"} objects");
        }
        List<UserAssertion> out = new ArrayList<>();
        for (JsonNode a : root) {
            if (!a.isObject()) {
                throw p.error("assertions", "holds " + a + ", which is not an object");
            }
            for (var names = a.fieldNames(); names.hasNext(); ) {
                String f = names.next();
                if (!Set.of("name", "database", "sql", "expect", "timeout").contains(f)) {
                    throw p.error(
                            "assertions", "has an unknown field '" + f + "' (name, database, sql, expect, timeout)");
                }
            }
            try {
                String timeout = text(a, "timeout");
                out.add(new UserAssertion(
                        text(a, "name"),
                        text(a, "database"),
                        text(a, "sql"),
                        text(a, "expect"),
                        timeout == null ? null : RetentionPolicy.parseDuration(timeout)));
            } catch (IllegalArgumentException e) {
                throw p.error("assertions", e.getMessage());
            }
        }
        return out;
    }

    private static String text(JsonNode a, String field) {
        JsonNode v = a.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    /**
     * Stops a server still running on the scratch copy (the validator stops its own; one is left only when stopping
     * failed) and deletes the copy; says what it did.
     */
    private static Map<String, Object> tearDown(Path work) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("scratch_directory", work.toString());
        t.put("server_stopped", LeftoverServer.stop(work.resolve("data")));
        try {
            JobJournal.deleteTree(work);
            t.put("deleted", true);
        } catch (IOException e) {
            log.warn("could not delete the drill's copy at {}: {}", work, e.getMessage());
            t.put("deleted", false);
            t.put("error", e.getMessage());
        }
        return t;
    }

    /**
     * Stops and deletes the drill copies an agent that stopped mid-drill left under {@code state-dir/drills/} (killed,
     * or past its shutdown wait): called at start, when no drill runs.
     */
    static void removeLeftovers(Path stateDir) {
        Path drills = stateDir.resolve("drills");
        if (!Files.isDirectory(drills)) {
            return;
        }
        try (var dirs = Files.list(drills)) {
            for (Path d : dirs.toList()) {
                log.warn("removing the copy a drill that did not end left at {}", d);
                Map<String, Object> t = tearDown(d);
                if (!Boolean.TRUE.equals(t.get("server_stopped")) || !Boolean.TRUE.equals(t.get("deleted"))) {
                    log.warn("the drill copy at {} could not be removed: {}", d, t);
                }
            }
        } catch (IOException e) {
            log.warn("cannot list {}: {}", drills, e.getMessage());
        }
    }

    /**
     * The source's WAL flush position, the timeline it writes (from the insert side: pg_control's checkpoint timeline
     * lags a promotion until the next checkpoint) and its clock then, read from the running server; {@code unreadable}
     * says why not.
     */
    record SourcePosition(long flushLsn, int timeline, Instant at, String unreadable) {
        static SourcePosition read(JobContext ctx) {
            try (Connection c = ctx.connections().open("postgres");
                    Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select pg_is_in_recovery(), "
                            + "case when pg_is_in_recovery() then null else pg_current_wal_flush_lsn()::text end, "
                            + "case when pg_is_in_recovery() then null "
                            + "else pg_walfile_name(pg_current_wal_insert_lsn()) end, "
                            + "clock_timestamp()")) {
                rs.next();
                if (rs.getBoolean(1)) {
                    return new SourcePosition(0, 0, Instant.now(), "the source server is a standby");
                }
                return new SourcePosition(
                        Lsn.parse(rs.getString(2)),
                        Integer.parseInt(rs.getString(3).substring(0, 8), 16),
                        rs.getObject(4, OffsetDateTime.class).toInstant(),
                        null);
            } catch (IOException | SQLException | RuntimeException e) {
                return new SourcePosition(
                        0, 0, Instant.now(), "the source server cannot be queried: " + e.getMessage());
            }
        }
    }

    /**
     * The achieved RPO: the commits the source had made (flushed) when the drill began that the copy does not hold.
     * They are read from the source's WAL between where the copy's recovery ended (its new timeline's switch point)
     * and the source's flush position then (pg_wal, else the primary repository's archive). {@code seconds} is how
     * far back the loss reaches, as the RPO probe counts it: the source's clock at that moment minus the oldest lost
     * commit, 0 when nothing was lost (however long the source had been idle). Not measured, with the reason, when
     * the source cannot be read or is on another timeline.
     */
    private static Map<String, Object> measureRpo(
            AgentConfig.Database db,
            SourcePosition source,
            TimelineHistory.Entry end,
            String recoveredLastCommit,
            long segSize) {
        Map<String, Object> rpo = new LinkedHashMap<>();
        String why = null;
        if (source == null || source.unreadable() != null) {
            why = source == null ? "no source position" : source.unreadable();
        } else if (end == null) {
            why = "the copy did not record where its recovery ended (no new timeline)";
        } else if (end.parent() != source.timeline()) {
            why = "the copy recovered timeline " + end.parent() + " but the source is on timeline " + source.timeline();
        }
        if (why != null) {
            rpo.put("measured", false);
            rpo.put("reason", why);
            return rpo;
        }
        rpo.put("source_flush_lsn", Lsn.format(source.flushLsn()));
        rpo.put("source_read_at", source.at().toString());
        rpo.put("recovered_to_lsn", Lsn.format(end.switchLsn()));
        rpo.put("recovered_newest_commit", recoveredLastCommit);
        rpo.put("lost_wal_bytes", Math.max(0, source.flushLsn() - end.switchLsn()));
        CommitScan.Found lost;
        WalArchive archive = null;
        try {
            archive = new WalArchive(DatabaseAccess.openRepository(db));
        } catch (IOException | RuntimeException e) {
            log.info(
                    "drill: the primary repository cannot be opened ({}); reading the source's pg_wal only",
                    e.getMessage());
        }
        try {
            Path pgWal =
                    db.pgdata() == null ? Path.of("/nonexistent") : db.pgdata().resolve("pg_wal");
            lost = CommitScan.scan(pgWal, archive, end.parent(), segSize, end.switchLsn(), source.flushLsn());
        } catch (IOException | RuntimeException e) {
            rpo.put("measured", false);
            rpo.put("reason", "the source's WAL past the copy's end cannot be read: " + e.getMessage());
            return rpo;
        }
        rpo.put("measured", true);
        rpo.put("lost_commits", lost.commits());
        rpo.put(
                "source_oldest_lost_commit",
                lost.oldest() == null ? null : lost.oldest().toString());
        rpo.put(
                "source_newest_lost_commit",
                lost.newest() == null ? null : lost.newest().toString());
        rpo.put(
                "seconds",
                lost.oldest() == null
                        ? 0.0
                        : Duration.between(lost.oldest(), source.at()).toNanos() / 1e9);
        return rpo;
    }

    /**
     * The last entry (parent timeline and switch point) of the history file of the timeline the copy was promoted to
     * (the newest one in its pg_wal); null when the copy never got that far.
     */
    static TimelineHistory.Entry recoverySwitch(Path pgdata) throws IOException {
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
        return h.entries().isEmpty() ? null : h.entries().getLast();
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
