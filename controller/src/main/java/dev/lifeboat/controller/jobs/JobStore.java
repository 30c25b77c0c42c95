package dev.lifeboat.controller.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.proto.v1.JobEvent;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/** Job history and events in the controller's database. Events are applied once each, in sequence order. */
public final class JobStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final DataSource ds;

    public JobStore(DataSource ds) {
        this.ds = ds;
    }

    public void create(
            String id, String type, String database, String agentId, Map<String, String> params, String requestedBy) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO jobs (id, type, database_name, agent_id, params_json, requested_by,"
                                + " state, submitted_at, last_sequence) VALUES (?, ?, ?, ?, ?, ?, 'QUEUED', ?, 0)")) {
            ps.setString(1, id);
            ps.setString(2, type);
            ps.setString(3, database);
            ps.setString(4, agentId);
            ps.setString(5, JSON.writeValueAsString(params));
            ps.setString(6, requestedBy.length() > 200 ? requestedBy.substring(0, 199) + "…" : requestedBy);
            ps.setObject(7, utc(Instant.now()));
            ps.executeUpdate();
        } catch (SQLException | JsonProcessingException e) {
            throw new IllegalStateException("cannot record job " + id + ": " + e.getMessage(), e);
        }
    }

    /** Records a job an agent started itself, unless it is known already. */
    public synchronized void createIfAbsent(
            String id, String type, String database, String agentId, Map<String, String> params, String requestedBy) {
        if (get(id).isEmpty()) {
            create(id, type, database, agentId, params, requestedBy);
        }
    }

    /**
     * Applies an agent's event: stored, and the job row updated, unless it was seen before (a reconnecting agent
     * replays) or the job already ended here (e.g. failed as "agent gone"). Returns whether it was new.
     */
    public synchronized boolean apply(JobEvent e, String fromAgent) {
        try (Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            try {
                JobRecord j = get(c, e.getJobId()).orElse(null);
                if (j == null || !fromAgent.equals(j.agentId())) {
                    // only the agent the job was dispatched to speaks for it
                    c.rollback();
                    return false;
                }
                // the controller gave up on the job (agent gone, lost) but its agent still reports it: the agent knows
                // better, whether the job ended meanwhile or still runs
                boolean overrule = j.ended() && failedByController(c, j.id());
                if (!overrule && (e.getSequence() <= j.lastSequence() || j.ended())) {
                    c.rollback();
                    return false;
                }
                if (overrule) {
                    try (PreparedStatement ps =
                            c.prepareStatement("UPDATE jobs SET failed_by_controller = FALSE, last_sequence = 0,"
                                    + " ended_at = NULL, message = NULL WHERE id = ?")) {
                        ps.setString(1, j.id());
                        ps.executeUpdate();
                    }
                    try (PreparedStatement ps =
                            c.prepareStatement("DELETE FROM job_events WHERE job_id = ? AND sequence >= ?")) {
                        ps.setString(1, j.id());
                        ps.setLong(2, e.getSequence());
                        ps.executeUpdate();
                    }
                }
                Instant at = e.hasAt()
                        ? Instant.ofEpochSecond(
                                e.getAt().getSeconds(), e.getAt().getNanos())
                        : Instant.now();
                insertEvent(
                        c,
                        e.getJobId(),
                        e.getSequence(),
                        e.getKind().name(),
                        at,
                        e.getPhase(),
                        e.getBytesDone(),
                        e.getBytesTotal(),
                        e.getMessage());
                String state = switch (e.getKind()) {
                    case COMPLETED -> "COMPLETED";
                    case FAILED -> "FAILED";
                    case CANCELLED -> "CANCELLED";
                    default -> "RUNNING";
                };
                boolean ends = !state.equals("RUNNING");
                try (PreparedStatement ps =
                        c.prepareStatement("UPDATE jobs SET state = ?, last_sequence = ?, phase = ?, bytes_done = ?,"
                                + " bytes_total = ?, bytes_per_second = ?, eta_seconds = ?, message = COALESCE(?, "
                                + "message),"
                                + " result_json = COALESCE(?, result_json), started_at = COALESCE(started_at, ?), "
                                + "ended_at = ? WHERE id = ?")) {
                    ps.setString(1, state);
                    ps.setLong(2, e.getSequence());
                    ps.setString(3, emptyToNull(clip(e.getPhase(), 100)));
                    ps.setLong(4, e.getBytesDone());
                    ps.setLong(5, e.getBytesTotal());
                    ps.setDouble(6, e.getBytesPerSecond());
                    ps.setDouble(7, e.getEtaSeconds());
                    ps.setString(8, emptyToNull(truncate(e.getMessage())));
                    ps.setString(
                            9,
                            emptyToNull(
                                    e.getResultJson().length() > 1_000_000
                                            ? "{\"truncated\":true}"
                                            : e.getResultJson()));
                    ps.setObject(10, utc(at));
                    if (ends) {
                        ps.setObject(11, utc(at));
                    } else {
                        ps.setNull(11, Types.TIMESTAMP_WITH_TIMEZONE);
                    }
                    ps.setString(12, e.getJobId());
                    ps.executeUpdate();
                }
                c.commit();
                return true;
            } catch (SQLException ex) {
                c.rollback();
                throw ex;
            }
        } catch (SQLException ex) {
            throw new IllegalStateException(
                    "cannot record event " + e.getSequence() + " of job " + e.getJobId() + ": " + ex.getMessage(), ex);
        }
    }

    private static boolean failedByController(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT failed_by_controller FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** Ends a job on the controller's own authority (agent gone, could not be dispatched). False if it had ended. */
    public synchronized boolean fail(String jobId, String reason) {
        try (Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            JobRecord j = get(c, jobId).orElse(null);
            if (j == null || j.ended()) {
                c.rollback();
                return false;
            }
            Instant now = Instant.now();
            long seq = j.lastSequence() + 1;
            insertEvent(
                    c,
                    jobId,
                    seq,
                    "FAILED",
                    now,
                    j.phase(),
                    j.bytesDone() == null ? 0 : j.bytesDone(),
                    j.bytesTotal() == null ? 0 : j.bytesTotal(),
                    reason);
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE jobs SET state = 'FAILED', last_sequence = ?, message = ?, ended_at = ?, "
                            + "failed_by_controller = TRUE WHERE id = ?")) {
                ps.setLong(1, seq);
                ps.setString(2, truncate(reason));
                ps.setObject(3, utc(now));
                ps.setString(4, jobId);
                ps.executeUpdate();
            }
            c.commit();
            return true;
        } catch (SQLException ex) {
            throw new IllegalStateException("cannot fail job " + jobId + ": " + ex.getMessage(), ex);
        }
    }

    private static void insertEvent(
            Connection c,
            String jobId,
            long seq,
            String kind,
            Instant at,
            String phase,
            long done,
            long total,
            String message)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO job_events (job_id, sequence, kind, at, phase, bytes_done, bytes_total, message)"
                        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, jobId);
            ps.setLong(2, seq);
            ps.setString(3, kind);
            ps.setObject(4, utc(at));
            ps.setString(5, emptyToNull(clip(phase, 100)));
            ps.setLong(6, done);
            ps.setLong(7, total);
            ps.setString(8, emptyToNull(truncate(message)));
            ps.executeUpdate();
        }
    }

    public Optional<JobRecord> get(String id) {
        try (Connection c = ds.getConnection()) {
            return get(c, id);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private Optional<JobRecord> get(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(row(rs)) : Optional.empty();
            }
        }
    }

    /** Newest first. Null filters match everything. */
    public List<JobRecord> list(String database, String state, String agentId, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM jobs WHERE 1 = 1");
        List<String> args = new ArrayList<>();
        if (database != null) {
            sql.append(" AND database_name = ?");
            args.add(database);
        }
        if (state != null) {
            sql.append(" AND state = ?");
            args.add(state);
        }
        if (agentId != null) {
            sql.append(" AND agent_id = ?");
            args.add(agentId);
        }
        sql.append(" ORDER BY submitted_at DESC, id LIMIT ").append(Math.max(1, Math.min(limit, 10000)));
        return query(sql.toString(), args);
    }

    /** Whether a job of this type for the database has not ended on the agent (one indexed lookup, however long the
     * history). */
    public boolean hasUnfinished(String database, String agentId, String type) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("SELECT 1 FROM jobs WHERE database_name = ? AND agent_id = ? AND type = ?"
                                + " AND state IN ('QUEUED', 'RUNNING') LIMIT 1")) {
            ps.setString(1, database);
            ps.setString(2, agentId);
            ps.setString(3, type);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Jobs not ended on an agent. */
    public List<JobRecord> unfinishedOn(String agentId) {
        return query(
                "SELECT * FROM jobs WHERE agent_id = ? AND state IN ('QUEUED', 'RUNNING') ORDER BY submitted_at",
                List.of(agentId));
    }

    /** Ended jobs of the given types for a database since a time, newest first. */
    public List<JobRecord> endedSince(String database, List<String> types, Instant since) {
        StringBuilder sql =
                new StringBuilder("SELECT * FROM jobs WHERE database_name = ? AND ended_at >= ? AND type IN (");
        sql.append(String.join(", ", Collections.nCopies(types.size(), "?")));
        sql.append(") ORDER BY ended_at DESC");
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql.toString())) {
            ps.setString(1, database);
            ps.setObject(2, utc(since));
            for (int i = 0; i < types.size(); i++) {
                ps.setString(3 + i, types.get(i));
            }
            return rows(ps);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The newest completed job of these types for a database. */
    public Optional<JobRecord> latestCompleted(String database, List<String> types) {
        return completed(database, types, 1).stream().findFirst();
    }

    /** The newest completed jobs of these types for a database, newest first, at most {@code limit}. */
    public List<JobRecord> completed(String database, List<String> types, int limit) {
        return newest(database, types, "state = 'COMPLETED'", limit);
    }

    /** The newest ended jobs (completed, failed or cancelled) of these types, newest first, at most {@code limit}. */
    public List<JobRecord> ended(String database, List<String> types, int limit) {
        return newest(database, types, "ended_at IS NOT NULL", limit);
    }

    /**
     * For every database at once: its newest jobs of these types meeting {@code completedOnly} (else: ended), newest
     * first, at most {@code limit} each. One query instead of one per database (the overview reads all of them).
     */
    public Map<String, List<JobRecord>> newestPerDatabase(List<String> types, boolean completedOnly, int limit) {
        String sql = "SELECT * FROM (SELECT j.*, ROW_NUMBER() OVER (PARTITION BY database_name ORDER BY ended_at DESC)"
                + " AS newness FROM jobs j WHERE "
                + (completedOnly ? "state = 'COMPLETED'" : "ended_at IS NOT NULL")
                + " AND type IN (" + String.join(", ", Collections.nCopies(types.size(), "?"))
                + ")) t WHERE newness <= " + Math.max(1, limit) + " ORDER BY database_name, newness";
        Map<String, List<JobRecord>> out = new HashMap<>();
        for (JobRecord j : query(sql, types)) {
            out.computeIfAbsent(j.database(), k -> new ArrayList<>()).add(j);
        }
        return out;
    }

    /** The newest ended job of these types for a database. */
    public Optional<JobRecord> latestEnded(String database, List<String> types) {
        return ended(database, types, 1).stream().findFirst();
    }

    private List<JobRecord> newest(String database, List<String> types, String condition, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM jobs WHERE database_name = ? AND ")
                .append(condition)
                .append(" AND type IN (");
        sql.append(String.join(", ", Collections.nCopies(types.size(), "?")));
        sql.append(") ORDER BY ended_at DESC LIMIT ").append(Math.max(1, limit));
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql.toString())) {
            ps.setString(1, database);
            for (int i = 0; i < types.size(); i++) {
                ps.setString(2 + i, types.get(i));
            }
            return rows(ps);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    public List<Map<String, Object>> events(String jobId) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("SELECT * FROM job_events WHERE job_id = ? ORDER BY sequence")) {
            ps.setString(1, jobId);
            List<Map<String, Object>> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("sequence", rs.getLong("sequence"));
                    m.put("kind", rs.getString("kind"));
                    m.put("at", instant(rs, "at"));
                    m.put("phase", rs.getString("phase"));
                    m.put("bytesDone", rs.getLong("bytes_done"));
                    m.put("bytesTotal", rs.getLong("bytes_total"));
                    m.put("message", rs.getString("message"));
                    out.add(m);
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private List<JobRecord> query(String sql, List<String> args) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.size(); i++) {
                ps.setString(i + 1, args.get(i));
            }
            return rows(ps);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<JobRecord> rows(PreparedStatement ps) throws SQLException {
        List<JobRecord> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(row(rs));
            }
        }
        return out;
    }

    private static JobRecord row(ResultSet rs) throws SQLException {
        Map<String, String> params;
        try {
            String p = rs.getString("params_json");
            params = p == null ? Map.of() : JSON.readValue(p, new TypeReference<Map<String, String>>() {});
        } catch (Exception e) {
            params = Map.of();
        }
        return new JobRecord(
                rs.getString("id"),
                rs.getString("type"),
                rs.getString("database_name"),
                rs.getString("agent_id"),
                params,
                rs.getString("requested_by"),
                rs.getString("state"),
                instant(rs, "submitted_at"),
                instant(rs, "started_at"),
                instant(rs, "ended_at"),
                rs.getLong("last_sequence"),
                rs.getString("phase"),
                (Long) rs.getObject("bytes_done", Long.class),
                (Long) rs.getObject("bytes_total", Long.class),
                (Double) rs.getObject("bytes_per_second", Double.class),
                (Double) rs.getObject("eta_seconds", Double.class),
                rs.getString("message"),
                rs.getString("result_json"));
    }

    static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    static OffsetDateTime utc(Instant i) {
        return i.atOffset(ZoneOffset.UTC);
    }

    private static String emptyToNull(String s) {
        // PostgreSQL text cannot hold NUL
        return s == null || s.isEmpty() ? null : s.replace('\u0000', ' ');
    }

    private static String clip(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max);
    }

    private static String truncate(String s) {
        return s == null || s.length() <= 4000 ? s : s.substring(0, 3990) + "…";
    }
}
