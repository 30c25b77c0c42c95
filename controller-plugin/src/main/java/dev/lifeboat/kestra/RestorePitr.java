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
import jakarta.validation.constraints.NotNull;
import java.util.LinkedHashMap;
import java.util.Map;
import lombok.Builder;
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
        title = "Restore a PostgreSQL database to a point in time",
        description = "Runs the RESTORE_PITR job through the Lifeboat controller: the agent restores the newest backup "
                + "before the target into an empty directory on its host, recovers to exactly one of targetTime, "
                + "targetLsn, targetXid, targetName or targetLatest, and (by default) starts the copy and validates "
                + "it. The task fails with the agent's reason if the copy does not validate.")
@Plugin(
        examples = {@Example(title = "Restore `orders` as it was at 09:00 UTC and prove it", code = """
                            id: restore
                            type: "dev.lifeboat.kestra.RestorePitr"
                            url: https://lifeboat.example.com:8443
                            token: "{{ secret('LIFEBOAT_TOKEN') }}"
                            database: orders
                            target: /var/lib/postgresql/restore-{{ execution.id }}
                            targetTime: "2026-12-05T09:00:00Z"
                            """)},
        metrics = {
            @Metric(name = "bytes", type = Counter.TYPE, unit = "bytes", description = "bytes restored"),
            @Metric(name = "duration", type = Timer.TYPE, description = "how long the job ran")
        })
public class RestorePitr extends JobTask {
    @Schema(title = "An absolute, empty (or absent) directory on the agent's host to restore into")
    @NotNull
    protected Property<String> target;

    @Schema(title = "Recover to this time (ISO-8601, e.g. 2026-12-05T09:00:00Z)")
    protected Property<String> targetTime;

    @Schema(title = "Recover to this LSN (e.g. 0/5000000)")
    protected Property<String> targetLsn;

    @Schema(title = "Recover to this transaction id")
    protected Property<String> targetXid;

    @Schema(title = "Recover to this named restore point")
    protected Property<String> targetName;

    @Schema(title = "Recover to the end of the archived WAL")
    protected Property<Boolean> targetLatest;

    @Schema(title = "Stop just before the target instead of just after it")
    protected Property<Boolean> exclusive;

    @Schema(title = "The timeline to recover along (default: latest)")
    protected Property<String> timeline;

    @Schema(title = "The backup to start from (default: the newest before the target)")
    protected Property<String> backupId;

    @Schema(title = "Start the restored copy and validate it (checksums, amcheck, visibility map, row counts)")
    @Builder.Default
    protected Property<Boolean> validate = Property.ofValue(true);

    @Schema(title = "Parallel streams (default: the agent's setting for the database)")
    protected Property<Integer> parallel;

    @Override
    protected String jobType() {
        return "RESTORE_PITR";
    }

    @Override
    protected Map<String, Object> params(RunContext rc) throws Exception {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("target", rc.render(target).as(String.class).orElseThrow());
        PitrTarget.put(rc, p, targetTime, targetLsn, targetXid, targetName, targetLatest, exclusive, timeline);
        p.put("backup_id", rc.render(backupId).as(String.class).orElse(null));
        p.put(
                "validate",
                rc.render(validate).as(Boolean.class).map(String::valueOf).orElse(null));
        p.put("parallel", rc.render(parallel).as(Integer.class).orElse(null));
        return p;
    }

    @Override
    protected void describe(RunContext rc, JsonNode result, Output.OutputBuilder out, String db) {
        JsonNode r = result.path("restore");
        out.backupId(r.path("backupId").asText(null));
        if (r.path("bytes").isNumber()) {
            out.bytes(r.path("bytes").asLong());
        }
    }
}
