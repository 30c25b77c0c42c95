package dev.lifeboat.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.util.Json;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command, small: backup under load, restore, validation, then the embedded control plane's status.
 * */
class QuickstartTest {
    @TempDir
    Path tmp;

    @Test
    void quickstartEndsWithTheStandardTiersStatusMeasured() throws Exception {
        PgTestSupport.CliResult r = PgTestSupport.cli(
                "quickstart",
                "--dir",
                tmp.resolve("qs").toString(),
                "--scale",
                "1",
                "--load-seconds",
                "3",
                "--control-plane-seconds",
                "25",
                "--json");
        assertThat(r.exitCode()).as(r.all()).isZero();
        JsonNode out = Json.MAPPER.readTree(r.out());
        assertThat(out.path("validation").path("problems").isArray())
                .as(r.out())
                .isTrue();
        assertThat(out.path("validation").path("problems").size()).as(r.out()).isZero();
        JsonNode cp = out.path("controlPlane");
        assertThat(cp.path("jobs").path("DR_DRILL completed").asLong())
                .as(r.out())
                .isEqualTo(1);
        assertThat(cp.path("jobs").path("BACKUP_INCREMENTAL completed").asLong())
                .as(r.out())
                .isPositive();
        JsonNode status = cp.path("status").get(0);
        assertThat(status.path("tier").asText()).isEqualTo("STANDARD");
        assertThat(status.path("agentState").asText()).isEqualTo("connected");
        // measured, not assumed: an RPO sample from the agent's probe and an RTO from the drill's own throughput
        assertThat(status.path("rpoSeconds").isNumber()).as(status.toString()).isTrue();
        assertThat(status.path("rto").path("seconds").asDouble())
                .as(status.toString())
                .isPositive();
        assertThat(status.path("rto").path("measuredBy").asText()).isNotBlank();
        assertThat(status.path("compliant").asBoolean()).as(status.toString()).isTrue();
    }
}
