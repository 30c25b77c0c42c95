package dev.lifeboat.controller.jobs;

import java.time.Instant;
import java.util.Map;

/** A job as the controller knows it. {@code state}: QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED. */
public record JobRecord(
        String id,
        String type,
        String database,
        String agentId,
        Map<String, String> params,
        String requestedBy,
        String state,
        Instant submittedAt,
        Instant startedAt,
        Instant endedAt,
        long lastSequence,
        String phase,
        Long bytesDone,
        Long bytesTotal,
        Double bytesPerSecond,
        Double etaSeconds,
        String message,
        String resultJson) {

    public boolean ended() {
        return state.equals("COMPLETED") || state.equals("FAILED") || state.equals("CANCELLED");
    }
}
