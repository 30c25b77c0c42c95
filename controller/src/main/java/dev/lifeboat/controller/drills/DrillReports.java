package dev.lifeboat.controller.drills;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lifeboat.controller.Auditor;
import dev.lifeboat.controller.audit.AuditEntry;
import dev.lifeboat.controller.audit.AuditLog;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.policy.Inventory;
import dev.lifeboat.controller.policy.Policy;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The evidence DR drills leave: when a drill ends, its report (the job, the policy it was judged against and the
 * agent's measurements) is stored as JSON and its SHA-256 recorded in the audit chain as {@value #AUDIT_ACTION}, with
 * a link to it. Reading a report checks it still hashes to what the chain recorded.
 */
public final class DrillReports {
    public static final String AUDIT_ACTION = "drill.report";
    private static final ObjectMapper JSON = new ObjectMapper();

    public record Summary(String id, String database, String outcome, Instant createdAt, String sha256, String link) {}

    /** A stored report; {@code intact} says whether its bytes still hash to the audit chain's record of them. */
    public record Stored(Summary summary, JsonNode report, Integrity integrity) {}

    public record Integrity(boolean intact, Long auditSeq, String problem) {}

    private final DataSource ds;
    private final Inventory inventory;
    private final Auditor audit;
    private final AuditLog auditLog;

    public DrillReports(DataSource ds, Inventory inventory, Auditor audit, AuditLog auditLog) {
        this.ds = ds;
        this.inventory = inventory;
        this.audit = audit;
        this.auditLog = auditLog;
    }

    public static String link(String id) {
        return "/api/v1/drills/" + id;
    }

    /** Keeps the report of a drill that ended (other jobs are ignored); a drill reported again replaces its report. */
    public void jobEnded(JobRecord j) {
        if (!j.type().equals("DR_DRILL") || !j.ended()) {
            return;
        }
        ObjectNode report =
                build(j, inventory.database(j.database()).map(d -> d.policy()).orElse(null));
        String text;
        try {
            text = JSON.writeValueAsString(report);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        String sha = sha256(text);
        String outcome = report.path("outcome").asText();
        Instant now = Instant.now();
        synchronized (this) {
            try (Connection c = ds.getConnection()) {
                boolean exists;
                try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM drill_reports WHERE job_id = ?")) {
                    ps.setString(1, j.id());
                    try (ResultSet rs = ps.executeQuery()) {
                        exists = rs.next();
                    }
                }
                try (PreparedStatement ps = c.prepareStatement(
                        exists
                                ? "UPDATE drill_reports SET database_name = ?, outcome = ?, created_at = ?, report = ?,"
                                        + " sha256 = ? WHERE job_id = ?"
                                : "INSERT INTO drill_reports (database_name, outcome, created_at, report, sha256,"
                                        + " job_id) VALUES (?, ?, ?, ?, ?, ?)")) {
                    ps.setString(1, j.database());
                    ps.setString(2, outcome);
                    ps.setObject(3, OffsetDateTime.ofInstant(now, ZoneOffset.UTC));
                    ps.setString(4, text);
                    ps.setString(5, sha);
                    ps.setString(6, j.id());
                    ps.executeUpdate();
                }
            } catch (SQLException e) {
                throw new IllegalStateException("cannot keep the report of drill " + j.id() + ": " + e.getMessage(), e);
            }
        }
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("database", j.database());
        detail.put("outcome", outcome);
        detail.put("sha256", sha);
        detail.put("report", link(j.id()));
        detail.put("markdown", link(j.id()) + "/report.md");
        detail.put("html", link(j.id()) + "/report.html");
        audit.record("controller", AUDIT_ACTION, j.id(), detail);
    }

    public Optional<Stored> get(String id) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT job_id, database_name, outcome, created_at, sha256,"
                        + " report FROM drill_reports WHERE job_id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                Summary s = summary(rs);
                String text = rs.getString(6);
                return Optional.of(new Stored(s, parse(text), integrity(id, s.sha256(), text)));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read drill report " + id + ": " + e.getMessage(), e);
        }
    }

    /** Newest first; {@code database} null for all. */
    public List<Summary> list(String database, int limit) {
        String sql = "SELECT job_id, database_name, outcome, created_at, sha256 FROM drill_reports"
                + (database == null ? "" : " WHERE database_name = ?")
                + " ORDER BY created_at DESC LIMIT " + Math.max(1, Math.min(1000, limit));
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            if (database != null) {
                ps.setString(1, database);
            }
            List<Summary> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(summary(rs));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot list drill reports: " + e.getMessage(), e);
        }
    }

    /** A database's newest reports with their bodies (the database page draws their phases), newest first. */
    public List<Map.Entry<Summary, JsonNode>> recentReports(String database, int limit) {
        String sql = "SELECT job_id, database_name, outcome, created_at, sha256, report FROM drill_reports"
                + " WHERE database_name = ? ORDER BY created_at DESC LIMIT " + Math.max(1, Math.min(100, limit));
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, database);
            List<Map.Entry<Summary, JsonNode>> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(Map.entry(summary(rs), parse(rs.getString(6))));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot list drill reports: " + e.getMessage(), e);
        }
    }

    /** Each database's newest drill report, in one query (the overview shows it for every database). */
    public Map<String, Summary> newestPerDatabase() {
        String sql = "SELECT job_id, database_name, outcome, created_at, sha256 FROM drill_reports d WHERE created_at ="
                + " (SELECT MAX(created_at) FROM drill_reports n WHERE n.database_name = d.database_name)";
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql);
                ResultSet rs = ps.executeQuery()) {
            Map<String, Summary> out = new HashMap<>();
            while (rs.next()) {
                Summary s = summary(rs);
                out.merge(s.database(), s, (a, b) -> a.id().compareTo(b.id()) >= 0 ? a : b);
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot list drill reports: " + e.getMessage(), e);
        }
    }

    private static Summary summary(ResultSet rs) throws SQLException {
        String id = rs.getString(1);
        return new Summary(
                id,
                rs.getString(2),
                rs.getString(3),
                rs.getObject(4, OffsetDateTime.class).toInstant(),
                rs.getString(5),
                link(id));
    }

    /** The stored text against the stored hash and against the hash the audit chain recorded for this drill. */
    private Integrity integrity(String id, String storedSha, String text) {
        String actual = sha256(text);
        AuditEntry entry = auditLog.latest(AUDIT_ACTION, id).orElse(null);
        if (entry == null) {
            return new Integrity(false, null, "the audit log holds no " + AUDIT_ACTION + " entry for this drill");
        }
        String recorded = parse(entry.detail()).path("sha256").asText("");
        if (!actual.equals(recorded)) {
            return new Integrity(
                    false,
                    entry.seq(),
                    "the stored report hashes to " + actual + " but audit entry " + entry.seq() + " recorded "
                            + recorded);
        }
        if (!actual.equals(storedSha)) {
            return new Integrity(false, entry.seq(), "the stored hash column does not match the report");
        }
        return new Integrity(true, entry.seq(), null);
    }

    /**
     * The report: who ran the drill and when, the policy (tier, RTO and RPO targets) of the database, the outcome, and
     * the agent's result (restore, WAL replay, validation, assertions, RTO and RPO against the objectives, teardown).
     */
    static ObjectNode build(JobRecord j, Policy policy) {
        ObjectNode r = JSON.createObjectNode();
        r.put("kind", "lifeboat-dr-drill-report");
        r.put("version", 1);
        r.put("drill", j.id());
        r.put("database", j.database());
        r.put("agent", j.agentId());
        r.put("requested_by", j.requestedBy());
        r.put("submitted_at", text(j.submittedAt()));
        r.put("started_at", text(j.startedAt()));
        r.put("ended_at", text(j.endedAt()));
        r.put("job_state", j.state());
        r.put("message", j.message());
        r.set("params", JSON.valueToTree(j.params()));
        if (policy != null) {
            ObjectNode p = r.putObject("policy");
            p.put("name", policy.name());
            p.put("tier", policy.tier().name());
            p.put("rto_target_seconds", policy.rto().toSeconds());
            p.put("rpo_target_seconds", policy.rpo().toSeconds());
        }
        JsonNode result = j.resultJson() == null ? null : parse(j.resultJson());
        String outcome = result != null && result.hasNonNull("outcome")
                ? result.get("outcome").asText()
                : switch (j.state()) {
                    case "COMPLETED" -> "PASSED";
                    case "CANCELLED" -> "CANCELLED";
                    default -> "FAILED";
                };
        if (j.state().equals("CANCELLED")) {
            outcome = "CANCELLED";
        }
        r.put("outcome", outcome);
        r.set("result", result);
        return r;
    }

    private static String text(Instant t) {
        return t == null ? null : t.toString();
    }

    private static JsonNode parse(String text) {
        if (text == null) {
            return JSON.nullNode();
        }
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            return JSON.getNodeFactory().textNode(text);
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
