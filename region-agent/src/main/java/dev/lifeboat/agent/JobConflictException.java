package dev.lifeboat.agent;

/** A submit reused a job id for a different request (a retried submit must send the very same request). */
public final class JobConflictException extends RuntimeException {
    public JobConflictException(String message) {
        super(message);
    }
}
