package dev.lifeboat.kestra;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.executions.metrics.Gauge;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotNull;
import java.util.List;
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
        title = "Read a database's RPO per region and its RTO estimate",
        description = "Reads the controller's measured status of the database (GET /api/v1/status/{database}): the "
                + "RPO in every region its repository is copied to, the RTO estimate from the newest drill, and "
                + "whether each meets the tier. Never fails on what it reads; use RpoGate for that.")
@Plugin(examples = {@Example(title = "Log the RPO of every region", code = """
                            id: status
                            type: "dev.lifeboat.kestra.ReplicationStatus"
                            url: https://lifeboat.example.com:8443
                            token: "{{ secret('LIFEBOAT_TOKEN') }}"
                            database: orders
                            """)})
public class ReplicationStatus extends LifeboatTask implements RunnableTask<ReplicationStatus.Output> {
    @Schema(title = "The database, as the controller's inventory names it")
    @NotNull
    protected Property<String> database;

    @Override
    public Output run(RunContext rc) throws Exception {
        String db = rc.render(database).as(String.class).orElseThrow();
        JsonNode s = api(rc).get("api/v1/status/" + db);
        for (JsonNode r : s.path("regions")) {
            rc.logger()
                    .info(
                            "{} region {}: RPO {} s{}{}",
                            db,
                            r.path("region").asText(),
                            r.path("rpoSeconds").isNumber()
                                    ? Math.round(r.path("rpoSeconds").asDouble())
                                    : "unknown",
                            r.path("meets").asBoolean() ? " (meets the tier)" : " (NOT within the tier)",
                            r.path("stale").asBoolean() ? ", stale" : "");
            if (r.path("rpoSeconds").isNumber()) {
                rc.metric(Gauge.of(
                        "rpo.seconds",
                        r.path("rpoSeconds").asDouble(),
                        "database",
                        db,
                        "region",
                        r.path("region").asText()));
            }
        }
        if (s.path("rto").path("seconds").isNumber()) {
            rc.metric(Gauge.of(
                    "rto.estimate.seconds", s.path("rto").path("seconds").asDouble(), "database", db));
        }
        return Output.of(s);
    }

    @Builder
    @Getter
    public static class Output implements TaskOutput {
        @Schema(title = "The primary region's RPO in seconds")
        private final Double rpoSeconds;

        @Schema(title = "The RTO estimate in seconds (absent before a drill measured one)")
        private final Double rtoSeconds;

        @Schema(title = "The tier's RPO target in seconds")
        private final Long rpoTargetSeconds;

        @Schema(title = "The tier's RTO target in seconds")
        private final Long rtoTargetSeconds;

        @Schema(title = "Every region's RPO within the target")
        private final boolean rpoMet;

        @Schema(title = "The RTO estimate within the target")
        private final boolean rtoMet;

        @Schema(title = "RPO and RTO both met")
        private final boolean compliant;

        @Schema(title = "Per region: region, primary, rpoSeconds, measuredAt, stale, meets")
        private final List<Map<String, Object>> regions;

        @Schema(title = "Why the status is what it is (e.g. no drill yet)")
        private final List<String> problems;

        static Output of(JsonNode s) {
            return Output.builder()
                    .rpoSeconds(
                            s.path("rpoSeconds").isNumber()
                                    ? s.path("rpoSeconds").asDouble()
                                    : null)
                    .rtoSeconds(
                            s.path("rto").path("seconds").isNumber()
                                    ? s.path("rto").path("seconds").asDouble()
                                    : null)
                    .rpoTargetSeconds(s.path("rpoTargetSeconds").asLong())
                    .rtoTargetSeconds(s.path("rtoTargetSeconds").asLong())
                    .rpoMet(s.path("rpoMet").asBoolean())
                    .rtoMet(s.path("rtoMet").asBoolean())
                    .compliant(s.path("compliant").asBoolean())
                    .regions(ControllerApi.JSON.convertValue(s.path("regions"), new TypeReference<>() {}))
                    .problems(ControllerApi.JSON.convertValue(s.path("problems"), new TypeReference<>() {}))
                    .build();
        }
    }
}
