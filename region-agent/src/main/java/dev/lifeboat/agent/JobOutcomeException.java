package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.JobEvent;

/**
 * Ends a job as FAILED or CANCELLED while still reporting a result (e.g. a validation report that found problems,
 * or the final state of a WAL stream that was stopped).
 */
final class JobOutcomeException extends RuntimeException {
    final JobEvent.Kind kind;
    final transient Object result;

    JobOutcomeException(JobEvent.Kind kind, String message, Object result) {
        super(message);
        if (kind != JobEvent.Kind.FAILED && kind != JobEvent.Kind.CANCELLED) {
            throw new IllegalArgumentException("a job outcome is FAILED or CANCELLED, not " + kind);
        }
        this.kind = kind;
        this.result = result;
    }

    static JobOutcomeException failed(String message, Object result) {
        return new JobOutcomeException(JobEvent.Kind.FAILED, message, result);
    }

    static JobOutcomeException cancelled(String message, Object result) {
        return new JobOutcomeException(JobEvent.Kind.CANCELLED, message, result);
    }
}
