package dev.lifeboat.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.controller.alerts.AlertNotifier.Delivery;
import dev.lifeboat.controller.alerts.AlertNotifier.Options;
import dev.lifeboat.controller.alerts.WebhookReceiver.Reply;
import dev.lifeboat.controller.alerts.WebhookReceiver.Request;
import dev.lifeboat.controller.alerts.WebhookTarget.Format;
import dev.lifeboat.controller.audit.TestDatabases;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The alert outbox on an embedded H2 file database, delivering to a real HTTP server on loopback. */
class AlertNotifierTest {
    /** Fast retries, so a test sees several attempts in well under a second. */
    static final Options FAST = new Options(
            Duration.ofMillis(40),
            Duration.ofMillis(200),
            Duration.ofMinutes(5),
            Duration.ofSeconds(5),
            Duration.ofMillis(200),
            Duration.ofDays(1));

    @TempDir
    Path dir;

    JdbcConnectionPool db;
    WebhookReceiver receiver;
    HttpClient http;
    final List<AlertNotifier> notifiers = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        db = TestDatabases.h2(dir);
        receiver = new WebhookReceiver();
        http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2))
                .build();
    }

    @AfterEach
    void tearDown() {
        notifiers.forEach(AlertNotifier::close);
        receiver.close();
        http.close();
        db.dispose();
    }

    AlertNotifier notifier(Options options, WebhookTarget... targets) {
        AlertNotifier n = new AlertNotifier(db, List.of(targets), http, options);
        notifiers.add(n);
        return n;
    }

    static Alert rpoAlert(String id) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("rpo_seconds", 412);
        details.put("target_seconds", 300);
        details.put("newest_wal", "000000010000000000000042");
        return new Alert(
                id,
                "rpo-critical",
                "critical",
                "orders",
                "eu-west",
                "RPO of orders in eu-west is 6m52s, target 5m: WAL archiving has stopped",
                Instant.parse("2026-11-24T14:03:27.123Z"),
                null,
                details);
    }

    WebhookTarget generic(String name) {
        return new WebhookTarget(
                name,
                receiver.url("/" + name),
                Format.GENERIC_JSON,
                null,
                Map.of("Authorization", "Bearer t0ken"),
                Set.of());
    }

    WebhookTarget pagerDuty(String name) {
        return new WebhookTarget(
                name, receiver.url("/" + name), Format.PAGERDUTY_EVENTS_V2, "R0UT1NGKEY", Map.of(), Set.of());
    }

    WebhookTarget slack(String name) {
        return WebhookTarget.slack(name, receiver.url("/" + name), Set.of());
    }

    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    static boolean allIn(AlertNotifier n, String alertId, String state) {
        List<Delivery> d = n.deliveries(alertId);
        return !d.isEmpty() && d.stream().allMatch(x -> x.state().equals(state));
    }

    @Test
    void genericJsonIsTheAlertPlusTheEvent() throws Exception {
        AlertNotifier n = notifier(FAST, generic("ops"));
        Alert alert = rpoAlert("rpo:orders:eu-west");
        n.raised(alert);
        await("raised delivered", Duration.ofSeconds(5), () -> allIn(n, alert.id(), AlertNotifier.DELIVERED));
        n.resolved(alert);
        await("resolved delivered", Duration.ofSeconds(5), () -> receiver.requests.size() == 2);

        Request raised = receiver.requests.get(0);
        assertThat(raised.header("Content-Type")).isEqualTo("application/json");
        assertThat(raised.header("Authorization")).isEqualTo("Bearer t0ken");
        JsonNode j = raised.json();
        assertThat(j.get("event").asText()).isEqualTo("raised");
        assertThat(j.get("id").asText()).isEqualTo("rpo:orders:eu-west");
        assertThat(j.get("kind").asText()).isEqualTo("rpo-critical");
        assertThat(j.get("severity").asText()).isEqualTo("critical");
        assertThat(j.get("database").asText()).isEqualTo("orders");
        assertThat(j.get("region").asText()).isEqualTo("eu-west");
        assertThat(j.get("summary").asText()).startsWith("RPO of orders");
        assertThat(j.get("raisedAt").asText()).isEqualTo("2026-11-24T14:03:27.123Z");
        assertThat(j.get("resolvedAt").isNull()).isTrue();
        assertThat(j.get("details").get("rpo_seconds").asInt()).isEqualTo(412);
        assertThat(j.get("details").get("newest_wal").asText()).isEqualTo("000000010000000000000042");

        JsonNode r = receiver.requests.get(1).json();
        assertThat(r.get("event").asText()).isEqualTo("resolved");
        assertThat(r.get("id").asText()).isEqualTo("rpo:orders:eu-west");
        assertThat(Instant.parse(r.get("resolvedAt").asText())).isAfter(alert.raisedAt());
    }

    @Test
    void pagerDutyEventsV2TriggerThenResolveWithTheSameDedupKey() throws Exception {
        AlertNotifier n = notifier(FAST, pagerDuty("pd"));
        Alert alert = rpoAlert("rpo:orders:eu-west");
        n.raised(alert);
        Instant resolvedAt = alert.raisedAt().plus(7, ChronoUnit.MINUTES);
        n.resolved(alert.resolve(resolvedAt));
        await("two events", Duration.ofSeconds(5), () -> receiver.requests.size() == 2);

        JsonNode t = receiver.requests.get(0).json();
        assertThat(t.get("routing_key").asText()).isEqualTo("R0UT1NGKEY");
        assertThat(t.get("event_action").asText()).isEqualTo("trigger");
        assertThat(t.get("dedup_key").asText()).isEqualTo("rpo:orders:eu-west");
        JsonNode p = t.get("payload");
        assertThat(p.get("summary").asText()).isEqualTo(alert.summary());
        assertThat(p.get("source").asText()).isEqualTo("orders@eu-west");
        assertThat(p.get("severity").asText()).isEqualTo("critical");
        assertThat(p.get("timestamp").asText()).isEqualTo("2026-11-24T14:03:27.123Z");
        assertThat(p.get("component").asText()).isEqualTo("orders");
        assertThat(p.get("group").asText()).isEqualTo("eu-west");
        assertThat(p.get("class").asText()).isEqualTo("rpo-critical");
        assertThat(p.get("custom_details").get("target_seconds").asInt()).isEqualTo(300);

        JsonNode r = receiver.requests.get(1).json();
        assertThat(r.get("event_action").asText()).isEqualTo("resolve");
        assertThat(r.get("dedup_key").asText()).isEqualTo("rpo:orders:eu-west");
        assertThat(r.get("routing_key").asText()).isEqualTo("R0UT1NGKEY");
        await("both delivered", Duration.ofSeconds(5), () -> allIn(n, alert.id(), AlertNotifier.DELIVERED));
    }

    @Test
    void slackMessageHasTextAndBlocksWithTheFields() throws Exception {
        AlertNotifier n = notifier(FAST, slack("chat"));
        Alert alert = new Alert(
                "agent-gone:db7",
                "agent-gone",
                "warning",
                null,
                "us-east",
                "Agent db7 <primary> & its jobs: no heartbeat for 45 s",
                Instant.parse("2026-11-24T14:00:00Z"),
                null,
                Map.of("agent", "db7", "last_heartbeat", "2026-11-24T13:59:15Z"));
        n.raised(alert);
        n.resolved(alert);
        await("two messages", Duration.ofSeconds(5), () -> receiver.requests.size() == 2);

        JsonNode m = receiver.requests.get(0).json();
        assertThat(m.get("text").asText())
                .contains("[WARNING]")
                .contains("agent-gone")
                .contains("us-east")
                .contains("no heartbeat for 45 s");
        JsonNode blocks = m.get("blocks");
        assertThat(blocks.isArray()).isTrue();
        assertThat(blocks.get(0).get("type").asText()).isEqualTo("header");
        assertThat(blocks.get(0).get("text").get("type").asText()).isEqualTo("plain_text");
        assertThat(blocks.get(1).get("text").get("type").asText()).isEqualTo("mrkdwn");
        assertThat(blocks.get(1).get("text").get("text").asText()).contains("&lt;primary&gt; &amp; its jobs");
        List<String> fields = new ArrayList<>();
        for (JsonNode b : blocks) {
            if (b.has("fields")) {
                b.get("fields").forEach(f -> fields.add(f.get("text").asText()));
            }
        }
        assertThat(fields)
                .contains(
                        "*Severity*\nwarning",
                        "*Region*\nus-east",
                        "*Kind*\nagent-gone",
                        "*Raised*\n2026-11-24T14:00:00Z",
                        "*agent*\ndb7");
        assertThat(fields).noneMatch(f -> f.startsWith("*Database*"));
        assertThat(blocks.get(blocks.size() - 1).get("type").asText()).isEqualTo("context");

        JsonNode resolved = receiver.requests.get(1).json();
        assertThat(resolved.get("text").asText()).contains("[RESOLVED]");
        assertThat(resolved.toString()).contains("*Resolved*");
    }

    @Test
    void twoServerErrorsThenSuccessDeliversOnceWithOneDedupKey() throws Exception {
        receiver.then(Reply.of(500), Reply.of(502));
        AlertNotifier n = notifier(FAST, pagerDuty("pd"));
        Alert alert = rpoAlert("rpo:orders:eu-west");
        n.raised(alert);
        await("delivered", Duration.ofSeconds(5), () -> allIn(n, alert.id(), AlertNotifier.DELIVERED));
        Thread.sleep(400); // two poll intervals: nothing more may follow

        assertThat(receiver.requests).hasSize(3);
        assertThat(receiver.requests)
                .extracting(r -> r.json().get("dedup_key").asText())
                .containsOnly("rpo:orders:eu-west");
        assertThat(receiver.requests)
                .extracting(r -> r.header("X-Lifeboat-Delivery"))
                .doesNotContainNull()
                .containsOnly(receiver.requests.getFirst().header("X-Lifeboat-Delivery"));
        Delivery d = n.deliveries(alert.id()).getFirst();
        assertThat(d.attempts()).isEqualTo(3);
        assertThat(d.lastStatus()).isEqualTo(200);
        assertThat(d.finishedAt()).isNotNull();
        // backoff grows: the second pause is at least the first's lower bound (40 ms · 2 / 2)
        long gap1 = receiver.requests.get(1).nanos() - receiver.requests.get(0).nanos();
        long gap2 = receiver.requests.get(2).nanos() - receiver.requests.get(1).nanos();
        assertThat(Duration.ofNanos(gap1)).isGreaterThanOrEqualTo(Duration.ofMillis(18));
        assertThat(Duration.ofNanos(gap2)).isGreaterThanOrEqualTo(Duration.ofMillis(38));
    }

    @Test
    void tooManyRequestsWaitsForRetryAfter() throws Exception {
        receiver.then(new Reply(429, Map.of("Retry-After", "1"), 0));
        AlertNotifier n = notifier(FAST, generic("ops"));
        Alert alert = rpoAlert("a-429");
        n.raised(alert);
        await("delivered", Duration.ofSeconds(5), () -> allIn(n, alert.id(), AlertNotifier.DELIVERED));

        assertThat(receiver.requests).hasSize(2);
        Duration gap = Duration.ofNanos(
                receiver.requests.get(1).nanos() - receiver.requests.get(0).nanos());
        // without Retry-After the backoff here would be 20–40 ms
        assertThat(gap).isGreaterThanOrEqualTo(Duration.ofMillis(950));
    }

    @Test
    void aDeliveryInFlightWhenTheNotifierClosesIsSentByTheNextOne() throws Exception {
        receiver.then(new Reply(200, Map.of(), 10_000)); // the first request hangs
        WebhookTarget target = pagerDuty("pd");
        AlertNotifier first = notifier(FAST, target);
        Alert alert = rpoAlert("in-flight");
        first.raised(alert);
        await("first request", Duration.ofSeconds(5), () -> receiver.requests.size() == 1);
        long t0 = System.nanoTime();
        first.close();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
        assertThat(first.pendingCount()).isEqualTo(1);
        assertThatThrownBy(() -> first.raised(alert)).isInstanceOf(IllegalStateException.class);

        AlertNotifier second = notifier(FAST, target);
        await(
                "delivered by the second notifier",
                Duration.ofSeconds(5),
                () -> allIn(second, alert.id(), AlertNotifier.DELIVERED));
        assertThat(receiver.requests).hasSize(2);
        assertThat(receiver.requests.get(1).json().get("dedup_key").asText()).isEqualTo("in-flight");
    }

    @Test
    void aDeliveryWaitingForItsRetryIsSentByANewNotifierOnTheSameDatabase() throws Exception {
        receiver.then(Reply.of(503));
        WebhookTarget target = generic("ops");
        Options slowRetry = new Options(
                Duration.ofMillis(600),
                Duration.ofSeconds(1),
                Duration.ofMinutes(5),
                Duration.ofSeconds(5),
                Duration.ofMillis(200),
                Duration.ofDays(1));
        AlertNotifier first = notifier(slowRetry, target);
        Alert alert = rpoAlert("restart");
        first.raised(alert);
        await(
                "first attempt recorded",
                Duration.ofSeconds(5),
                () -> first.deliveries(alert.id()).getFirst().attempts() == 1);
        first.close();
        db.dispose(); // the controller is gone: the next one opens the database file afresh
        assertThat(receiver.requests).hasSize(1);

        db = TestDatabases.h2(dir);
        AlertNotifier second = notifier(slowRetry, target);
        await(
                "delivered after restart",
                Duration.ofSeconds(5),
                () -> allIn(second, alert.id(), AlertNotifier.DELIVERED));
        assertThat(receiver.requests).hasSize(2);
        assertThat(second.deliveries(alert.id()).getFirst().attempts()).isEqualTo(2);
    }

    @Test
    void resolvedWaitsUntilItsRaisedWasDelivered() throws Exception {
        receiver.then(Reply.of(500), Reply.of(500));
        AlertNotifier n = notifier(FAST, pagerDuty("pd"));
        Alert alert = rpoAlert("ordered");
        n.raised(alert);
        n.resolved(alert);
        await(
                "both delivered",
                Duration.ofSeconds(5),
                () -> n.deliveries(alert.id()).size() == 2 && allIn(n, alert.id(), AlertNotifier.DELIVERED));

        assertThat(receiver.requests)
                .extracting(r -> r.json().get("event_action").asText())
                .containsExactly("trigger", "trigger", "trigger", "resolve");
    }

    @Test
    void clientErrorsAreNotRetriedAndAgeLimitsGiveUp() throws Exception {
        receiver.answerAlways(Reply.of(500));
        WebhookTarget refusing =
                new WebhookTarget("refusing", receiver.url("/refusing"), Format.GENERIC_JSON, null, Map.of(), Set.of());
        receiver.then(Reply.of(400));
        Options shortLife = new Options(
                Duration.ofMillis(30),
                Duration.ofMillis(60),
                Duration.ofMillis(500),
                Duration.ofSeconds(5),
                Duration.ofMillis(100),
                Duration.ofDays(1));
        AlertNotifier n = notifier(shortLife, refusing);
        n.raised(rpoAlert("bad-request"));
        await("rejected", Duration.ofSeconds(5), () -> allIn(n, "bad-request", AlertNotifier.REJECTED));
        assertThat(receiver.requests).hasSize(1);
        assertThat(n.deliveries("bad-request").getFirst().lastStatus()).isEqualTo(400);

        n.raised(rpoAlert("always-500"));
        await("expired", Duration.ofSeconds(5), () -> allIn(n, "always-500", AlertNotifier.EXPIRED));
        Delivery d = n.deliveries("always-500").getFirst();
        assertThat(d.attempts()).isGreaterThanOrEqualTo(3);
        assertThat(d.lastError()).startsWith("HTTP 500");
        assertThat(Duration.between(d.createdAt(), d.finishedAt())).isGreaterThanOrEqualTo(Duration.ofMillis(500));
        long sent = receiver.requests.size();
        Thread.sleep(300);
        assertThat(receiver.requests).hasSize((int) sent);
        assertThat(n.pendingCount()).isZero();
    }

    @Test
    void targetsOnlyGetTheSeveritiesTheyAskFor() throws Exception {
        WebhookTarget pagerOnCritical = new WebhookTarget(
                "pager", receiver.url("/pager"), Format.PAGERDUTY_EVENTS_V2, "KEY", Map.of(), Set.of("CRITICAL"));
        AlertNotifier n = notifier(FAST, pagerOnCritical, slack("chat"));
        Alert warning = new Alert(
                "lag:orders",
                "replication-lag",
                "warning",
                "orders",
                "us-east",
                "replication lag 40 s",
                Instant.now(),
                null,
                Map.of());
        n.raised(warning);
        n.raised(rpoAlert("rpo:orders"));
        await("three deliveries", Duration.ofSeconds(5), () -> receiver.requests.size() == 3);

        assertThat(receiver.at("/pager")).hasSize(1);
        assertThat(receiver.at("/pager").getFirst().json().get("dedup_key").asText())
                .isEqualTo("rpo:orders");
        assertThat(receiver.at("/chat")).hasSize(2);
        assertThat(n.deliveries("lag:orders")).extracting(Delivery::target).containsExactly("chat");
    }

    @Test
    void aTargetRemovedFromTheConfigurationIsDroppedNotRetried() throws Exception {
        receiver.then(Reply.of(503));
        Options slowRetry = new Options(
                Duration.ofMillis(400),
                Duration.ofSeconds(1),
                Duration.ofMinutes(5),
                Duration.ofSeconds(5),
                Duration.ofMillis(100),
                Duration.ofDays(1));
        AlertNotifier first = notifier(slowRetry, generic("old"));
        first.raised(rpoAlert("orphan"));
        await(
                "first attempt",
                Duration.ofSeconds(5),
                () -> first.deliveries("orphan").getFirst().attempts() == 1);
        first.close();

        AlertNotifier second = notifier(slowRetry, generic("new"));
        await("dropped", Duration.ofSeconds(5), () -> allIn(second, "orphan", AlertNotifier.DROPPED));
        assertThat(receiver.requests).hasSize(1);
        assertThat(second.deliveries("orphan").getFirst().lastError()).contains("'old' is no longer configured");
    }

    @Test
    void configurationMistakesAreRefusedWithAReason() {
        URI url = receiver.url("/x");
        assertThatThrownBy(() -> new WebhookTarget("pd", url, Format.PAGERDUTY_EVENTS_V2, null, Map.of(), Set.of()))
                .hasMessageContaining("routingKey");
        assertThatThrownBy(() ->
                        new WebhookTarget("x", URI.create("ftp://h/x"), Format.GENERIC_JSON, null, Map.of(), Set.of()))
                .hasMessageContaining("http(s)");
        assertThatThrownBy(
                        () -> new WebhookTarget("x", url, Format.GENERIC_JSON, null, Map.of("Host", "evil"), Set.of()))
                .hasMessageContaining("header 'Host'");
        assertThatThrownBy(() -> new WebhookTarget("x", url, Format.SLACK, null, Map.of(), Set.of("info")))
                .hasMessageContaining("unknown severity 'info'");
        assertThatThrownBy(() -> notifier(FAST, generic("same"), generic("same")))
                .hasMessageContaining("named 'same'");
        assertThatThrownBy(() -> new Alert("x", "k", "fatal", null, null, "s", Instant.now(), null, null))
                .hasMessageContaining("warning or critical");
        WebhookTarget secret = new WebhookTarget(
                "s",
                URI.create("https://hooks.example.net/services/T000/B000/XXXX"),
                Format.SLACK,
                null,
                Map.of("Authorization", "Bearer zzz"),
                Set.of());
        assertThat(secret.toString()).doesNotContain("XXXX").doesNotContain("zzz");
    }
}
