package dev.lifeboat.controlplane;

import static dev.lifeboat.controlplane.ControlPlaneFixture.kill9;
import static dev.lifeboat.controlplane.ControlPlaneFixture.waitFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.controller.client.ControllerClient;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.monitoring.MonitoringFiles;
import dev.lifeboat.proto.v1.AgentLinkGrpc;
import dev.lifeboat.proto.v1.AgentMessage;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.Hello;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.Pki;
import dev.lifeboat.security.TlsFiles;
import dev.lifeboat.util.Json;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issue's acceptance scenario, every part a real process on loopback: a controller and three agents in three
 * regions with mutual TLS, a real PostgreSQL under a STANDARD-tier policy whose schedules run every few seconds,
 * kill -9 of an agent mid-backup and of the controller, WAL streaming stopped on purpose, and an edited audit row.
 * The steps build on each other, in order.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControlPlaneTest {
    // kept when a test fails: the processes' logs are the evidence
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path tmp;

    static ControlPlaneFixture cp;
    static LocalCluster pg;
    static Path repoDir;
    static Path key;
    static final List<JsonNode> sse = Collections.synchronizedList(new ArrayList<>());
    static final AtomicBoolean writing = new AtomicBoolean(true);
    static Thread writer;

    @BeforeAll
    static void start() throws Exception {
        TestLauncher.install();
        cp = new ControlPlaneFixture(tmp);
        pg = LocalCluster.create(
                tmp.resolve("pg"), List.of("wal_level = replica", "max_wal_senders = 5", "max_replication_slots = 5"));
        pg.start();
        pg.pgbench(List.of("-i", "-s", "20", "-q"), Duration.ofMinutes(3));
        PgTestSupport.exec(pg, "CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())");
        repoDir = tmp.resolve("repo");
        key = PgTestSupport.keyFile(tmp);
        assertThat(PgTestSupport.cli(
                                "repo-init", "--repo", PgTestSupport.repoUri(repoDir), "--key-file", key.toString())
                        .exitCode())
                .isZero();
        // drills replay archived WAL through restore_command, which PostgreSQL runs as postgres: it reads the key
        TestLauncher.shareWithPostgres(key);

        cp.writeControllerConfig("""
                policies:
                  std:
                    tier: STANDARD
                    rpo: 8s
                    full-schedule: "off"
                    incremental-schedule: "0/6 * * * * ?"
                    drill-schedule: "off"
                databases:
                  - {name: main, agent: agent-eu, policy: std}
                """);
        cp.startController();
        cp.writeAgentConfig("agent-eu", "eu-west", cp.agentCert("agent-eu"), """
                  - name: main
                    pgdata: %s
                    repo: %s
                    key-file: %s
                    wal-stream: true
                    parallel: 1
                """.formatted(
                        pg.dataDir(), PgTestSupport.repoUri(repoDir), key));
        cp.writeAgentConfig("agent-us", "us-east", cp.agentCert("agent-us"), "");
        cp.writeAgentConfig("agent-ap", "ap-south", cp.agentCert("agent-ap"), "");
        for (String a : List.of("agent-eu", "agent-us", "agent-ap")) {
            cp.startAgent(a);
        }
        waitFor(
                "the controller's REST API",
                Duration.ofSeconds(60),
                () -> cp.client("viewer").get("healthz") != null);
        Thread.ofVirtual().start(ControlPlaneTest::followEvents);
        writer = Thread.ofVirtual().start(() -> {
            while (writing.get()) {
                try {
                    PgTestSupport.exec(pg, "INSERT INTO ticks DEFAULT VALUES");
                    Thread.sleep(200);
                } catch (Exception e) {
                    // the cluster may be restarting; keep trying
                }
            }
        });
    }

    /** Reads the server-sent-events stream for the whole test, reconnecting (with Last-Event-ID) when the controller
     * goes. */
    private static void followEvents() {
        long last = 0;
        while (true) {
            try {
                HttpClient http = HttpClient.newBuilder()
                        .sslContext(MutualTls.trustingSslContext(cp.pki.resolve("ca.crt")))
                        .build();
                HttpRequest r = HttpRequest.newBuilder(
                                URI.create("https://127.0.0.1:" + cp.httpPort + "/api/v1/events"))
                        .header(
                                "Authorization",
                                "Bearer "
                                        + Files.readString(cp.tokens.get("viewer"))
                                                .trim())
                        .header("Accept", "text/event-stream")
                        .header("Last-Event-ID", Long.toString(last))
                        .build();
                HttpResponse<InputStream> resp = http.send(r, HttpResponse.BodyHandlers.ofInputStream());
                try (BufferedReader in =
                        new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (line.startsWith("data:")) {
                            JsonNode e = Json.MAPPER.readTree(line.substring(5).trim());
                            last = e.path("id").asLong();
                            sse.add(e);
                        }
                    }
                }
            } catch (Exception e) {
                // controller down: retry
            }
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @AfterAll
    static void stop() throws Exception {
        writing.set(false);
        if (cp != null) {
            cp.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    private static List<String> sseNames() {
        synchronized (sse) {
            return sse.stream().map(e -> e.path("name").asText()).toList();
        }
    }

    @Test
    @Order(1)
    void threeAgentsInThreeRegionsConnectOverMutualTls() throws Exception {
        try {
            waitFor(
                    "three agents connected",
                    Duration.ofSeconds(60),
                    () -> cp.connected("agent-eu") && cp.connected("agent-us") && cp.connected("agent-ap"));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + cp.logs());
        }
        Map<String, String> regions = new HashMap<>();
        for (JsonNode a : cp.agentsSeen()) {
            regions.put(a.path("id").asText(), a.path("region").asText());
        }
        assertThat(regions)
                .containsEntry("agent-eu", "eu-west")
                .containsEntry("agent-us", "us-east")
                .containsEntry("agent-ap", "ap-south");
    }

    @Test
    @Order(2)
    void agentsWithoutTheRightCertificateAreRefused() throws Exception {
        // an agent whose certificate comes from another CA: the agent process itself refuses to start with it
        Path rogue = tmp.resolve("rogue-pki");
        Pki.initCa(rogue, "Rogue CA", Duration.ofDays(1));
        Pki.issue(
                rogue,
                Pki.Role.AGENT,
                "agent-rogue",
                List.of("localhost"),
                List.of("127.0.0.1"),
                Duration.ofDays(1),
                rogue);
        cp.writeAgentConfig("agent-rogue", "eu-west", rogue, "");
        Process p = cp.startAgent("agent-rogue");
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        cp.agents.remove("agent-rogue");
        assertThat(p.exitValue()).isNotZero();
        assertThat(cp.logOf("agent-rogue")).contains("was not signed by the CA");
        // and the controller turns the same certificate away at the handshake when a client presents it anyway
        ChannelCredentials rogueCert = TlsChannelCredentials.newBuilder()
                .keyManager(
                        rogue.resolve("agent-rogue.crt").toFile(),
                        rogue.resolve("agent-rogue.key").toFile())
                .trustManager(cp.pki.resolve("ca.crt").toFile())
                .build();
        assertThat(helloWith(rogueCert, "agent-rogue").getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(cp.agentsSeen().findValuesAsText("id")).doesNotContain("agent-rogue");

        // no client certificate at all: the TLS handshake fails
        ChannelCredentials noCert = TlsChannelCredentials.newBuilder()
                .trustManager(cp.pki.resolve("ca.crt").toFile())
                .build();
        assertThat(helloWith(noCert, "agent-eu").getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        // a valid certificate of the wrong role (a CLI client) claiming to be an agent
        Pki.issue(cp.pki, Pki.Role.CLIENT, "ops", List.of(), List.of(), Duration.ofDays(1), cp.pki);
        Status s = helloWith(
                MutualTls.channelCredentials(
                        new TlsFiles(cp.pki.resolve("ca.crt"), cp.pki.resolve("ops.crt"), cp.pki.resolve("ops.key"))),
                "agent-eu");
        assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        // an agent certificate for one name claiming another
        Status other = helloWith(
                MutualTls.channelCredentials(new TlsFiles(
                        cp.pki.resolve("ca.crt"), cp.pki.resolve("agent-us.crt"), cp.pki.resolve("agent-us.key"))),
                "agent-eu");
        assertThat(other.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(cp.connected("agent-eu")).isTrue();
    }

    /** Opens AgentLink.Connect, says Hello, and returns how the stream ended. */
    private static Status helloWith(ChannelCredentials creds, String agentId) throws Exception {
        ManagedChannel ch =
                NettyChannelBuilder.forTarget("127.0.0.1:" + cp.grpcPort, creds).build();
        try {
            CompletableFuture<Status> ended = new CompletableFuture<>();
            StreamObserver<AgentMessage> up = AgentLinkGrpc.newStub(ch).connect(new StreamObserver<>() {
                @Override
                public void onNext(ControllerMessage m) {
                    if (m.hasWelcome()) {
                        ended.complete(Status.OK);
                    }
                }

                @Override
                public void onError(Throwable t) {
                    ended.complete(Status.fromThrowable(t));
                }

                @Override
                public void onCompleted() {
                    ended.complete(Status.OK);
                }
            });
            up.onNext(AgentMessage.newBuilder()
                    .setHello(Hello.newBuilder()
                            .setAgentId(agentId)
                            .setRegion("eu-west")
                            .setVersion("test"))
                    .build());
            return ended.get(20, TimeUnit.SECONDS);
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    @Order(3)
    void tokensAndRolesGuardTheApi() throws Exception {
        Map<String, Object> restore = Map.of(
                "database",
                "main",
                "type",
                "RESTORE_PITR",
                "params",
                Map.of("target", tmp.resolve("x").toString(), "target_latest", "true"));
        assertThatThrownBy(() -> cp.client("viewer").post("api/v1/jobs", restore))
                .isInstanceOfSatisfying(
                        ControllerClient.ApiException.class,
                        e -> assertThat(e.status).isEqualTo(403));
        ControllerClient anonymous = new ControllerClient(
                URI.create("https://127.0.0.1:" + cp.httpPort + "/"), null, cp.pki.resolve("ca.crt"));
        assertThatThrownBy(() -> anonymous.get("api/v1/status"))
                .isInstanceOfSatisfying(
                        ControllerClient.ApiException.class,
                        e -> assertThat(e.status).isEqualTo(401));
        assertThatThrownBy(() -> cp.client("operator").get("api/v1/audit"))
                .isInstanceOfSatisfying(
                        ControllerClient.ApiException.class,
                        e -> assertThat(e.status).isEqualTo(403));
        assertThat(cp.client("admin").get("api/v1/audit?limit=5").size()).isPositive();
        assertThat(cp.client("viewer").get("api/v1/jobs?database=main").findValuesAsText("type"))
                .doesNotContain("RESTORE_PITR");
    }

    @Test
    @Order(4)
    void scheduledBackupsRunThroughTheAgentAndStreamProgress() throws Exception {
        JsonNode done = waitFor("a scheduled backup completed", Duration.ofSeconds(120), () -> {
            for (JsonNode j : cp.client("viewer").get("api/v1/jobs?database=main&state=COMPLETED")) {
                if (j.path("type").asText().startsWith("BACKUP_")
                        && j.path("requestedBy").asText().equals("policy:std")) {
                    return j;
                }
            }
            return null;
        });
        JsonNode events =
                cp.client("viewer").get("api/v1/jobs/" + done.path("id").asText() + "/events");
        List<String> kinds = events.findValuesAsText("kind");
        assertThat(kinds).startsWith("STARTED").endsWith("COMPLETED");
        assertThat(Json.MAPPER
                        .readTree(done.path("resultJson").asText())
                        .path("id")
                        .asText())
                .isNotBlank();
        waitFor(
                "backup events on the event stream",
                Duration.ofSeconds(10),
                () -> sseNames().containsAll(List.of("backup:queued", "backup:started", "backup:completed")));
        // the backup is in the repository, as the CLI sees it
        assertThat(PgTestSupport.cli("list", "--repo", PgTestSupport.repoUri(repoDir), "--key-file", key.toString())
                        .all())
                .contains(Json.MAPPER
                        .readTree(done.path("resultJson").asText())
                        .path("id")
                        .asText());
    }

    @Test
    @Order(5)
    void killedAgentMidBackupFailsTheJobRaisesAgentGoneAndTheNextRunSucceeds() throws Exception {
        // a full backup slow enough to be caught mid-way: one process, high compression
        JsonNode job = cp.client("operator")
                .post(
                        "api/v1/jobs",
                        Map.of(
                                "database",
                                "main",
                                "type",
                                "BACKUP_FULL",
                                "params",
                                Map.of("compression", "high", "parallel", "1")));
        String id = job.path("id").asText();
        waitFor("progress of job " + id, Duration.ofSeconds(60), () -> {
            synchronized (sse) {
                return sse.stream()
                        .anyMatch(e -> e.path("name").asText().equals("backup:progress")
                                && e.path("data").path("job").asText().equals(id));
            }
        });
        Instant killed = Instant.now();
        kill9(cp.agents.get("agent-eu"));
        JsonNode failed = waitFor("job " + id + " failed", Duration.ofSeconds(10), () -> {
            JsonNode j = cp.client("viewer").get("api/v1/jobs/" + id);
            return j.path("state").asText().equals("FAILED") ? j : null;
        });
        // heartbeat 1 s: three missed, plus the watchdog's tick
        assertThat(Duration.between(killed, Instant.now())).isLessThan(Duration.ofSeconds(6));
        assertThat(failed.path("message").asText()).contains("agent gone");
        waitFor("agent-gone alert", Duration.ofSeconds(5), () -> openAlerts().contains("agent-gone"));
        waitFor(
                "agent-gone webhook",
                Duration.ofSeconds(15),
                () -> cp.webhookBodies.stream().anyMatch(b -> b.contains("agent-gone") && b.contains("\"trigger\"")));

        Instant back = Instant.now();
        cp.startAgent("agent-eu");
        waitFor(
                "agent-gone resolved",
                Duration.ofSeconds(60),
                () -> !openAlerts().contains("agent-gone"));
        waitFor("a scheduled backup after the agent returned", Duration.ofSeconds(120), () -> {
            for (JsonNode j : cp.client("viewer").get("api/v1/jobs?database=main&state=COMPLETED")) {
                if (j.path("requestedBy").asText().equals("policy:std")
                        && Instant.parse(j.path("submittedAt").asText()).isAfter(back)) {
                    return true;
                }
            }
            return false;
        });
    }

    private static List<String> openAlerts() throws Exception {
        return cp.client("viewer").get("api/v1/alerts").findValuesAsText("kind");
    }

    @Test
    @Order(6)
    void killedControllerLeavesWalStreamingAndAgentsReconnect() throws Exception {
        waitFor("WAL streaming", Duration.ofSeconds(60), () -> walStreamJob() != null);
        kill9(cp.controller);
        long before = newestWalChange();
        // commits continue (the writer); streamed WAL keeps reaching the repository with no controller
        waitFor("WAL written while the controller is down", Duration.ofSeconds(30), () -> newestWalChange() > before);
        cp.startController();
        waitFor(
                "agents reconnected",
                Duration.ofSeconds(60),
                () -> cp.connected("agent-eu") && cp.connected("agent-us") && cp.connected("agent-ap"));
        assertThat(walStreamJob()).isNotNull();
    }

    private static String walStreamJob() throws Exception {
        for (JsonNode j : cp.client("viewer").get("api/v1/jobs?database=main&state=RUNNING")) {
            if (j.path("type").asText().equals("WAL_STREAM")) {
                return j.path("id").asText();
            }
        }
        return null;
    }

    private static long newestWalChange() throws Exception {
        try (var files = Files.walk(repoDir.resolve("wal"))) {
            return files.filter(Files::isRegularFile)
                    .mapToLong(f -> f.toFile().lastModified())
                    .max()
                    .orElse(0);
        }
    }

    @Test
    @Order(7)
    void rpoGrowsPastTheTargetWhenWalStopsAndTheAlertFires() throws Exception {
        waitFor("RPO within target while WAL streams", Duration.ofSeconds(30), () -> rpo() != null && rpo() < 8);
        String stream = walStreamJob();
        assertThat(stream).isNotNull();
        cp.client("operator").post("api/v1/jobs/" + stream + "/cancel", Map.of("reason", "test: stop WAL on purpose"));
        Instant stopped = Instant.now();
        waitFor("RPO above 3 s", Duration.ofSeconds(20), () -> rpo() != null && rpo() > 3);
        double r1 = rpo();
        Instant t1 = Instant.now();
        Thread.sleep(3000);
        double r2 = rpo();
        Instant t2 = Instant.now();
        double wall = Duration.between(t1, t2).toMillis() / 1000.0;
        // it grows with wall time (sampling: agent probe 1 s, push 1 s)
        assertThat(r2 - r1).isBetween(wall - 2.5, wall + 2.5);
        assertThat(r2).isLessThan(Duration.between(stopped, t2).toMillis() / 1000.0 + 3);
        waitFor("rpo-breach alert", Duration.ofSeconds(30), () -> openAlerts().contains("rpo-breach"));
        JsonNode status = cp.client("viewer").get("api/v1/status/main");
        assertThat(status.path("rpoMet").asBoolean()).isFalse();
        assertThat(status.path("compliant").asBoolean()).isFalse();
        waitFor(
                "rpo-breach webhook",
                Duration.ofSeconds(15),
                () -> cp.webhookBodies.stream().anyMatch(b -> b.contains("rpo-breach")));
        PgTestSupport.CliResult st = PgTestSupport.cli(
                "status",
                "--controller",
                "https://127.0.0.1:" + cp.httpPort,
                "--token-file",
                cp.tokens.get("viewer").toString(),
                "--ca",
                cp.pki.resolve("ca.crt").toString(),
                "--check");
        assertThat(st.exitCode()).as(st.all()).isEqualTo(3);
        assertThat(st.out()).contains("main").contains("NOT MET");

        // WAL streaming back: the RPO falls and the alert resolves
        cp.client("operator").post("api/v1/jobs", Map.of("database", "main", "type", "WAL_STREAM"));
        waitFor(
                "rpo-breach resolved",
                Duration.ofSeconds(60),
                () -> !openAlerts().contains("rpo-breach"));
        assertThat(rpo()).isLessThan(8);
    }

    private static Double rpo() throws Exception {
        JsonNode s = cp.client("viewer").get("api/v1/status/main");
        return s.path("rpoSeconds").isNumber() ? s.path("rpoSeconds").asDouble() : null;
    }

    @Test
    @Order(8)
    void drillsAreJudgedAgainstTheTierAndLeaveAReportInTheAuditLog() throws Exception {
        ControllerClient operator = cp.client("operator");
        ControllerClient viewer = cp.client("viewer");
        // the tier's RTO (STANDARD: 2 h) is the default objective; the RPO is relaxed here because a writer commits
        // every 200 ms while the drill replays
        JsonNode submitted = operator.post(
                "api/v1/jobs",
                Map.of(
                        "database",
                        "main",
                        "type",
                        "DR_DRILL",
                        "params",
                        Map.of(
                                "rpo_target",
                                "1h",
                                "assertions",
                                List.of(Map.of(
                                        "name",
                                        "ticks recorded",
                                        "sql",
                                        "select count(*) from ticks",
                                        "expect",
                                        "> 0")))));
        String id = submitted.path("id").asText();
        assertThat(submitted.path("params").path("rto_target").asText()).isEqualTo("7200s");
        JsonNode done = endedJob(id);
        assertThat(done.path("state").asText()).as(done.toString()).isEqualTo("COMPLETED");
        JsonNode drill = waitFor("the drill's report", Duration.ofSeconds(30), () -> drillReport(id));
        assertThat(drill.path("summary").path("outcome").asText()).isEqualTo("PASSED");
        assertThat(drill.path("integrity").path("intact").asBoolean())
                .as(drill.toString())
                .isTrue();
        JsonNode result = drill.path("report").path("result");
        assertThat(result.path("objectives").path("rto").path("met").asBoolean())
                .isTrue();
        assertThat(result.path("objectives").path("rto").path("target_seconds").asLong())
                .isEqualTo(7200);
        assertThat(result.path("objectives").path("rpo").path("target_seconds").asLong())
                .isEqualTo(3600);
        assertThat(result.path("assertions").get(0).path("passed").asBoolean()).isTrue();
        assertThat(result.path("teardown").path("deleted").asBoolean()).isTrue();
        assertThat(drill.path("report").path("policy").path("tier").asText()).isEqualTo("STANDARD");
        String md = viewer.get("api/v1/drills/" + id + "/report.md").asText();
        assertThat(md)
                .startsWith("# DR drill of main: PASSED")
                .contains("| ticks recorded | postgres | select count(*) from ticks | > 0 |")
                .contains("| Copy deleted | true |");
        assertThat(viewer.get("api/v1/drills/" + id + "/report.html").asText()).contains("<h1>DR drill of main");
        // linked from the audit log with the report's hash
        JsonNode audit = cp.client("admin").get("api/v1/audit?after=0&limit=10000");
        JsonNode entry = null;
        for (JsonNode e : audit) {
            if (e.path("action").asText().equals("drill.report")
                    && e.path("target").asText().equals(id)) {
                entry = e;
            }
        }
        assertThat(entry).as("a drill.report audit entry for " + id).isNotNull();
        assertThat(entry.path("detail").asText())
                .contains(drill.path("summary").path("sha256").asText())
                .contains("/api/v1/drills/" + id);
        // its measured rates feed the RTO estimate
        JsonNode rto = viewer.get("api/v1/status/main").path("rto");
        assertThat(rto.path("measuredBy").asText()).isEqualTo(id);
        assertThat(rto.path("restoreBytesPerSecond").asDouble()).isPositive();

        // held to an RTO no restore meets, the drill fails with the reason, and the failed-drill alert fires
        String slow = operator.post(
                        "api/v1/jobs",
                        Map.of(
                                "database",
                                "main",
                                "type",
                                "drill",
                                "params",
                                Map.of("rto_target", "1s", "rpo_target", "1h")))
                .path("id")
                .asText();
        JsonNode failed = endedJob(slow);
        assertThat(failed.path("state").asText()).isEqualTo("FAILED");
        assertThat(failed.path("message").asText())
                .contains("missed its objectives: RTO")
                .contains("target 1 s");
        JsonNode slowReport = waitFor("the failed drill's report", Duration.ofSeconds(30), () -> drillReport(slow));
        assertThat(slowReport.path("summary").path("outcome").asText()).isEqualTo("FAILED");
        assertThat(viewer.get("api/v1/drills/" + slow + "/report.md").asText())
                .contains("| RTO |")
                .contains("| 1.0 s | MISSED |");
        waitFor(
                "health-check-failed alert",
                Duration.ofSeconds(30),
                () -> openAlerts().contains("health-check-failed"));
        assertThat(viewer.get("api/v1/drills?database=main"))
                .extracting(n -> n.path("id").asText())
                .containsExactly(slow, id);
    }

    private static JsonNode endedJob(String id) throws Exception {
        return waitFor("job " + id + " to end", Duration.ofMinutes(4), () -> {
            JsonNode j = cp.client("viewer").get("api/v1/jobs/" + id);
            return List.of("COMPLETED", "FAILED", "CANCELLED")
                            .contains(j.path("state").asText())
                    ? j
                    : null;
        });
    }

    private static JsonNode drillReport(String id) throws Exception {
        try {
            return cp.client("viewer").get("api/v1/drills/" + id);
        } catch (ControllerClient.ApiException e) {
            if (e.status == 404) {
                return null;
            }
            throw e;
        }
    }

    @Test
    @Order(9)
    void theShippedPrometheusRulesAndGrafanaDashboardReadSeriesTheControllerAndAgentsExport() throws Exception {
        String controllerText = cp.client("viewer").get("metrics").asText();
        String agentConfig = Files.readString(tmp.resolve("agent-eu.yaml"));
        String metricsListen = agentConfig
                .lines()
                .filter(l -> l.startsWith("metrics-listen:"))
                .findFirst()
                .orElseThrow()
                .substring("metrics-listen:".length())
                .trim();
        // on loopback the agent serves /metrics as plain HTTP (with TLS anywhere else)
        HttpResponse<String> agent = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .build()
                .send(
                        HttpRequest.newBuilder(URI.create("http://" + metricsListen + "/metrics"))
                                .timeout(Duration.ofSeconds(30))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertThat(agent.statusCode()).isEqualTo(200);
        String exported = controllerText + "\n" + agent.body();
        List<String> exprs = new ArrayList<>(MonitoringFiles.ruleExpressions());
        exprs.addAll(MonitoringFiles.dashboardExpressions());
        Set<String> names = MonitoringFiles.seriesNames(exprs);
        assertThat(names).contains("lifeboat_controller_since_last_backup_seconds", "lifeboat_rpo_seconds");
        for (String name : names) {
            assertThat(exported.lines().anyMatch(l -> l.startsWith(name + "{") || l.startsWith(name + " ")))
                    .as("a rule or panel reads " + name + ", which neither the controller nor an agent exports")
                    .isTrue();
        }
        // after the backups and drills above, the staleness series hold real ages, not "never"
        assertThat(sample(controllerText, "lifeboat_controller_since_last_backup_seconds{database=\"main\""))
                .isBetween(0.0, 3600.0);
        assertThat(sample(controllerText, "lifeboat_controller_since_last_drill_seconds{database=\"main\""))
                .isBetween(0.0, 3600.0);
        assertThat(sample(
                        controllerText,
                        "lifeboat_controller_wal_archive_lag_seconds{database=\"main\",region=\"eu-west\""))
                .isBetween(0.0, 3600.0);
    }

    private static double sample(String text, String prefix) {
        String line = text.lines()
                .filter(l -> l.startsWith(prefix))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + prefix + "} in\n" + text));
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }

    @Test
    @Order(10)
    void editingOneAuditRowMakesVerifyFailAtThatRow() throws Exception {
        PgTestSupport.CliResult online = PgTestSupport.cli(
                "audit",
                "verify",
                "--controller",
                "https://127.0.0.1:" + cp.httpPort,
                "--token-file",
                cp.tokens.get("admin").toString(),
                "--ca",
                cp.pki.resolve("ca.crt").toString());
        assertThat(online.exitCode()).as(online.all()).isZero();
        cp.controller.destroy(); // SIGTERM: a clean stop releases the embedded database
        assertThat(cp.controller.waitFor(30, TimeUnit.SECONDS)).isTrue();
        Path config = tmp.resolve("controller.yaml");
        PgTestSupport.CliResult intact = PgTestSupport.cli("audit", "verify", "--config", config.toString());
        assertThat(intact.exitCode()).as(intact.all()).isZero();

        long victim;
        try (Connection c = DriverManager.getConnection(
                        "jdbc:h2:file:" + tmp.resolve("controller-state").resolve("controller"), "lifeboat", "");
                Statement st = c.createStatement()) {
            var rs = st.executeQuery("SELECT MAX(seq) / 2 FROM audit_log");
            rs.next();
            victim = rs.getLong(1);
            assertThat(st.executeUpdate("UPDATE audit_log SET actor = 'someone-else' WHERE seq = " + victim))
                    .isEqualTo(1);
        }
        PgTestSupport.CliResult tampered =
                PgTestSupport.cli("audit", "verify", "--config", config.toString(), "--json");
        assertThat(tampered.exitCode()).as(tampered.all()).isEqualTo(3);
        assertThat(Json.MAPPER.readTree(tampered.out()).path("firstBadSeq").asLong())
                .isEqualTo(victim);
    }
}
