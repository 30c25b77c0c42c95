package dev.lifeboat.jenkins;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared library's steps under Groovy 2.4 against a real controller, agent and PostgreSQL (`lifeboat sandbox`
 * from the distribution): the sequence — full backup, point-in-time restore, drill — and the gate succeed with
 * their result maps, and an induced failure fails the build with the controller's message. Jenkins itself (its CPS
 * interpreter, script security, credentials store) is not here: {@link PipelineRunner} stands in for its steps.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class JenkinsStepsTest {
    @TempDir
    static Path tmp;

    static Process sandbox;
    static String url;
    static String token;

    @BeforeAll
    static void startSandbox() throws Exception {
        Path launcher = Path.of(System.getProperty("lifeboat.home", "../dist/target/lifeboat-0.1.0-SNAPSHOT"))
                .resolve("bin/lifeboat");
        Path work = tmp.resolve("sandbox");
        sandbox = new ProcessBuilder(
                        List.of(launcher.toString(), "sandbox", "--dir", work.toString(), "--database", "orders"))
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("sandbox.log").toFile())
                .start();
        Instant deadline = Instant.now().plus(Duration.ofMinutes(3));
        while (!Files.exists(work.resolve("sandbox.json"))) {
            assertThat(sandbox.isAlive() && Instant.now().isBefore(deadline))
                    .as(() -> {
                        try {
                            return "the sandbox did not come up: " + Files.readString(tmp.resolve("sandbox.log"));
                        } catch (Exception e) {
                            return e.toString();
                        }
                    })
                    .isTrue();
            Thread.sleep(200);
        }
        JsonNode about =
                new ObjectMapper().readTree(work.resolve("sandbox.json").toFile());
        url = about.path("controller").asText();
        token = Files.readString(
                        Path.of(about.path("tokenFiles").path("operator").asText()))
                .strip();
    }

    @AfterAll
    static void stopSandbox() throws Exception {
        if (sandbox != null) {
            sandbox.destroy();
            if (!sandbox.waitFor(60, TimeUnit.SECONDS)) {
                sandbox.destroyForcibly();
            }
        }
    }

    private static PipelineRunner runner() throws Exception {
        return runner(false);
    }

    private static PipelineRunner runner(boolean cps) throws Exception {
        Path ws = Files.createTempDirectory(tmp, "workspace");
        return new PipelineRunner(
                cps,
                Path.of(System.getProperty("lifeboat.library", ".")),
                ws,
                Map.of("lifeboat-token", token),
                Map.of("LIFEBOAT_URL", url, "BUILD_NUMBER", "7", "JOB_NAME", "dr"));
    }

    @Test
    @Order(1)
    void backupRestoreAndDrillRunAgainstTheControllerAndReturnTheirResults() throws Exception {
        PipelineRunner r = runner();
        Object out = r.run("""
                def b = backupFull(database: 'orders')
                sleep 5 // commits after the backup, so the target lies inside the recoverable window
                def p = restorePitr(database: 'orders', target: "/tmp/lifeboat-jenkins-restore-${UUID.randomUUID()}",
                        targetTime: b.stopTime)
                def d = drDrill(database: 'orders', rpoTarget: '1h',
                        assertions: [[name: 'branches', sql: 'select count(*) from pgbench_branches', expect: '= 1']])
                def s = replicationStatus(database: 'orders')
                rpoGate(database: 'orders')
                return [backup: b, restore: p, drill: d, status: s]
                """);
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> results = (Map<String, Map<String, Object>>) out;
        assertThat((String) results.get("backup").get("backupId")).isNotBlank();
        assertThat((String) results.get("backup").get("stopLsn")).contains("/");
        assertThat(results.get("restore").get("backupId"))
                .isEqualTo(results.get("backup").get("backupId"));
        assertThat(results.get("drill").get("outcome")).isEqualTo("PASSED");
        assertThat(((Number) results.get("drill").get("rtoSeconds")).doubleValue())
                .isPositive();
        assertThat((String) results.get("drill").get("reportUrl"))
                .startsWith(url)
                .endsWith("/report.md");
        assertThat(results.get("status").get("rtoMet")).isEqualTo(true);
        String log = String.join("\n", r.log);
        assertThat(log)
                .contains("lifeboat: BACKUP_FULL of orders submitted as job jenkins-")
                .contains("lifeboat: RESTORE_PITR of orders completed")
                .contains("lifeboat: drill PASSED")
                .contains("lifeboat: orders is within its RPO and RTO")
                .contains("Sleeping for 5 sec")
                .doesNotContain(token);
    }

    @Test
    @Order(2)
    void theStepsRunUnderTheContinuationPassingInterpreterJenkinsUses() throws Exception {
        PipelineRunner r = runner(true);
        Object out = r.run("""
                def b = backupIncremental(database: 'orders')
                verifyBackup(database: 'orders', backupId: b.backupId)
                def s = replicationStatus(database: 'orders')
                return [b.backupId, s.rpoMet]
                """);
        assertThat((List<?>) out).hasSize(2);
        assertThat(String.join("\n", r.log))
                .contains("lifeboat: BACKUP_INCREMENTAL of orders completed")
                .contains("lifeboat: VERIFY of orders completed");
        assertThatThrownBy(() -> runner(true).run("rpoGate(database: 'nope')"))
                .hasMessageContaining("the controller answered 404");
        // and the interpreter is real: a closure handed to a Groovy method, fine in plain Groovy, is not CPS-safe
        String unsafe = "return [3, 1, 2].sort { a, b -> a <=> b }";
        assertThat(runner(false).run(unsafe)).isEqualTo(List.of(1, 2, 3));
        Object cpsResult;
        try {
            cpsResult = runner(true).run(unsafe);
        } catch (RuntimeException e) {
            cpsResult = e;
        }
        assertThat(cpsResult).isNotEqualTo(List.of(1, 2, 3));
    }

    @Test
    @Order(3)
    void aFailingJobFailsTheBuildWithTheControllersMessage() throws Exception {
        PipelineRunner r = runner();
        assertThatThrownBy(() -> r.run("""
                        restorePitr(database: 'orders', target: '/tmp/lifeboat-jenkins-never',
                                targetTime: '2001-01-01T00:00:00Z')
                        """))
                .isInstanceOf(PipelineRunner.BuildFailed.class)
                .hasMessageContaining("RESTORE_PITR of orders failed")
                .hasMessageContaining("2001-01-01");
        assertThatThrownBy(() -> r.run("backupFull(database: 'nope')"))
                .hasMessageContaining("the controller answered 40")
                .hasMessageContaining("nope");
        assertThatThrownBy(() -> r.run("backupFull(database: 'orders', credentialsId: 'missing')"))
                .hasMessageContaining("Could not find credentials entry with ID 'missing'");
    }
}
