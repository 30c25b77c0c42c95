package dev.lifeboat.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.progress.ProgressListener;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobContextThrottleTest {
    private final List<ProgressEvent> sent = new ArrayList<>();
    private final JobContext ctx = new JobContext(null, null, null, null, (phase, e) -> sent.add(e), n -> {});

    private static ProgressEvent copy(long bytes, long bytesTotal, long files, long filesTotal) {
        return new ProgressEvent("backup", "copy", bytes, bytesTotal, files, filesTotal, 1, null, Instant.now(), null);
    }

    @Test
    void aPhasesLastEventGoesOutWhenItsBytesPassedTheirTotalBeforeItsFiles() {
        ctx.progressInterval(Duration.ofHours(1));
        ProgressListener l = ctx.progress();
        l.onProgress(copy(0, 100, 0, 3)); // a phase change always goes out
        l.onProgress(copy(50, 100, 1, 3)); // throttled
        l.onProgress(copy(120, 100, 2, 3)); // the files grew while read: bytes past their total, one file left
        l.onProgress(copy(130, 100, 3, 3)); // the phase's end
        l.onProgress(copy(130, 100, 3, 3)); // the same end again (the tracker's finish): throttled
        assertThat(sent).extracting(ProgressEvent::filesDone).containsExactly(0L, 3L);
        assertThat(sent.getLast().bytesDone()).isEqualTo(130);
    }

    @Test
    void aPhaseWithOnlyAFileCountEndsWhenItsFilesAreDone() {
        ctx.progressInterval(Duration.ofHours(1));
        ProgressListener l = ctx.progress();
        l.onProgress(copy(0, -1, 0, 2));
        l.onProgress(copy(10, -1, 1, 2));
        l.onProgress(copy(20, -1, 2, 2));
        assertThat(sent).extracting(ProgressEvent::filesDone).containsExactly(0L, 2L);
    }
}
