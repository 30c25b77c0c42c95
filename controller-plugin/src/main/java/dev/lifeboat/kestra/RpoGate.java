package dev.lifeboat.kestra;

import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotNull;
import java.util.ArrayList;
import java.util.List;
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
        title = "Fail the flow when a database is outside its RPO (or RTO)",
        description = "Reads the controller's measured status of the database and fails when its RPO (any region it "
                + "counts) or, with checkRto, its RTO estimate is outside the tier, or when the controller cannot "
                + "tell: a gate that cannot see is closed. Put it before a deploy or a risky migration.")
@Plugin(
        examples = {
            @Example(title = "Stop a deploy while `orders` could lose more than its RPO", full = true, code = """
                            id: rpo-gate-before-deploy
                            namespace: company.app
                            tasks:
                              - id: gate
                                type: "dev.lifeboat.kestra.RpoGate"
                                url: https://lifeboat.example.com:8443
                                token: "{{ secret('LIFEBOAT_TOKEN') }}"
                                database: orders
                              - id: deploy
                                type: "io.kestra.plugin.core.log.Log"
                                message: deploying
                            """)
        })
public class RpoGate extends LifeboatTask implements RunnableTask<ReplicationStatus.Output> {
    @Schema(title = "The database, as the controller's inventory names it")
    @NotNull
    protected Property<String> database;

    @Schema(title = "Also require the RTO estimate to be within the tier")
    @Builder.Default
    protected Property<Boolean> checkRto = Property.ofValue(true);

    @Override
    public ReplicationStatus.Output run(RunContext rc) throws Exception {
        String db = rc.render(database).as(String.class).orElseThrow();
        boolean rto = rc.render(checkRto).as(Boolean.class).orElse(true);
        JsonNode s = api(rc).get("api/v1/status/" + db);
        List<String> why = new ArrayList<>();
        if (!s.path("rpoMet").asBoolean()) {
            why.add(
                    s.path("rpoSeconds").isNumber()
                            ? String.format(
                                    "RPO %.0f s is over the target %d s",
                                    s.path("rpoSeconds").asDouble(),
                                    s.path("rpoTargetSeconds").asLong())
                            : "RPO is not known");
        }
        if (rto && !s.path("rtoMet").asBoolean()) {
            why.add(
                    s.path("rto").path("seconds").isNumber()
                            ? String.format(
                                    "RTO estimate %.0f s is over the target %d s",
                                    s.path("rto").path("seconds").asDouble(),
                                    s.path("rtoTargetSeconds").asLong())
                            : "RTO is not known (no drill has measured one)");
        }
        if (!why.isEmpty()) {
            List<String> problems = new ArrayList<>();
            s.path("problems").forEach(p -> problems.add(p.asText()));
            throw new LifeboatJobException(db + " is outside its objectives: " + String.join("; ", why)
                    + (problems.isEmpty() ? "" : " (" + String.join("; ", problems) + ")"));
        }
        rc.logger().info("{} is within its RPO{}", db, rto ? " and RTO" : "");
        return ReplicationStatus.Output.of(s);
    }
}
