package dev.lifeboat.cli.commands.jobs;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.proto.v1.JobAccepted;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.util.Hosts;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "submit", description = "Submit a job (types and their --param keys: docs/agent.md).")
public final class JobsSubmitCommand implements Callable<Integer> {
    @Mixin
    AgentOptions agent;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--type",
            required = true,
            paramLabel = "TYPE",
            description = "backup_full, backup_incremental, "
                    + "backup_differential, wal_stream, restore, restore_pitr, verify, replicate, expire "
                    + "or dr_drill.")
    String type;

    @Option(
            names = "--database",
            required = true,
            paramLabel = "NAME",
            description = "The database, as the agent's config names it.")
    String database;

    @Option(
            names = {"-p", "--param"},
            paramLabel = "KEY=VALUE",
            description = "A job parameter (repeatable), e.g. -p compression=lz4.")
    Map<String, String> params = new LinkedHashMap<>();

    @Option(
            names = "--job-id",
            paramLabel = "ID",
            description = "Job id (default: a new UUID); resubmitting the same id and request starts nothing.")
    String jobId;

    @Option(names = "--watch", description = "Then watch the job until it ends (exit code: 0 completed, 1 otherwise).")
    boolean watch;

    @Override
    public Integer call() throws Exception {
        JobType t = parseType(type);
        JobRequest req = JobRequest.newBuilder()
                .setJobId(jobId == null ? UUID.randomUUID().toString() : jobId)
                .setType(t)
                .setDatabase(database)
                .putAllParams(params)
                .setRequestedBy(System.getProperty("user.name") + "@" + Hosts.name())
                .build();
        ManagedChannel ch = agent.open();
        try {
            JobAccepted a;
            try {
                a = JobsGrpc.newBlockingStub(ch)
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .submit(req);
            } catch (StatusRuntimeException e) {
                throw agent.failure(e);
            }
            if (output.json() && !watch) {
                output.printJson(Map.of("jobId", a.getJobId(), "created", a.getCreated()));
            } else if (!output.json()) {
                System.err.println(
                        a.getCreated()
                                ? "submitted job " + a.getJobId() + " (" + t + " on " + database + ")"
                                : "job " + a.getJobId() + " already exists with this request: nothing new started");
            }
            return watch ? JobsWatchCommand.follow(ch, agent, a.getJobId(), 0, output) : 0;
        } finally {
            AgentOptions.shutdown(ch);
        }
    }

    static JobType parseType(String s) {
        String n = s.strip().toUpperCase(Locale.ROOT).replace('-', '_');
        try {
            JobType t = JobType.valueOf(n);
            if (t != JobType.JOB_TYPE_UNSPECIFIED && t != JobType.UNRECOGNIZED) {
                return t;
            }
        } catch (IllegalArgumentException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("--type " + s + " is not a job type; use one of "
                + String.join(
                        ", ",
                        Arrays.stream(JobType.values())
                                .filter(t -> t != JobType.JOB_TYPE_UNSPECIFIED && t != JobType.UNRECOGNIZED)
                                .map(t -> t.name().toLowerCase(Locale.ROOT))
                                .toList()));
    }
}
