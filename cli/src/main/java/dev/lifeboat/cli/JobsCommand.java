package dev.lifeboat.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.agent.JobEvents;
import dev.lifeboat.agent.JobManager;
import dev.lifeboat.common.HostPort;
import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.proto.v1.CancelReply;
import dev.lifeboat.proto.v1.CancelRequest;
import dev.lifeboat.proto.v1.JobAccepted;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.ListJobsReply;
import dev.lifeboat.proto.v1.ListJobsRequest;
import dev.lifeboat.proto.v1.WatchRequest;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lifeboat jobs submit|watch|cancel|list}: drives one agent's Jobs API directly (no controller needed). */
@Command(
        name = "jobs",
        description = "Submit, watch, cancel and list jobs on a region agent directly over gRPC.",
        subcommands = {
            JobsCommand.Submit.class,
            JobsCommand.Watch.class,
            JobsCommand.Cancel.class,
            JobsCommand.ListJobs.class
        })
final class JobsCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Which agent, and how to talk to it. */
    static final class AgentOptions {
        @Option(names = "--agent", paramLabel = "HOST:PORT", description = "The agent's Jobs API (env LIFEBOAT_AGENT).")
        String agent;

        @Option(
                names = "--tls-ca",
                paramLabel = "FILE",
                description = "CA certificate (PEM) that signed the agent's certificate.")
        Path ca;

        @Option(
                names = "--tls-cert",
                paramLabel = "FILE",
                description = "Client certificate (PEM), e.g. from 'lifeboat pki issue --role client'.")
        Path cert;

        @Option(names = "--tls-key", paramLabel = "FILE", description = "The client certificate's private key (PEM).")
        Path key;

        @Option(
                names = "--insecure-dev",
                description = "No TLS (development only; refused unless the agent is on loopback).")
        boolean insecureDev;

        @Option(
                names = {"-v", "--verbose"},
                description = "Log what happens, and stack traces on errors.")
        boolean verbose;

        HostPort address() {
            if (agent == null || agent.isBlank()) {
                throw new IllegalArgumentException("say which agent: pass --agent HOST:PORT or set LIFEBOAT_AGENT");
            }
            return HostPort.parse(agent, "--agent");
        }

        ManagedChannel open() {
            HostPort hp = address();
            ChannelCredentials creds;
            if (insecureDev) {
                if (!hp.isLoopback()) {
                    throw new IllegalArgumentException("--insecure-dev is allowed only for an agent on loopback, not "
                            + hp + "; pass --tls-ca, --tls-cert and --tls-key");
                }
                creds = InsecureChannelCredentials.create();
            } else {
                if (ca == null || cert == null || key == null) {
                    throw new IllegalArgumentException(
                            "pass --tls-ca, --tls-cert and --tls-key (a client certificate from "
                                    + "'lifeboat pki issue --role client NAME'), or --insecure-dev for an agent on "
                                    + "loopback");
                }
                try {
                    creds = TlsChannelCredentials.newBuilder()
                            .keyManager(cert.toFile(), key.toFile())
                            .trustManager(ca.toFile())
                            .build();
                } catch (IOException | IllegalArgumentException e) {
                    throw new IllegalArgumentException(
                            "cannot use the TLS files (" + cert + ", " + key + ", " + ca + "): " + e.getMessage());
                }
            }
            return Grpc.newChannelBuilder(hp.target(), creds).build();
        }

        /** One clear line for a failed call: which agent, and what it said. */
        RuntimeException failure(StatusRuntimeException e) {
            String what = e.getStatus().getDescription() == null
                    ? e.getStatus().getCode().toString()
                    : e.getStatus().getDescription();
            return switch (e.getStatus().getCode()) {
                case UNAVAILABLE -> new Main.ExitCodeException(1, "cannot reach the agent at " + agent + ": " + what);
                case INVALID_ARGUMENT ->
                    new Main.ExitCodeException(2, "the agent at " + agent + " refused the request: " + what);
                case DEADLINE_EXCEEDED ->
                    new Main.ExitCodeException(1, "the agent at " + agent + " did not answer in time");
                default -> new Main.ExitCodeException(1, "agent at " + agent + ": " + what);
            };
        }
    }

    static void shutdown(ManagedChannel ch) {
        ch.shutdownNow();
        try {
            ch.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Command(name = "submit", description = "Submit a job (types and their --param keys: docs/agent.md).")
    static final class Submit implements Callable<Integer> {
        @Mixin
        AgentOptions agent;

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

        @Option(
                names = "--watch",
                description = "Then watch the job until it ends (exit code: 0 completed, 1 otherwise).")
        boolean watch;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Option(
                names = {"-q", "--quiet"},
                description = "No progress output while watching.")
        boolean quiet;

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
                if (json && !watch) {
                    System.out.println(Json.pretty(Map.of("jobId", a.getJobId(), "created", a.getCreated())));
                } else if (!json) {
                    System.err.println(
                            a.getCreated()
                                    ? "submitted job " + a.getJobId() + " (" + t + " on " + database + ")"
                                    : "job " + a.getJobId() + " already exists with this request: nothing new started");
                }
                return watch ? Watch.follow(ch, agent, a.getJobId(), 0, json, quiet) : 0;
            } finally {
                shutdown(ch);
            }
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

    @Command(
            name = "watch",
            description = "Follow a job's events until it ends (exit code: 0 completed, 1 failed or cancelled).")
    static final class Watch implements Callable<Integer> {
        @Mixin
        AgentOptions agent;

        @Parameters(paramLabel = "JOB_ID")
        String jobId;

        @Option(
                names = "--after",
                defaultValue = "0",
                paramLabel = "N",
                description = "Only events after sequence number N.")
        long after;

        @Option(names = "--json", description = "Print every event as one line of JSON.")
        boolean json;

        @Option(
                names = {"-q", "--quiet"},
                description = "No progress output.")
        boolean quiet;

        @Override
        public Integer call() {
            ManagedChannel ch = agent.open();
            try {
                return follow(ch, agent, jobId, after, json, quiet);
            } finally {
                shutdown(ch);
            }
        }

        static int follow(
                ManagedChannel ch, AgentOptions agent, String jobId, long after, boolean json, boolean quiet) {
            JobEvent last = null;
            try (ProgressDisplay progress = new ProgressDisplay(quiet || json)) {
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
                throw new Main.ExitCodeException(
                        1, "the agent ended the watch of job " + jobId + " before the job ended");
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
                case CANCELLED -> throw new Main.ExitCodeException(1, "job " + jobId + " was " + last.getMessage());
                default -> throw new Main.ExitCodeException(1, "job " + jobId + " failed: " + last.getMessage());
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

    @Command(name = "cancel", description = "Ask a job to stop; it ends CANCELLED.")
    static final class Cancel implements Callable<Integer> {
        @Mixin
        AgentOptions agent;

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
                System.out.println(
                        r.getCancelling() ? "cancelling job " + jobId : "job " + jobId + " had already ended");
                return 0;
            } catch (StatusRuntimeException e) {
                throw agent.failure(e);
            } finally {
                shutdown(ch);
            }
        }
    }

    @Command(name = "list", description = "The agent's jobs (queued, running and the newest ended ones).")
    static final class ListJobs implements Callable<Integer> {
        @Mixin
        AgentOptions agent;

        @Option(names = "--running", description = "Only jobs that have not ended.")
        boolean running;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Override
        public Integer call() {
            ManagedChannel ch = agent.open();
            ListJobsReply reply;
            try {
                reply = JobsGrpc.newBlockingStub(ch)
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .list(ListJobsRequest.newBuilder()
                                .setRunningOnly(running)
                                .build());
            } catch (StatusRuntimeException e) {
                throw agent.failure(e);
            } finally {
                shutdown(ch);
            }
            if (json) {
                System.out.println(Json.pretty(Map.of(
                        "jobs",
                        reply.getJobsList().stream().map(JobEvents::toMap).toList())));
                return 0;
            }
            if (reply.getJobsCount() == 0) {
                System.out.println(running ? "no jobs running on " + agent.agent : "no jobs on " + agent.agent);
                return 0;
            }
            System.out.printf(
                    "%-38s %-20s %-12s %-10s %-20s %s%n", "JOB", "TYPE", "DATABASE", "STATE", "SINCE", "DETAIL");
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
                        e == null
                                ? ""
                                : JobEvents.at(e).toString().substring(0, 19).replace('T', ' '),
                        oneLine(detail));
            }
            return 0;
        }

        private static String oneLine(String s) {
            String l = s.replace('\n', ' ');
            return l.length() > 100 ? l.substring(0, 97) + "..." : l;
        }
    }
}
