package dev.lifeboat.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.lifeboat.controller.audit.AuditEntry;
import dev.lifeboat.controller.client.ControllerClient;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.status.SlaStatus;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.Pki;
import dev.lifeboat.security.TlsFiles;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.CookieManager;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The controller in-process with real mutual TLS, its REST API over HTTPS, and scripted agents over gRPC. */
class ControllerTest {
    @TempDir
    static Path tmp;

    static Controller controller;
    static Path pki;

    @BeforeAll
    static void start() throws Exception {
        pki = tmp.resolve("pki");
        Pki.initCa(pki, "Test CA", Duration.ofDays(2));
        Pki.issue(
                pki,
                Pki.Role.CONTROLLER,
                "controller",
                List.of("localhost"),
                List.of("127.0.0.1"),
                Duration.ofDays(1),
                pki);
        for (String a : List.of("agent-1", "agent-2", "agent-4")) {
            Pki.issue(pki, Pki.Role.AGENT, a, List.of(), List.of(), Duration.ofDays(1), pki);
        }
        Files.writeString(tmp.resolve("viewer.token"), "v-secret");
        Files.writeString(tmp.resolve("operator.token"), "o-secret");
        Path config = tmp.resolve("controller.yaml");
        Files.writeString(config, """
                grpc-listen: 127.0.0.1:%d
                http-listen: 127.0.0.1:%d
                state-dir: state
                tls: {ca: pki/ca.crt, cert: pki/controller.crt, key: pki/controller.key}
                heartbeat-interval: 1s
                evaluate-interval: 1s
                tokens:
                  - {name: v, role: viewer, token-file: viewer.token}
                  - {name: o, role: operator, token-file: operator.token}
                policies:
                  fast: {tier: CRITICAL, full-schedule: "off", incremental-schedule: "off", drill-schedule: "off"}
                databases:
                  - {name: db1, agent: agent-1, policy: fast}
                  - {name: db2, agent: agent-2, policy: LOWER}
                  - {name: db3, agent: agent-never-seen, policy: LOWER}
                  - {name: db4, agent: agent-4, policy: fast, regions: [dr-west]}
                """.formatted(freePort(), freePort()));
        controller = Controller.start(ControllerConfig.load(config));
    }

