package dev.lifeboat.kestra;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.annotations.PluginProperty;
import io.kestra.core.models.conditions.ConditionContext;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.triggers.AbstractTrigger;
import io.kestra.core.models.triggers.PollingTriggerInterface;
import io.kestra.core.models.triggers.TriggerContext;
import io.kestra.core.models.triggers.TriggerEvaluationResult;
import io.kestra.core.models.triggers.TriggerOutput;
import io.kestra.core.models.triggers.TriggerService;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
        title = "Start a flow when the Lifeboat controller raises an alert",
        description = "Polls the controller's open alerts (GET /api/v1/alerts) and starts one execution for the "
                + "newly raised ones that match `kinds` and `database`, e.g. an RPO breach (rpo-breach), a failed "
                + "drill (health-check-failed) or an agent gone (agent-gone). An alert starts one flow; a worker that "
                + "restarts within two intervals of an alert may start a second one for it.")
@Plugin(
        examples = {@Example(title = "Page the on-call engineer on an RPO breach of `orders`", full = true, code = """
                            id: on-rpo-breach
                            namespace: company.db
                            tasks:
                              - id: tell
                                type: "io.kestra.plugin.core.log.Log"
                                message: "{{ trigger.summary }}"
                            triggers:
                              - id: rpo
                                type: "dev.lifeboat.kestra.AlertTrigger"
                                url: https://lifeboat.example.com:8443
                                token: "{{ secret('LIFEBOAT_TOKEN') }}"
                                kinds: [rpo-breach]
                                database: orders
                                interval: PT30S
                            """)
        })
public class AlertTrigger extends AbstractTrigger
        implements PollingTriggerInterface, TriggerOutput<AlertTrigger.Output> {
    @Schema(title = "The Lifeboat controller's base URL")
    @NotNull
    protected Property<String> url;

    @Schema(title = "A controller API token (role viewer is enough)")
    @NotNull
    @PluginProperty(secret = true)
    protected Property<String> token;

    @Schema(
            title = "Alert kinds to start on (default: all)",
            description = "rpo-breach, replication-lag, rto-at-risk, backup-failures, storage-nearly-full, "
                    + "health-check-failed, agent-gone")
    protected Property<List<String>> kinds;

    @Schema(title = "Only alerts of this database (default: any)")
    protected Property<String> database;

    /** Alerts each trigger has started a flow for (in this worker: a restarted worker may start one again). */
    private static final Map<String, Set<String>> FIRED = new ConcurrentHashMap<>();

    @Schema(title = "How often the controller is asked")
    @Builder.Default
    private final Duration interval = Duration.ofSeconds(60);

    @Override
    public Optional<TriggerEvaluationResult> eval(ConditionContext conditionContext, TriggerContext context)
            throws Exception {
        RunContext rc = conditionContext.getRunContext();
        List<String> wanted = kinds == null ? List.of() : rc.render(kinds).asList(String.class);
        String db = rc.render(database).as(String.class).orElse(null);
        // alerts raised in the last two intervals (evaluations drift) that this trigger has not started a flow for
        Instant evaluated =
                context != null && context.getDate() != null ? context.getDate().toInstant() : Instant.now();
        Instant since = evaluated.minus(interval.multipliedBy(2)).minusSeconds(5);
        String key = context == null
                ? String.valueOf(getId())
                : context.getTenantId() + "/" + context.getNamespace() + "/" + context.getFlowId() + "/" + getId();
        Set<String> fired = FIRED.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet());
        ControllerApi api = new ControllerApi(
                rc.render(url).as(String.class).orElseThrow(),
                rc.render(token).as(String.class).orElseThrow().strip());
        List<Map<String, Object>> fresh = new ArrayList<>();
        JsonNode first = null;
        for (JsonNode a : api.get("api/v1/alerts")) {
            if (!wanted.isEmpty() && !wanted.contains(a.path("kind").asText())) {
                continue;
            }
            if (db != null && !db.equals(a.path("database").asText(null))) {
                continue;
            }
            if (!a.hasNonNull("raisedAt")
                    || !Instant.parse(a.path("raisedAt").asText()).isAfter(since)) {
                continue;
            }
            if (!fired.add(a.path("id").asText() + "@" + a.path("raisedAt").asText())) {
                continue;
            }
            if (first == null) {
                first = a;
            }
            fresh.add(ControllerApi.JSON.convertValue(a, new TypeReference<>() {}));
        }
        if (first == null) {
            return Optional.empty();
        }
        rc.logger()
                .info(
                        "{} new Lifeboat alert(s), first: {}",
                        fresh.size(),
                        first.path("summary").asText());
        Output out = Output.builder()
                .alertId(first.path("id").asText())
                .kind(first.path("kind").asText())
                .severity(first.path("severity").asText())
                .database(first.path("database").asText(null))
                .region(first.path("region").asText(null))
                .summary(first.path("summary").asText())
                .raisedAt(first.path("raisedAt").asText())
                .alerts(fresh)
                .build();
        return Optional.of(TriggerService.generateEvaluationResult(this, conditionContext, out));
    }

    @Builder
    @Getter
    public static class Output implements TaskOutput {
        @Schema(title = "The first new alert's id")
        private final String alertId;

        @Schema(title = "Its kind, e.g. rpo-breach")
        private final String kind;

        @Schema(title = "warning or critical")
        private final String severity;

        private final String database;
        private final String region;

        @Schema(title = "What the controller says, e.g. 'orders: RPO in eu-west is 95 s, over the HIGH tier's 60 s'")
        private final String summary;

        private final String raisedAt;

        @Schema(title = "Every new alert that matched, as the REST API returns them")
        private final List<Map<String, Object>> alerts;
    }
}
