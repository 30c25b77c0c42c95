package dev.lifeboat.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped rules and dashboard checked by Prometheus' own promtool (Debian's {@code prometheus} package, installed
 * by bin/setup): the rules' unit tests (alerts that must and must not fire, with their text) pass, and every
 * dashboard query parses as PromQL. That each name they read is a series Lifeboat really exports is checked against
 * live scrapes in ControlPlaneTest.
 */
class PrometheusRulesTest {
    @TempDir
    Path tmp;

    @Test
    void theRulesUnitTestsPass() throws Exception {
        Result check = promtool(MonitoringFiles.RULES.getParent(), "check", "rules", "lifeboat-rules.yml");
        assertThat(check.exit()).as(check.output()).isZero();
        Result test = promtool(MonitoringFiles.RULES.getParent(), "test", "rules", "lifeboat-rules.test.yml");
        assertThat(test.exit()).as(test.output()).isZero();
        assertThat(test.output()).contains("SUCCESS");
        // every alert the rules define is exercised by the unit tests
        String tests = Files.readString(MonitoringFiles.RULES_TEST);
        for (JsonNode group : new ObjectMapper(new YAMLFactory())
                .readTree(MonitoringFiles.RULES.toFile())
                .path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                String name = rule.path("alert").asText();
                assertThat(tests).as("a unit test of " + name).contains("alertname: " + name);
            }
        }
    }

    @Test
    void everyDashboardQueryIsValidPromQl() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(MonitoringFiles.DASHBOARD.toFile());
        assertThat(dashboard.path("uid").asText()).isEqualTo("lifeboat-recoverability");
        for (JsonNode panel : dashboard.path("panels")) {
            assertThat(panel.path("datasource").path("uid").asText())
                    .as(panel.path("title").asText())
                    .isEqualTo("${datasource}");
            assertThat(panel.path("targets")).as(panel.path("title").asText()).isNotEmpty();
        }
        // promtool parses recording rules' expressions as Prometheus would: one rule per panel query
        List<String> exprs = MonitoringFiles.dashboardExpressions();
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (int i = 0; i < exprs.size(); i++) {
            rules.append("      - record: dashboard_query_")
                    .append(i)
                    .append("\n        expr: '")
                    .append(exprs.get(i).replace("'", "''"))
                    .append("'\n");
        }
        Path f = tmp.resolve("dashboard-queries.yml");
        Files.writeString(f, rules);
        Result check = promtool(tmp, "check", "rules", f.getFileName().toString());
        assertThat(check.exit()).as(check.output()).isZero();
        assertThat(check.output()).contains("SUCCESS: " + exprs.size() + " rules found");
    }

    record Result(int exit, String output) {}

    static Result promtool(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("promtool"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("promtool did not finish: " + out);
        }
        return new Result(p.exitValue(), out);
    }
}
