package dev.lifeboat.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.controller.alerts.WebhookTarget.Format;
import dev.lifeboat.controller.audit.TestDatabases;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The alert outbox on a real PostgreSQL 15 shared by two controllers' notifiers: each event is posted exactly once. */
class AlertNotifierPostgresTest {
    @TempDir
    static Path dir;

    static TestDatabases.Postgres pg;

    @BeforeAll
    static void start() throws Exception {
        pg = new TestDatabases.Postgres(dir);
    }

    @AfterAll
    static void stop() throws Exception {
        pg.close();
    }

    @Test
    void twoNotifiersOnOneDatabaseDeliverEachEventOnce() throws Exception {
        try (WebhookReceiver receiver = new WebhookReceiver();
                HttpClient http = HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .build()) {
            // every third request fails once, so retries and leases are exercised too
            for (int i = 0; i < 20; i++) {
                receiver.then(
                        WebhookReceiver.Reply.of(200), WebhookReceiver.Reply.of(200), WebhookReceiver.Reply.of(503));
            }
            WebhookTarget pd =
                    new WebhookTarget("pd", receiver.url("/pd"), Format.PAGERDUTY_EVENTS_V2, "KEY", Map.of(), Set.of());
            try (AlertNotifier a = new AlertNotifier(pg.dataSource(), List.of(pd), http, AlertNotifierTest.FAST);
                    AlertNotifier b = new AlertNotifier(pg.dataSource(), List.of(pd), http, AlertNotifierTest.FAST)) {
                for (int i = 0; i < 15; i++) {
                    Alert alert = AlertNotifierTest.rpoAlert("alert-" + i);
                    (i % 2 == 0 ? a : b).raised(alert);
                    (i % 3 == 0 ? a : b).resolved(alert);
                }
                AlertNotifierTest.await("all delivered", Duration.ofSeconds(15), () -> a.pendingCount() == 0);
                assertThat(a.recent(100)).hasSize(30).allMatch(d -> d.state().equals(AlertNotifier.DELIVERED));
            }
            Map<String, Integer> okPerEvent = new HashMap<>();
            for (WebhookReceiver.Request r : receiver.requests) {
                var j = r.json();
                if (j.get("event_action").asText().equals("resolve")) {
                    assertThat(okPerEvent)
                            .as("resolve of %s only after its trigger was accepted", j.get("dedup_key"))
                            .containsKey(j.get("dedup_key").asText() + "/trigger");
                }
                if (r.status() == 200) {
                    okPerEvent.merge(
                            j.get("dedup_key").asText() + "/"
                                    + j.get("event_action").asText(),
                            1,
                            Integer::sum);
                }
            }
            assertThat(receiver.requests).anyMatch(r -> r.status() == 503);
            assertThat(okPerEvent).hasSize(30);
            assertThat(okPerEvent.values()).containsOnly(1);
        }
    }
}
