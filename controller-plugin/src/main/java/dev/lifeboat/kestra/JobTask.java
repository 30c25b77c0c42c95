package dev.lifeboat.kestra;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.kestra.core.models.executions.metrics.Counter;
import io.kestra.core.models.executions.metrics.Timer;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import lombok.AccessLevel;
import lombok.Builder;
import lombok.EqualsAndHashCode;
import lombok.Getter;
import lombok.NoArgsConstructor;
import lombok.ToString;
import lombok.experimental.SuperBuilder;
import org.slf4j.Logger;

/**
 * A task that runs one Lifeboat job through the controller (which hands it to the database's agent) and follows it to
 * its end: the job's events go to the task log, its result becomes the task's outputs and metrics, and a job that
 * does not complete fails the task with the controller's message. The job id is derived from the task run, so a
 * retried HTTP call never starts a second job, and killing the task cancels the job.
 */
@SuperBuilder
@ToString
@EqualsAndHashCode
@Getter
@NoArgsConstructor
public abstract class JobTask extends LifeboatTask implements RunnableTask<JobTask.Output> {
    private static final List<String> ENDED = List.of("COMPLETED", "FAILED", "CANCELLED");

    @Schema(title = "The database, as the controller's inventory names it")
    @NotNull
    protected Property<String> database;

    @Schema(title = "How often the job's progress is read from the controller")
    @Builder.Default
    protected Property<Duration> pollInterval = Property.ofValue(Duration.ofSeconds(1));

    @Getter(AccessLevel.NONE)
    @ToString.Exclude
    @EqualsAndHashCode.Exclude
    @JsonIgnore
    private transient volatile Runnable cancel;

    /** The controller's job type (the same names as the CLI and the REST API). */
    protected abstract String jobType();

    /** The job's parameters (the agent's names, see docs/agent.md); null values are left out. */
    protected abstract Map<String, Object> params(RunContext runContext) throws Exception;

    /** Extra outputs and metrics from the job's result; the default adds none. */
    protected void describe(RunContext runContext, JsonNode result, Output.OutputBuilder out, String db) {}

    @Override
    public Output run(RunContext runContext) throws Exception {
        Logger log = runContext.logger();
        ControllerApi api = api(runContext);
        String db = runContext.render(database).as(String.class).orElseThrow();
        Duration poll = runContext.render(pollInterval).as(Duration.class).orElse(Duration.ofSeconds(1));
        Map<String, Object> params = new LinkedHashMap<>();
        params(runContext).forEach((k, v) -> {
            if (v != null) {
                params.put(k, v);
            }
        });
        String id = jobId(runContext);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", id);
        body.put("database", db);
        body.put("type", jobType());
        body.put("params", params);
        api.post("api/v1/jobs", body);
        log.info("{} of {} submitted to the Lifeboat controller as job {} with {}", jobType(), db, id, params);
        cancel = () -> {
            try {
                api.post("api/v1/jobs/" + id + "/cancel", Map.of("reason", "the Kestra task was killed"));
            } catch (Exception e) {
                log.warn("could not cancel job {}: {}", id, e.getMessage());
            }
        };
        JsonNode job;
        long seen = 0;
        Progress progress = new Progress();
        while (true) {
            for (JsonNode e : api.get("api/v1/jobs/" + id + "/events")) {
                if (e.path("sequence").asLong() > seen) {
                    seen = e.path("sequence").asLong();
                    progress.log(log, e);
                }
            }
            job = api.get("api/v1/jobs/" + id);
            if (ENDED.contains(job.path("state").asText())) {
                break;
            }
            Thread.sleep(poll.toMillis());
        }
        cancel = null;
        String state = job.path("state").asText();
        JsonNode result = job.hasNonNull("resultJson")
                ? ControllerApi.JSON.readTree(job.path("resultJson").asText())
                : ControllerApi.JSON.nullNode();
        Output.OutputBuilder out = Output.builder()
                .jobId(id)
                .type(jobType())
                .database(db)
                .state(state)
                .message(job.path("message").asText(null))
                .result(result.isObject() ? ControllerApi.JSON.convertValue(result, new TypeReference<>() {}) : null);
        Duration took = duration(job);
        if (took != null) {
            out.seconds(took.toMillis() / 1000.0);
            runContext.metric(Timer.of("duration", took, "database", db, "type", jobType()));
        }
        describe(runContext, result, out, db);
        Output o = out.build();
        if (o.getBytes() != null) {
            runContext.metric(Counter.of("bytes", o.getBytes(), "database", db, "type", jobType()));
        }
        if (!state.equals("COMPLETED")) {
            throw new LifeboatJobException(jobType() + " of " + db + " " + state.toLowerCase(Locale.ROOT) + " (job "
                    + id + "): " + job.path("message").asText("no message"));
        }
        log.info("{} of {} completed in {} s", jobType(), db, o.getSeconds());
        return o;
    }

