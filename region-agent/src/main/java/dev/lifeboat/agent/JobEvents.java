package dev.lifeboat.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.util.Json;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Job events and statuses as plain JSON-ready maps (for {@code --json} output and anything that speaks JSON). */
public final class JobEvents {
    private JobEvents() {}

    public static Instant at(JobEvent e) {
        return Instant.ofEpochSecond(e.getAt().getSeconds(), e.getAt().getNanos());
    }

    /** queued (no event yet), running, completed, failed or cancelled. */
    public static String state(JobStatus s) {
        if (!s.hasLastEvent()) {
            return "queued";
        }
        JobEvent.Kind k = s.getLastEvent().getKind();
        return JobManager.isTerminal(k) ? k.name().toLowerCase(Locale.ROOT) : "running";
    }

    public static Map<String, Object> toMap(JobEvent e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("jobId", e.getJobId());
        m.put("sequence", e.getSequence());
        m.put("kind", e.getKind().name());
        m.put("at", at(e).toString());
        if (!e.getPhase().isEmpty()) {
            m.put("phase", e.getPhase());
        }
        if (e.getKind() == JobEvent.Kind.PROGRESS) {
            m.put("bytesDone", e.getBytesDone());
            m.put("bytesTotal", e.getBytesTotal());
            m.put("filesDone", e.getFilesDone());
            m.put("filesTotal", e.getFilesTotal());
            m.put("bytesPerSecond", e.getBytesPerSecond());
            m.put("etaSeconds", e.getEtaSeconds());
        }
        if (!e.getMessage().isEmpty()) {
            m.put("message", e.getMessage());
        }
        if (!e.getResultJson().isEmpty()) {
            m.put("result", parse(e.getResultJson()));
        }
        return m;
    }

    public static Map<String, Object> toMap(JobRequest r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("jobId", r.getJobId());
        m.put("type", r.getType().name());
        m.put("database", r.getDatabase());
        m.put("params", new TreeMap<>(r.getParamsMap()));
        m.put("requestedBy", r.getRequestedBy());
        return m;
    }

    public static Map<String, Object> toMap(JobStatus s) {
        Map<String, Object> m = toMap(s.getRequest());
        m.put("state", state(s));
        if (s.hasLastEvent()) {
            m.put("lastEvent", toMap(s.getLastEvent()));
        }
        return m;
    }

    private static Object parse(String json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (Exception e) {
            return json;
        }
    }

    /** The result of a COMPLETED (or FAILED-with-result) event, parsed. */
    public static JsonNode result(JobEvent e) {
        try {
            return e.getResultJson().isEmpty() ? null : Json.MAPPER.readTree(e.getResultJson());
        } catch (Exception ex) {
            throw new IllegalStateException(
                    "job " + e.getJobId() + " sent a result that is not JSON: " + ex.getMessage());
        }
    }
}
