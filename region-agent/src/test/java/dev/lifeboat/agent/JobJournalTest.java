package dev.lifeboat.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Timestamp;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.proto.v1.JobType;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal as a restarted agent finds it on disk (written here the way a killed agent leaves it): unfinished jobs
 * become FAILED "interrupted" durably and exactly once, torn records are dropped, and only the newest ended jobs are
 * kept.
 */
class JobJournalTest {
    @TempDir
    Path dir;

    AgentConfig config() {
        return AgentConfig.parse(
                "id: a\nregion: r\ninsecure-dev: true\nstate-dir: " + dir.resolve("state") + "\n", null);
    }

    static JobRequest req(String id) {
        return JobRequest.newBuilder()
                .setJobId(id)
                .setType(JobType.BACKUP_FULL)
                .setDatabase("main")
                .build();
    }

    static JobEvent event(String id, long seq, JobEvent.Kind kind) {
        return JobEvent.newBuilder()
                .setJobId(id)
                .setSequence(seq)
                .setKind(kind)
                .setAt(Timestamp.newBuilder().setSeconds(Instant.now().getEpochSecond()))
                .setPhase("backup/copy")
                .build();
    }

    @Test
    void aJobThatNeverEndedIsMarkedInterruptedOnceAndATornRecordIsDropped() throws Exception {
        AgentConfig cfg = config();
        JobJournal j = new JobJournal(cfg.jobsDir());
        j.create(req("running"));
        j.append("running", event("running", 1, JobEvent.Kind.STARTED), true);
        j.append("running", event("running", 2, JobEvent.Kind.PROGRESS), false);
        // a crash in the middle of writing the third event
        Files.write(cfg.jobsDir().resolve("running/events.log"), new byte[] {42, 8, 3}, StandardOpenOption.APPEND);
        j.create(req("queued"));
        j.create(req("done"));
        j.append("done", event("done", 1, JobEvent.Kind.STARTED), true);
        j.append("done", event("done", 2, JobEvent.Kind.COMPLETED), true);

        List<JobEvent> interrupted;
        try (JobManager m = new JobManager(cfg, new SimpleMeterRegistry())) {
            interrupted = m.interruptedAtStartup();
            assertThat(interrupted).extracting(JobEvent::getJobId).containsExactlyInAnyOrder("running", "queued");
            JobEvent r = interrupted.stream()
                    .filter(e -> e.getJobId().equals("running"))
                    .findFirst()
                    .orElseThrow();
            assertThat(r.getSequence()).isEqualTo(3);
            assertThat(r.getKind()).isEqualTo(JobEvent.Kind.FAILED);
            assertThat(r.getMessage()).isEqualTo(JobManager.INTERRUPTED);
            assertThat(interrupted.stream()
                            .filter(e -> e.getJobId().equals("queued"))
                            .findFirst()
                            .orElseThrow()
                            .getSequence())
                    .isEqualTo(1);
            assertThat(m.runningJobIds()).isEmpty();
            assertThat(m.list(false))
                    .extracting(s -> s.getLastEvent().getKind())
                    .containsExactlyInAnyOrder(JobEvent.Kind.FAILED, JobEvent.Kind.FAILED, JobEvent.Kind.COMPLETED);
        }
        // the next start finds them ended: nothing is reported twice
        try (JobManager m = new JobManager(cfg, new SimpleMeterRegistry())) {
            assertThat(m.interruptedAtStartup()).isEmpty();
            JobStatus s = m.status("running");
            assertThat(s.getLastEvent())
                    .isEqualTo(interrupted.stream()
                            .filter(e -> e.getJobId().equals("running"))
                            .findFirst()
                            .orElseThrow());
            List<JobEvent> replay = new ArrayList<>();
            try (AutoCloseable w = m.watch("running", 0, replay::add)) {
                assertThat(replay).extracting(JobEvent::getSequence).containsExactly(1L, 2L, 3L);
            }
        }
    }

    @Test
    void onlyTheNewestEndedJobsAreKept() throws Exception {
        AgentConfig cfg = config();
        JobJournal j = new JobJournal(cfg.jobsDir());
        int n = JobManager.KEEP_ENDED + 3;
        Instant t0 = Instant.now().minusSeconds(n);
        for (int i = 0; i < n; i++) {
            String id = String.format("job-%04d", i);
            j.create(req(id));
            j.append(id, event(id, 1, JobEvent.Kind.CANCELLED), false);
            Files.setLastModifiedTime(
                    cfg.jobsDir().resolve(id).resolve(JobJournal.REQUEST), FileTime.from(t0.plusSeconds(i)));
        }
        try (JobManager m = new JobManager(cfg, new SimpleMeterRegistry())) {
            List<String> ids =
                    m.list(false).stream().map(s -> s.getRequest().getJobId()).toList();
            assertThat(ids).hasSize(JobManager.KEEP_ENDED);
            assertThat(ids.getFirst()).isEqualTo("job-0003");
            assertThat(ids.getLast()).isEqualTo(String.format("job-%04d", n - 1));
        }
        try (var left = Files.list(cfg.jobsDir())) {
            assertThat(left.count()).isEqualTo(JobManager.KEEP_ENDED);
        }
    }
}
