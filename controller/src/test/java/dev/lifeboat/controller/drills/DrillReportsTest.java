package dev.lifeboat.controller.drills;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.ControllerConfig;
import dev.lifeboat.controller.audit.AuditLog;
import dev.lifeboat.controller.audit.TestDatabases;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.policy.Inventory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.Map;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drill reports on the controller's embedded database and a real audit chain: kept when a drill ends, rendered, and
 * found out when edited. (The agent side, real drills on PostgreSQL, is in the system tests.)
 */
class DrillReportsTest {
    @TempDir
    Path tmp;

    JdbcConnectionPool ds;
    AuditLog audit;
    DrillReports reports;

    @BeforeEach
    void open() throws Exception {
        ds = TestDatabases.h2(tmp);
        audit = new AuditLog(ds, new byte[32]);
        Path config = tmp.resolve("c.yaml");
        Files.writeString(config, """
                state-dir: s
                insecure-dev: true
                policies:
                  gold: {tier: HIGH, rpo: 2m}
                databases:
                  - {name: orders, agent: a1, policy: gold}
                """);
        ObjectMapper json = new ObjectMapper();
        reports = new DrillReports(
                ds,
                new Inventory(ControllerConfig.load(config)),
                (actor, action, target, detail) -> {
                    try {
                        audit.append(actor, action, target, json.writeValueAsString(detail));
                    } catch (JsonProcessingException e) {
                        throw new IllegalStateException(e);
                    }
                },
                audit);
    }

    @AfterEach
    void close() {
        ds.dispose();
    }

    private static JobRecord drill(String id, String state, String message, String result) {
        Instant t = Instant.parse("2026-12-05T09:00:00Z");
        return new JobRecord(
                id,
                "DR_DRILL",
                "orders",
                "a1",
                Map.of("rto_target", "3600s", "rpo_target", "120s"),
                "token:ops",
                state,
                t,
                t.plusSeconds(1),
                t.plusSeconds(95),
                7,
                null,
                null,
                null,
                null,
                null,
                message,
                result);
    }

    private static final String MISSED = """
            {"source": {"region": "us", "repository": "s3://dr/orders"}, "backup_id": "20261205T010000F",
             "recovery_target": "latest", "restore_bytes": 104857600, "restore_seconds": 40.0,
             "restore_bytes_per_second": 2621440, "wal_replay_bytes": 33554432, "wal_replay_segments": 2,
             "recovered_to_lsn": "0/5000000",
             "rto": {"fetch_seconds": 40.0, "wal_replay_seconds": 30.0, "validation_seconds": 20.0, "seconds": 90.0},
             "rpo": {"measured": true, "seconds": 300.5, "lost_commits": 12, "lost_wal_bytes": 8192,
                     "recovered_newest_commit": "2026-12-05T08:50:00Z",
                     "source_oldest_lost_commit": "2026-12-05T08:55:29.5Z",
                     "source_newest_lost_commit": "2026-12-05T08:59:00.5Z", "source_flush_lsn": "0/5002000",
                     "source_read_at": "2026-12-05T09:00:30Z"},
             "objectives": {"rto": {"target_seconds": 3600, "measured_seconds": 90.0, "met": true},
                            "rpo": {"target_seconds": 120, "measured_seconds": 300.5, "met": false}},
             "validation": {"filesChecked": 1200, "bytesChecked": 104857600, "problems": [],
                            "databases": [{"name": "orders", "heapRelationsChecked": 10, "btreeIndexesChecked": 12,
                                           "visibilityRelationsChecked": 10, "corruption": []}]},
             "assertions": [{"name": "recent <orders>", "database": "orders", "sql": "select count(*) from o",
                             "expect": "> 0", "actual": "17", "passed": true, "error": null}],
             "teardown": {"scratch_directory": "/var/lib/lifeboat/drills/x", "server_stopped": true, "deleted": true},
             "outcome": "FAILED"}
            """;

