package dev.lifeboat.controller.dashboard;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.jobs.JobRecord;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the controller's own REPLICATE jobs say of a database's regions: the control state an operator last set
 * (pause, resume, stop) and how the last replication pass through the controller ended. The region names come from
 * each job's result, which names every region it acted on (a job without a region parameter acts on all of them).
 */
final class ReplicationStates {
    /** {@code control} null when never set through the controller; {@code pass} null when no pass ran through it. */
    record State(String control, Instant controlAt, String pass, String passMessage, Instant passAt) {
        boolean paused() {
            return "paused".equals(control) || "stopped".equals(control);
        }

        boolean failing() {
            return "failed".equals(pass);
        }

        /** "paused 3 min ago; last pass ok 10 min ago: 12 objects copied", as a table cell says it. */
        String describe(Instant now) {
            StringBuilder b = new StringBuilder();
            if (control != null) {
                b.append(control).append(' ').append(Html.age(controlAt, now));
            }
            if (pass != null) {
                b.append(control != null ? "; " : "")
                        .append("last pass ")
                        .append(pass)
                        .append(' ')
                        .append(Html.age(passAt, now))
                        .append(": ")
                        .append(passMessage);
            }
            return b.toString();
        }
    }

    /** What a replica's cell says with no state: the controller has not run or controlled its replication. */
    static final String NONE = "no pass or control through the controller";

    private static final ObjectMapper JSON = new ObjectMapper();

    private ReplicationStates() {}

    /** Per region, from a database's ended REPLICATE jobs, newest first. */
    static Map<String, State> of(List<JobRecord> newestFirst) {
        Map<String, String> control = new HashMap<>();
        Map<String, Instant> controlAt = new HashMap<>();
        Map<String, String> pass = new HashMap<>();
        Map<String, String> passMessage = new HashMap<>();
        Map<String, Instant> passAt = new HashMap<>();
        for (JobRecord j : newestFirst) {
            JsonNode result = parse(j.resultJson());
            if (j.params().containsKey("control")) {
                if (j.state().equals("COMPLETED")) {
                    result.path("control").properties().forEach(e -> {
                        control.putIfAbsent(e.getKey(), e.getValue().asText());
                        controlAt.putIfAbsent(e.getKey(), j.endedAt());
                    });
                }
                continue;
            }
            result.path("regions").properties().forEach(e -> {
                boolean failed = e.getValue().has("error");
                if (pass.putIfAbsent(e.getKey(), failed ? "failed" : "ok") == null) {
                    passMessage.put(
                            e.getKey(),
                            failed
                                    ? e.getValue().path("error").asText()
                                    : e.getValue().path("copied").asLong() + " objects copied");
                    passAt.put(e.getKey(), j.endedAt());
                }
            });
        }
        Map<String, State> out = new HashMap<>();
        for (String region : union(control.keySet(), pass.keySet())) {
            out.put(
                    region,
                    new State(
                            control.get(region),
                            controlAt.get(region),
                            pass.get(region),
                            passMessage.get(region),
                            passAt.get(region)));
        }
        return out;
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new TreeSet<>(a);
        u.addAll(b);
        return u;
    }

    private static JsonNode parse(String text) {
        if (text == null || text.isBlank()) {
            return JSON.missingNode();
        }
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            return JSON.missingNode();
        }
    }
}
