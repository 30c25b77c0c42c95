package dev.lifeboat.kestra;

import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Metric;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.executions.metrics.Counter;
import io.kestra.core.models.executions.metrics.Timer;
import io.kestra.core.models.property.Property;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.LinkedHashMap;
import java.util.Map;
import lombok.EqualsAndHashCode;
import lombok.Getter;
import lombok.NoArgsConstructor;
import lombok.ToString;
import lombok.experimental.SuperBuilder;

@SuperBuilder
@ToString
@EqualsAndHashCode
@Getter
@NoArgsConstructor
@Schema(
        title = "Take a full backup of a PostgreSQL database",
        description = "Runs the BACKUP_FULL job on the database's agent through the Lifeboat controller: an online "
                + "backup of the whole cluster into its repository. Outputs the backup id and its LSNs.")
@Plugin(
        examples = {@Example(title = "Back up `orders` before a migration", full = true, code = """
                            id: backup-before-migration
                            namespace: company.db
                            tasks:
                              - id: backup
                                type: "dev.lifeboat.kestra.BackupFull"
                                url: https://lifeboat.example.com:8443
                                token: "{{ secret('LIFEBOAT_TOKEN') }}"
                                database: orders
                              - id: migrate
                                type: "io.kestra.plugin.core.log.Log"
                                message: "backup {{ outputs.backup.backupId }} taken at {{ outputs.backup.stopLsn }}"
                            """)},
        metrics = {
            @Metric(name = "bytes", type = Counter.TYPE, unit = "bytes", description = "bytes read from the database"),
            @Metric(name = "duration", type = Timer.TYPE, description = "how long the job ran")
        })
public class BackupFull extends JobTask {
    @Schema(title = "Compression: none, low, medium, high or lz4 (default: the agent's setting for the database)")
    protected Property<String> compression;

    @Schema(title = "Parallel streams (default: the agent's setting for the database)")
    protected Property<Integer> parallel;

    @Override
    protected String jobType() {
        return "BACKUP_FULL";
    }

    @Override
    protected Map<String, Object> params(RunContext runContext) throws Exception {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("compression", runContext.render(compression).as(String.class).orElse(null));
        p.put("parallel", runContext.render(parallel).as(Integer.class).orElse(null));
        return p;
    }

    @Override
    protected void describe(RunContext runContext, JsonNode result, Output.OutputBuilder out, String db) {
        out.backupId(result.path("id").asText(null))
                .startLsn(result.path("startLsn").asText(null))
                .stopLsn(result.path("stopLsn").asText(null));
        if (result.path("bytesRead").isNumber()) {
            out.bytes(result.path("bytesRead").asLong());
        }
    }
}