    @Test
    void aDrillThatMissedItsRpoIsKeptRecordedInTheAuditChainAndRendered() {
        reports.jobEnded(drill(
                "d1",
                "FAILED",
                "validated but missed its objectives: RPO 300.5 s (12 commits lost) exceeds …",
                MISSED));

        DrillReports.Stored s = reports.get("d1").orElseThrow();
        assertThat(s.summary().outcome()).isEqualTo("FAILED");
        assertThat(s.integrity().intact()).as(s.integrity().problem()).isTrue();
        assertThat(s.report().path("policy").path("tier").asText()).isEqualTo("HIGH");
        assertThat(s.report().path("policy").path("rpo_target_seconds").asLong())
                .isEqualTo(120);
        var entry = audit.latest(DrillReports.AUDIT_ACTION, "d1").orElseThrow();
        assertThat(entry.detail()).contains(s.summary().sha256()).contains("/api/v1/drills/d1");
        assertThat(audit.verify().ok()).isTrue();

        String md = DrillReportDocument.markdown(s);
        assertThat(md)
                .startsWith("# DR drill of orders: FAILED")
                .contains("| RPO | 301 s (0:05:01) | 120 s (0:02:00) | MISSED |")
                .contains("| RTO | 90.0 s | 3600 s (1:00:00) | met |")
                .contains("| Fetch (restore the backup's files) | 40.0 s, 100.0 MiB at 2.5 MiB/s |")
                .contains("| recent <orders> | orders | select count(*) from o | > 0 | 17 | passed |")
                .contains("| Copy deleted | true |")
                .contains("yes: the report hashes to what the audit chain recorded");
        String html = DrillReportDocument.html(s);
        assertThat(html).contains("<h1>DR drill of orders: FAILED</h1>").contains("recent &lt;orders&gt;");
        assertThat(reports.list("orders", 10))
                .extracting(DrillReports.Summary::id)
                .containsExactly("d1");
        assertThat(reports.list("other", 10)).isEmpty();
    }

    @Test
    void anEditedReportNoLongerMatchesTheAuditChain() throws Exception {
        reports.jobEnded(drill("d2", "COMPLETED", null, MISSED.replace("\"FAILED\"", "\"PASSED\"")));
        try (Connection c = ds.getConnection();
                Statement st = c.createStatement()) {
            assertThat(st.executeUpdate(
                            "UPDATE drill_reports SET report = REPLACE(report, '300.5', '3.5') WHERE job_id = 'd2'"))
                    .isEqualTo(1);
        }
        DrillReports.Stored s = reports.get("d2").orElseThrow();
        assertThat(s.integrity().intact()).isFalse();
        assertThat(s.integrity().problem()).contains("audit entry");
        assertThat(DrillReportDocument.markdown(s)).contains("NO: the stored report hashes to");
    }

    @Test
    void aDrillThatEndedBeforeMeasuringAnythingStillLeavesAReport() {
        reports.jobEnded(drill("d3", "FAILED", "no backup in region us", null));
        DrillReports.Stored s = reports.get("d3").orElseThrow();
        assertThat(s.summary().outcome()).isEqualTo("FAILED");
        assertThat(DrillReportDocument.markdown(s))
                .contains("FAILED: no backup in region us")
                .contains("The drill ended before its copy was validated.")
                .contains("| RTO | - | - | not judged (the drill ended early) |");
        reports.jobEnded(drill("d4", "CANCELLED", "cancelled by ops", null));
        assertThat(reports.get("d4").orElseThrow().summary().outcome()).isEqualTo("CANCELLED");
        // other jobs leave no report
        JobRecord backup = drill("b1", "COMPLETED", null, "{}");
        reports.jobEnded(new JobRecord(
                "b1",
                "BACKUP_FULL",
                "orders",
                "a1",
                Map.of(),
                "x",
                "COMPLETED",
                backup.submittedAt(),
                null,
                backup.endedAt(),
                1,
                null,
                null,
                null,
                null,
                null,
                null,
                "{}"));
        assertThat(reports.get("b1")).isEmpty();
    }
}
