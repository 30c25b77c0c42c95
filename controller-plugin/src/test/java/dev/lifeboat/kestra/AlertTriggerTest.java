package dev.lifeboat.kestra;

import static io.kestra.core.tenant.TenantService.MAIN_TENANT;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.junit.annotations.KestraTest;
import io.kestra.core.junit.annotations.LoadFlows;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.flows.State;
import io.kestra.core.repositories.LogDataStoreInterface;
import io.kestra.core.runners.TestRunnerUtils;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.event.Level;

/**
 * The alert trigger in Kestra's scheduler against a real controller: WAL streaming is stopped on purpose, the
 * database's RPO (10 s in this sandbox) is breached as the writer keeps writing, the controller raises rpo-breach,
 * and the example flow starts on it; the RPO gate then fails with the controller's reason.
 */
@ExtendWith(Sandbox.class)
@Sandbox.Rpo("10s")
@KestraTest(startRunner = true, startScheduler = true)
class AlertTriggerTest {
    @Inject
    TestRunnerUtils runner;

    @Inject
    LogDataStoreInterface logs;

    @Test
    @LoadFlows({"examples/on-rpo-breach.yaml", "examples/rpo-gate-before-deploy.yaml"})
    void anInducedRpoBreachStartsTheFlowAndClosesTheGate() throws Exception {
        ControllerApi api = Sandbox.api();
        // from a healthy start: WAL streams and nothing is breached
        Awaitility.await()
                .atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofSeconds(1))
                .until(() -> api.get("api/v1/status/orders").path("rpoMet").asBoolean()
                        && api.get("api/v1/alerts").findValuesAsText("kind").stream()
                                .noneMatch("rpo-breach"::equals));
        Instant stopped = Instant.now();
        for (JsonNode j : api.get("api/v1/jobs?database=orders&state=RUNNING")) {
            if (j.path("type").asText().equals("WAL_STREAM")) {
                api.post("api/v1/jobs/" + j.path("id").asText() + "/cancel", Map.of("reason", "test: stop WAL"));
            }
        }
        Execution fired = runner.awaitFlowExecution(
                e -> e.getState().getCurrent() == State.Type.SUCCESS,
                MAIN_TENANT,
                "company.db",
                "on-rpo-breach",
                Duration.ofSeconds(120));
        Map<String, Object> trigger = fired.getTrigger().getVariables();
        assertThat(trigger.get("kind")).isEqualTo("rpo-breach");
        assertThat(trigger.get("database")).isEqualTo("orders");
        assertThat(Instant.parse((String) trigger.get("raisedAt"))).isAfter(stopped);
        Awaitility.await()
                .atMost(Duration.ofSeconds(20))
                .until(() -> logText(fired).contains("rpo-breach on orders: orders: RPO"));

        // while breached, the gate before a deploy stays closed and says why
        Execution gate = runner.runOne(MAIN_TENANT, "company.app", "rpo-gate-before-deploy", Duration.ofMinutes(1));
        assertThat(gate.getState().getCurrent()).isEqualTo(State.Type.FAILED);
        Awaitility.await()
                .atMost(Duration.ofSeconds(20))
                .until(() -> logText(gate).contains("orders is outside its objectives: RPO"));
    }

    private String logText(Execution e) {
        return String.join(
                "\n",
                logs.findByExecutionId(MAIN_TENANT, e.getId(), Level.TRACE).stream()
                        .map(LogEntry::getMessage)
                        .filter(Objects::nonNull)
                        .toList());
    }
}