    @AfterAll
    static void stop() {
        if (controller != null) {
            controller.close();
        }
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static ScriptedAgent agent(String name) {
        return new ScriptedAgent(controller.grpcPort(), MutualTls.channelCredentials(TlsFiles.inDir(pki, name)));
    }

    static ControllerClient client(String token) throws Exception {
        return new ControllerClient(
                URI.create("https://127.0.0.1:" + controller.httpPort() + "/"), token, pki.resolve("ca.crt"));
    }

    @Test
    void jobsGoToTheDatabasesAgentAndItsEventsEndThem() throws Exception {
        try (ScriptedAgent a = agent("agent-1").hello("agent-1", "eu", "db1")) {
            a.heartbeat();
            var created = client("o-secret").post("api/v1/jobs", Map.of("database", "db1", "type", "full"));
            String id = created.path("id").asText();
            ControllerMessage start = a.next();
            assertThat(start.getStart().getJobId()).isEqualTo(id);
            assertThat(start.getStart().getType()).isEqualTo(JobType.BACKUP_FULL);
            assertThat(start.getStart().getRequestedBy()).isEqualTo("token:o");
            a.event(id, 1, JobEvent.Kind.STARTED, null);
            a.event(id, 2, JobEvent.Kind.PROGRESS, null);
            a.event(id, 2, JobEvent.Kind.PROGRESS, null); // a reconnecting agent repeats itself
            a.event(id, 3, JobEvent.Kind.COMPLETED, "{\"id\":\"b1\",\"size\":1000}");
            JobRecord done = ControlPlaneWait.until(
                    "completed",
                    () -> controller.jobs().get(id).filter(JobRecord::ended).orElse(null));
            assertThat(done.state()).isEqualTo("COMPLETED");
            assertThat(controller.jobs().events(id))
                    .extracting(e -> e.get("kind"))
                    .containsExactly("STARTED", "PROGRESS", "COMPLETED");
            // a viewer may look but not start
            assertThatThrownBy(() -> client("v-secret").post("api/v1/jobs", Map.of("database", "db1", "type", "full")))
                    .isInstanceOfSatisfying(
                            ControllerClient.ApiException.class,
                            e -> assertThat(e.status).isEqualTo(403));
            assertThat(client("v-secret").get("api/v1/jobs/" + id).path("state").asText())
                    .isEqualTo("COMPLETED");
        }
    }

    @Test
    void aJobForAnAgentThatIsNotConnectedFailsAtOnceWithTheReason() throws Exception {
        JobRecord j = controller.dispatcher().submit("db3", JobType.VERIFY, Map.of(), "test");
        assertThat(j.state()).isEqualTo("FAILED");
        assertThat(j.message()).contains("agent-never-seen").contains("not connected");
    }

    @Test
    void rtoIsRestoreSizeOverDrillThroughputPlusWalOverReplayRate() throws Exception {
        try (ScriptedAgent a = agent("agent-1").hello("agent-1", "eu", "db1")) {
            a.heartbeat();
            String backup = controller
                    .dispatcher()
                    .submit("db1", JobType.BACKUP_FULL, Map.of(), "test")
                    .id();
            a.next();
            a.event(backup, 1, JobEvent.Kind.COMPLETED, "{\"id\":\"b2\",\"size\":2000000000,\"stopLsn\":\"1/0\"}");
            String drill = controller
                    .dispatcher()
                    .submit("db1", JobType.DR_DRILL, Map.of(), "test")
                    .id();
            a.next();
            a.event(
                    drill,
                    1,
                    JobEvent.Kind.COMPLETED,
                    "{\"restore_bytes\":1000000000,\"restore_seconds\":10.0,"
                            + "\"wal_replay_bytes\":500000000,\"replay_seconds\":25.0,\"validated\":true}");
            // durable WAL 1 GiB past the backup's stop LSN 1/0
            a.metric("lifeboat_wal_durable_lsn", Map.of("database", "db1", "region", "eu"), (double)
                    ((1L << 32) + (1L << 30)));
            a.metric("lifeboat_rpo_seconds", Map.of("database", "db1", "region", "eu"), 2.5);
            SlaStatus.DatabaseStatus s = ControlPlaneWait.until("status", () -> {
                SlaStatus.DatabaseStatus st = controller.status().of("db1");
                return st.rto().seconds() != null && st.rto().walBytes() != null && st.rpoSeconds() != null ? st : null;
            });
            // 2 GB at 100 MB/s = 20 s, plus 1 GiB at 20 MB/s = 53.7 s
            assertThat(s.rto().seconds()).isCloseTo(20 + (1 << 30) / 20_000_000.0, within(0.01));
            assertThat(s.rpoSeconds()).isEqualTo(2.5);
            assertThat(s.rpoMet()).isTrue(); // CRITICAL: 60 s
            assertThat(s.rtoMet()).isTrue(); // CRITICAL: 15 min
            assertThat(s.compliant()).isTrue();
            a.metric("lifeboat_rpo_seconds", Map.of("database", "db1", "region", "eu"), 75);
            ControlPlaneWait.until(
                    "rpo-breach",
                    () -> controller.alerts().open().stream()
                                    .anyMatch(x -> x.kind().equals("rpo-breach") && "db1".equals(x.database()))
                            ? true
                            : null);
            a.metric("lifeboat_rpo_seconds", Map.of("database", "db1", "region", "eu"), 1);
            ControlPlaneWait.until(
                    "rpo-breach resolved",
                    () -> controller.alerts().open().stream()
                                    .noneMatch(x -> x.kind().equals("rpo-breach") && "db1".equals(x.database()))
                            ? true
                            : null);
        }
    }

    /**
     * The agent reads each region's replicator heartbeat and reports its age and whether it was the exit; status and
     * the Regions page say alive, exited (paused) or gone (failing).
     */
    @Test
    void aRegionsReplicatorIsAliveExitedOrGoneAsItsHeartbeatSays() throws Exception {
        try (ScriptedAgent a = agent("agent-1").hello("agent-1", "eu", "db1")) {
            a.heartbeat();
            Map<String, String> dr = Map.of("database", "db1", "region", "dr");
            a.metric("lifeboat_rpo_seconds", dr, 3);
            a.metric("lifeboat_replicator_heartbeat_age_seconds", dr, 2);
            a.metric("lifeboat_replicator_exited", dr, 0);
            SlaStatus.Replicator alive = replicatorOf("db1", "dr", "alive");
            assertThat(alive.heartbeatAgeSeconds()).isBetween(2.0, 10.0);
            assertThat(regionsPageState("db1", "dr"))
                    .contains("data-state=\"ok\"")
                    .contains("replicator alive");

            a.metric("lifeboat_replicator_heartbeat_age_seconds", dr, 45);
            replicatorOf("db1", "dr", "gone");
            assertThat(regionsPageState("db1", "dr"))
                    .contains("data-state=\"failing\"")
                    .contains("replicator gone");

            a.metric("lifeboat_replicator_heartbeat_age_seconds", dr, 45);
            a.metric("lifeboat_replicator_exited", dr, 1);
            replicatorOf("db1", "dr", "exited");
            assertThat(regionsPageState("db1", "dr"))
                    .contains("data-state=\"paused\"")
                    .contains("replicator exited");
        }
    }

    private static SlaStatus.Replicator replicatorOf(String db, String region, String state) throws Exception {
        return ControlPlaneWait.until(
                "replicator " + state,
                () -> controller.status().of(db).regions().stream()
                        .filter(r -> r.region().equals(region)
                                && r.replicator() != null
                                && r.replicator().state().equals(state))
                        .map(SlaStatus.RegionRpo::replicator)
                        .findFirst()
                        .orElse(null));
    }

    /** The Regions page row of {@code db} in {@code region}'s table. */
    private static String regionsPageState(String db, String region) throws Exception {
        String base = "https://127.0.0.1:" + controller.httpPort();
        HttpClient http = HttpClient.newBuilder()
                .sslContext(MutualTls.trustingSslContext(pki.resolve("ca.crt")))
                .cookieHandler(new CookieManager())
                .build();
        http.send(
                HttpRequest.newBuilder(URI.create(base + "/ui/login"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString("token=v-secret"))
                        .build(),
                HttpResponse.BodyHandlers.discarding());
        HttpResponse<String> page = http.send(
                HttpRequest.newBuilder(URI.create(base + "/ui/regions")).build(), HttpResponse.BodyHandlers.ofString());
        String html = page.body();
        int section = html.indexOf("id=\"region-" + region + "\"");
        assertThat(section)
                .as("a section for region " + region + " in:\n" + html)
                .isNotNegative();
        int row = html.indexOf("data-database=\"" + db + "\"", section);
        return html.substring(row, html.indexOf("</tr>", row));
    }

    @Test
    void anAgentThatStopsHeartbeatingIsGoneAndItsJobsFail() throws Exception {
        ScriptedAgent a = agent("agent-2").hello("agent-2", "us", "db2");
        a.heartbeat();
        String id = controller
                .dispatcher()
                .submit("db2", JobType.BACKUP_FULL, Map.of(), "test")
                .id();
        a.next();
        a.event(id, 1, JobEvent.Kind.STARTED, null);
        a.close();
        Instant vanished = Instant.now();
        JobRecord failed = ControlPlaneWait.until(
                "job failed",
                () -> controller.jobs().get(id).filter(JobRecord::ended).orElse(null));
        assertThat(failed.message()).contains("agent gone");
        assertThat(Duration.between(vanished, Instant.now())).isLessThan(Duration.ofSeconds(5));
        ControlPlaneWait.until(
                "agent-gone raised",
                () -> controller.alerts().open().stream()
                                .anyMatch(x -> x.kind().equals("agent-gone") && "agent-2".equals(x.database()))
                        ? true
                        : null);
        try (ScriptedAgent back = agent("agent-2").hello("agent-2", "us", "db2")) {
            back.heartbeat();
            ControlPlaneWait.until(
                    "agent-gone resolved",
                    () -> controller.alerts().open().stream()
                                    .noneMatch(x -> x.kind().equals("agent-gone") && "agent-2".equals(x.database()))
                            ? true
                            : null);
        }
    }

    @Test
    void everyDocumentedPathIsServedAndEveryCallIsAudited() throws Exception {
        var openapi =
                new ObjectMapper(new YAMLFactory()).readTree(ControllerTest.class.getResourceAsStream("/openapi.yaml"));
        long before = controller.auditLog().head().isEmpty()
                ? 0
                : Long.parseLong(controller.auditLog().head().split(":")[0]);
        List<String> called = new ArrayList<>();
        for (var it = openapi.path("paths").properties().iterator(); it.hasNext(); ) {
            var p = it.next();
            if (!p.getValue().has("get")
                    || p.getKey().contains("{")
                    || p.getKey().equals("/api/v1/events")) {
                continue;
            }
            String path = p.getKey().substring(1);
            try {
                client("v-secret").get(path);
            } catch (ControllerClient.ApiException e) {
                assertThat(e.status).as(path).isEqualTo(403); // admin-only paths
            }
            called.add(p.getKey());
        }
        assertThat(called).hasSizeGreaterThan(8);
        // every call that needs a token left an entry naming its path (healthz and this document need none)
        List<String> auditedPaths = controller.auditLog().list(before, 10000).stream()
                .filter(e -> e.action().startsWith("api."))
                .map(AuditEntry::target)
                .toList();
        assertThat(auditedPaths)
                .containsAll(called.stream()
                        .filter(x -> !x.equals("/healthz") && !x.equals("/api/v1/openapi.yaml"))
                        .toList());
        assertThat(controller.auditLog().verify().ok()).isTrue();
    }

    @Test
    void theEventStreamCarriesEventsAndResumesAfterLastEventId() throws Exception {
        var ssl = MutualTls.trustingSslContext(pki.resolve("ca.crt"));
        var http = HttpClient.newBuilder().sslContext(ssl).build();
        var marker = controller.events().publish("test:marker", Map.of("n", 1));
        var req = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + controller.httpPort() + "/api/v1/events"))
                .header("Authorization", "Bearer v-secret")
                .header("Accept", "text/event-stream")
                .header("Last-Event-ID", Long.toString(marker.id() - 1))
                .build();
        var resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        assertThat(resp.statusCode()).isEqualTo(200);
        try (var in = new BufferedReader(new InputStreamReader(resp.body()))) {
            String line;
            List<String> seen = new ArrayList<>();
            controller.events().publish("test:live", Map.of("n", 2));
            while ((line = in.readLine()) != null) {
                seen.add(line);
                if (line.contains("test:live")) {
                    break;
                }
            }
            assertThat(String.join("\n", seen))
                    .contains("event: test:marker")
                    .contains("id: " + marker.id())
                    .contains("test:live");
        }
        var denied = http.send(
                HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + controller.httpPort() + "/api/v1/events"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(denied.statusCode()).isEqualTo(401);
    }

    @Test
    void onlyTheOwningAgentSpeaksForAJobAndItsOwnOutcomeOverrulesTheControllersVerdict() throws Exception {
        try (ScriptedAgent a1 = agent("agent-1").hello("agent-1", "eu", "db1");
                ScriptedAgent a2 = agent("agent-2").hello("agent-2", "us", "db2")) {
            a1.heartbeat();
            a2.heartbeat();
            String id = controller
                    .dispatcher()
                    .submit("db1", JobType.BACKUP_FULL, Map.of(), "test")
                    .id();
            a1.next();
            // another agent cannot end agent-1's job, nor report metrics for agent-1's database
            a2.event(id, 1, JobEvent.Kind.COMPLETED, "{\"id\":\"forged\"}");
            a2.metric("lifeboat_rpo_seconds", Map.of("database", "db1", "region", "us"), 0);
            a1.event(id, 1, JobEvent.Kind.STARTED, null);
            ControlPlaneWait.until(
                    "started",
                    () -> controller
                            .jobs()
                            .get(id)
                            .filter(j -> j.lastSequence() == 1)
                            .orElse(null));
            assertThat(controller.jobs().get(id).orElseThrow().state()).isEqualTo("RUNNING");
            assertThat(controller.status().of("db1").regions())
                    .noneMatch(r -> r.region().equals("us"));
            // the controller gives up on it (as when the agent is gone); the agent then reports the real end
            assertThat(controller.jobs().fail(id, "agent gone: test")).isTrue();
            a1.event(id, 2, JobEvent.Kind.COMPLETED, "{\"id\":\"b9\",\"size\":1}");
            JobRecord j = ControlPlaneWait.until(
                    "overruled",
                    () -> controller
                            .jobs()
                            .get(id)
                            .filter(x -> x.state().equals("COMPLETED"))
                            .orElse(null));
            assertThat(j.resultJson()).contains("b9");
            assertThat(controller.jobs().events(id))
                    .extracting(e -> e.get("kind"))
                    .containsExactly("STARTED", "COMPLETED");

            // a job given up on that the agent reports as still running is running again (a partition, not a death)
            String alive = controller
                    .dispatcher()
                    .submit("db1", JobType.VERIFY, Map.of(), "test")
                    .id();
            a1.next();
            a1.event(alive, 1, JobEvent.Kind.STARTED, null);
            ControlPlaneWait.until(
                    "started",
                    () -> controller
                            .jobs()
                            .get(alive)
                            .filter(x -> x.lastSequence() == 1)
                            .orElse(null));
            assertThat(controller.jobs().fail(alive, "agent gone: test")).isTrue();
            a1.event(alive, 2, JobEvent.Kind.PROGRESS, null);
            JobRecord revived = ControlPlaneWait.until(
                    "revived",
                    () -> controller
                            .jobs()
                            .get(alive)
                            .filter(x -> x.state().equals("RUNNING"))
                            .orElse(null));
            assertThat(revived.endedAt()).isNull();
        }
    }

    @Test
    void aJobTheAgentsHeartbeatsKeepNotListingIsLost() throws Exception {
        try (ScriptedAgent a = agent("agent-2").hello("agent-2", "us", "db2")) {
            a.heartbeat();
            String id = controller
                    .dispatcher()
                    .submit("db2", JobType.VERIFY, Map.of(), "test")
                    .id();
            a.next(); // the start arrives, but this agent never runs it nor lists it
            JobRecord lost = ControlPlaneWait.until("lost", () -> {
                a.heartbeat();
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return controller.jobs().get(id).filter(JobRecord::ended).orElse(null);
            });
            assertThat(lost.message()).startsWith("lost:");
        }
    }

    @Test
    void aRestoreWithoutReplayFiguresDoesNotHideTheDrillsThroughput() throws Exception {
        try (ScriptedAgent a = agent("agent-1").hello("agent-1", "eu", "db1")) {
            a.heartbeat();
            String backup = controller
                    .dispatcher()
                    .submit("db1", JobType.BACKUP_FULL, Map.of(), "test")
                    .id();
            a.next();
            a.event(backup, 1, JobEvent.Kind.COMPLETED, "{\"id\":\"b3\",\"size\":1000000000,\"stopLsn\":\"2/0\"}");
            String drill = controller
                    .dispatcher()
                    .submit("db1", JobType.DR_DRILL, Map.of(), "test")
                    .id();
            a.next();
            a.event(
                    drill,
                    1,
                    JobEvent.Kind.COMPLETED,
                    "{\"restore_bytes\":500000000,\"restore_seconds\":5.0,\"validated\":true}");
            String restore = controller
                    .dispatcher()
                    .submit("db1", JobType.RESTORE, Map.of("target", "/tmp/x"), "test")
                    .id();
            a.next();
            a.event(restore, 1, JobEvent.Kind.COMPLETED, "{\"restore\":{}}");
            SlaStatus.DatabaseStatus s = ControlPlaneWait.until("rto", () -> {
                SlaStatus.DatabaseStatus st = controller.status().of("db1");
                return st.rto().seconds() != null && drill.equals(st.rto().measuredBy()) ? st : null;
            });
            assertThat(s.rto().restoreBytesPerSecond()).isEqualTo(100_000_000.0);
        }
    }

    @Test
    void stalenessSeriesExistBeforeTheFirstBackupAndMeasurementAndFollowThem() throws Exception {
        // before anything happened: "never" is +Inf, so a plain threshold rule fires instead of a missing series
        assertThat(scraped("lifeboat_controller_since_last_backup_seconds", "database=\"db4\""))
                .isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(scraped("lifeboat_controller_since_last_drill_seconds", "database=\"db4\""))
                .isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(scraped("lifeboat_controller_wal_archive_lag_seconds", "database=\"db4\",region=\"dr-west\""))
                .isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(scraped("lifeboat_controller_rpo_target_seconds", "database=\"db4\""))
                .isEqualTo(60.0);
        assertThat(scraped("lifeboat_controller_compliant", "database=\"db4\"")).isZero();
        assertThat(scraped("lifeboat_controller_rpo_seconds", "database=\"db4\""))
                .isNaN();

        try (ScriptedAgent a = agent("agent-4").hello("agent-4", "eu-4", "db4")) {
            a.heartbeat();
            String backup = controller
                    .dispatcher()
                    .submit("db4", JobType.BACKUP_FULL, Map.of(), "test")
                    .id();
            a.next();
            a.event(backup, 1, JobEvent.Kind.COMPLETED, "{\"id\":\"b4\",\"size\":1000,\"stopLsn\":\"0/3000000\"}");
            a.metric("lifeboat_rpo_seconds", Map.of("database", "db4", "region", "eu-4"), 0);
            a.metric("lifeboat_rpo_seconds", Map.of("database", "db4", "region", "dr-west"), 42.5);
            // the primary region's series appears once the agent has said where it is (the evaluator adds it)
            double primaryLag = ControlPlaneWait.until("primary region series", () -> {
                try {
                    double v =
                            scraped("lifeboat_controller_wal_archive_lag_seconds", "database=\"db4\",region=\"eu-4\"");
                    return v == 0 ? v : null;
                } catch (Exception | AssertionError e) {
                    return null;
                }
            });
            assertThat(primaryLag).isZero();
            assertThat(scraped("lifeboat_controller_wal_archive_lag_seconds", "database=\"db4\",region=\"dr-west\""))
                    .isEqualTo(42.5);
            assertThat(scraped("lifeboat_controller_since_last_backup_seconds", "database=\"db4\""))
                    .isBetween(0.0, 30.0);
            assertThat(scraped("lifeboat_controller_rpo_seconds", "database=\"db4\""))
                    .isEqualTo(42.5);
        }
    }

    /** One series' value from the controller's /metrics, as Prometheus would read it. */
    static double scraped(String name, String labels) throws Exception {
        String text = client("v-secret").get("metrics").asText();
        String prefix = name + "{" + labels + ",}";
        String prefixNoComma = name + "{" + labels + "}";
        for (String line : text.split("\n")) {
            if (line.startsWith(prefix + " ") || line.startsWith(prefixNoComma + " ")) {
                String v = line.substring(line.lastIndexOf(' ') + 1);
                return switch (v) {
                    case "+Inf" -> Double.POSITIVE_INFINITY;
                    case "NaN" -> Double.NaN;
                    default -> Double.parseDouble(v);
                };
            }
        }
        throw new AssertionError("no series " + name + "{" + labels + "} in:\n" + text);
    }
}
