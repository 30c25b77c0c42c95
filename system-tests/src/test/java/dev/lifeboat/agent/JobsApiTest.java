package dev.lifeboat.agent;

import static dev.lifeboat.agent.AgentTestSupport.assertWellFormed;
import static dev.lifeboat.agent.AgentTestSupport.watchToEnd;
import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.proto.v1.CancelRequest;
import dev.lifeboat.proto.v1.JobAccepted;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.ListJobsRequest;
import dev.lifeboat.proto.v1.WatchRequest;
import dev.lifeboat.util.Json;
import dev.lifeboat.util.Processes;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's job engine through its real gRPC Jobs API on loopback, against a real PostgreSQL cluster (pgbench
 * data, WAL archived by archive_command = lifeboat wal-push) and real repositories on local disk. Three configured
 * databases share the cluster but have repositories of their own, so three backups can run at once.
 */
class JobsApiTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static final Map<String, String> repos = new LinkedHashMap<>();
    static PrometheusMeterRegistry registry;
    static JobManager jobs;
    static AgentServer server;
    static ManagedChannel ch;
    static JobsGrpc.JobsBlockingStub stub;

    @BeforeAll
    static void setUp() throws Exception {
        Path launcher = TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        for (String db : List.of("main", "db2", "db3")) {
            String uri = PgTestSupport.repoUri(tmp.resolve("repo-" + db));
            assertThat(cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                            .exitCode())
                    .isZero();
            repos.put(db, uri);
        }
        if (Processes.isRoot()) {
            // archive_command runs as postgres and writes the WAL archive of main
            Processes.check(
                    List.of("chown", "-R", "postgres", tmp.resolve("repo-main").toString()), Duration.ofSeconds(30));
        }
        // WAL from before the first backup is of no use: archive it nowhere while pgbench loads, then into main
        pg = LocalCluster.create(tmp.resolve("pg"), List.of("archive_mode = on", "archive_command = '/bin/true'"));
        pg.start();
        pg.pgbench(List.of("-i", "-s", "8", "-q"), Duration.ofMinutes(2));
        PgTestSupport.exec(
                pg,
                "select pg_switch_wal()",
                "alter system set archive_command = '" + launcher + " wal-push --repo " + repos.get("main")
                        + " --key-file " + keyFile + " %p'",
                "select pg_reload_conf()");

        StringBuilder yaml = new StringBuilder("""
                id: agent-test
                region: eu-test
                listen: 127.0.0.1:0
                insecure-dev: true
                state-dir: %s
                max-concurrent-jobs: 2
                databases:
                """.formatted(tmp.resolve("state")));
        // db2's repository is copied to a second region by REPLICATE jobs
        Path replication = tmp.resolve("replication-db2.json");
        Files.writeString(replication, """
                {"regions": [{"name": "us", "region": "us-test", "uri": "%s", "mode": "async"}]}""".formatted(
                        PgTestSupport.repoUri(Files.createDirectories(tmp.resolve("region-us-db2")))));
        for (var e : repos.entrySet()) {
            yaml.append("""
                      - name: %s
                        pgdata: %s
                        repo: %s
                        key-file: %s
                        compression: low
                        parallel: 2
                    """.formatted(e.getKey(), pg.dataDir(), e.getValue(), keyFile));
            if (e.getKey().equals("db2")) {
                yaml.append("    replication: ").append(replication).append('\n');
            }
        }
        Path config = tmp.resolve("agent.yaml");
        Files.writeString(config, yaml.toString());
        AgentConfig cfg = AgentConfig.load(config);
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        jobs = new JobManager(cfg, registry);
        server = new AgentServer(cfg.listen(), InsecureServerCredentials.create(), jobs).start();
        ch = AgentTestSupport.channel(server.port());
        stub = JobsGrpc.newBlockingStub(ch);
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (ch != null) {
            ch.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
        if (jobs != null) {
            jobs.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    static JobRequest request(JobType type, String db, Map<String, String> params) {
        return JobRequest.newBuilder()
                .setJobId(UUID.randomUUID().toString())
                .setType(type)
                .setDatabase(db)
                .putAllParams(params)
                .setRequestedBy("test")
                .build();
    }

    static JsonNode listBackups(String db) throws Exception {
        PgTestSupport.CliResult r = cli("list", "--repo", repos.get(db), "--key-file", keyFile.toString(), "--json");
        assertThat(r.exitCode()).as(r.all()).isZero();
        return Json.MAPPER.readTree(r.out()).get("backups");
    }

    static double metric(String line) {
        for (String l : registry.scrape().split("\n")) {
            if (l.startsWith(line + " ")) {
                return Double.parseDouble(l.substring(line.length() + 1).strip());
            }
        }
        return 0;
    }

    @Test
    void fullBackupStreamsStartedProgressCompletedAndListShowsTheBackup() throws Exception {
        double before = metric("lifeboat_jobs_total{outcome=\"completed\",type=\"backup_full\"}");
        JobRequest req = request(JobType.BACKUP_FULL, "main", Map.of());
        JobAccepted a = stub.submit(req);
        assertThat(a.getCreated()).isTrue();
        assertThat(a.getJobId()).isEqualTo(req.getJobId());

        List<JobEvent> events = watchToEnd(ch, req.getJobId(), Duration.ofMinutes(2));
        assertWellFormed(events);
        assertThat(events.getFirst().getKind()).isEqualTo(JobEvent.Kind.STARTED);
        assertThat(events.getLast().getKind()).as(events.getLast().getMessage()).isEqualTo(JobEvent.Kind.COMPLETED);
        List<JobEvent> copy =
                events.stream().filter(AgentTestSupport::isCopyProgress).toList();
        assertThat(copy).isNotEmpty();
        JobEvent lastCopy = copy.getLast();
        assertThat(lastCopy.getBytesTotal()).isPositive();
        // files may grow while they are read, so the end of the phase can exceed the total seen at its start
        assertThat(lastCopy.getBytesDone()).isGreaterThanOrEqualTo(lastCopy.getBytesTotal());
        assertThat(lastCopy.getFilesDone()).isEqualTo(lastCopy.getFilesTotal()).isPositive();
        assertThat(copy.stream().anyMatch(e -> e.getBytesPerSecond() > 0)).isTrue();
        // throttled: no two progress events of one phase less than ~1 s apart, except the phase's last one
        for (int i = 1; i < copy.size() - 1; i++) {
            assertThat(Duration.between(JobEvents.at(copy.get(i - 1)), JobEvents.at(copy.get(i)))
                            .toMillis())
                    .isGreaterThan(900);
        }

        JsonNode result = Json.MAPPER.readTree(events.getLast().getResultJson());
        String id = result.get("id").asText();
        assertThat(result.get("type").asText()).isEqualTo("full");
        JsonNode listed = null;
        for (JsonNode b : listBackups("main")) {
            if (b.get("id").asText().equals(id)) {
                listed = b;
            }
        }
        assertThat(listed).as("lifeboat list shows backup " + id).isNotNull();
        assertThat(result).isEqualTo(listed);
        // the data directory's files; the backup also reads the WAL written during the copy
        assertThat(lastCopy.getBytesTotal())
                .isPositive()
                .isLessThanOrEqualTo(result.get("bytesRead").asLong());

        assertThat(metric("lifeboat_jobs_total{outcome=\"completed\",type=\"backup_full\"}"))
                .isEqualTo(before + 1);
        assertThat(metric("lifeboat_job_bytes_total{type=\"backup_full\"}"))
                .isGreaterThanOrEqualTo(result.get("bytesRead").asDouble());
        assertThat(metric("lifeboat_job_duration_seconds_count{outcome=\"completed\",type=\"backup_full\"}"))
                .isGreaterThanOrEqualTo(1);
        assertThat(metric("lifeboat_jobs_running")).isZero();

        JobStatus st = stub.list(ListJobsRequest.getDefaultInstance()).getJobsList().stream()
                .filter(s -> s.getRequest().getJobId().equals(req.getJobId()))
                .findFirst()
                .orElseThrow();
        assertThat(st.getLastEvent()).isEqualTo(events.getLast());
        assertThat(stub.list(ListJobsRequest.newBuilder().setRunningOnly(true).build())
                        .getJobsList())
                .noneMatch(s -> s.getRequest().getJobId().equals(req.getJobId()));
    }

    @Test
    void resubmittingTheSameJobIdStartsNothingAndADifferentRequestIsRefused() throws Exception {
        JobRequest req = request(JobType.VERIFY, "db2", Map.of("parallel", "1"));
        List<JobEvent> seenByAll = new CopyOnWriteArrayList<>();
        AutoCloseable all = jobs.subscribeAll(e -> {
            if (e.getJobId().equals(req.getJobId())) {
                seenByAll.add(e);
            }
        });
        assertThat(stub.submit(req).getCreated()).isTrue();
        JobAccepted again =
                stub.submit(req.toBuilder().setRequestedBy("someone retrying").build());
        assertThat(again.getCreated()).isFalse();
        assertThat(again.getJobId()).isEqualTo(req.getJobId());
        List<JobEvent> events = watchToEnd(ch, req.getJobId(), Duration.ofMinutes(1));
        assertWellFormed(events);
        assertThat(events.stream().filter(e -> e.getKind() == JobEvent.Kind.STARTED))
                .hasSize(1);
        assertThat(events.getLast().getKind()).as(events.getLast().getMessage()).isEqualTo(JobEvent.Kind.COMPLETED);
        assertThat(Json.MAPPER
                        .readTree(events.getLast().getResultJson())
                        .get("ok")
                        .asBoolean())
                .isTrue();
        // the job's thread hands each event to the watcher and to every-job listeners one after the other: the watcher
        // may see the end first
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (seenByAll.size() < events.size() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        all.close();
        // the controller link's view: every event of the job, in order, the same as a watcher's
        assertThat(seenByAll).isEqualTo(events);
        // a retry after the job ended still starts nothing
        assertThat(stub.submit(req).getCreated()).isFalse();
        assertThat(stub.list(ListJobsRequest.getDefaultInstance()).getJobsList())
                .filteredOn(s -> s.getRequest().getJobId().equals(req.getJobId()))
                .hasSize(1);

        assertThatThrownBy(() ->
                        stub.submit(req.toBuilder().setType(JobType.EXPIRE).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
                    assertThat(e.getStatus().getDescription()).contains("already used by a different job");
                });
        // a replayed watch from the middle returns exactly the rest
        List<JobEvent> rest = new ArrayList<>();
        JobsGrpc.newBlockingStub(ch)
                .watch(WatchRequest.newBuilder()
                        .setJobId(req.getJobId())
                        .setAfterSequence(1)
                        .build())
                .forEachRemaining(rest::add);
        assertThat(rest).isEqualTo(events.subList(1, events.size()));
    }

    @Test
    void cancelMidBackupEndsCancelledAndLeavesNoSnapshot() throws Exception {
        int backupsBefore = listBackups("db3").size();
        double cancelledBefore = metric("lifeboat_jobs_total{outcome=\"cancelled\",type=\"backup_full\"}");
        // zstd-9 on one thread: the copy takes long enough to be cancelled in the middle
        JobRequest req = request(JobType.BACKUP_FULL, "db3", Map.of("compression", "high", "parallel", "1"));
        stub.submit(req);
        try (AgentTestSupport.Watcher w = new AgentTestSupport.Watcher(ch, req.getJobId())) {
            JobEvent copying = w.await(AgentTestSupport::isCopyProgress, Duration.ofMinutes(1));
            assertThat(copying.getBytesTotal()).isPositive();
            assertThat(stub.cancel(CancelRequest.newBuilder()
                                    .setJobId(req.getJobId())
                                    .setReason("operator changed their mind")
                                    .build())
                            .getCancelling())
                    .isTrue();
            JobEvent end = w.await(e -> JobManager.isTerminal(e.getKind()), Duration.ofMinutes(1));
            assertThat(end.getKind()).as(end.getMessage()).isEqualTo(JobEvent.Kind.CANCELLED);
            assertThat(end.getMessage()).contains("operator changed their mind");
            AgentTestSupport.waitFor(() -> w.events.size() == end.getSequence(), Duration.ofSeconds(5), "all events");
            assertWellFormed(w.events);
            long copied = w.events.stream()
                    .filter(AgentTestSupport::isCopyProgress)
                    .mapToLong(JobEvent::getBytesDone)
                    .max()
                    .orElse(0);
            assertThat(copied).as("cancelled before the copy finished").isLessThan(copying.getBytesTotal());
        }
        assertThat(listBackups("db3")).hasSize(backupsBefore);
        assertThat(stub.cancel(CancelRequest.newBuilder()
                                .setJobId(req.getJobId())
                                .build())
                        .getCancelling())
                .isFalse();
        assertThat(metric("lifeboat_jobs_total{outcome=\"cancelled\",type=\"backup_full\"}"))
                .isEqualTo(cancelledBefore + 1);
        // the repository is not left locked: the next backup of it succeeds
        JobRequest next = request(JobType.BACKUP_FULL, "db3", Map.of("compression", "lz4"));
        stub.submit(next);
        List<JobEvent> events = watchToEnd(ch, next.getJobId(), Duration.ofMinutes(2));
        assertThat(events.getLast().getKind()).as(events.getLast().getMessage()).isEqualTo(JobEvent.Kind.COMPLETED);
        assertThat(listBackups("db3")).hasSize(backupsBefore + 1);
    }

    @Test
    void withALimitOfTwoTheThirdJobWaitsForAFreeSlot() throws Exception {
        List<JobRequest> reqs = new ArrayList<>();
        for (String db : List.of("main", "db2", "db3")) {
            reqs.add(request(JobType.BACKUP_FULL, db, Map.of("compression", "high", "parallel", "1")));
        }
        for (JobRequest r : reqs) {
            assertThat(stub.submit(r).getCreated()).isTrue();
        }
        List<JobStatus> active = stub.list(
                        ListJobsRequest.newBuilder().setRunningOnly(true).build())
                .getJobsList();
        JobStatus third = active.stream()
                .filter(s -> s.getRequest().getJobId().equals(reqs.get(2).getJobId()))
                .findFirst()
                .orElseThrow();
        assertThat(JobEvents.state(third)).isEqualTo("queued");
        assertThat(metric("lifeboat_jobs_queued")).isEqualTo(1);
        assertThat(metric("lifeboat_jobs_running")).isEqualTo(2);
        // a fourth waits too, and cancelling it in the queue ends it at once, without ever starting it
        JobRequest fourth = request(JobType.VERIFY, "main", Map.of());
        stub.submit(fourth);
        assertThat(metric("lifeboat_jobs_queued")).isEqualTo(2);
        assertThat(stub.cancel(CancelRequest.newBuilder()
                                .setJobId(fourth.getJobId())
                                .setReason("not today")
                                .build())
                        .getCancelling())
                .isTrue();
        List<JobEvent> never = watchToEnd(ch, fourth.getJobId(), Duration.ofSeconds(10));
        assertThat(never).hasSize(1);
        assertThat(never.getFirst().getKind()).isEqualTo(JobEvent.Kind.CANCELLED);
        assertThat(never.getFirst().getMessage()).isEqualTo("cancelled before it started: not today");
        assertThat(stub.cancel(CancelRequest.newBuilder()
                                .setJobId(fourth.getJobId())
                                .build())
                        .getCancelling())
                .isFalse();
        assertThat(metric("lifeboat_jobs_queued")).isEqualTo(1);

        List<List<JobEvent>> all = new ArrayList<>();
        for (JobRequest r : reqs) {
            List<JobEvent> ev = watchToEnd(ch, r.getJobId(), Duration.ofMinutes(3));
            assertWellFormed(ev);
            assertThat(ev.getLast().getKind()).as(ev.getLast().getMessage()).isEqualTo(JobEvent.Kind.COMPLETED);
            all.add(ev);
        }
        var firstEnd = JobEvents.at(all.get(0).getLast())
                        .isBefore(JobEvents.at(all.get(1).getLast()))
                ? JobEvents.at(all.get(0).getLast())
                : JobEvents.at(all.get(1).getLast());
        var thirdStart = JobEvents.at(all.get(2).getFirst());
        assertThat(thirdStart)
                .as("the third job starts only when one of the first two has ended")
                .isAfterOrEqualTo(firstEnd);
        assertThat(JobEvents.at(all.get(1).getFirst()))
                .as("the second job did not wait")
                .isBefore(JobEvents.at(all.get(0).getLast()));
    }

    @Test
    void badRequestsAreRefusedAtSubmitAndCreateNoJob() throws Exception {
        Path nonEmpty = Files.createDirectories(tmp.resolve("not-empty"));
        Files.writeString(nonEmpty.resolve("file"), "x");
        record Bad(JobRequest request, String says) {}
        List<Bad> bad = List.of(
                new Bad(
                        request(JobType.BACKUP_FULL, "main", Map.of("compresion", "lz4")),
                        "unknown parameter 'compresion'"),
                new Bad(
                        request(JobType.BACKUP_FULL, "main", Map.of("compression", "zip")),
                        "unknown compression 'zip'"),
                new Bad(
                        request(JobType.BACKUP_INCREMENTAL, "main", Map.of("parallel", "many")),
                        "parallel must be a whole number"),
                new Bad(request(JobType.BACKUP_FULL, "nope", Map.of()), "has no database 'nope'"),
                new Bad(request(JobType.JOB_TYPE_UNSPECIFIED, "main", Map.of()), "is not one an agent runs"),
                new Bad(request(JobType.RESTORE, "main", Map.of()), "target is required"),
                new Bad(
                        request(
                                JobType.CATALOG,
                                "main",
                                Map.of("target_latest", "true", "target_time", "2026-01-01T00:00:00Z")),
                        "give exactly one of"),
                new Bad(request(JobType.CATALOG, "main", Map.of("target", "/tmp")), "unknown parameter 'target'"),
                new Bad(request(JobType.RESTORE, "main", Map.of("target", "relative/dir")), "must be an absolute path"),
                new Bad(request(JobType.RESTORE, "main", Map.of("target", nonEmpty.toString())), "is not empty"),
                new Bad(
                        request(
                                JobType.RESTORE,
                                "main",
                                Map.of("target", tmp.resolve("r1").toString(), "target_time", "2026-01-01T00:00:00Z")),
                        "unknown parameter 'target_time'"),
                new Bad(
                        request(
                                JobType.RESTORE_PITR,
                                "main",
                                Map.of("target", tmp.resolve("r2").toString())),
                        "give exactly one of"),
                new Bad(
                        request(
                                JobType.RESTORE_PITR,
                                "main",
                                Map.of(
                                        "target",
                                        tmp.resolve("r3").toString(),
                                        "target_time",
                                        "2026-01-01T00:00:00Z",
                                        "target_lsn",
                                        "0/3000000")),
                        "got target_time, target_lsn"),
                new Bad(
                        request(
                                JobType.RESTORE_PITR,
                                "main",
                                Map.of("target", tmp.resolve("r4").toString(), "target_time", "yesterday")),
                        "target_time is not valid"),
                new Bad(request(JobType.EXPIRE, "main", Map.of("keep_full", "-1")), "keep_full must be between 0"),
                new Bad(request(JobType.EXPIRE, "main", Map.of("pitr_window", "a week")), "pitr_window"),
                new Bad(request(JobType.REPLICATE, "main", Map.of()), "has no replication config"),
                new Bad(request(JobType.REPLICATE, "db2", Map.of("region", "mars")), "no region 'mars'"),
                new Bad(request(JobType.WAL_STREAM, "main", Map.of("slot", "Bad-Slot")), "slot must be"),
                new Bad(request(JobType.DR_DRILL, "main", Map.of("source_region", "us")), "has no replication config"),
                new Bad(request(JobType.DR_DRILL, "db2", Map.of("source_region", "mars")), "no region 'mars'"),
                new Bad(request(JobType.DR_DRILL, "main", Map.of("assertions", "[{")), "assertions is not JSON"),
                new Bad(
                        request(JobType.DR_DRILL, "main", Map.of("assertions", "[{\"sql\": \"select 1\"}]")),
                        "needs an expected result"),
                new Bad(
                        request(
                                JobType.DR_DRILL,
                                "main",
                                Map.of("assertions", "[{\"sql\": \"select 1\", " + "\"expect\": \"> x\"}]")),
                        "compares numbers"),
                new Bad(
                        request(
                                JobType.DR_DRILL,
                                "main",
                                Map.of("assertions", "[{\"sql\": \"commit; create table t()\", \"expect\": \"1\"}]")),
                        "more than one statement"),
                new Bad(
                        request(
                                JobType.DR_DRILL,
                                "main",
                                Map.of(
                                        "assertions",
                                        "[{\"sql\": \"select 1\", \"expect\": \"1\", \"timeout\": \"soon\"}]")),
                        "soon"),
                new Bad(
                        request(JobType.DR_DRILL, "main", Map.of("target_time", "now", "target_lsn", "0/1")),
                        "DR_DRILL: give exactly one of"),
                new Bad(
                        request(JobType.VERIFY, "main", Map.of("read_data", "maybe")),
                        "read_data must be true or false"),
                new Bad(
                        request(JobType.BACKUP_FULL, "main", Map.of()).toBuilder()
                                .setJobId("../escape")
                                .build(),
                        "job id"));
        for (Bad b : bad) {
            assertThatThrownBy(() -> stub.submit(b.request()))
                    .as(b.says())
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                        assertThat(e.getStatus().getDescription()).contains(b.says());
                    });
        }
        List<String> known = stub.list(ListJobsRequest.getDefaultInstance()).getJobsList().stream()
                .map(s -> s.getRequest().getJobId())
                .toList();
        assertThat(known)
                .doesNotContainAnyElementsOf(
                        bad.stream().map(b -> b.request().getJobId()).toList());
        assertThat(Files.exists(tmp.resolve("state/jobs/../escape"))).isFalse();
        assertThatThrownBy(() -> stub.cancel(
                        CancelRequest.newBuilder().setJobId("no-such-job").build()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void drDrillRestoresReplaysArchivedWalValidatesAndReportsMeasuredNumbers() throws Exception {
        JobRequest backup = request(JobType.BACKUP_FULL, "main", Map.of("compression", "lz4"));
        stub.submit(backup);
        assertThat(watchToEnd(ch, backup.getJobId(), Duration.ofMinutes(2))
                        .getLast()
                        .getKind())
                .isEqualTo(JobEvent.Kind.COMPLETED);
        // WAL written after the backup, archived: the drill must replay it
        String lastSegment;
        try (var c = pg.connect("postgres");
                Statement st = c.createStatement()) {
            st.execute(
                    "create table drill_rows as select g as id, md5(g::text) as note from generate_series(1, 20000) g");
            try (var rs = st.executeQuery("select pg_walfile_name(pg_current_wal_lsn())")) {
                rs.next();
                lastSegment = rs.getString(1);
            }
            st.execute("select pg_switch_wal()");
            AgentTestSupport.waitFor(
                    () -> {
                        try (var rs = st.executeQuery("select coalesce(last_archived_wal, '') from pg_stat_archiver")) {
                            rs.next();
                            return rs.getString(1).compareTo(lastSegment) >= 0;
                        } catch (Exception e) {
                            return false;
                        }
                    },
                    Duration.ofSeconds(60),
                    "WAL archived up to " + lastSegment);
        }
        JobRequest drill = request(JobType.DR_DRILL, "main", Map.of());
        stub.submit(drill);
        List<JobEvent> events = watchToEnd(ch, drill.getJobId(), Duration.ofMinutes(4));
        assertWellFormed(events);
        assertThat(events.getLast().getKind()).as(events.getLast().getMessage()).isEqualTo(JobEvent.Kind.COMPLETED);
        assertThat(events).anyMatch(e -> e.getPhase().equals("restore/copy"));
        JsonNode r = Json.MAPPER.readTree(events.getLast().getResultJson());
        JsonNode backupResult = Json.MAPPER.readTree(watchToEnd(ch, backup.getJobId(), Duration.ofSeconds(10))
                .getLast()
                .getResultJson());
        assertThat(r.get("backup_id").asText()).isEqualTo(backupResult.get("id").asText());
        assertThat(r.get("validated").asBoolean()).isTrue();
        assertThat(r.get("restore_bytes").asLong())
                .isEqualTo(backupResult.get("size").asLong());
        assertThat(r.get("restore_seconds").asDouble()).isPositive();
        assertThat(r.get("replay_seconds").asDouble()).isPositive();
        // the table is about 1.3 MB of heap, all of it in WAL after the backup's end
        assertThat(r.get("wal_replay_bytes").asLong()).isGreaterThan(1_000_000L);
        assertThat(r.get("wal_replay_segments").asLong()).isPositive();
        long rows = 0;
        for (JsonNode db : r.get("validation").get("databases")) {
            for (JsonNode t : db.get("tables")) {
                if (t.get("table").asText().endsWith("drill_rows")) {
                    rows = t.get("rows").asLong();
                }
            }
        }
        assertThat(rows)
                .as("rows committed after the backup, recovered by replaying archived WAL")
                .isEqualTo(20000);
        assertThat(r.get("outcome").asText()).isEqualTo("PASSED");
        assertThat(r.get("source").get("region").asText()).isEqualTo("primary");
        JsonNode rto = r.get("rto");
        assertThat(rto.get("fetch_seconds").asDouble())
                .isEqualTo(r.get("restore_seconds").asDouble());
        assertThat(rto.get("wal_replay_seconds").asDouble())
                .isEqualTo(r.get("replay_seconds").asDouble());
        assertThat(rto.get("validation_seconds").asDouble()).isPositive();
        assertThat(rto.get("seconds").asDouble())
                .isGreaterThanOrEqualTo(rto.get("fetch_seconds").asDouble()
                        + rto.get("wal_replay_seconds").asDouble()
                        + rto.get("validation_seconds").asDouble());
        // the replayed WAL held the table's commit, so recovery recorded when its newest transaction committed
        assertThat(r.get("recovered_last_commit").isNull()).isFalse();
        JsonNode rpo = r.get("rpo");
        assertThat(rpo.get("measured").asBoolean()).as(rpo.toString()).isTrue();
        assertRpoMeasuredBeforeTheRestore(rpo, events);
        assertThat(r.get("teardown").get("deleted").asBoolean()).isTrue();
        try (var left = Files.list(tmp.resolve("state/drills"))) {
            assertThat(left.toList()).as("the drill's copy is deleted").isEmpty();
        }
    }

    /**
     * The RPO is read from the source before the restore plans its end (the drill's own duration is not loss) and
     * reaches back from then to the oldest lost commit; nothing lost is 0 s, however long the source was idle.
     */
    private static void assertRpoMeasuredBeforeTheRestore(JsonNode rpo, List<JobEvent> events) {
        Instant readAt = Instant.parse(rpo.get("source_read_at").asText());
        JobEvent firstRestore = events.stream()
                .filter(e -> e.getPhase().startsWith("restore/"))
                .findFirst()
                .orElseThrow();
        assertThat(readAt)
                .isBeforeOrEqualTo(Instant.ofEpochSecond(
                        firstRestore.getAt().getSeconds(), firstRestore.getAt().getNanos()));
        if (rpo.get("lost_commits").asInt() == 0) {
            assertThat(rpo.get("seconds").asDouble()).as(rpo.toString()).isZero();
            assertThat(rpo.get("source_oldest_lost_commit").isNull()).isTrue();
        } else {
            Instant oldest = Instant.parse(rpo.get("source_oldest_lost_commit").asText());
            assertThat(rpo.get("seconds").asDouble())
                    .as(rpo.toString())
                    .isCloseTo(Duration.between(oldest, readAt).toNanos() / 1e9, within(0.001));
        }
    }

    @Test
    void drDrillFromARegionAloneRunsAssertionsAndMeasuresTheCommitsItWouldLose() throws Exception {
        try (var c = pg.connect("postgres");
                Statement st = c.createStatement()) {
            st.execute("create sequence if not exists drill_seq"); // in the backup: nextval is refused, not missing
        }
        runToCompletion(JobType.BACKUP_FULL, "db2", Map.of("compression", "lz4"));
        runToCompletion(JobType.REPLICATE, "db2", Map.of("region", "us"));
        // a commit after the backup that no repository holds (db2's WAL is archived nowhere): a drill must count it
        // as lost, at its commit time
        Instant beforeLostCommit;
        try (var c = pg.connect("postgres");
                Statement st = c.createStatement()) {
            try (var rs = st.executeQuery("select now()")) {
                rs.next();
                beforeLostCommit = rs.getTimestamp(1).toInstant();
            }
            st.execute("create table drill_lost as select 1 as id");
        }
        // the primary repository is gone: the drill must need only the region's copy
        Path primary = tmp.resolve("repo-db2");
        Path gone = tmp.resolve("repo-db2.gone");
        Files.move(primary, gone);
        JsonNode r;
        List<JobEvent> events;
        try {
            String assertions = """
                    [{"name": "accounts", "sql": "select count(*) from pgbench_accounts", "expect": "= 800000"},
                     {"name": "lost row", "sql": "select count(*) from drill_lost", "expect": "> 0"},
                     {"name": "archiving off in the copy", "sql": "select current_setting('archive_mode');",
                      "expect": "'off'"},
                     {"name": "not a superuser", "sql": "select rolsuper from pg_roles where rolname = current_user",
                      "expect": "= false"},
                     {"name": "temp files capped", "sql": "select current_setting('temp_file_limit')",
                      "expect": "= 1GB"},
                     {"name": "password hashes", "sql": "select count(*) from pg_authid", "expect": "> 0"},
                     {"name": "host file", "sql": "select pg_read_file('/etc/hostname')", "expect": "!= null"},
                     {"name": "read only", "sql": "select nextval('drill_seq')", "expect": "> 0"},
                     {"name": "delete",
                      "sql": "with d as (delete from pgbench_accounts returning 1) select count(*) from d",
                      "expect": "= 0"},
                     {"name": "no row", "sql": "select 1 where false", "expect": "!= 5"},
                     {"name": "slow", "sql": "select pg_sleep(60)", "expect": "= ''", "timeout": "1s"}]""";
            JobRequest drill = request(
                    JobType.DR_DRILL, "db2", Map.of("source_region", "us", "assertions", assertions, "parallel", "2"));
            stub.submit(drill);
            events = watchToEnd(ch, drill.getJobId(), Duration.ofMinutes(4));
        } finally {
            Files.move(gone, primary);
        }
        assertWellFormed(events);
        JobEvent last = events.getLast();
        assertThat(last.getKind()).as(last.getMessage()).isEqualTo(JobEvent.Kind.FAILED);
        assertThat(last.getMessage()).contains("assertion 'lost row' failed").contains("drill_lost");
        r = Json.MAPPER.readTree(last.getResultJson());
        assertThat(r.get("outcome").asText()).isEqualTo("FAILED");
        assertThat(r.get("source").get("region").asText()).isEqualTo("us");
        assertThat(r.get("source").get("repository").asText())
                .isEqualTo(PgTestSupport.repoUri(tmp.resolve("region-us-db2")));
        List<String> passed = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        for (JsonNode a : r.get("assertions")) {
            (a.get("passed").asBoolean() ? passed : failed).add(a.get("name").asText());
        }
        assertThat(passed)
                .containsExactly("accounts", "archiving off in the copy", "not a superuser", "temp files capped");
        assertThat(failed)
                .containsExactly("lost row", "password hashes", "host file", "read only", "delete", "no row", "slow");
        assertThat(last.getMessage())
                .contains("assertion 'host file' failed: ERROR: permission denied for function pg_read_file")
                .contains("assertion 'password hashes' failed: ERROR: permission denied for table pg_authid")
                .contains("assertion 'read only' failed: ERROR: permission denied for sequence drill_seq")
                .contains("assertion 'delete' failed: ERROR: WITH clause containing a data-modifying statement")
                .contains("assertion 'no row' failed: expected != 5, got no row")
                .contains("assertion 'slow' failed: ERROR: canceling statement due to statement timeout");
        JsonNode accounts = r.get("assertions").get(0);
        assertThat(accounts.get("actual").asText()).isEqualTo("800000");

        JsonNode rpo = r.get("rpo");
        assertThat(rpo.get("measured").asBoolean()).as(rpo.toString()).isTrue();
        assertThat(rpo.get("lost_commits").asInt()).isPositive();
        Instant newestLost = Instant.parse(rpo.get("source_newest_lost_commit").asText());
        assertThat(newestLost).isAfterOrEqualTo(beforeLostCommit);
        assertRpoMeasuredBeforeTheRestore(rpo, events);
        assertThat(rpo.get("seconds").asDouble())
                .as("the loss reaches back at least to the lost table's commit")
                .isGreaterThanOrEqualTo(Duration.between(
                                        newestLost,
                                        Instant.parse(rpo.get("source_read_at").asText()))
                                .toNanos()
                        / 1e9);
        assertThat(rpo.get("lost_wal_bytes").asLong()).isPositive();
        assertThat(r.get("teardown").get("deleted").asBoolean()).isTrue();
        try (var left = Files.list(tmp.resolve("state/drills"))) {
            assertThat(left.toList()).as("the drill's copy is deleted").isEmpty();
        }
    }

    @Test
    void cancellingADrillCancelsAHangingAssertionStopsTheCopyAndDeletesIt() throws Exception {
        runToCompletion(JobType.BACKUP_FULL, "main", Map.of("compression", "lz4"));
        String assertions = """
                [{"name": "hangs", "sql": "select pg_sleep(3600)", "expect": "= ''", "timeout": "2h"}]""";
        JobRequest drill = request(JobType.DR_DRILL, "main", Map.of("assertions", assertions));
        stub.submit(drill);
        try (AgentTestSupport.Watcher w = new AgentTestSupport.Watcher(ch, drill.getJobId())) {
            w.await(e -> e.getPhase().equals("validate/assertions"), Duration.ofMinutes(4));
            Thread.sleep(1000); // the query is running on the copy
            assertThat(drillServers(drill.getJobId()))
                    .as("the copy's server runs")
                    .isNotEmpty();
            stub.cancel(CancelRequest.newBuilder()
                    .setJobId(drill.getJobId())
                    .setReason("the drill hangs")
                    .build());
            // well before the assertion's own 2 h timeout: the cancel reaches the server
            JobEvent end = w.await(e -> JobManager.isTerminal(e.getKind()), Duration.ofSeconds(60));
            assertThat(end.getKind()).as(end.getMessage()).isEqualTo(JobEvent.Kind.CANCELLED);
            assertThat(end.getMessage()).contains("the drill hangs");
        }
        assertThat(drillServers(drill.getJobId()))
                .as("no server left on the copy")
                .isEmpty();
        try (var left = Files.list(tmp.resolve("state/drills"))) {
            assertThat(left.toList()).as("the drill's copy is deleted").isEmpty();
        }
    }

    /** Processes whose command line names the drill's scratch directory (its postmaster and backends). */
    private static List<ProcessHandle> drillServers(String jobId) {
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains("drills/" + jobId))
                .toList();
    }

    static JsonNode runToCompletion(JobType type, String db, Map<String, String> params) throws Exception {
        JobRequest req = request(type, db, params);
        stub.submit(req);
        List<JobEvent> events = watchToEnd(ch, req.getJobId(), Duration.ofMinutes(2));
        assertWellFormed(events);
        assertThat(events.getLast().getKind())
                .as(type + ": " + events.getLast().getMessage())
                .isEqualTo(JobEvent.Kind.COMPLETED);
        return Json.MAPPER.readTree(events.getLast().getResultJson());
    }

    @Test
    void restoreRestorePitrExpireAndReplicateJobsRunTheEngine() throws Exception {
        String backupId = runToCompletion(JobType.BACKUP_FULL, "db2", Map.of("compression", "lz4"))
                .get("id")
                .asText();

        Path plain = tmp.resolve("restored-plain");
        JsonNode restored =
                runToCompletion(JobType.RESTORE, "db2", Map.of("target", plain.toString(), "backup_id", backupId));
        assertThat(restored.get("restore").get("backupId").asText()).isEqualTo(backupId);
        assertThat(restored.get("restore").get("files").asLong()).isPositive();
        assertThat(plain.resolve("PG_VERSION")).exists();
        assertThat(plain.resolve("global/pg_control")).exists();
        // even without a target the copy recovers to the end of the backup and promotes to a timeline of its own
        assertThat(plain.resolve("recovery.signal")).exists();
        assertThat(restored.get("restore").get("recoveryTarget").asText()).isEqualTo("the end of the backup");
        assertThat(Files.readString(plain.resolve("postgresql.auto.conf")))
                .contains("recovery_target = 'immediate'")
                .contains("archive_mode = 'off'");

        Path pitr = tmp.resolve("restored-pitr");
        JsonNode recovered = runToCompletion(
                JobType.RESTORE_PITR, "db2", Map.of("target", pitr.toString(), "target_latest", "true"));
        assertThat(recovered.get("restore").get("recoveryTarget").asText()).isEqualTo("the end of the archived WAL");
        assertThat(pitr.resolve("recovery.signal")).exists();
        assertThat(Files.readString(pitr.resolve("postgresql.auto.conf")))
                .contains("wal-get")
                .contains("--repo " + repos.get("db2"))
                .contains("--key-file " + keyFile);

        // CATALOG reads what `list --json` reads (the same operation), and with a target plans what RESTORE_PITR ran
        JsonNode catalog = runToCompletion(JobType.CATALOG, "db2", Map.of());
        PgTestSupport.CliResult listed =
                cli("list", "--repo", repos.get("db2"), "--key-file", keyFile.toString(), "--json");
        assertThat(listed.exitCode()).as(listed.all()).isZero();
        JsonNode list = Json.MAPPER.readTree(listed.out());
        assertThat(catalog.path("catalog").path("backups")).isEqualTo(list.get("backups"));
        // the windows' ends move with WAL archived in between; their starts and timelines may not
        assertThat(catalog.path("catalog").path("timelines").findValuesAsText("earliestBackup"))
                .isEqualTo(list.get("timelines").findValuesAsText("earliestBackup"))
                .isNotEmpty();
        assertThat(catalog.path("catalog").path("timelines").findValues("timeline"))
                .isEqualTo(list.get("timelines").findValues("timeline"));
        assertThat(catalog.has("plan")).isFalse();
        JsonNode planned = runToCompletion(JobType.CATALOG, "db2", Map.of("target_latest", "true"))
                .path("plan");
        assertThat(planned.path("backup").asText())
                .isEqualTo(recovered.get("restore").get("backupId").asText());
        assertThat(planned.path("walSegments").asLong()).isPositive();
        assertThat(planned.path("target").asText()).isEqualTo("latest");

        JsonNode expired = runToCompletion(
                JobType.EXPIRE,
                "db2",
                Map.of(
                        "keep_full",
                        "1",
                        "keep_daily",
                        "0",
                        "keep_weekly",
                        "0",
                        "keep_monthly",
                        "0",
                        "pitr_window",
                        "0",
                        "dry_run",
                        "true"));
        assertThat(expired.get("dryRun").asBoolean()).isTrue();
        assertThat(expired.get("kept")
                        .has(listBackups("db2")
                                .get(listBackups("db2").size() - 1)
                                .get("id")
                                .asText()))
                .isTrue();
        assertThat(expired.get("expired")).hasSize(listBackups("db2").size() - 1);

        JsonNode replicated = runToCompletion(JobType.REPLICATE, "db2", Map.of());
        assertThat(replicated.get("regions").get("us").get("copied").asLong()).isPositive();
        // the region is a repository of its own that lists the same backups
        PgTestSupport.CliResult r = cli(
                "list",
                "--repo",
                PgTestSupport.repoUri(tmp.resolve("region-us-db2")),
                "--key-file",
                keyFile.toString(),
                "--json");
        assertThat(r.exitCode()).as(r.all()).isZero();
        List<String> inRegion = new ArrayList<>();
        Json.MAPPER
                .readTree(r.out())
                .get("backups")
                .forEach(b -> inRegion.add(b.get("id").asText()));
        assertThat(inRegion).contains(backupId);
    }
}
