package dev.lifeboat.kestra;

import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Metric;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.executions.metrics.Counter;
import io.kestra.core.models.executions.metrics.Gauge;
import io.kestra.core.models.executions.metrics.Timer;
import io.kestra.core.models.property.Property;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.LinkedHashMap;
import java.util.List;
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
        title = "Run a DR drill: restore, recover, prove it, measure RTO and RPO against the tier",
        description = "Runs the DR_DRILL job through the Lifeboat controller. The agent restores the newest backup "
                + "(from `sourceRegion`'s copy alone, as if the primary region were gone, or from the primary), "
                + "replays the archived WAL (or to a PITR target), starts PostgreSQL on the copy, validates it and "
                + "runs the `assertions`, measures the RTO (fetch, WAL replay, validation) and the RPO (the newest "
                + "commit recovered against the source's), judges both against the database's tier (or "
                + "`rtoTarget`/`rpoTarget`), and deletes the copy. The controller keeps the drill report as audit "
                + "evidence. The task fails when the drill does: the copy did not validate, an assertion failed, or "
                + "an objective was missed.")
@Plugin(
        examples = {
            @Example(title = "Sunday's drill from the DR region, with a business check", full = true, code = """
                            id: nightly-dr-drill
                            namespace: company.db
                            tasks:
                              - id: drill
                                type: "dev.lifeboat.kestra.DrDrill"
                                url: https://lifeboat.example.com:8443
                                token: "{{ secret('LIFEBOAT_TOKEN') }}"
                                database: orders
                                sourceRegion: dr
                                assertions:
                                  - name: orders of the last day
                                    database: shop
                                    sql: select count(*) from orders where created_at > now() - interval '1 day'
                                    expect: "> 0"
                              - id: report
                                type: "io.kestra.plugin.core.log.Log"
                                message: >-
                                  {{ outputs.drill.outcome }}: RTO {{ outputs.drill.rtoSeconds }} s,
                                  report {{ outputs.drill.reportUri }}
                            triggers:
                              - id: sunday
                                type: "io.kestra.plugin.core.trigger.Schedule"
                                cron: "0 4 * * 0"
                            """)
        },
        metrics = {
            @Metric(name = "rto.seconds", type = Gauge.TYPE, unit = "seconds", description = "the drill's RTO"),
            @Metric(name = "rpo.seconds", type = Gauge.TYPE, unit = "seconds", description = "the drill's RPO"),
            @Metric(name = "bytes", type = Counter.TYPE, unit = "bytes", description = "bytes restored"),
            @Metric(name = "duration", type = Timer.TYPE, description = "how long the drill ran")
        })
public class DrDrill extends JobTask {
    @Schema(title = "Restore from this replication region's copy alone (default: the policy's, else the primary)")
    protected Property<String> sourceRegion;

    @Schema(title = "The backup to restore (default: the newest)")
    protected Property<String> backupId;

    @Schema(
            title = "Checks on the recovered copy",
            description = "Each has `sql` (one query; one value is read: the first column of the first row), "
                    + "`expect` (e.g. `> 0`, `= 'shipped'`, `= null`), and optional `name`, `database` (default "
                    + "postgres) and `timeout` (default 5m). They run as a read-only role, not a superuser, and are "
                    + "rolled back.")
    protected Property<List<Map<String, String>>> assertions;

    @Schema(title = "The RTO to judge against, e.g. 15m (default: the database's tier)")
    protected Property<String> rtoTarget;

    @Schema(title = "The RPO to judge against, e.g. 1m (default: the database's tier)")
    protected Property<String> rpoTarget;

    @Schema(title = "Recover to this time instead of the end of the WAL (ISO-8601)")
    protected Property<String> targetTime;

    @Schema(title = "Recover to this LSN")
    protected Property<String> targetLsn;

    @Schema(title = "Recover to this transaction id")
    protected Property<String> targetXid;

    @Schema(title = "Recover to this named restore point")
    protected Property<String> targetName;

    @Schema(title = "Recover to the end of the archived WAL (the default)")
    protected Property<Boolean> targetLatest;

    @Schema(title = "Stop just before the target instead of just after it")
    protected Property<Boolean> exclusive;

    @Schema(title = "The timeline to recover along (default: latest)")
    protected Property<String> timeline;

    @Override
    protected String jobType() {
        return "DR_DRILL";
    }

    @Override
    protected Map<String, Object> params(RunContext rc) throws Exception {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("source_region", rc.render(sourceRegion).as(String.class).orElse(null));
        p.put("backup_id", rc.render(backupId).as(String.class).orElse(null));
        List<Map<String, String>> a =
                assertions == null ? null : rc.render(assertions).asList(Map.class);
        p.put("assertions", a == null || a.isEmpty() ? null : ControllerApi.JSON.writeValueAsString(a));
        p.put("rto_target", rc.render(rtoTarget).as(String.class).orElse(null));
        p.put("rpo_target", rc.render(rpoTarget).as(String.class).orElse(null));
        PitrTarget.put(rc, p, targetTime, targetLsn, targetXid, targetName, targetLatest, exclusive, timeline);
        return p;
    }

    @Override
    protected void describe(RunContext rc, JsonNode result, Output.OutputBuilder out, String db) {
        out.backupId(result.path("backup_id").asText(null))
                .outcome(result.path("outcome").asText(null));
        if (result.path("restore_bytes").isNumber()) {
            out.bytes(result.path("restore_bytes").asLong());
        }
        JsonNode rto = result.path("rto").path("seconds");
        if (rto.isNumber()) {
            out.rtoSeconds(rto.asDouble());
            rc.metric(Gauge.of("rto.seconds", rto.asDouble(), "database", db));
        }
        JsonNode rpo = result.path("rpo");
        if (rpo.path("measured").asBoolean(false) && rpo.path("seconds").isNumber()) {
            out.rpoSeconds(rpo.path("seconds").asDouble());
            rc.metric(Gauge.of("rpo.seconds", rpo.path("seconds").asDouble(), "database", db));
        }
        try {
            out.reportUri(
                    api(rc).resolve("api/v1/drills/" + jobId(rc) + "/report.md").toString());
        } catch (Exception e) {
            rc.logger().warn("cannot name the drill report: {}", e.getMessage());
        }
    }
}
