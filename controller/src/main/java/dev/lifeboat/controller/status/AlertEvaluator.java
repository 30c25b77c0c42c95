package dev.lifeboat.controller.status;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.common.Durations;
import dev.lifeboat.controller.Auditor;
import dev.lifeboat.controller.ControllerConfig.AlertThresholds;
import dev.lifeboat.controller.agents.AgentRegistry;
import dev.lifeboat.controller.alerts.Alert;
import dev.lifeboat.controller.events.EventBus;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.JobStore;
import dev.lifeboat.controller.status.SlaStatus.DatabaseStatus;
import dev.lifeboat.controller.status.SlaStatus.RegionRpo;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Raises and resolves alerts from the policy's thresholds: RPO breach (critical), RTO at risk (warning), backup failure
 * rate, replication lag, storage nearly full, failed health check (drill), agent gone. One open alert per subject
 * (kind + database/agent + region); each raise and resolve goes to the webhooks, the event stream and the audit log.
 */
public final class AlertEvaluator implements AgentRegistry.Listener {
    private static final Logger log = LoggerFactory.getLogger(AlertEvaluator.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String STORAGE_FREE_METRIC = "lifeboat_repository_free_ratio";

    public interface Sink {
        void raised(Alert a);

        void resolved(Alert a);
    }

    private final DataSource ds;
    private final SlaStatus status;
    private final JobStore jobs;
    private final MetricStore metrics;
    private final AlertThresholds thresholds;
    private final EventBus events;
    private final Auditor audit;
    private final Sink sink;

    public AlertEvaluator(
            DataSource ds,
            SlaStatus status,
            JobStore jobs,
            MetricStore metrics,
            AlertThresholds thresholds,
            EventBus events,
            Auditor audit,
            Sink sink) {
        this.ds = ds;
        this.status = status;
        this.jobs = jobs;
        this.metrics = metrics;
        this.thresholds = thresholds;
        this.events = events;
        this.audit = audit;
        this.sink = sink;
    }

    /**
     * One pass over every database; conditions that no longer hold resolve their alerts. Returns the status it judged
     * (the RPO history records the same figures).
     */
    public synchronized List<DatabaseStatus> evaluate() {
        Set<String> firing = new HashSet<>();
        Map<String, Alert> wanted = new LinkedHashMap<>();
        List<DatabaseStatus> all = status.all();
        for (DatabaseStatus s : all) {
            for (RegionRpo r : s.regions()) {
                if (r.rpoSeconds() == null || r.meets()) {
                    continue;
                }
                String kind = r.primary() ? "rpo-breach" : "replication-lag";
                String sev = r.primary() ? "critical" : "warning";
                String summary = String.format(
                        "%s: RPO in %s is %.0f s, over the %s tier's %d s",
                        s.database(), r.region(), r.rpoSeconds(), s.tier(), s.rpoTargetSeconds());
                want(
                        wanted,
                        kind,
                        sev,
                        s.database(),
                        r.region(),
                        summary,
                        Map.of(
                                "rpoSeconds",
                                r.rpoSeconds(),
                                "targetSeconds",
                                s.rpoTargetSeconds(),
                                "stale",
                                r.stale()));
            }
            if (s.rto().seconds() != null && s.rto().seconds() > s.rtoTargetSeconds() * thresholds.rtoWarningRatio) {
                want(
                        wanted,
                        "rto-at-risk",
                        "warning",
                        s.database(),
                        s.region(),
                        String.format(
                                "%s: RTO estimate %.0f s is over %.0f %% of the %s tier's %d s",
                                s.database(),
                                s.rto().seconds(),
                                thresholds.rtoWarningRatio * 100,
                                s.tier(),
                                s.rtoTargetSeconds()),
                        Map.of("rtoSeconds", s.rto().seconds(), "targetSeconds", s.rtoTargetSeconds()));
            }
            backupFailures(wanted, s);
            healthCheck(wanted, s);
            for (MetricStore.Sample m : metrics.find(STORAGE_FREE_METRIC, Map.of("database", s.database()))) {
                if (m.value() < thresholds.storageFreeRatio) {
                    want(
                            wanted,
                            "storage-nearly-full",
                            "warning",
                            s.database(),
                            m.labels().get("region"),
                            String.format(
                                    "%s: repository storage in %s has %.1f %% free",
                                    s.database(), m.labels().get("region"), m.value() * 100),
                            Map.of("freeRatio", m.value()));
                }
            }
        }
        for (Alert a : wanted.values()) {
            firing.add(subject(a));
            raise(a);
        }
        for (Alert open : open()) {
            if (!open.kind().equals("agent-gone") && !firing.contains(subject(open))) {
                resolve(subject(open));
            }
        }
        return all;
    }

    private void backupFailures(Map<String, Alert> wanted, DatabaseStatus s) {
        Duration window = Durations.parse(thresholds.backupFailureWindow);
        List<JobRecord> ended = jobs.endedSince(
                s.database(), SlaStatus.BACKUP_TYPES, Instant.now().minus(window));
        long failed = ended.stream().filter(j -> !j.state().equals("COMPLETED")).count();
        if (failed > 0 && failed > ended.size() * thresholds.backupFailureRate) {
            want(
                    wanted,
                    "backup-failures",
                    "warning",
                    s.database(),
                    s.region(),
                    String.format(
                            "%s: %d of %d backups failed in the last %s",
                            s.database(), failed, ended.size(), thresholds.backupFailureWindow),
                    Map.of(
                            "failed",
                            failed,
                            "total",
                            ended.size(),
                            "lastError",
                            String.valueOf(ended.stream()
                                    .filter(j -> !j.state().equals("COMPLETED"))
                                    .findFirst()
                                    .map(JobRecord::message)
                                    .orElse(""))));
        }
    }

    private void healthCheck(Map<String, Alert> wanted, DatabaseStatus s) {
        JobRecord last = jobs.latestEnded(s.database(), List.of("DR_DRILL")).orElse(null);
        if (last == null) {
            return;
        }
        boolean validated = last.state().equals("COMPLETED")
                && !String.valueOf(last.resultJson()).contains("\"validated\":false");
        if (!validated && !last.state().equals("CANCELLED")) {
            want(
                    wanted,
                    "health-check-failed",
                    "critical",
                    s.database(),
                    s.region(),
                    s.database() + ": the latest DR drill failed: " + last.message(),
                    Map.of("job", last.id()));
        }
    }

    private static void want(
            Map<String, Alert> wanted,
            String kind,
            String severity,
            String database,
            String region,
            String summary,
            Map<String, Object> details) {
        String subject = kind + ":" + (database == null ? "" : database) + ":" + (region == null ? "" : region);
        // the stored alert gets its own id; this one only carries the condition
        wanted.putIfAbsent(
                subject,
                new Alert(
                        candidateId(subject), kind, severity, database, region, summary, Instant.now(), null, details));
    }

    private static String candidateId(String subject) {
        return subject.length() > 255 ? subject.substring(0, 255) : subject;
    }

    static String subject(Alert a) {
        return a.kind() + ":" + (a.database() == null ? "" : a.database()) + ":"
                + (a.region() == null ? "" : a.region());
    }

    @Override
    public void connected(String agentId, String region) {
        resolve("agent-gone:" + agentId + ":" + region);
    }

    @Override
    public void gone(String agentId, String region, Instant lastHeartbeat) {
        // the agent's id stands where a database would: an agent may serve several databases
        raise(new Alert(
                candidateId("agent-gone:" + agentId),
                "agent-gone",
                "critical",
                agentId,
                region,
                "agent " + agentId + " (" + region + ") is gone: no heartbeat since " + lastHeartbeat,
                Instant.now(),
                null,
                Map.of("lastHeartbeat", lastHeartbeat.toString())));
    }

    /** Opens the alert unless one with the same subject is open. */
    public synchronized void raise(Alert a) {
        String subject = subject(a);
        try (Connection c = ds.getConnection()) {
            try (PreparedStatement ps =
                    c.prepareStatement("SELECT id FROM alerts WHERE subject = ? AND resolved_at IS NULL")) {
                ps.setString(1, subject);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return;
                    }
                }
            }
            Alert stored = new Alert(
                    UUID.randomUUID().toString(),
                    a.kind(),
                    a.severity(),
                    a.database(),
                    a.region(),
                    a.summary(),
                    a.raisedAt(),
                    null,
                    a.details());
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO alerts (id, kind, severity, database_name, region, subject, summary,"
                            + " details_json, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, stored.id());
                ps.setString(2, stored.kind());
                ps.setString(3, stored.severity());
                ps.setString(4, stored.database());
                ps.setString(5, stored.region());
                ps.setString(6, subject);
                ps.setString(7, stored.summary());
                ps.setString(8, JSON.writeValueAsString(stored.details()));
                ps.setObject(9, stored.raisedAt().atOffset(ZoneOffset.UTC));
                ps.executeUpdate();
            }
            log.warn("alert raised: {}", stored.summary());
            audit.record(
                    "controller",
                    "alert.raised",
                    stored.id(),
                    Map.of("kind", stored.kind(), "summary", stored.summary()));
            events.publish("alert:raised", alertData(stored));
            try {
                sink.raised(stored);
            } catch (RuntimeException e) {
                log.error("alert {} could not be queued for the webhooks: {}", stored.id(), e.toString());
            }
        } catch (SQLException | JsonProcessingException e) {
            log.error("cannot record alert {}: {}", subject, e.getMessage());
        }
    }

    private synchronized void resolve(String subject) {
        for (Alert a : open()) {
            if (!subject(a).equals(subject)) {
                continue;
            }
            Instant now = Instant.now();
            try (Connection c = ds.getConnection();
                    PreparedStatement ps = c.prepareStatement(
                            "UPDATE alerts SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL")) {
                ps.setObject(1, now.atOffset(ZoneOffset.UTC));
                ps.setString(2, a.id());
                if (ps.executeUpdate() == 0) {
                    continue;
                }
            } catch (SQLException e) {
                log.error("cannot resolve alert {}: {}", a.id(), e.getMessage());
                continue;
            }
            Alert resolved = new Alert(
                    a.id(),
                    a.kind(),
                    a.severity(),
                    a.database(),
                    a.region(),
                    a.summary(),
                    a.raisedAt(),
                    now,
                    a.details());
            log.info("alert resolved: {}", a.summary());
            audit.record("controller", "alert.resolved", a.id(), Map.of("kind", a.kind()));
            events.publish("alert:resolved", alertData(resolved));
            try {
                sink.resolved(resolved);
            } catch (RuntimeException e) {
                log.error("resolution of alert {} could not be queued for the webhooks: {}", a.id(), e.toString());
            }
        }
    }

    private static Map<String, Object> alertData(Alert a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", a.id());
        m.put("kind", a.kind());
        m.put("severity", a.severity());
        m.put("database", a.database());
        m.put("region", a.region());
        m.put("summary", a.summary());
        m.put("raisedAt", a.raisedAt().toString());
        if (a.resolvedAt() != null) {
            m.put("resolvedAt", a.resolvedAt().toString());
        }
        return m;
    }

    /**
     * Marks an open alert as taken by {@code by}: audited and published, but still open (and still notifying on its
     * resolution) until its condition clears. Empty if no open alert has this id; acknowledging twice keeps the first.
     */
    public synchronized Optional<Alert> acknowledge(String id, String by, String note) {
        String trimmed = note == null || note.isBlank() ? null : note.strip();
        if (trimmed != null && trimmed.length() > 2000) {
            throw new IllegalArgumentException("an acknowledgement note holds at most 2000 characters");
        }
        Instant now = Instant.now();
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?,"
                        + " acknowledged_note = ? WHERE id = ? AND resolved_at IS NULL AND acknowledged_at IS NULL")) {
            ps.setObject(1, now.atOffset(ZoneOffset.UTC));
            ps.setString(2, by);
            ps.setString(3, trimmed);
            ps.setString(4, id);
            if (ps.executeUpdate() == 1) {
                Map<String, Object> detail = new LinkedHashMap<>();
                detail.put("by", by);
                if (trimmed != null) {
                    detail.put("note", trimmed);
                }
                audit.record("token:" + by, "alert.acknowledged", id, detail);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot acknowledge alert " + id + ": " + e.getMessage(), e);
        }
        Optional<Alert> a = open().stream().filter(x -> x.id().equals(id)).findFirst();
        a.ifPresent(x -> {
            Map<String, Object> data = alertData(x);
            data.put("acknowledgedBy", x.acknowledgedBy());
            events.publish("alert:acknowledged", data);
        });
        return a;
    }

    public List<Alert> open() {
        return query("SELECT * FROM alerts WHERE resolved_at IS NULL ORDER BY raised_at");
    }

    public List<Alert> recent(int limit) {
        return query("SELECT * FROM alerts ORDER BY raised_at DESC LIMIT " + Math.max(1, Math.min(limit, 1000)));
    }

    private List<Alert> query(String sql) {
        List<Alert> out = new ArrayList<>();
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql);
                ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Map<String, Object> details;
                try {
                    details = JSON.readValue(rs.getString("details_json"), new TypeReference<Map<String, Object>>() {});
                } catch (Exception e) {
                    details = Map.of();
                }
                OffsetDateTime resolved = rs.getObject("resolved_at", OffsetDateTime.class);
                OffsetDateTime acknowledged = rs.getObject("acknowledged_at", OffsetDateTime.class);
                out.add(new Alert(
                        rs.getString("id"),
                        rs.getString("kind"),
                        rs.getString("severity"),
                        rs.getString("database_name"),
                        rs.getString("region"),
                        rs.getString("summary"),
                        rs.getObject("raised_at", OffsetDateTime.class).toInstant(),
                        resolved == null ? null : resolved.toInstant(),
                        details,
                        acknowledged == null ? null : acknowledged.toInstant(),
                        rs.getString("acknowledged_by"),
                        rs.getString("acknowledged_note")));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }
}
