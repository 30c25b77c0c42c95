package dev.lifeboat.agent;

/** No job with this id on this agent (never submitted here, or pruned from the history of ended jobs). */
public final class UnknownJobException extends RuntimeException {
    public UnknownJobException(String jobId) {
        super("this agent has no job '" + jobId + "' (ended jobs are kept for the newest " + JobManager.KEEP_ENDED
                + ")");
    }
}
