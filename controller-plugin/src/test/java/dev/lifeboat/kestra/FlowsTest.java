package dev.lifeboat.kestra;

import static io.kestra.core.tenant.TenantService.MAIN_TENANT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.junit.annotations.ExecuteFlow;
import io.kestra.core.junit.annotations.KestraTest;
import io.kestra.core.models.dashboards.Dashboard;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.executions.MetricEntry;
import io.kestra.core.models.executions.TaskRun;
import io.kestra.core.models.flows.State;
import io.kestra.core.models.validations.ModelValidator;
import io.kestra.core.repositories.LogDataStoreInterface;
import io.kestra.core.repositories.MetricRepositoryInterface;
import io.kestra.core.serializers.YamlParser;
import io.kestra.core.services.TaskOutputService;
import io.micronaut.data.model.Pageable;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.event.Level;

/**
 * The plugin in Kestra's own engine against a real controller, agent and PostgreSQL (`lifeboat sandbox`): the
 * shipped example flows and the backup → point-in-time restore → drill sequence run green, their metrics reach
 * Kestra's metric repository, and a job that fails fails its task with the controller's message.
 */
@ExtendWith(Sandbox.class)
@KestraTest(startRunner = true)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FlowsTest {
    @Inject
    TaskOutputService outputs;

    @Inject
    MetricRepositoryInterface metrics;

    @Inject
    LogDataStoreInterface logs;

    @Inject
    ModelValidator validator;

    private Map<String, Object> output(Execution e, String taskId) throws Exception {
        TaskRun run = e.getTaskRunList().stream()
                .filter(t -> t.getTaskId().equals(taskId))
                .findFirst()
                .orElseThrow();
        return outputs.getOutputs(run);
    }

    /** Kestra stores task logs through a queue: a task's last lines can land after its execution has ended. */
    private void awaitLog(Execution e, String... parts) {
        await().atMost(Duration.ofSeconds(20))
                .untilAsserted(() -> assertThat(logText(e)).contains(parts));
    }

    private String logText(Execution e) {
        return String.join(
                "\n",
                logs.findByExecutionId(MAIN_TENANT, e.getId(), Level.TRACE).stream()
                        .map(LogEntry::getMessage)
                        .filter(Objects::nonNull)
                        .toList());
    }

    @Test
    @Order(1)
    @ExecuteFlow(value = "examples/backup-before-migration.yaml", timeout = "PT5M")
    void backupBeforeMigrationExampleRunsGreen(Execution e) throws Exception {
        assertThat(e.getState().getCurrent()).as(logText(e)).isEqualTo(State.Type.SUCCESS);
        Map<String, Object> backup = output(e, "backup");
        assertThat((String) backup.get("backupId")).isNotBlank();
        assertThat((String) backup.get("stopLsn")).contains("/");
        awaitLog(e, "BACKUP_FULL of orders submitted to the Lifeboat controller", "VERIFY of orders completed");
    }

    @Test
    @Order(2)
    @ExecuteFlow(value = "flows/backup-restore-drill.yaml", timeout = "PT8M")
    void backupThenPointInTimeRestoreThenDrillFromTheDrRegion(Execution e) throws Exception {
        assertThat(e.getState().getCurrent()).as(logText(e)).isEqualTo(State.Type.SUCCESS);
        Map<String, Object> restore = output(e, "restore");
        assertThat(restore.get("backupId")).isEqualTo(output(e, "backup").get("backupId"));
        Map<String, Object> drill = output(e, "drill");
        assertThat(drill.get("outcome")).isEqualTo("PASSED");
        assertThat(((Number) drill.get("rtoSeconds")).doubleValue()).isPositive();
        String report = (String) drill.get("reportUri");
        assertThat(report).startsWith(Sandbox.url()).endsWith("/report.md");
        // the controller kept the report, judged against the tier, with the phases the drill measured
        JsonNode kept = Sandbox.api().get("api/v1/drills/" + drill.get("jobId"));
        assertThat(kept.path("summary").path("outcome").asText()).isEqualTo("PASSED");
        assertThat(kept.path("integrity").path("intact").asBoolean()).isTrue();
        JsonNode result = kept.path("report").path("result");
        assertThat(result.path("source").path("region").asText()).isEqualTo("dr");
        assertThat(result.path("rto").path("fetch_seconds").asDouble()).isPositive();
        assertThat(result.path("rto").has("wal_replay_seconds")).isTrue();
        assertThat(result.path("rto").has("validation_seconds")).isTrue();
        assertThat(result.path("objectives").path("rto").path("met").asBoolean())
                .isTrue();
        // progress went to the task log, metrics to Kestra's repository
        awaitLog(e, "RESTORE_PITR of orders completed", "DR_DRILL of orders completed");
        await().atMost(Duration.ofSeconds(20))
                .untilAsserted(() -> assertThat(
                                metrics.findByExecutionId(MAIN_TENANT, e.getId(), Pageable.from(1, 100)).stream()
                                        .map(MetricEntry::getName)
                                        .toList())
                        .contains("bytes", "duration", "rto.seconds"));
    }

    @Test
    @Order(3)
    @ExecuteFlow(value = "examples/nightly-dr-drill.yaml", timeout = "PT8M")
    void nightlyDrillExampleRunsGreen(Execution e) throws Exception {
        assertThat(e.getState().getCurrent()).as(logText(e)).isEqualTo(State.Type.SUCCESS);
        awaitLog(e, "drill PASSED: RTO");
    }

    @Test
    @Order(4)
    @ExecuteFlow(value = "examples/rpo-gate-before-deploy.yaml", timeout = "PT2M")
    void rpoGateOpensForADatabaseWithinItsObjectives(Execution e) {
        assertThat(e.getState().getCurrent()).as(logText(e)).isEqualTo(State.Type.SUCCESS);
        awaitLog(e, "orders is within its RPO and RTO");
    }

    @Test
    @Order(5)
    @ExecuteFlow(value = "flows/restore-before-any-backup.yaml", timeout = "PT2M")
    void aFailingJobFailsTheTaskWithTheControllersMessage(Execution e) throws Exception {
        assertThat(e.getState().getCurrent()).isEqualTo(State.Type.FAILED);
        JsonNode job =
                Sandbox.api().get("api/v1/jobs?database=orders&state=FAILED").get(0);
        assertThat(job.path("type").asText()).isEqualTo("RESTORE_PITR");
        awaitLog(e, "RESTORE_PITR of orders failed", job.path("message").asText());
    }

    @Test
    void theDashboardIsAValidKestraDashboard() throws Exception {
        String yaml = Files.readString(
                Path.of(Objects.requireNonNull(getClass().getClassLoader().getResource("dashboards/lifeboat.yaml"))
                        .toURI()));
        Dashboard d = YamlParser.parse(yaml, Dashboard.class);
        assertThat(validator.isValid(d)).isEmpty();
        assertThat(d.getCharts()).hasSize(4);
        assertThat(List.of("rto.seconds", "rpo.seconds", "bytes", "duration"))
                .allSatisfy(m -> assertThat(yaml).contains("value: " + m));
    }
}
