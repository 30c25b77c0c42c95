package dev.lifeboat.cli.commands.jobs;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.proto.v1.CancelReply;
import dev.lifeboat.proto.v1.CancelRequest;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.util.Hosts;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "cancel", description = "Ask a job to stop; it ends CANCELLED.")
public final class JobsCancelCommand implements Callable<Integer> {
    @Mixin
    AgentOptions agent;

    @Mixin
    OutputOptions output;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why (recorded in the job's end event).")
    String reason;

    @Override
    public Integer call() {
        ManagedChannel ch = agent.open();
        try {
            String why = (reason == null ? "cancelled" : reason) + " (by " + System.getProperty("user.name") + "@"
                    + Hosts.name() + ")";
            CancelReply r = JobsGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .cancel(CancelRequest.newBuilder()
                            .setJobId(jobId)
                            .setReason(why)
                            .build());
            if (output.json()) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("jobId", jobId);
                out.put("cancelling", r.getCancelling());
                output.printJson(out);
            } else {
                System.out.println(
                        r.getCancelling() ? "cancelling job " + jobId : "job " + jobId + " had already ended");
            }
            return 0;
        } catch (StatusRuntimeException e) {
            throw agent.failure(e);
        } finally {
            AgentOptions.shutdown(ch);
        }
    }
}
