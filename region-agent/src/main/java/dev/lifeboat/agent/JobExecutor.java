package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.JobRequest;

/**
 * One job type. {@link #prepare} runs at submit and checks everything that can be checked without doing the work
 * (parameters, the database's settings, a restore target that must be empty), so a bad request is refused rather
 * than accepted and failed; it returns the work to run once a slot is free.
 */
interface JobExecutor {
    Prepared prepare(JobRequest request, AgentConfig.Database database, AgentConfig config);

    /** The work of one accepted job; its return value becomes the COMPLETED event's result_json. */
    @FunctionalInterface
    interface Prepared {
        Object run(JobContext ctx) throws Exception;
    }
}
