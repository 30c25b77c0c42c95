package dev.lifeboat.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgDataDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An agent killed mid-drill leaves a running copy under state-dir/drills/: the next start stops and deletes it. */
class DrillLeftoversTest {
    @TempDir
    Path tmp;

    @Test
    void aDrillCopyLeftRunningIsStoppedAndDeletedAtStart() throws Exception {
        Path state = tmp.resolve("state");
        Path copy = state.resolve("drills").resolve("drill-that-never-ended");
        try (LocalCluster left = LocalCluster.create(copy, List.of()).start()) {
            long pid = new PgDataDirectory(left.dataDir())
                    .postmaster()
                    .orElseThrow()
                    .pid();
            assertThat(runs(pid)).isTrue();

            DrDrillJob.removeLeftovers(state);

            assertThat(runs(pid)).as("the copy's postmaster is stopped").isFalse();
            assertThat(copy).doesNotExist();
            assertThat(Files.list(state.resolve("drills")).toList()).isEmpty();
        }
    }

    /** Whether the process exists and has not exited (a zombie nobody reaped has: state Z in /proc). */
    private static boolean runs(long pid) throws Exception {
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        if (!Files.exists(stat)) {
            return false;
        }
        String s = Files.readString(stat);
        return s.charAt(s.lastIndexOf(')') + 2) != 'Z';
    }
}
