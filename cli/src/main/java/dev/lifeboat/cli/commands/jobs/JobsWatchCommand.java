package dev.lifeboat.cli.commands.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.agent.JobEvents;
import dev.lifeboat.agent.JobManager;
import dev.lifeboat.cli.ExitCodeException;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.output.ProgressDisplay;
import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.WatchRequest;
import dev.lifeboat.util.Json;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "watch",
        description = "Follow a job's events until it ends (exit code: 0 completed, 1 failed or cancelled).")
public final class JobsWatchCommand implements Callable<Integer> {
    @Mixin
    AgentOptions agent;

    @Mixin
    OutputOptions output;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(
            names = "--after",
            defaultValue = "0",
            paramLabel = "N",
            description = "Only events after sequence number N.")
    long after;

    @Override
    public Integer call() {
        ManagedChannel ch = agent.open();
        try {
            return follow(ch, agent, jobId, after, output);
        } finally {
            AgentOptions.shutdown(ch);
        }
    }

    /**
     * Follows a job's events to its end: progress on stderr (or every event as one line of JSON with --json), then
     * its result; 0 if it completed, else an {@link ExitCodeException} with 1.
     */
    static int follow(ManagedChannel ch, AgentOptions agent, String jobId, long after, OutputOptions output) {
        boolean json = output.json();
        boolean quiet = output.quiet();
        JobEvent last = null;
        try (ProgressDisplay progress = output.progress()) {
            Iterator<JobEvent> it = JobsGrpc.newBlockingStub(ch)
                    .watch(WatchRequest.newBuilder()
                            .setJobId(jobId)
                            .setAfterSequence(after)
                            .build());
            while (it.hasNext()) {
                JobEvent e = it.next();
                last = e;
                if (json) {
                    System.out.println(
                            Json.MAPPER.valueToTree(JobEvents.toMap(e)).toString());
                    continue;
                }
                switch (e.getKind()) {
                    case PROGRESS -> {
                        if (e.getBytesTotal() > 0 || e.getBytesDone() > 0) {
                            progress.onProgress(toProgress(e));
                        } else if (!quiet && !e.getMessage().isEmpty()) {
                            System.err.println(e.getPhase() + ": " + e.getMessage());
                        }
                    }
                    case STARTED -> {
                        if (!quiet) {
                            System.err.println("started: " + e.getMessage());
                        }
                    }
                    default -> {}
                }
            }
        } catch (StatusRuntimeException e) {
            throw agent.failure(e);
        }
        if (last == null || !JobManager.isTerminal(last.getKind())) {
            throw new ExitCodeException(1, "the agent ended the watch of job " + jobId + " before the job ended");
        }
        if (!json) {
            JsonNode result = JobEvents.result(last);
            if (result != null) {
                System.out.println(Json.pretty(result));
            }
        }
        return switch (last.getKind()) {
            case COMPLETED -> {
                if (!json) {
                    System.err.println("job " + jobId + " completed");
                }
                yield 0;
            }
            case CANCELLED -> throw new ExitCodeException(1, "job " + jobId + " was " + last.getMessage());
            default -> throw new ExitCodeException(1, "job " + jobId + " failed: " + last.getMessage());
        };
    }

    /** "backup/copy" → operation backup, phase copy, as the local commands' progress display expects. */
    static ProgressEvent toProgress(JobEvent e) {
        String phase = e.getPhase();
        int slash = phase.indexOf('/');
        return new ProgressEvent(
                slash < 0 ? phase : phase.substring(0, slash),
                slash < 0 ? "" : phase.substring(slash + 1),
                e.getBytesDone(),
                e.getBytesTotal(),
                e.getFilesDone(),
                e.getFilesTotal(),
                e.getBytesPerSecond(),
                e.getEtaSeconds() < 0 ? null : Duration.ofMillis((long) (e.getEtaSeconds() * 1000)),
                JobEvents.at(e),
                e.getMessage().isEmpty() ? null : e.getMessage());
    }
}