    @Override
    public void kill() {
        Runnable c = cancel;
        if (c != null) {
            c.run();
        }
    }

    /** The same task run always maps to the same job: a repeated submission is answered with the existing job. */
    static String jobId(RunContext runContext) {
        RunContext.TaskRunInfo t = runContext.taskRunInfo();
        String raw = "kestra-" + t.executionId() + "-" + t.taskRunId();
        String id = raw.replaceAll("[^A-Za-z0-9._-]", "-");
        return id.length() > 128 ? id.substring(0, 128) : id;
    }

    private static Duration duration(JsonNode job) {
        if (!job.hasNonNull("startedAt") || !job.hasNonNull("endedAt")) {
            return null;
        }
        return Duration.between(
                Instant.parse(job.path("startedAt").asText()),
                Instant.parse(job.path("endedAt").asText()));
    }

    /** Logs every event but progress, which it logs when the phase changes or every ten seconds. */
    private static final class Progress {
        private String phase;
        private long lastAt;

        void log(Logger log, JsonNode e) {
            String kind = e.path("kind").asText();
            String message = e.path("message").asText("");
            if (!kind.equals("PROGRESS")) {
                log.info("{}{}", kind.toLowerCase(Locale.ROOT), message.isEmpty() ? "" : ": " + message);
                return;
            }
            String p = e.path("phase").asText("");
            long now = System.nanoTime();
            if (p.equals(phase) && now - lastAt < 10_000_000_000L && message.isEmpty()) {
                return;
            }
            phase = p;
            lastAt = now;
            long done = e.path("bytesDone").asLong();
            long total = e.path("bytesTotal").asLong();
            log.info(
                    "{}: {} MiB{}{}",
                    p.isEmpty() ? "progress" : p,
                    done >> 20,
                    total > 0
                            ? String.format(Locale.ROOT, " of %d MiB (%.0f %%)", total >> 20, done * 100.0 / total)
                            : "",
                    message.isEmpty() ? "" : " — " + message);
        }
    }

    /** What every job task returns; the fields a job type does not have stay empty. */
    @Builder
    @Getter
    public static class Output implements TaskOutput {
        @Schema(title = "The controller's job id")
        private final String jobId;

        @Schema(title = "The job type")
        private final String type;

        @Schema(title = "The database")
        private final String database;

        @Schema(title = "COMPLETED (a task whose job failed or was cancelled fails)")
        private final String state;

        @Schema(title = "The job's last message")
        private final String message;

        @Schema(title = "The agent's result, as the REST API's resultJson holds it")
        private final Map<String, Object> result;

        @Schema(title = "Seconds the job ran")
        private final Double seconds;

        @Schema(title = "Bytes the job read (backups) or wrote (restores)")
        private final Long bytes;

        @Schema(title = "The backup made or restored")
        private final String backupId;

        @Schema(title = "The backup's start LSN")
        private final String startLsn;

        @Schema(title = "The backup's stop LSN")
        private final String stopLsn;

        @Schema(title = "A drill's outcome: PASSED or FAILED")
        private final String outcome;

        @Schema(title = "A drill's measured RTO in seconds: fetch, WAL replay and validation")
        private final Double rtoSeconds;

        @Schema(title = "A drill's measured RPO in seconds (absent when it could not be measured)")
        private final Double rpoSeconds;

        @Schema(title = "The drill report, rendered as Markdown, on the controller")
        private final String reportUri;
    }
}
