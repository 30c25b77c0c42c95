package dev.lifeboat.agent;

import static dev.lifeboat.agent.AgentTestSupport.assertWellFormed;
import static dev.lifeboat.agent.AgentTestSupport.watchToEnd;
import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.ListJobsRequest;
import dev.lifeboat.util.Json;
import io.grpc.ManagedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lifeboat agent} as a process of its own: killed with SIGKILL in the middle of a backup and started again,
 * it reports that job FAILED (interrupted) and keeps listing it; stopped with SIGTERM, it cancels its jobs. Driven
 * through the real Jobs API and the {@code lifeboat jobs} client.
 */
class AgentProcessTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static Path config;
    static String mainRepo;
    static int port;
    static final List<Process> started = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        keyFile = PgTestSupport.keyFile(tmp);
        mainRepo = PgTestSupport.repoUri(tmp.resolve("repo-main"));
        String streamedRepo = PgTestSupport.repoUri(tmp.resolve("repo-streamed"));
        for (String uri : List.of(mainRepo, streamedRepo)) {
            assertThat(cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                            .exitCode())
                    .isZero();
        }
        pg = LocalCluster.create(tmp.resolve("pg"), List.of());
        pg.start();
        pg.pgbench(List.of("-i", "-s", "8", "-q"), Duration.ofMinutes(2));
        port = AgentTestSupport.freePort();
        config = tmp.resolve("agent.yaml");
        Files.writeString(config, """
                id: agent-proc
                region: us-test
                listen: 127.0.0.1:%d
                insecure-dev: true
                state-dir: %s
                databases:
                  - name: main
                    pgdata: %s
                    repo: %s
                    key-file: %s
                  - name: streamed
                    pgdata: %s
                    repo: %s
                    key-file: %s
                    wal-stream: true
                """.formatted(
                port, tmp.resolve("state"), pg.dataDir(), mainRepo, keyFile, pg.dataDir(), streamedRepo, keyFile));
    }

    @AfterAll
    static void tearDown() throws Exception {
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        if (pg != null) {
            pg.close();
        }
    }

    static Process startAgent(String name) throws Exception {
        Process p = PgTestSupport.cliProcess(tmp.resolve(name + ".log"), "agent", "--config", config.toString());
        started.add(p);
        try (AgentTestSupport.Conn conn = new AgentTestSupport.Conn(port)) {
            ManagedChannel ch = conn.ch();
            AgentTestSupport.waitFor(
                    () -> {
                        if (!p.isAlive()) {
                            throw new AssertionError("agent exited with " + p.exitValue() + ": " + log(name));
                        }
                        try {
                            JobsGrpc.newBlockingStub(ch)
                                    .withDeadlineAfter(1, TimeUnit.SECONDS)
                                    .list(ListJobsRequest.getDefaultInstance());
                            return true;
                        } catch (RuntimeException e) {
                            return false;
                        }
                    },
                    Duration.ofSeconds(60),
                    "agent " + name + " to serve the Jobs API");
        }
        return p;
    }

    static String log(String name) {
        try {
            return Files.readString(tmp.resolve(name + ".log"));
        } catch (Exception e) {
            return "(no log)";
        }
    }

    static JobStatus status(JobsGrpc.JobsBlockingStub stub, String jobId) {
        return stub.list(ListJobsRequest.getDefaultInstance()).getJobsList().stream()
                .filter(s -> s.getRequest().getJobId().equals(jobId))
                .findFirst()
                .orElseThrow(() -> new AssertionError("the agent does not list job " + jobId));
    }

    static String runningWalStream(JobsGrpc.JobsBlockingStub stub) {
        return stub.list(ListJobsRequest.newBuilder().setRunningOnly(true).build()).getJobsList().stream()
                .filter(s -> s.getRequest().getType() == JobType.WAL_STREAM)
                .map(s -> s.getRequest().getJobId())
                .findFirst()
                .orElseThrow(() -> new AssertionError("no WAL_STREAM job running"));
    }

    @Test
    void killedMidBackupThenRestartedReportsTheJobInterruptedAndSigtermCancelsJobs() throws Exception {
        String agentAddress = "127.0.0.1:" + port;
        Process first = startAgent("agent-1");
        String backupId = UUID.randomUUID().toString();
        String firstStream;
        try (AgentTestSupport.Conn conn = new AgentTestSupport.Conn(port)) {
            ManagedChannel ch = conn.ch();
            JobsGrpc.JobsBlockingStub stub = JobsGrpc.newBlockingStub(ch);
            firstStream = runningWalStream(stub);
            stub.submit(JobRequest.newBuilder()
                    .setJobId(backupId)
                    .setType(JobType.BACKUP_FULL)
                    .setDatabase("main")
                    .putAllParams(Map.of("compression", "high", "parallel", "1"))
                    .setRequestedBy("test")
                    .build());
            try (AgentTestSupport.Watcher w = new AgentTestSupport.Watcher(ch, backupId)) {
                w.await(AgentTestSupport::isCopyProgress, Duration.ofMinutes(1));
                first.destroyForcibly(); // SIGKILL
                assertThat(first.waitFor(30, TimeUnit.SECONDS)).isTrue();
            }
        }
        assertThat(first.exitValue()).isEqualTo(137);

        Process second = startAgent("agent-2");
        String secondStream;
        try (AgentTestSupport.Conn conn = new AgentTestSupport.Conn(port)) {
            ManagedChannel ch = conn.ch();
            JobsGrpc.JobsBlockingStub stub = JobsGrpc.newBlockingStub(ch);
            JobStatus killed = status(stub, backupId);
            assertThat(killed.getLastEvent().getKind()).isEqualTo(JobEvent.Kind.FAILED);
            assertThat(killed.getLastEvent().getMessage()).isEqualTo(JobManager.INTERRUPTED);
            List<JobEvent> events = watchToEnd(ch, backupId, Duration.ofSeconds(10));
            assertWellFormed(events);
            assertThat(events.getFirst().getKind()).isEqualTo(JobEvent.Kind.STARTED);
            assertThat(events).anyMatch(AgentTestSupport::isCopyProgress);
            assertThat(status(stub, firstStream).getLastEvent().getMessage()).isEqualTo(JobManager.INTERRUPTED);
            assertThat(log("agent-2")).contains("job " + backupId + " was running when the agent last stopped");

            // the killed backup left no snapshot, and its lock does not block the next one
            assertThat(listBackups()).isEmpty();
            PgTestSupport.CliResult r = cli(
                    "jobs",
                    "submit",
                    "--agent",
                    agentAddress,
                    "--insecure-dev",
                    "--type",
                    "backup_full",
                    "--database",
                    "main",
                    "-p",
                    "compression=lz4",
                    "--watch",
                    "--json");
            assertThat(r.exitCode()).as(r.all()).isZero();
            String[] lines = r.out().strip().split("\n");
            JsonNode end = Json.MAPPER.readTree(lines[lines.length - 1]);
            assertThat(end.get("kind").asText()).isEqualTo("COMPLETED");
            assertThat(listBackups())
                    .extracting(b -> b.get("id").asText())
                    .containsExactly(end.get("result").get("id").asText());

            PgTestSupport.CliResult list = cli("jobs", "list", "--agent", agentAddress, "--insecure-dev", "--json");
            assertThat(list.exitCode()).as(list.all()).isZero();
            JsonNode listed = null;
            for (JsonNode j : Json.MAPPER.readTree(list.out()).get("jobs")) {
                if (j.get("jobId").asText().equals(backupId)) {
                    listed = j;
                }
            }
            assertThat(listed).isNotNull();
            assertThat(listed.get("state").asText()).isEqualTo("failed");
            assertThat(listed.get("lastEvent").get("message").asText()).startsWith("interrupted");

            // a new WAL stream replaced the interrupted one; it is streaming when SIGTERM arrives
            secondStream = runningWalStream(stub);
            assertThat(secondStream).isNotEqualTo(firstStream);
            try (AgentTestSupport.Watcher w = new AgentTestSupport.Watcher(ch, secondStream)) {
                w.await(e -> e.getMessage().startsWith("streaming from"), Duration.ofSeconds(30));
            }
        }
        second.destroy(); // SIGTERM: a graceful stop
        assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(log("agent-2")).contains("stopping");

        Process third = startAgent("agent-3");
        try (AgentTestSupport.Conn conn = new AgentTestSupport.Conn(port)) {
            ManagedChannel ch = conn.ch();
            JobsGrpc.JobsBlockingStub stub = JobsGrpc.newBlockingStub(ch);
            JobEvent last = status(stub, secondStream).getLastEvent();
            assertThat(last.getKind()).as(last.getMessage()).isEqualTo(JobEvent.Kind.CANCELLED);
            assertThat(last.getMessage()).contains("the agent is stopping");
            assertThat(log("agent-3")).doesNotContain("was running when the agent last stopped");
        }
        third.destroy();
        assertThat(third.waitFor(60, TimeUnit.SECONDS)).isTrue();
    }

    static List<JsonNode> listBackups() throws Exception {
        PgTestSupport.CliResult r = cli("list", "--repo", mainRepo, "--key-file", keyFile.toString(), "--json");
        assertThat(r.exitCode()).as(r.all()).isZero();
        List<JsonNode> out = new ArrayList<>();
        Json.MAPPER.readTree(r.out()).get("backups").forEach(out::add);
        return out;
    }
}
