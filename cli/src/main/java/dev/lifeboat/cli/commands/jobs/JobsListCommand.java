package dev.lifeboat.cli.commands.jobs;

import dev.lifeboat.agent.JobEvents;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.ListJobsReply;
import dev.lifeboat.proto.v1.ListJobsRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "list", description = "The agent's jobs (queued, running and the newest ended ones).")
public final class JobsListCommand implements Callable<Integer> {
    @Mixin
    AgentOptions agent;

    @Mixin
    OutputOptions output;

    @Option(names = "--running", description = "Only jobs that have not ended.")
    boolean running;

    @Override
    public Integer call() {
        ManagedChannel ch = agent.open();
        ListJobsReply reply;
        try {
            reply = JobsGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .list(ListJobsRequest.newBuilder().setRunningOnly(running).build());
        } catch (StatusRuntimeException e) {
            throw agent.failure(e);
        } finally {
            AgentOptions.shutdown(ch);
        }
        if (output.json()) {
            output.printJson(Map.of(
                    "jobs", reply.getJobsList().stream().map(JobEvents::toMap).toList()));
            return 0;
        }
        if (reply.getJobsCount() == 0) {
            System.out.println(running ? "no jobs running on " + agent.agent : "no jobs on " + agent.agent);
            return 0;
        }
        System.out.printf("%-38s %-20s %-12s %-10s %-20s %s%n", "JOB", "TYPE", "DATABASE", "STATE", "SINCE", "DETAIL");
        for (JobStatus s : reply.getJobsList()) {
            JobEvent e = s.hasLastEvent() ? s.getLastEvent() : null;
            String detail = e == null
                    ? ""
                    : e.getKind() == JobEvent.Kind.PROGRESS && e.getBytesTotal() > 0
                            ? String.format("%s %.0f%%", e.getPhase(), 100.0 * e.getBytesDone() / e.getBytesTotal())
                            : e.getMessage().isEmpty() ? e.getPhase() : e.getMessage();
            System.out.printf(
                    "%-38s %-20s %-12s %-10s %-20s %s%n",
                    s.getRequest().getJobId(),
                    s.getRequest().getType().name().toLowerCase(Locale.ROOT),
                    s.getRequest().getDatabase(),
                    JobEvents.state(s),
                    e == null ? "" : JobEvents.at(e).toString().substring(0, 19).replace('T', ' '),
                    oneLine(detail));
        }
        return 0;
    }

    private static String oneLine(String s) {
        String l = s.replace('\n', ' ');
        return l.length() > 100 ? l.substring(0, 97) + "..." : l;
    }
}
